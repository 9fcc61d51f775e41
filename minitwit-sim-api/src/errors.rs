//! Every non-2xx answer of the API: [`ApiError`], the JSON responder, and the
//! catchers that turn Rocket's own failures (no such route, a failed guard, a
//! panic) into the same JSON.

use std::borrow::Cow;
use std::error::Error as _;

use minitwit_core::texts;
use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{Catcher, Request, catcher};

use crate::types::ErrorJson;

/// The `error_msg` of every `403`.
pub const NOT_AUTHORIZED: &str = "You are not authorized to use this resource!";

/// An error answer: a status and the text for `error_msg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: Status,
    message: Cow<'static, str>,
}

impl ApiError {
    pub(crate) fn new(status: Status, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Status::BadRequest, message)
    }

    /// The answer a catcher gives for `status`: the error a guard of this
    /// request failed with, when it failed with this status, or a generic
    /// text for the status.
    fn caught(status: Status, req: &Request<'_>) -> Self {
        match &req.local_cache(|| GuardFailure(None)).0 {
            Some(failure) if failure.status == status => failure.clone(),
            _ => Self::new(status, generic_text(status)),
        }
    }
}

impl From<minitwit_core::Error> for ApiError {
    fn from(err: minitwit_core::Error) -> Self {
        let status = Status::from_code(err.status_code()).unwrap_or(Status::InternalServerError);
        if err.kind() == minitwit_core::ErrorKind::Busy {
            tracing::debug!(error = %err, "request refused: too busy");
        } else if status.code >= 500 {
            // The text a client reads hides the cause; the log keeps it.
            let source = err.source().map(ToString::to_string).unwrap_or_default();
            tracing::error!(status = status.code, error = %err, %source, "request failed");
        }
        Self::new(status, err.to_string())
    }
}

/// What a `503` answer tells a client about when to try again, in seconds.
pub(crate) const RETRY_AFTER_SECONDS: &str = "1";

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let body = ErrorJson {
            status: self.status.code,
            error_msg: self.message.into_owned(),
        };
        let mut response = (self.status, Json(body)).respond_to(req)?;
        if self.status == Status::ServiceUnavailable {
            response.set_raw_header("Retry-After", RETRY_AFTER_SECONDS);
        }
        if self.status == Status::PayloadTooLarge {
            // The body was not read to its end, so the connection cannot
            // carry another request and is closed after this answer: say
            // so, or a client that reuses it finds it closed.
            response.set_raw_header("Connection", "close");
        }
        Ok(response)
    }
}

/// The error a request or data guard failed with, kept for the catcher.
struct GuardFailure(Option<ApiError>);

/// Remembers `err` for the catcher of this request and returns its status
/// with it, for a guard's `Outcome::Error`.
pub(crate) fn guard_failed(req: &Request<'_>, err: ApiError) -> (Status, ApiError) {
    req.local_cache(|| GuardFailure(Some(err.clone())));
    (err.status, err)
}

fn generic_text(status: Status) -> Cow<'static, str> {
    match status.code {
        400 => "The request is malformed".into(),
        401 | 403 => NOT_AUTHORIZED.into(),
        404 => "There is no such resource".into(),
        405 => "The method is not allowed for this resource".into(),
        413 => "The request body is too large".into(),
        415 => "The request body must be JSON (Content-Type: application/json)".into(),
        422 => "The request body could not be understood".into(),
        500 => texts::INTERNAL.into(),
        503 => texts::UNAVAILABLE.into(),
        _ => status.reason().unwrap_or("The request failed").into(),
    }
}

fn json_catcher<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move { ApiError::caught(status, req).respond_to(req) })
}

/// The statuses with a catcher of their own; every other one goes to the
/// default catcher, which answers the same way.
const CAUGHT: [u16; 10] = [400, 401, 403, 404, 405, 413, 415, 422, 500, 503];

/// The API's catchers, to register under its prefix: one per status the API
/// can answer with, and a default one, all answering
/// `{"status": CODE, "error_msg": TEXT}`.
pub(crate) fn catchers() -> Vec<Catcher> {
    CAUGHT
        .into_iter()
        .map(Some)
        .chain([None])
        .map(|code| Catcher::new(code, json_catcher))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitwit_core::{Error, StoreError};

    #[test]
    fn core_errors_keep_their_status_and_text() {
        let err = ApiError::from(Error::UsernameTaken);
        assert_eq!(err.status, Status::BadRequest);
        assert_eq!(err.message, Error::UsernameTaken.to_string());
        assert_eq!(
            ApiError::from(Error::TargetNotFound).status,
            Status::NotFound
        );
    }

    #[test]
    fn internal_details_stay_out_of_the_text() {
        let err = ApiError::from(Error::from(StoreError::backend("/var/lib/secret.db")));
        assert_eq!(err.status, Status::InternalServerError);
        assert!(!err.message.contains("secret"));
        let err = ApiError::from(Error::from(StoreError::unavailable("10.1.2.3 refused")));
        assert_eq!(err.status, Status::ServiceUnavailable);
        assert!(!err.message.contains("10.1.2.3"));
    }

    #[test]
    fn every_listed_status_has_a_catcher_and_there_is_a_default() {
        let catchers = catchers();
        for code in CAUGHT {
            assert!(catchers.iter().any(|c| c.code == Some(code)), "{code}");
        }
        assert!(catchers.iter().any(|c| c.code.is_none()));
    }
}
