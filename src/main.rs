//! `minitwit`: the MiniTwit server, and tools around it.
//!
//! `minitwit serve` (or plain `minitwit`) serves the HTML site at `/` and the
//! simulator API under `MINITWIT_API_PREFIX` (default `/api`) on the store
//! named by `MINITWIT_STORE` (default `sled:./minitwit-data`). See the README
//! for every setting.

mod backlog;
mod backup;
mod cli;
mod logging;
mod ops;
mod preflight;
mod progress;
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
            let message = describe_error(&err);
            match logging.format {
                logging::Format::Json => tracing::error!("{message}"),
                logging::Format::Text => eprintln!("error: {message}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each once: libraries often repeat their
/// cause's text in their own message and give it as a source too.
fn describe_error(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let repeated = anyhow::Error::new(io)
            .context("connection refused")
            .context("cannot connect to Redis at redis://h: connection refused")
            .context("cannot use the Redis store redis://h");
        assert_eq!(
            describe_error(&repeated),
            "cannot use the Redis store redis://h: cannot connect to Redis at redis://h: \
             connection refused"
        );
    }
}
