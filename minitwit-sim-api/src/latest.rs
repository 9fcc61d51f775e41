//! The `latest` query parameter: parsed for every authorized request, and
//! recorded before the request is answered (by the guard for reads, with
//! the write itself for writes).

use minitwit_core::MiniTwit;
use rocket::Request;

use crate::errors::ApiError;

/// The request's `latest`, if it has one.
///
/// # Errors
/// `400` when `latest` is not an integer.
pub(crate) fn parse(req: &Request<'_>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = req.query_value::<&str>("latest") else {
        return Ok(None);
    };
    raw.ok()
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("The query parameter latest must be an integer"))
}

/// Records `latest`, if there is one.
///
/// # Errors
/// The core's error when the store fails.
pub(crate) async fn record(service: &MiniTwit, latest: Option<i64>) -> Result<(), ApiError> {
    match latest {
        Some(latest) => Ok(service.record_latest(latest).await?),
        None => Ok(()),
    }
}
