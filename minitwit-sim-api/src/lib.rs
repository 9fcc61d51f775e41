//! # minitwit-sim-api
//!
//! The JSON API the MiniTwit simulator drives (`/register`, `/msgs`,
//! `/fllws`, `/latest`), as a Rocket stage to mount under any prefix, with
//! its JSON types and, behind the `client` feature, a typed client
//! (`client::SimClient`).
//!
//! The contract is `sim-api.md`: every endpoint but `GET /latest` wants the
//! configured HTTP Basic credential (`403` otherwise); a `latest=N` query
//! parameter of an authorized request is recorded before the request is
//! answered; every answer that is not a success is
//! `{"status": CODE, "error_msg": TEXT}`. The rules and their texts come
//! from [`minitwit_core::MiniTwit`]: the handlers only parse, call the
//! service once and render.
//!
//! ## Mounting
//!
//! [`stage`] returns an [`AdHoc`] fairing that
//! mounts the routes and the JSON catchers under [`ApiConfig::prefix`] and
//! manages the API's own state (so the HTML site can manage its own
//! [`MiniTwit`] next to it):
//!
//! ```
//! use std::sync::Arc;
//! use minitwit_core::{HashCost, MemoryStore, MiniTwit};
//! use minitwit_sim_api::{ApiConfig, stage};
//! use rocket::http::{Header, Status};
//! use rocket::local::blocking::Client;
//!
//! let service = MiniTwit::builder(Arc::new(MemoryStore::new()))
//!     .hash_cost(HashCost::INSECURE_MINIMUM)
//!     .build()?;
//! let rocket = rocket::build().attach(stage(service, ApiConfig::default()));
//! let client = Client::tracked(rocket)?;
//!
//! let auth = Header::new("Authorization", "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh");
//! let answer = client
//!     .post("/api/register?latest=7")
//!     .header(auth)
//!     .body(r#"{"username": "Roger Histand", "email": "roger@example.org", "pwd": "x"}"#)
//!     .dispatch();
//! assert_eq!(answer.status(), Status::NoContent);
//!
//! let latest = client.get("/api/latest").dispatch();
//! assert_eq!(latest.into_string().as_deref(), Some(r#"{"latest":7}"#));
//!
//! let missing = client.get("/api/msgs").dispatch();
//! assert_eq!(missing.status(), Status::Forbidden);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! To serve the API at the root of a port of its own, give it a Rocket of
//! its own with `prefix: "/".into()`.

mod auth;
#[cfg(feature = "client")]
pub mod client;
mod config;
mod errors;
mod json;
mod latest;
mod limit;
mod openapi;
mod routes;
pub mod scenario;
mod state;
mod stream;
mod types;

use minitwit_core::MiniTwit;
use rocket::fairing::AdHoc;

pub use config::{ApiConfig, ConfigError, DEFAULT_PASSWORD, DEFAULT_USERNAME, basic_authorization};
pub use errors::NOT_AUTHORIZED;
pub use types::{
    ErrorJson, FollowRequest, FollowsJson, LatestJson, MessageJson, PostMessageRequest,
    RegisterRequest,
};

#[cfg(feature = "client")]
pub use client::{ClientError, SimClient, SimClientBuilder};

use state::ApiState;

/// The simulator API as a stage: mounts every endpoint and a JSON catcher
/// for every error status under `config.prefix`, and manages the API's
/// state.
///
/// The catchers are registered at the prefix, so every error under it is
/// JSON while the rest of the site keeps its own catchers; a prefix of `/`
/// therefore belongs on a Rocket (a port) of its own, since catchers at `/`
/// would collide with the site's.
///
/// Ignition fails (with the reason logged) when the prefix is invalid or the
/// Rocket already has a simulator API stage: one API per Rocket; serve a
/// second prefix from a Rocket of its own.
pub fn stage(service: MiniTwit, config: ApiConfig) -> AdHoc {
    AdHoc::try_on_ignite("MiniTwit simulator API", |rocket| async move {
        let prefix = match config.normalized_prefix() {
            Ok(prefix) => prefix,
            Err(err) => {
                tracing::error!(%err, "cannot mount the simulator API");
                return Err(rocket);
            }
        };
        if rocket.state::<ApiState>().is_some() {
            tracing::error!("the simulator API is already mounted on this Rocket");
            return Err(rocket);
        }
        tracing::debug!(%prefix, "mounting the simulator API");
        let openapi = openapi::render(&prefix);
        Ok(rocket
            .mount(prefix.as_str(), routes::routes())
            .register(prefix.as_str(), errors::catchers())
            .manage(ApiState {
                service,
                config,
                openapi,
            }))
    })
}
