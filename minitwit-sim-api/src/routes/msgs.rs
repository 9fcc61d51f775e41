//! `GET /msgs`, `GET /msgs/{username}` and `POST /msgs/{username}`.

use rocket::response::status::NoContent;
use rocket::{Route, State, get, post, routes};

use crate::auth::{Authorized, AuthorizedWrite};
use crate::errors::ApiError;
use crate::json::JsonBody;
use crate::limit::Limit;
use crate::state::ApiState;
use crate::stream::{MessageList, Source};
use crate::types::{ErrorJson, MessageJson, PostMessageRequest};

pub(super) fn routes() -> Vec<Route> {
    routes![public, by_user, post]
}

/// Everyone's messages, newest first.
#[utoipa::path(
    get,
    path = "/msgs",
    operation_id = "messages",
    tag = "messages",
    params(super::NoParam),
    responses((status = 200, description = "Up to `no` messages, newest first", body = Vec<MessageJson>)),
    security(("basic" = [])),
)]
#[get("/msgs")]
pub(crate) async fn public(
    _auth: Authorized,
    no: Limit,
    api: &State<ApiState>,
) -> Result<MessageList, ApiError> {
    Ok(MessageList::read(&api.service, Source::Public, no.0).await?)
}

/// One user's messages, newest first.
#[utoipa::path(
    get,
    path = "/msgs/{username}",
    operation_id = "user_messages",
    tag = "messages",
    params(super::UsernameParam, super::NoParam),
    responses(
        (status = 200, description = "Up to `no` of the user's messages, newest first", body = Vec<MessageJson>),
        (status = 404, description = "No user has this name", body = ErrorJson),
    ),
    security(("basic" = [])),
)]
#[get("/msgs/<username>")]
pub(crate) async fn by_user(
    _auth: Authorized,
    username: &str,
    no: Limit,
    api: &State<ApiState>,
) -> Result<MessageList, ApiError> {
    let user = api.service.user(username).await?;
    Ok(MessageList::read(&api.service, Source::User(user.id), no.0).await?)
}

/// Posts a message as `username`.
#[utoipa::path(
    post,
    path = "/msgs/{username}",
    operation_id = "post_message",
    tag = "messages",
    params(super::UsernameParam),
    request_body(content = PostMessageRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Posted"),
        (status = 400, description = "The content is missing, empty or too long", body = ErrorJson),
        (status = 404, description = "No user has this name", body = ErrorJson),
    ),
    security(("basic" = [])),
)]
#[post("/msgs/<username>", data = "<body>")]
pub(crate) async fn post(
    auth: AuthorizedWrite,
    username: &str,
    api: &State<ApiState>,
    body: JsonBody<PostMessageRequest>,
) -> Result<NoContent, ApiError> {
    let content = body.0.content.unwrap_or_default();
    api.service
        .post_named(username, &content, auth.latest)
        .await?;
    Ok(NoContent)
}
