//! `minitwit simulate` and `minitwit scenario generate`: drive a server the
//! way the course's simulator does.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{
    GeneratorConfig, Pace, ReplayOptions, compare, generate as generate_actions, read_scenario,
    replay, write_scenario,
};

use crate::cli::Output;

/// Flags of `minitwit simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The API's base URL, prefix included.
    #[arg(long, default_value = "http://127.0.0.1:8000/api")]
    base: String,
    /// The scenario file (tab-separated, the simulator's format).
    #[arg(long)]
    scenario: PathBuf,
    /// Per-request timeout in milliseconds (the simulator's is 300).
    #[arg(long, default_value_t = 300)]
    timeout_ms: u64,
    /// Reuse connections instead of one connection per request.
    #[arg(long)]
    keep_alive: bool,
    /// Sleep each action's delay first, as the scenario's clock says.
    #[arg(long)]
    honour_delays: bool,
    /// After the replay, read every user's follows and messages back and
    /// compare them with what the scenario implies.
    #[arg(long)]
    verify: bool,
}

/// Flags of `minitwit scenario generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Distinct users to register (at most).
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Actions in all.
    #[arg(long, default_value_t = 26_000)]
    actions: usize,
    /// Random seed; the same flags give the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write it (`-` for standard output).
    #[arg(long, default_value = "-")]
    out: Output,
}

/// Replays a scenario and prints a summary; fails when any answer was wrong.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let file = File::open(&args.scenario)
        .with_context(|| format!("cannot open {}", args.scenario.display()))?;
    let actions = read_scenario(BufReader::new(file))?;
    let client = SimClient::builder(args.base.clone())
        .timeout(Duration::from_millis(args.timeout_ms))
        .one_connection_per_request(!args.keep_alive)
        .build()?;
    let options = ReplayOptions {
        pace: if args.honour_delays {
            Pace::Speed(1.0)
        } else {
            Pace::Max
        },
        ..ReplayOptions::default()
    };
    let report = replay(std::slice::from_ref(&client), &actions, options).await;
    println!(
        "{} requests in {:.2?} ({:.0}/s): {} errors ({} timeouts); latency p50 {:.2?}, p90 {:.2?}, p99 {:.2?}, max {:.2?}",
        report.requests,
        report.elapsed,
        report.throughput(),
        report.errors.len(),
        report.timeouts,
        report.latency_quantile(0.5),
        report.latency_quantile(0.9),
        report.latency_quantile(0.99),
        report.latency_quantile(1.0),
    );
    for error in report.errors.iter().take(20) {
        println!(
            "  action {}: expected {}, got {}",
            error.action_id, error.expected, error.got
        );
    }
    let mut failed = !report.errors.is_empty();
    if args.verify {
        let differences = compare(&client, &report.expected).await?;
        println!(
            "verified {} users: {} differences",
            report.expected.users.len(),
            differences.len()
        );
        for difference in differences.iter().take(20) {
            println!("  {difference}");
        }
        failed |= !differences.is_empty();
    }
    anyhow::ensure!(!failed, "the server did not answer as the scenario expects");
    Ok(())
}

/// Writes a generated scenario.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let actions = generate_actions(GeneratorConfig {
        users: args.users,
        actions: args.actions,
        seed: args.seed,
    });
    match &args.out.0 {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            write_scenario(BufWriter::new(file), &actions)?;
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = BufWriter::new(stdout);
            write_scenario(&mut out, &actions)?;
            out.flush()?;
        }
    }
    Ok(())
}
