//! The HTML site alone, on an in-memory store, with a few users and
//! messages: `cargo run -p minitwit-web --example site`, then open
//! <http://127.0.0.1:8000/>. Everyone's password is `password`.

use std::sync::Arc;

use minitwit_core::{Caller, MemoryStore, MiniTwit, Registration};
use minitwit_web::{WebConfig, stage};

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = MiniTwit::builder(Arc::new(MemoryStore::new())).build()?;
    for name in ["Ada Lovelace", "Grace Hopper", "Edsger"] {
        let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
        service
            .register(Registration {
                username: name,
                email: &email,
                password: "password",
                password_confirmation: None,
                caller: Caller::Site,
            })
            .await?;
    }
    service.follow("Ada Lovelace", "Grace Hopper").await?;
    for n in 1..=40 {
        let author = ["Ada Lovelace", "Grace Hopper", "Edsger"][n % 3];
        service
            .post(
                author,
                &format!("Message number {n} — it's <fine> & \"quoted\"."),
            )
            .await?;
    }
    let _ = rocket::build()
        .attach(stage(service, WebConfig::default()))
        .launch()
        .await?;
    Ok(())
}
