//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{backup, replay, server};

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
    /// Replay a scenario file against a server's simulator API and check
    /// every answer.
    Simulate(replay::SimulateArgs),
    /// Scenario files in the simulator's format.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Write a backup of a store (directly, or through a running server).
    Backup(backup::BackupArgs),
    /// Check a backup, then restore it into a store.
    Restore(backup::RestoreArgs),
}

#[derive(Debug, Subcommand)]
enum ScenarioCommand {
    /// Write a generated, realistic scenario (deterministic for a seed).
    Generate(replay::GenerateArgs),
}

/// Flags of `minitwit serve`; each overrides its `MINITWIT_*` variable.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// The store: sled:PATH, redis://HOST:PORT[/DB] or memory:
    /// [env: MINITWIT_STORE] [default: sled:./minitwit-data]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// Where a command writes its output: a file, or standard output for `-`.
#[derive(Debug, Clone)]
pub struct Output(pub Option<PathBuf>);

impl std::str::FromStr for Output {
    type Err = std::convert::Infallible;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self((raw != "-").then(|| PathBuf::from(raw))))
    }
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            None => server::serve(ServeArgs::default()).await,
            Some(Command::Serve(args)) => server::serve(args).await,
            Some(Command::Simulate(args)) => replay::simulate(args).await,
            Some(Command::Scenario(ScenarioCommand::Generate(args))) => replay::generate(&args),
            Some(Command::Backup(args)) => backup::backup(args).await,
            Some(Command::Restore(args)) => backup::restore(args).await,
        }
    }
}
