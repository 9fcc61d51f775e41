//! `GET /fllws/{username}` and `POST /fllws/{username}`.

use rocket::response::status::NoContent;
use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};

use crate::auth::{Authorized, AuthorizedWrite};
use crate::errors::ApiError;
use crate::json::JsonBody;
use crate::limit::Limit;
use crate::state::ApiState;
use crate::types::{ErrorJson, FollowRequest, FollowsJson};

pub(super) fn routes() -> Vec<Route> {
    routes![follows, change]
}

/// Whom `username` follows.
#[utoipa::path(
    get,
    path = "/fllws/{username}",
    operation_id = "follows",
    tag = "follows",
    params(super::UsernameParam, super::NoParam),
    responses(
        (status = 200, description = "Up to `no` users the user follows", body = FollowsJson),
        (status = 404, description = "No user has this name", body = ErrorJson),
    ),
    security(("basic" = [])),
)]
#[get("/fllws/<username>")]
pub(crate) async fn follows(
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
///
/// Follows are a set: following twice, or unfollowing someone not
/// followed, changes nothing and is a `204`.
#[utoipa::path(
    post,
    path = "/fllws/{username}",
    operation_id = "change_follow",
    tag = "follows",
    params(super::UsernameParam),
    request_body(content = FollowRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Followed or unfollowed (or nothing to change)"),
        (status = 400, description = "Neither or both of `follow` and `unfollow`, or following oneself", body = ErrorJson),
        (status = 404, description = "No user has this name, or the one to (un)follow does not exist", body = ErrorJson),
    ),
    security(("basic" = [])),
)]
#[post("/fllws/<username>", data = "<body>")]
pub(crate) async fn change(
    auth: AuthorizedWrite,
    username: &str,
    api: &State<ApiState>,
    body: JsonBody<FollowRequest>,
) -> Result<NoContent, ApiError> {
    match body.0 {
        FollowRequest {
            follow: Some(target),
            unfollow: None,
        } => {
            api.service
                .follow_named(username, &target, auth.latest)
                .await?;
        }
        FollowRequest {
            follow: None,
            unfollow: Some(target),
        } => {
            api.service
                .unfollow_named(username, &target, auth.latest)
                .await?;
        }
        _ => {
            auth.record(&api.service).await?;
            return Err(ApiError::bad_request(EXACTLY_ONE_KEY));
        }
    }
    Ok(NoContent)
}

const EXACTLY_ONE_KEY: &str =
    "The request body must have exactly one of the keys \"follow\" and \"unfollow\"";
