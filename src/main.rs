//! `minitwit`: the MiniTwit server, and tools around it.
//!
//! `minitwit serve` (or plain `minitwit`) serves the HTML site at `/` and the
//! simulator API under `MINITWIT_API_PREFIX` (default `/api`) on the store
//! named by `MINITWIT_STORE` (default `sled:./minitwit-data`). See the README
//! for every setting.

mod backup;
mod cli;
mod replay;
mod server;
mod settings;
mod store_url;
mod stores;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log filter without `MINITWIT_LOG`: our own information, Rocket's
/// start-up report, but not Rocket's lines for every request, which under a
/// simulator's load would be most of the server's work and disk.
const DEFAULT_LOG_FILTER: &str = "info,rocket::server=warn";

/// Logs through `tracing` to standard error, filtered by `MINITWIT_LOG`
/// (default [`DEFAULT_LOG_FILTER`]).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MINITWIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    // Another subscriber (in tests) is fine: keep it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
