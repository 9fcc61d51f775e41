//! `POST /register`.

use minitwit_core::Registration;
use rocket::response::status::NoContent;
use rocket::{Route, State, post, routes};

use crate::auth::Authorized;
use crate::errors::ApiError;
use crate::json::JsonBody;
use crate::state::ApiState;
use crate::types::RegisterRequest;

pub(super) fn routes() -> Vec<Route> {
    routes![register]
}

/// The core validates, in the contract's order, and says what is wrong.
#[post("/register", data = "<body>")]
async fn register(
    _auth: Authorized,
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
    };
    api.service.register(form).await?;
    Ok(NoContent)
}
