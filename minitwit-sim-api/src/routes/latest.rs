//! `GET /latest`: how far the simulator's scenario has got.

use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};

use crate::errors::ApiError;
use crate::state::ApiState;
use crate::types::LatestJson;

pub(super) fn routes() -> Vec<Route> {
    routes![latest]
}

/// The last recorded `latest`.
///
/// Needs no credential and records nothing: `-1` until a request carried
/// `latest`.
#[utoipa::path(
    get,
    path = "/latest",
    operation_id = "latest",
    tag = "scenario",
    responses((status = 200, description = "The last recorded `latest`", body = LatestJson)),
)]
#[get("/latest")]
pub(crate) async fn latest(api: &State<ApiState>) -> Result<Json<LatestJson>, ApiError> {
    let latest = api.service.latest().await?;
    Ok(Json(LatestJson { latest }))
}
