//! What an operator needs: `GET /health`, `GET /metrics`, a request id on
//! every answer, one log line per request, and the store's operations
//! timed. [`stage`] mounts it on a Rocket (the main port's, and the API
//! port's when it has one).

mod health;
pub mod instrumented;
pub mod metrics;
mod requests;

use std::sync::Arc;

use minitwit_core::MiniTwit;
use rocket::fairing::AdHoc;

pub use self::metrics::Metrics;

/// What the operations endpoints read.
pub struct Ops {
    /// The service, for the health check and the business figures.
    pub service: MiniTwit,
    /// `sled`, `redis` or `memory`.
    pub store_kind: &'static str,
    /// The metrics registry and what it reads at each scrape.
    pub metrics: Arc<Metrics>,
    /// `MINITWIT_METRICS_TOKEN`: when set, `/metrics` wants it as a bearer
    /// token.
    pub metrics_token: Option<String>,
}

/// Mounts `/health` and `/metrics` and the per-request fairing.
pub fn stage(ops: Arc<Ops>) -> AdHoc {
    AdHoc::on_ignite("MiniTwit operations", move |rocket| async move {
        rocket
            .manage(Arc::clone(&ops))
            .mount("/", health::routes())
            .mount("/", self::metrics::routes())
            .attach(requests::RequestLog::default())
    })
}
