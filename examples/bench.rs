//! The load benchmark behind `scripts/bench`: one generated scenario
//! replayed, in one run, against the server on sled, on Redis (AOF,
//! `appendfsync always`), on its in-memory store, and against the bare
//! Rocket ceiling (`examples/ceiling.rs`), each a fresh process on this
//! machine; prints throughput, latency and peak memory side by side, and the
//! ratios that compare them, and the server's CPU time per steady-phase
//! request (with Redis', for the Redis target): on two cores shared with
//! the client, that cost is what bounds the throughput.
//!
//! Run it through `scripts/bench`, which builds what it needs first:
//!
//! ```sh
//! scripts/bench                                   # 26,000 actions, 16 connections
//! scripts/bench --actions 1800000 --targets sled  # about 1 M messages stored
//! ```
//!
//! Options: `--actions N`, `--users N`, `--seed N`, `--concurrency N`,
//! `--targets sled,redis,memory,ceiling`. The client is this process, a
//! compiled replayer with keep-alive connections; it shares the machine's
//! cores with the server, as the simulator's client would on one host.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{
    GeneratorConfig, Pace, ReplayOptions, ReplaySummary, generate, replay, steady_start,
};

/// What `--help` prints.
const USAGE: &str = "\
Usage: scripts/bench [--actions N] [--users N] [--seed N] [--concurrency N] [--targets LIST]

Replays one generated scenario against each target, each a fresh process on
this machine, and prints throughput, latency, errors, peak memory and server
CPU per request side by side.

  --actions N       actions in the scenario (default 26000)
  --users N         distinct users (default 200)
  --seed N          the generator's seed (default 1)
  --concurrency N   connections of the replayer (default 16)
  --targets LIST    comma-separated: ceiling, memory, sled, redis (default all four)";

/// What one run measures.
struct Options {
    actions: usize,
    users: usize,
    seed: u64,
    concurrency: usize,
    targets: Vec<String>,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            actions: 26_000,
            users: 200,
            seed: 1,
            concurrency: 16,
            targets: ["ceiling", "memory", "sled", "redis"]
                .map(String::from)
                .to_vec(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--actions" => options.actions = value.parse()?,
                "--users" => options.users = value.parse()?,
                "--seed" => options.seed = value.parse()?,
                "--concurrency" => options.concurrency = value.parse()?,
                "--targets" => options.targets = value.split(',').map(str::to_owned).collect(),
                other => bail!("unknown option {other}\n\n{USAGE}"),
            }
        }
        Ok(options)
    }
}

/// A child process that is killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// The peak resident memory of the process so far, in MiB.
    fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next())
            .context("no VmHWM in /proc/PID/status")?
            .parse()?;
        Ok(kib / 1024.0)
    }
}

/// The CPU time process `pid` has used so far (all its threads, user and
/// system), in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its
    // closing parenthesis start at field 3, so utime and stime (fields
    // 14 and 15) are the 12th and 13th of them.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no command name in /proc/PID/stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    let per_second = f64::from(u32::try_from(rustix::param::clock_ticks_per_second())?);
    Ok((ticks(11)? + ticks(12)?) / per_second)
}

/// The CPU time `pids` have used so far, together.
fn cpu_seconds_of(pids: &[u32]) -> anyhow::Result<f64> {
    pids.iter().map(|&pid| cpu_seconds(pid)).sum()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The release binaries next to this example.
fn release_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/release/examples/bench -> target/release
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot find target/release")
}

fn spawn(command: &mut Command) -> anyhow::Result<Process> {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    Ok(Process(child))
}

/// Starts `redis-server` with an append-only file synced on every write.
fn start_redis(dir: &Path) -> anyhow::Result<(Process, u16)> {
    let port = free_port()?;
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .arg("--dir")
        .arg(dir);
    let redis = spawn(&mut command)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("redis-server did not start on port {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((redis, port))
}

/// Starts the target's server and returns it with its API's base URL (and
/// the Redis it uses, kept alive as long as the server).
fn start_target(
    target: &str,
    dir: &Path,
    release: &Path,
) -> anyhow::Result<(Process, Option<Process>, String)> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}/api");
    if target == "ceiling" {
        let mut command = Command::new(release.join("examples").join("ceiling"));
        command.arg(format!("127.0.0.1:{port}"));
        return Ok((spawn(&mut command)?, None, base));
    }
    let (store, redis) = match target {
        "sled" => (format!("sled:{}", dir.join("sled").display()), None),
        "memory" => ("memory:".to_owned(), None),
        "redis" => {
            let (redis, redis_port) = start_redis(dir)?;
            (format!("redis://127.0.0.1:{redis_port}/0"), Some(redis))
        }
        other => bail!("unknown target {other}: sled, redis, memory or ceiling"),
    };
    let mut command = Command::new(release.join("minitwit"));
    command
        .arg("serve")
        .env("MINITWIT_STORE", store)
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env("MINITWIT_LOG", "warn");
    Ok((spawn(&mut command)?, redis, base))
}

