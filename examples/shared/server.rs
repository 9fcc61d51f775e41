//! Starting `minitwit serve` from an example that measures a server it
//! starts itself (included with `#[path]` by those examples).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

/// A server an example started; killed when dropped.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `binary serve` on `store`, listening on `127.0.0.1:port`, with
/// `env` added to the environment it inherits (`MINITWIT_LOG` is `warn`
/// unless that environment sets it).
pub fn spawn_serve(
    binary: &Path,
    store: &str,
    port: u16,
    env: &[(&str, String)],
) -> anyhow::Result<Spawned> {
    let child = Command::new(binary)
        .arg("serve")
        .env("MINITWIT_STORE", store)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env(
            "MINITWIT_LOG",
            std::env::var("MINITWIT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (run `cargo build --release` first)",
                binary.display()
            )
        })?;
    Ok(Spawned(child))
}
