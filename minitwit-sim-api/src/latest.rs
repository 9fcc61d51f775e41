//! The `latest` query parameter: parsed and recorded for every authorized
//! request, before its handler runs.

use minitwit_core::MiniTwit;
use rocket::Request;

use crate::errors::ApiError;

/// Records the request's `latest`, if it has one.
///
/// # Errors
/// `400` when `latest` is not an integer; the core's error when the store
/// fails.
pub(crate) async fn record(req: &Request<'_>, service: &MiniTwit) -> Result<(), ApiError> {
    let Some(raw) = req.query_value::<&str>("latest") else {
        return Ok(());
    };
    let latest = raw
        .ok()
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .ok_or_else(|| ApiError::bad_request("The query parameter latest must be an integer"))?;
    Ok(service.record_latest(latest).await?)
}
