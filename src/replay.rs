//! `minitwit simulate` and `minitwit scenario generate`: drive a server the
//! way the course's simulator does.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{
    ActionKind, Generator, GeneratorConfig, Pace, ReplayOptions, ReplayReport, ReplaySummary,
    compare, read_scenario, replay,
};

use crate::cli::Output;
use crate::progress::count_bar;

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
    /// Actions in flight at once. Each user's actions keep their order, and
    /// an action waits for the registration of every user it names.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Send as fast as the server answers (the default).
    #[arg(long, conflicts_with_all = ["speed", "honour_delays"])]
    max: bool,
    /// Follow the scenario's own clock (each action's delay), this many
    /// times as fast: 1 is real time, 10 ten times as fast.
    #[arg(long, value_name = "X", conflicts_with = "honour_delays")]
    speed: Option<f64>,
    /// The scenario's clock in real time: the same as `--speed 1`.
    #[arg(long)]
    honour_delays: bool,
    /// Print the summary as one JSON object on standard output (for
    /// machines) instead of lines for people.
    #[arg(long)]
    json: bool,
    /// After the replay, read every user's follows and messages back and
    /// compare them with what the scenario implies.
    #[arg(long)]
    verify: bool,
}

impl SimulateArgs {
    fn pace(&self) -> anyhow::Result<Pace> {
        match (self.speed, self.honour_delays) {
            (Some(speed), _) if !(speed.is_finite() && speed > 0.0) => {
                anyhow::bail!("--speed must be a number above 0, not {speed}")
            }
            (Some(speed), _) => Ok(Pace::Speed(speed)),
            (None, true) => Ok(Pace::Speed(1.0)),
            (None, false) => Ok(Pace::Max),
        }
    }
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
    let pace = args.pace()?;
    let file = File::open(&args.scenario)
        .with_context(|| format!("cannot open {}", args.scenario.display()))?;
    let actions = read_scenario(BufReader::new(file))
        .with_context(|| format!("cannot read {}", args.scenario.display()))?;
    let client = SimClient::builder(args.base.clone())
        .timeout(Duration::from_millis(args.timeout_ms))
        .one_connection_per_request(!args.keep_alive)
        .build()?;
    let bar = count_bar("replay", actions.len() as u64, "actions");
    let on_answer = {
        let bar = bar.clone();
        Arc::new(move |answered: usize| bar.set_position(answered as u64))
    };
    let options = ReplayOptions {
        pace,
        concurrency: usize::from(args.concurrency),
        on_answer: Some(on_answer),
    };
    let report = replay(std::slice::from_ref(&client), &actions, options).await;
    bar.finish_and_clear();
    let summary = ReplaySummary::of(&report, &actions);
    let differences = if args.verify {
        Some(compare(&client, &report.expected).await?)
    } else {
        None
    };
    if args.json {
        let json = serde_json::json!({
            "summary": summary,
            "verified_users": differences.as_ref().map(|_| report.expected.users.len()),
            "differences": differences,
        });
        println!("{json}");
    } else {
        print_summary(&report, &summary);
        if let Some(differences) = &differences {
            println!(
                "verified {} users: {} differences",
                report.expected.users.len(),
                differences.len()
            );
            for difference in differences.iter().take(20) {
                println!("  {difference}");
            }
        }
    }
    let failed = !report.errors.is_empty() || differences.is_some_and(|d| !d.is_empty());
    anyhow::ensure!(!failed, "the server did not answer as the scenario expects");
    Ok(())
}

fn print_summary(report: &ReplayReport, summary: &ReplaySummary) {
    println!("all:          {}", summary.all.describe());
    println!(
        "registration: {} (actions 1 to {})",
        summary.registration.describe(),
        summary.steady_from
    );
    println!("steady:       {}", summary.steady.describe());
    for (kind, count) in &summary.all.errors {
        println!("  {count} × {kind}");
    }
    for error in report.errors.iter().take(20) {
        println!(
            "  action {}: expected {}, got {}",
            error.action_id, error.expected, error.got
        );
    }
}

/// Writes a generated scenario, streamed (ten million actions need no
/// more memory than ten), and says on standard error what it wrote.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut generator = Generator::new(GeneratorConfig {
        users: args.users,
        actions: args.actions,
        seed: args.seed,
    });
    let (written, place) = match &args.out.0 {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let written = write_actions(&mut out, &mut generator)
                .with_context(|| format!("cannot write {}", path.display()))?;
            (written, path.display().to_string())
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let written = write_actions(&mut out, &mut generator)
                .context("cannot write the scenario to standard output")?;
            (written, "standard output".to_owned())
        }
    };
    eprintln!(
        "wrote {} actions ({} registrations, {} tweets, {} follows, {} unfollows; {} users) \
         to {place} in {:.1} s",
        written.total(),
        written.registrations,
        written.tweets,
        written.follows,
        written.unfollows,
        generator.users(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How many actions of each kind were written.
#[derive(Debug, Default)]
struct Written {
    registrations: u64,
    tweets: u64,
    follows: u64,
    unfollows: u64,
}

impl Written {
    fn total(&self) -> u64 {
        self.registrations + self.tweets + self.follows + self.unfollows
    }
}

fn write_actions(out: &mut impl Write, actions: &mut Generator) -> std::io::Result<Written> {
    let bar = count_bar("generate", actions.size_hint().0 as u64, "actions");
    let mut written = Written::default();
    for action in actions {
        writeln!(out, "{action}")?;
        match action.kind {
            ActionKind::Register { .. } => written.registrations += 1,
            ActionKind::Tweet { .. } => written.tweets += 1,
            ActionKind::Follow { .. } => written.follows += 1,
            ActionKind::Unfollow { .. } => written.unfollows += 1,
        }
        if written.total() % 65_536 == 0 {
            bar.set_position(written.total());
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(written)
}
