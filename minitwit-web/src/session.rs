//! Who is signed in: a private cookie holding the user's id, their session
//! generation, when they signed in and the store's identity; and the request
//! guards that read it.
//!
//! A session is honoured only while all of these hold: it decrypts with the
//! site's key, it is younger than the session lifetime, it names the store
//! this site serves (a store reset or replaced since makes it void), and the
//! user's session generation is still the one it carries (signing out moves
//! the generation on, which ends every copy of the cookie, on every
//! instance).

use minitwit_core::{Timestamp, User, UserId};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::time::{Duration, OffsetDateTime};

use crate::Site;

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "minitwit_session";

/// What a session cookie holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    user: UserId,
    generation: u64,
    issued: Timestamp,
    store: String,
}

impl Session {
    fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.user.0, self.generation, self.issued, self.store
        )
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split(':');
        let session = Self {
            user: UserId(parts.next()?.parse().ok()?),
            generation: parts.next()?.parse().ok()?,
            issued: parts.next()?.parse().ok()?,
            store: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(session)
    }

    /// Whether the session is younger than `days` at `now`, and from
    /// `store`.
    fn is_current(&self, now: Timestamp, days: u32, store: &str) -> bool {
        let Some(age) = now.checked_sub(self.issued) else {
            return false;
        };
        // A few minutes into the future: another instance's clock may run ahead.
        (-300..=i64::from(days) * 86_400).contains(&age) && self.store == store
    }
}

/// Starts a session for `user` (in session generation `generation`), signed
/// in at `now`.
pub(crate) fn sign_in(
    cookies: &CookieJar<'_>,
    site: &Site,
    user: &User,
    generation: u64,
    now: Timestamp,
) {
    let session = Session {
        user: user.id,
        generation,
        issued: now,
        store: site.store_identity.clone(),
    };
    let mut cookie = Cookie::build((SESSION_COOKIE, session.encode()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        // Both, so that every browser keeps it exactly as long (Rocket
        // would otherwise add an `Expires` of its own, a week away).
        .max_age(Duration::days(i64::from(site.config.session_days)))
        .expires(OffsetDateTime::now_utc() + Duration::days(i64::from(site.config.session_days)))
        .build();
    if site.config.secure_cookies {
        cookie.set_secure(true);
    }
    cookies.add_private(cookie);
}

/// Forgets the session cookie, if any (ending the user's sessions is the
/// service's part, see [`MiniTwit::end_sessions`](minitwit_core::MiniTwit::end_sessions)).
pub(crate) fn forget_session(cookies: &CookieJar<'_>) {
    cookies.remove_private(SESSION_COOKIE);
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
    let Some(session) = req
        .cookies()
        .get_private(SESSION_COOKIE)
        .and_then(|cookie| Session::decode(cookie.value()))
        .filter(|session| {
            session.is_current(
                site.service.now(),
                site.config.session_days,
                &site.store_identity,
            )
        })
    else {
        return Ok(None);
    };
    match site
        .service
        .session_user(session.user, session.generation)
        .await
    {
        Ok(user) => Ok(user),
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
/// [`PageError`](crate::error_pages::PageError) answers
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

    fn session(issued: Timestamp) -> Session {
        Session {
            user: UserId(7),
            generation: u64::MAX,
            issued,
            store: "0a1b".into(),
        }
    }

    #[test]
    fn sessions_round_trip_and_reject_garbage() {
        let now = 1_700_000_000;
        let value = session(now).encode();
        assert_eq!(Session::decode(&value), Some(session(now)));
        for garbage in ["", "7", "7:1", "7:1:2", "x:1:2:s", "7:1:2:s:extra", ":::"] {
            assert_eq!(Session::decode(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn sessions_expire_and_belong_to_one_store() {
        let now = 1_700_000_000;
        assert!(session(now).is_current(now, 30, "0a1b"));
        assert!(session(now - 86_400).is_current(now, 30, "0a1b"));
        assert!(!session(now).is_current(now, 30, "another store"));
        let expired = now - 30 * 86_400 - 1;
        assert!(!session(expired).is_current(now, 30, "0a1b"));
        assert!(session(expired).is_current(now, 31, "0a1b"));
        assert!(session(now + 10).is_current(now, 30, "0a1b"));
        assert!(!session(now + 3600).is_current(now, 30, "0a1b"));
    }
}

/// Properties of the session cookie's value over random input: every
/// session survives a round trip, decoding any text never panics, what
/// decodes re-encodes to the same session, and a session is honoured only
/// within its lifetime on its own store.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Store identities are lower-case hex.
    fn session() -> impl Strategy<Value = Session> {
        (any::<u64>(), any::<u64>(), any::<i64>(), "[0-9a-f]{0,64}").prop_map(
            |(user, generation, issued, store)| Session {
                user: UserId(user),
                generation,
                issued,
                store,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn every_session_round_trips(session in session()) {
            prop_assert_eq!(Session::decode(&session.encode()), Some(session));
        }

        #[test]
        fn decoding_any_value_is_safe_and_canonical(
            value in prop_oneof![any::<String>(), "[0-9:+-]{0,30}[a-f:]{0,6}"]
        ) {
            if let Some(session) = Session::decode(&value) {
                prop_assert_eq!(value.split(':').count(), 4);
                prop_assert!(!session.store.contains(':'));
                prop_assert_eq!(Session::decode(&session.encode()), Some(session));
            }
        }

        #[test]
        fn sessions_are_honoured_only_in_their_lifetime_and_store(
            session in session(),
            now in prop_oneof![any::<i64>(), Just(1_700_000_000i64)],
            offset in -400i64..4_000_000,
            days in prop_oneof![any::<u32>(), 0u32..60],
            same_store in any::<bool>(),
        ) {
            let mut session = session;
            // Often near `now`, sometimes anywhere.
            if now == 1_700_000_000 {
                session.issued = now - offset;
            }
            let store = if same_store { session.store.clone() } else { format!("{}x", session.store) };
            let honoured = session.is_current(now, days, &store);
            let age = i128::from(now) - i128::from(session.issued);
            let expected = same_store && (-300..=i128::from(days) * 86_400).contains(&age);
            prop_assert_eq!(honoured, expected, "age {} days {}", age, days);
        }
    }
}
