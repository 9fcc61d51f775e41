//! `GET /latest`: how far the simulator's scenario has got.

use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};

use crate::errors::ApiError;
use crate::state::ApiState;
use crate::types::LatestJson;

pub(super) fn routes() -> Vec<Route> {
    routes![latest]
}

/// Needs no credential and records nothing.
#[get("/latest")]
async fn latest(api: &State<ApiState>) -> Result<Json<LatestJson>, ApiError> {
    let latest = api.service.latest().await?;
    Ok(Json(LatestJson { latest }))
}