async fn wait_until_answering(client: &SimClient, server: &mut Process) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.latest().await.is_ok() {
            return Ok(());
        }
        if let Some(status) = server.0.try_wait()? {
            let mut log = String::new();
            if let Some(stderr) = server.0.stderr.take() {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
            bail!("the server exited ({status}) before answering:\n{log}");
        }
        if Instant::now() > deadline {
            bail!("the server did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one target did.
struct Measured {
    target: String,
    summary: ReplaySummary,
    peak_rss_mib: f64,
    /// Server CPU time per steady-phase request, in µs (`None` when the
    /// replay ended before the steady phase began).
    cpu_us_per_request: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let release = release_dir()?;
    let actions = generate(GeneratorConfig {
        users: options.users,
        actions: options.actions,
        seed: options.seed,
    });
    println!(
        "scenario: {} actions, up to {} users (seed {}); {} connections; client and servers on \
         this machine ({} CPUs)",
        actions.len(),
        options.users,
        options.seed,
        options.concurrency,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut results = Vec::new();
    for target in &options.targets {
        let dir = tempfile::tempdir()?;
        let (mut server, redis, base) = start_target(target, dir.path(), &release)?;
        let client = SimClient::builder(base)
            .timeout(Duration::from_secs(5))
            .one_connection_per_request(false)
            .build()?;
        wait_until_answering(&client, &mut server).await?;
        eprintln!("{target}: replaying...");
        // The server's CPU time is read when as many actions have been
        // answered as the registration phase holds: from then on, nearly
        // every request answered is a steady-phase one.
        let pids: Vec<u32> = std::iter::once(&server)
            .chain(redis.as_ref())
            .map(|process| process.0.id())
            .collect();
        let steady_from = steady_start(&actions);
        let cpu_at_steady = Arc::new(OnceLock::new());
        let on_answer: Arc<dyn Fn(usize) + Send + Sync> = Arc::new({
            let (pids, cpu_at_steady) = (pids.clone(), Arc::clone(&cpu_at_steady));
            move |answered| {
                if answered == steady_from {
                    let _ = cpu_at_steady.set(cpu_seconds_of(&pids).ok());
                }
            }
        });
        let report = replay(
            std::slice::from_ref(&client),
            &actions,
            ReplayOptions {
                pace: Pace::Max,
                concurrency: options.concurrency,
                on_answer: Some(on_answer),
            },
        )
        .await;
        let cpu_at_end = cpu_seconds_of(&pids)?;
        let summary = ReplaySummary::of(&report, &actions);
        let peak_rss_mib = server.peak_rss_mib()?;
        let cpu_us_per_request = cpu_at_steady
            .get()
            .copied()
            .flatten()
            .filter(|_| summary.steady.requests > 0)
            .map(|start| (cpu_at_end - start) * 1e6 / summary.steady.requests as f64);
        eprintln!("{target}: steady {}", summary.steady.describe());
        results.push(Measured {
            target: target.clone(),
            summary,
            peak_rss_mib,
            cpu_us_per_request,
        });
    }
    print_table(&results);
    Ok(())
}

fn print_table(results: &[Measured]) {
    let rate = |name: &str| {
        results
            .iter()
            .find(|measured| measured.target == name)
            .map(|measured| measured.summary.steady.throughput)
    };
    let ceiling = rate("ceiling");
    let sled = rate("sled");
    println!();
    println!(
        "{:<8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10} {:>9} {:>10}",
        "target",
        "steady/s",
        "×ceiling",
        "×sled",
        "p50 ms",
        "p99 ms",
        "errors",
        "reg/s",
        "reg p99",
        "peak MiB",
        "CPU µs/req"
    );
    for measured in results {
        let steady = &measured.summary.steady;
        let registration = &measured.summary.registration;
        let ratio = |of: Option<f64>| {
            of.map_or_else(
                || "-".to_owned(),
                |of| format!("{:.2}", steady.throughput / of),
            )
        };
        let errors: usize = measured.summary.all.errors.values().sum();
        println!(
            "{:<8} {:>10.0} {:>9} {:>9} {:>9.2} {:>9.2} {:>7} {:>10.0} {:>10.2} {:>9.1} {:>10}",
            measured.target,
            steady.throughput,
            ratio(ceiling),
            ratio(sled),
            steady.p50_ms,
            steady.p99_ms,
            errors,
            registration.throughput,
            registration.p99_ms,
            measured.peak_rss_mib,
            measured
                .cpu_us_per_request
                .map_or_else(|| "-".to_owned(), |us| format!("{us:.0}"))
        );
    }
    for measured in results {
        for (kind, count) in &measured.summary.all.errors {
            println!("{}: {count} × {kind}", measured.target);
        }
    }
}
