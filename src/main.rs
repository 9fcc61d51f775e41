//! `minitwit`: the MiniTwit server, and tools around it.
//!
//! `minitwit serve` (or plain `minitwit`) serves the HTML site at `/` and the
//! simulator API under `MINITWIT_API_PREFIX` (default `/api`) on the store
//! named by `MINITWIT_STORE` (default `sled:./minitwit-data`). See the README
//! for every setting.

mod backup;
mod cli;
mod logging;
mod ops;
mod replay;
mod server;
mod settings;
mod store_url;
mod stores;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let logging = match logging::init() {
        Ok(logging) => logging,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
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
            // Once: as a JSON line where logs are JSON, else as text.
            match logging.format {
                logging::Format::Json => tracing::error!("{err:#}"),
                logging::Format::Text => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
