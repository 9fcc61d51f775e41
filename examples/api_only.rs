//! Only the simulator API, at the root of its own Rocket, on an in-memory
//! store: the smallest server a simulator can drive.
//!
//! ```sh
//! cargo run --example api_only
//! curl http://127.0.0.1:8000/latest
//! ```

use std::sync::Arc;

use minitwit_core::{MemoryStore, MiniTwit};
use minitwit_sim_api::ApiConfig;

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = MiniTwit::builder(Arc::new(MemoryStore::new())).build()?;
    let api = ApiConfig::default().with_prefix("/");
    let _ = rocket::build()
        .attach(minitwit_sim_api::stage(service, api))
        .launch()
        .await
        .map_err(|err| err.to_string())?;
    Ok(())
}
