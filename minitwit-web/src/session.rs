//! Who is signed in: a private cookie holding the user's id and when they
//! signed in, and the request guards that read it.

use minitwit_core::{ErrorKind, Timestamp, User, UserId};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::time::Duration;

use crate::Site;

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "minitwit_session";
/// How long a sign-in lasts.
const SESSION_DAYS: i64 = 30;

/// Starts a session for `user`, signed in at `now`.
pub(crate) fn sign_in(cookies: &CookieJar<'_>, user: &User, secure: bool, now: Timestamp) {
    let mut cookie = Cookie::build((SESSION_COOKIE, format!("{}:{now}", user.id.0)))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(SESSION_DAYS))
        .build();
    if secure {
        cookie.set_secure(true);
    }
    cookies.add_private(cookie);
}

/// Ends the session, if any.
pub(crate) fn sign_out(cookies: &CookieJar<'_>) {
    cookies.remove_private(SESSION_COOKIE);
}

/// The user id in a session cookie's (decrypted) value, unless the session
/// is malformed or has expired.
fn parse_session(value: &str, now: i64) -> Option<UserId> {
    let (id, issued) = value.split_once(':')?;
    let id = id.parse().ok()?;
    let issued: i64 = issued.parse().ok()?;
    let age = now.checked_sub(issued)?;
    // A few minutes into the future: another instance's clock may run ahead.
    (-300..=SESSION_DAYS * 86_400)
        .contains(&age)
        .then_some(UserId(id))
}

/// The signed-in user, if any. A session naming a user the store no longer
/// has counts as signed out. Fails with 503/500 when the store fails.
#[derive(Debug, Clone)]
pub(crate) struct Viewer(pub(crate) Option<User>);

/// The viewer, looked up once per request.
struct CachedViewer(Result<Option<User>, Status>);

async fn load_viewer(req: &Request<'_>) -> Result<Option<User>, Status> {
    let Some(site) = req.rocket().state::<Site>() else {
        return Err(Status::InternalServerError);
    };
    let Some(id) = req
        .cookies()
        .get_private(SESSION_COOKIE)
        .and_then(|cookie| parse_session(cookie.value(), site.service.now()))
    else {
        return Ok(None);
    };
    match site.service.user(id).await {
        Ok(user) => Ok(Some(user)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => {
            tracing::error!(error = %err, "cannot look up the signed-in user");
            Err(Status::from_code(err.status_code()).unwrap_or(Status::InternalServerError))
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Viewer {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let cached = req
            .local_cache_async(async { CachedViewer(load_viewer(req).await) })
            .await;
        match &cached.0 {
            Ok(user) => Outcome::Success(Self(user.clone())),
            Err(status) => Outcome::Error((*status, ())),
        }
    }
}

/// A signed-in user; without one the request is answered with 401.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn(pub(crate) User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedIn {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.guard::<Viewer>().await {
            Outcome::Success(Viewer(Some(user))) => Outcome::Success(Self(user)),
            Outcome::Success(Viewer(None)) => Outcome::Error((Status::Unauthorized, ())),
            Outcome::Error(error) => Outcome::Error(error),
            Outcome::Forward(status) => Outcome::Forward(status),
        }
    }
}

/// Nobody is signed in: the guard of the sign-in and sign-up pages.
///
/// A signed-in visitor is sent to their timeline instead. Handlers take
/// `Result<SignedOut, NotSignedOut>` and return early with `?`: the site's
/// [`PageError`](crate::pages::PageError) answers
/// [`NotSignedOut::SignedIn`] with a redirect to `/` (a catcher cannot
/// redirect).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedOut;

/// Why [`SignedOut`] failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NotSignedOut {
    /// Someone is signed in.
    SignedIn,
    /// Who is signed in could not be found out (the store failed); the
    /// status of the error page to show.
    Unknown(Status),
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedOut {
    type Error = NotSignedOut;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.guard::<Viewer>().await {
            Outcome::Success(Viewer(None)) => Outcome::Success(Self),
            Outcome::Success(Viewer(Some(_))) => {
                Outcome::Error((Status::SeeOther, NotSignedOut::SignedIn))
            }
            Outcome::Error((status, ())) => Outcome::Error((status, NotSignedOut::Unknown(status))),
            Outcome::Forward(status) => Outcome::Forward(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_reject_garbage() {
        let now = 1_700_000_000;
        assert_eq!(parse_session(&format!("7:{now}"), now), Some(UserId(7)));
        assert_eq!(
            parse_session(&format!("7:{}", now - 86_400), now),
            Some(UserId(7))
        );
        let expired = now - SESSION_DAYS * 86_400 - 1;
        assert_eq!(parse_session(&format!("7:{expired}"), now), None);
        assert_eq!(
            parse_session(&format!("7:{}", now + 10), now),
            Some(UserId(7))
        );
        assert_eq!(parse_session(&format!("7:{}", now + 3600), now), None);
        for garbage in ["", "7", "x:1", "7:x", ":", "-1:5"] {
            assert_eq!(parse_session(garbage, now), None, "{garbage:?}");
        }
    }
}
