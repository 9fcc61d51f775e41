//! The state the API's routes share, managed under a type of its own so that
//! it never collides with the state of another stage on the same Rocket.

use minitwit_core::{MiniTwit, texts};
use rocket::Request;
use rocket::http::Status;

use crate::config::ApiConfig;
use crate::errors::ApiError;

/// The service and the configuration the API was staged with.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) service: MiniTwit,
    pub(crate) config: ApiConfig,
    /// The OpenAPI document, rendered for this prefix.
    pub(crate) openapi: String,
}

impl ApiState {
    /// The state of the Rocket serving `req`.
    pub(crate) fn of<'r>(req: &'r Request<'_>) -> Result<&'r Self, ApiError> {
        req.rocket().state::<Self>().ok_or_else(|| {
            tracing::error!("the simulator API state is not managed; mount the API with `stage`");
            ApiError::new(Status::InternalServerError, texts::INTERNAL)
        })
    }
}
