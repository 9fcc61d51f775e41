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

/// Flags of `minitwit serve`; each overrides its variable.
#[derive(Debug, Default, clap::Args)]
#[command(after_long_help = SERVE_SETTINGS)]
pub struct ServeArgs {
    /// The store: sled:PATH, redis://HOST:PORT[/DB] or memory:
    /// [env: MINITWIT_STORE] [default: sled:./minitwit-data]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The address to listen on [env: ROCKET_ADDRESS] [default: 127.0.0.1]
    #[arg(long, value_name = "IP")]
    pub address: Option<std::net::IpAddr>,
    /// The port to listen on [env: ROCKET_PORT] [default: 8000]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}

/// The settings `minitwit serve --help` lists (docs/configuration.md has
/// them all, with their meaning in full).
const SERVE_SETTINGS: &str = "\
Settings, from the environment (or the [default.minitwit] table of a
Rocket.toml in the working directory, keys in lower case without MINITWIT_):
  MINITWIT_STORE                     sled:PATH, redis://HOST:PORT[/DB] or memory:
  MINITWIT_API_PREFIX                where the simulator API is mounted [/api]
  MINITWIT_API_PORT                  also serve the API at the root of this port
  MINITWIT_API_USER, _API_PASSWORD   the API's Basic credential [simulator, super_safe!]
  MINITWIT_MAX_NO                    the largest `no` the API honours [10000]
  MINITWIT_SLED_CACHE_MB             sled's page cache, MiB [16]
  MINITWIT_REDIS_NAMESPACE           prefix of every Redis key [minitwit]
  MINITWIT_REDIS_CONNECT_TIMEOUT_MS  [100]
  MINITWIT_REDIS_RESPONSE_TIMEOUT_MS deadline of one Redis call [250]
  MINITWIT_HASH_CONCURRENCY          password hashes at once [CPUs on sled, half on Redis]
  MINITWIT_SECURE_COOKIES            mark cookies Secure (behind TLS) [false]
  MINITWIT_SESSION_DAYS              how long a sign-in lasts [30]
  MINITWIT_AVATARS                   identicon or gravatar [identicon]
  MINITWIT_RATE_SIGN_IN_PER_ADDRESS  sign-in attempts per address and minute [60]
  MINITWIT_RATE_SIGN_IN_PER_USERNAME sign-in attempts per username and minute [10]
  MINITWIT_RATE_SIGN_UP_PER_ADDRESS  sign-ups per address and minute [30]
  MINITWIT_RATE_POSTS_PER_USER       posts on the site per user and minute [30]
  MINITWIT_RATE_FOLLOWS_PER_USER     follows and unfollows on the site per user and minute [60]
  MINITWIT_TRUSTED_PROXIES           proxies whose X-Forwarded-For is believed
  MINITWIT_ADMIN_TOKEN               enables GET /admin/backup (Bearer token)
  MINITWIT_BACKUP_EVERY, _DIR, _KEEP scheduled backups [off, ./minitwit-backups, 24]
  MINITWIT_METRICS_TOKEN             /metrics wants this Bearer token
  MINITWIT_LOG                       log filter, tracing EnvFilter syntax [info; Rocket at warn]
  MINITWIT_LOG_FORMAT                text or json [text]
  ROCKET_ADDRESS, ROCKET_PORT        where to listen [127.0.0.1, 8000]
  ROCKET_SECRET_KEY                  the session key [kept in the store]
See docs/configuration.md for each in full.";

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
