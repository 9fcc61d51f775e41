//! Only the simulator API, at the root of its own Rocket, on an in-memory
//! store: the smallest server a simulator can drive.
//!
//! ```sh
//! cargo run --release --example api_only
//! curl http://127.0.0.1:8000/latest
//! ```

use std::sync::Arc;

use minitwit_core::{MemoryStore, MiniTwit};
use minitwit_sim_api::ApiConfig;
use rand::RngCore as _;

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = MiniTwit::builder(Arc::new(MemoryStore::new())).build()?;
    let api = ApiConfig::default().with_prefix("/");
    // The API sets no cookies, but Rocket (built with private cookies for
    // the HTML site) refuses to start a release build without a secret key:
    // give it a random one.
    let mut key = [0u8; 64];
    rand::rngs::OsRng.try_fill_bytes(&mut key)?;
    let figment = rocket::Config::figment().merge(("secret_key", key.to_vec()));
    let _ = rocket::custom(figment)
        .attach(minitwit_sim_api::stage(service, api))
        .launch()
        .await
        .map_err(|err| err.to_string())?;
    Ok(())
}
