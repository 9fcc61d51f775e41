//! MiniTwit's core embedded in a program of your own, on the sled store: no
//! HTTP anywhere. Run it twice to see the data survive:
//!
//! ```sh
//! cargo run --release --example embedded
//! ```
//!
//! The data goes to `minitwit-embedded` in the system's temporary directory,
//! or to the directory given as the first argument.

use std::sync::Arc;

use minitwit_core::{Caller, Error, MiniTwit, PageRequest, Registration};
use minitwit_store_sled::{SledConfig, SledStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join("minitwit-embedded"),
        std::path::PathBuf::from,
    );
    println!("the store is in {}", dir.display());
    let store = SledStore::open(SledConfig::new(&dir).cache_capacity(8 * 1024 * 1024))?;
    let service = MiniTwit::builder(Arc::new(store)).build()?;

    for name in ["Ada Lovelace", "Grace Hopper"] {
        let form = Registration {
            username: name,
            email: "someone@example.org",
            password: "a long passphrase",
            password_confirmation: None,
            caller: Caller::SimulatorApi,
        };
        match service.register(form).await {
            Ok(user) => println!("registered {} (id {})", user.username, user.id.0),
            Err(Error::UsernameTaken) => println!("{name} is already registered"),
            Err(other) => return Err(other.into()),
        }
    }
    service.follow("Ada Lovelace", "Grace Hopper").await?;
    service
        .post(
            "Grace Hopper",
            "A ship in port is safe, but that is not what ships are built for.",
        )
        .await?;

    let ada = service.user("Ada Lovelace").await?;
    let page = service.home_timeline(ada.id, PageRequest::first(5)).await?;
    println!("Ada's home timeline, newest first:");
    for message in &page.messages {
        println!("  {}: {}", message.author.username, message.text);
    }
    if page.next.is_some() {
        println!("  ... and older messages");
    }
    Ok(())
}
