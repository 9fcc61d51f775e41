//! The command line.

use clap::{Parser, Subcommand};

use crate::server;

/// MiniTwit: a tiny Twitter with an HTML site and the simulator API.
#[derive(Debug, Parser)]
#[command(name = "minitwit", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTML site and the simulator API (the default).
    Serve(ServeArgs),
}

/// Flags of `minitwit serve`; each overrides its `MINITWIT_*` variable.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// The store: sled:PATH, redis://HOST:PORT[/DB] or memory:
    /// [env: MINITWIT_STORE] [default: sled:./minitwit-data]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            None => server::serve(ServeArgs::default()).await,
            Some(Command::Serve(args)) => server::serve(args).await,
        }
    }
}
