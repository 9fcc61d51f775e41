//! `GET /health`: whether the store answers, asked anew at every call (a
//! `PING` on Redis, a read and the last flush's outcome on sled), so it
//! follows the store within a second when polled every second.

use std::error::Error as _;
use std::sync::Arc;

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde::Serialize;

use super::Ops;

/// The answer of `/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// The kind of store: `sled`, `redis` or `memory`.
    store: &'static str,
    /// Why the store does not answer, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[get("/health")]
async fn health(ops: &State<Arc<Ops>>) -> (Status, Json<Health>) {
    match ops.service.health().await {
        Ok(()) => (
            Status::Ok,
            Json(Health {
                status: "ok",
                store: ops.store_kind,
                reason: None,
            }),
        ),
        Err(err) => {
            let reason = err
                .source()
                .map_or_else(|| err.to_string(), ToString::to_string);
            (
                Status::ServiceUnavailable,
                Json(Health {
                    status: "unavailable",
                    store: ops.store_kind,
                    reason: Some(reason),
                }),
            )
        }
    }
}

pub(super) fn routes() -> Vec<Route> {
    routes![health]
}
