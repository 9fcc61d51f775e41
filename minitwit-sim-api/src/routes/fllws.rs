//! `GET /fllws/{username}` and `POST /fllws/{username}`.

use rocket::response::status::NoContent;
use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};

use crate::auth::Authorized;
use crate::errors::ApiError;
use crate::json::JsonBody;
use crate::limit::Limit;
use crate::state::ApiState;
use crate::types::{FollowRequest, FollowsJson};

pub(super) fn routes() -> Vec<Route> {
    routes![follows, change]
}

/// Whom `username` follows.
#[get("/fllws/<username>")]
async fn follows(
    _auth: Authorized,
    username: &str,
    no: Limit,
    api: &State<ApiState>,
) -> Result<Json<FollowsJson>, ApiError> {
    let followees = api.service.followees(username, no.0).await?;
    let follows = followees
        .into_iter()
        .map(|user| user.username.to_string())
        .collect();
    Ok(Json(FollowsJson { follows }))
}

/// Follows or unfollows, as the body says.
#[post("/fllws/<username>", data = "<body>")]
async fn change(
    _auth: Authorized,
    username: &str,
    api: &State<ApiState>,
    body: JsonBody<FollowRequest>,
) -> Result<NoContent, ApiError> {
    match body.0 {
        FollowRequest {
            follow: Some(target),
            unfollow: None,
        } => {
            api.service.follow(username, &target).await?;
        }
        FollowRequest {
            follow: None,
            unfollow: Some(target),
        } => {
            api.service.unfollow(username, &target).await?;
        }
        _ => return Err(ApiError::bad_request(EXACTLY_ONE_KEY)),
    }
    Ok(NoContent)
}

const EXACTLY_ONE_KEY: &str =
    "The request body must have exactly one of the keys \"follow\" and \"unfollow\"";
