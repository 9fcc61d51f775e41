//! `POST /register`.

use minitwit_core::{Caller, Registration};
use rocket::response::status::NoContent;
use rocket::{Route, State, post, routes};

use crate::auth::AuthorizedWrite;
use crate::errors::ApiError;
use crate::json::JsonBody;
use crate::state::ApiState;
use crate::types::{ErrorJson, RegisterRequest};

pub(super) fn routes() -> Vec<Route> {
    routes![register]
}

/// Registers a user.
///
/// Checked in this order, each a `400` with its text: a username, an e-mail
/// address with `@`, a password, a name not taken (and not one that could
/// deceive: a page of the site, only dots, invisible characters).
#[utoipa::path(
    post,
    path = "/register",
    operation_id = "register",
    tag = "users",
    request_body(content = RegisterRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Registered"),
        (status = 400, description = "The username, e-mail address or password is missing or invalid, or the name is taken", body = ErrorJson),
    ),
    security(("basic" = [])),
)]
#[post("/register", data = "<body>")]
pub(crate) async fn register(
    auth: AuthorizedWrite,
    api: &State<ApiState>,
    body: JsonBody<RegisterRequest>,
) -> Result<NoContent, ApiError> {
    let RegisterRequest {
        username,
        email,
        pwd,
    } = body.0;
    let form = Registration {
        username: username.as_deref().unwrap_or_default(),
        email: email.as_deref().unwrap_or_default(),
        password: pwd.as_deref().unwrap_or_default(),
        password_confirmation: None,
        caller: Caller::SimulatorApi,
    };
    // `latest` is recorded with the user, or on its own when the
    // registration fails (a taken name, busy hashing).
    api.service.register_with_latest(form, auth.latest).await?;
    Ok(NoContent)
}
