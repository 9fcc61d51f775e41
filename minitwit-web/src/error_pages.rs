//! The site's error answers: the HTML error pages every error status gets
//! (Rocket catchers), and [`PageError`], what a page handler fails with.

use minitwit_core::{Error, ErrorKind, texts};
use rocket::http::{Header, Status};
use rocket::request::Outcome;
use rocket::response::{self, Redirect, Responder};
use rocket::{Catcher, Request, catch, catchers};
use rocket_dyn_templates::Template;

use crate::limits::Limited;
use crate::session::{NotSignedOut, Viewer};
use crate::views::{ErrorPage, Layout};

/// Why a handler does not show its page: a failure shown as one of the
/// site's error pages, the site too busy, or a signed-in visitor on a page
/// for signing in.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The error page of this status.
    Status(Status),
    /// The "busy" page: `503` with `Retry-After`.
    Busy,
    /// The "too many attempts" page: `429` with `Retry-After` (seconds).
    TooMany(u64),
    /// A redirect to the visitor's timeline.
    SignedIn,
}

impl From<Limited> for PageError {
    fn from(limited: Limited) -> Self {
        Self::TooMany(limited.retry_after)
    }
}

impl From<NotSignedOut> for PageError {
    fn from(reason: NotSignedOut) -> Self {
        match reason {
            NotSignedOut::SignedIn => Self::SignedIn,
            NotSignedOut::Unknown(status) => Self::Status(status),
        }
    }
}

impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        if err.kind() == ErrorKind::Busy {
            tracing::debug!(error = %err, "request refused: too busy");
            return Self::Busy;
        }
        match err.kind() {
            ErrorKind::Unavailable | ErrorKind::Internal => {
                tracing::error!(error = %err, source = ?std::error::Error::source(&err), "request failed");
            }
            _ => tracing::debug!(error = %err, "request refused"),
        }
        Self::Status(Status::from_code(err.status_code()).unwrap_or(Status::InternalServerError))
    }
}

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Self::Status(status) => Err(status),
            Self::Busy => wait_page(
                req,
                Status::ServiceUnavailable,
                "Busy",
                texts::BUSY.to_owned(),
                1,
            ),
            Self::TooMany(seconds) => wait_page(
                req,
                Status::TooManyRequests,
                "Too many attempts",
                format!(
                    "Too many attempts in a short time; please wait {seconds} s and try again."
                ),
                seconds,
            ),
            Self::SignedIn => Redirect::to("/").respond_to(req),
        }
    }
}

/// A page that asks to come back later: `status`, with `Retry-After`.
fn wait_page(
    req: &Request<'_>,
    status: Status,
    title: &str,
    message: String,
    retry_after: u64,
) -> response::Result<'static> {
    let page = ErrorPage {
        layout: Layout::new(title, None, None),
        status: status.code,
        message,
        offer_sign_in: false,
    };
    let mut response = (status, Template::render("error.html", page)).respond_to(req)?;
    response.set_raw_header("Retry-After", retry_after.to_string());
    Ok(response)
}

/// Title, text, and whether to offer signing in, for an error status.
fn describe(status: Status) -> (&'static str, &'static str, bool) {
    match status.code {
        401 => (
            "Please sign in",
            "You need to be signed in to do that.",
            true,
        ),
        403 => (
            "Request refused",
            "This request did not come from MiniTwit's own pages, so it was refused. \
             If you followed a link or a form from another site, open MiniTwit and try again there.",
            false,
        ),
        404 => (
            "Page not found",
            "There is no such page or user here.",
            false,
        ),
        503 => ("Temporarily unavailable", texts::UNAVAILABLE, false),
        400..=499 => ("Bad request", "The request could not be understood.", false),
        _ => ("Something went wrong", texts::INTERNAL, false),
    }
}

async fn error_page(status: Status, req: &Request<'_>) -> (Status, Template) {
    let viewer = match req.guard::<Viewer>().await {
        Outcome::Success(viewer) => viewer.0,
        Outcome::Error(_) | Outcome::Forward(_) => None,
    };
    let (title, message, offer_sign_in) = describe(status);
    let context = ErrorPage {
        layout: Layout::new(title, viewer.as_ref(), None),
        status: status.code,
        message: message.to_owned(),
        offer_sign_in: offer_sign_in && viewer.is_none(),
    };
    (status, Template::render("error.html", context))
}

#[catch(401)]
async fn unauthorized(req: &Request<'_>) -> (Status, Template) {
    error_page(Status::Unauthorized, req).await
}

#[catch(403)]
async fn forbidden(req: &Request<'_>) -> (Status, Template) {
    error_page(Status::Forbidden, req).await
}

#[catch(404)]
async fn not_found(req: &Request<'_>) -> (Status, Template) {
    error_page(Status::NotFound, req).await
}

/// The error page, and `Connection: close`: a body over the limit is not
/// read to its end, so the connection cannot carry another request and is
/// closed after this answer; a client that reuses it would find it closed.
#[derive(Responder)]
struct ClosingErrorPage {
    page: (Status, Template),
    connection: Header<'static>,
}

#[catch(413)]
async fn too_large(req: &Request<'_>) -> ClosingErrorPage {
    ClosingErrorPage {
        page: error_page(Status::PayloadTooLarge, req).await,
        connection: Header::new("Connection", "close"),
    }
}

#[catch(500)]
async fn internal_error(req: &Request<'_>) -> (Status, Template) {
    error_page(Status::InternalServerError, req).await
}

#[catch(503)]
async fn unavailable(req: &Request<'_>) -> (Status, Template) {
    error_page(Status::ServiceUnavailable, req).await
}

#[catch(default)]
async fn any_error(status: Status, req: &Request<'_>) -> (Status, Template) {
    error_page(status, req).await
}

/// The site's HTML error pages.
pub(crate) fn catchers() -> Vec<Catcher> {
    catchers![
        unauthorized,
        forbidden,
        not_found,
        too_large,
        internal_error,
        unavailable,
        any_error
    ]
}
