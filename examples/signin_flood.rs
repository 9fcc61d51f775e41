//! A sign-in flood, measured: rounds of concurrent anonymous `POST /login`
//! attempts (random names and passwords) against a MiniTwit server while
//! simulator registrations (`POST /api/register`) and reads
//! (`GET /api/msgs`) are timed, one connection per request as the simulator
//! does. It prints the flood's answers by status, and for the registrations
//! and the reads their latency (p50, p99, max) and how many took longer
//! than the simulator's 0.3 s timeout. It asserts nothing: it measures.
//!
//! By default it targets a server you started yourself:
//!
//! ```sh
//! cargo build --release
//! target/release/minitwit serve --store memory: &
//! cargo run --release --example signin_flood -- --url http://127.0.0.1:8000
//! ```
//!
//! With `--spawn` it starts `target/release/minitwit serve` itself (on
//! `memory:` and a free loopback port, with the environment it was given,
//! so `MINITWIT_*` settings apply) and stops it at the end:
//!
//! ```sh
//! cargo run --release --example signin_flood -- --spawn
//! # every attempt costs a hash: no rate limit, and every one from a
//! # "different" client through a trusted proxy
//! MINITWIT_RATE_SIGN_IN_PER_ADDRESS=0 MINITWIT_RATE_SIGN_IN_PER_USERNAME=0 \
//!     cargo run --release --example signin_flood -- --spawn
//! MINITWIT_TRUSTED_PROXIES=127.0.0.1 \
//!     cargo run --release --example signin_flood -- --spawn --spread-addresses
//! ```
//!
//! With `--api-port` (and `--spawn`) the server also serves the API at the
//! root of a port of its own (`MINITWIT_API_PORT`), and the simulator's
//! requests are timed there; `--api URL` does the same for a server you
//! started.
//!
//! A flood opens hundreds of connections at once. The server listens with
//! a queue of 128 connections not yet accepted (Rocket 0.5 binds through
//! tokio with the standard library's backlog), so part of a burst is
//! dropped and retried by TCP a second later, whichever client sent it; the
//! program prints how many connections the machine dropped that way
//! (Linux's `ListenOverflows`), which explains latencies near one second.
//!
//! The API's credential is the simulator's (`simulator` / `super_safe!`)
//! unless `--api-user` and `--api-password` say otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "shared/server.rs"]
mod server;

use anyhow::Context as _;
use clap::Parser;
use rand::Rng as _;
use server::{Spawned, free_port, spawn_serve};

/// The simulator's per-request timeout.
const SIMULATOR_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Parser)]
#[command(about = "Measure simulator API latency during a sign-in flood")]
struct Args {
    /// The server's base URL (the site's root; the API is under --api-prefix).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Start `minitwit serve` (the binary at --binary) on a free port instead.
    #[arg(long)]
    spawn: bool,
    /// The binary --spawn starts.
    #[arg(long, default_value = "target/release/minitwit")]
    binary: PathBuf,
    /// Where the API is mounted.
    #[arg(long, default_value = "/api")]
    api_prefix: String,
    /// The API's base URL, when it is not --url and --api-prefix (a port of
    /// its own: MINITWIT_API_PORT).
    #[arg(long)]
    api: Option<String>,
    /// With --spawn: also serve the API at the root of a port of its own
    /// (MINITWIT_API_PORT), and time the simulator's requests there.
    #[arg(long)]
    api_port: bool,
    /// Concurrent sign-in attempts per round.
    #[arg(long, default_value_t = 300)]
    flood: usize,
    /// Rounds of the flood, one after the other.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Simulator clients registering (each one request at a time).
    #[arg(long, default_value_t = 2)]
    registrars: usize,
    /// Simulator clients reading `/msgs` (each one request at a time).
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Each simulator client's pause between two requests, in milliseconds.
    /// Without one, a client opening a connection per request churns
    /// through the machine's ports: thousands of sockets wait in TIME_WAIT
    /// and a new connection now and then hits one and waits a second for
    /// TCP to retry, which measures the loopback, not the server.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// Give every attempt a random `X-Forwarded-For` (believed only when the
    /// server trusts this machine as a proxy: MINITWIT_TRUSTED_PROXIES).
    #[arg(long)]
    spread_addresses: bool,
    /// The API's Basic credential.
    #[arg(long, default_value = "simulator")]
    api_user: String,
    /// The API's Basic credential.
    #[arg(long, default_value = "super_safe!")]
    api_password: String,
}

/// Starts the server; its site's URL, and its API's own port's URL when
/// `api_port`.
fn spawn(binary: &Path, api_port: bool) -> anyhow::Result<(Spawned, String, Option<String>)> {
    let port = free_port()?;
    let api = if api_port { Some(free_port()?) } else { None };
    let env: Vec<_> = api
        .map(|api| ("MINITWIT_API_PORT", api.to_string()))
        .into_iter()
        .collect();
    let spawned = spawn_serve(binary, "memory:", port, &env)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for port in std::iter::once(port).chain(api) {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok((
        spawned,
        format!("http://127.0.0.1:{port}"),
        api.map(|api| format!("http://127.0.0.1:{api}")),
    ))
}

/// The machine's count of connections dropped because a listening
/// socket's queue was full (Linux's `ListenOverflows`), when readable.
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
}

/// Latencies of one kind of request, and its failures.
#[derive(Default)]
struct Timings {
    latencies: Vec<Duration>,
    /// Answers that were not the expected status, by status (0: no answer).
    unexpected: BTreeMap<u16, usize>,
}

impl Timings {
    fn report(&mut self, what: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            let n = self.latencies.len();
            if n == 0 {
                return Duration::ZERO;
            }
            let index = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.latencies[index]
        };
        let slow = self
            .latencies
            .iter()
            .filter(|latency| **latency > SIMULATOR_TIMEOUT)
            .count();
        println!(
            "{what}: {} requests, p50 {:.1?}, p99 {:.1?}, max {:.1?}, {slow} over 0.3 s, unexpected answers {:?}",
            self.latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0),
            self.unexpected,
        );
    }
}

/// A client that opens a connection per request, like the simulator.
fn one_shot_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Registers users one after the other until `stop`.
async fn register_until(
    api: String,
    authorization: String,
    worker: usize,
    pause: Duration,
    stop: Arc<AtomicBool>,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Timings> {
    let client = one_shot_client()?;
    let mut timings = Timings::default();
    while !stop.load(Ordering::Relaxed) {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::json!({
            "username": format!("flood witness {worker}-{n}"),
            "email": "witness@example.org",
            "pwd": "a password",
        });
        let started = Instant::now();
        let answer = client
            .post(format!("{api}/register?latest={n}"))
            .header("Authorization", &authorization)
            .header("Connection", "close")
            .json(&body)
            .send()
            .await;
        timings.latencies.push(started.elapsed());
        match answer.map(|answer| answer.status().as_u16()) {
            Ok(204) => {}
            Ok(status) => *timings.unexpected.entry(status).or_default() += 1,
            Err(_) => *timings.unexpected.entry(0).or_default() += 1,
        }
        tokio::time::sleep(pause).await;
    }
    Ok(timings)
}

/// Reads `/msgs` one request after the other until `stop`.
async fn read_until(
    api: String,
    authorization: String,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Timings> {
    let client = one_shot_client()?;
    let mut timings = Timings::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = client
            .get(format!("{api}/msgs?no=100"))
            .header("Authorization", &authorization)
            .header("Connection", "close")
            .send()
            .await;
        let status = match answer {
            Ok(answer) => {
                let status = answer.status().as_u16();
                // The whole answer, as the simulator reads it.
                let _ = answer.bytes().await;
                status
            }
            Err(_) => 0,
        };
        timings.latencies.push(started.elapsed());
        if status != 200 {
            *timings.unexpected.entry(status).or_default() += 1;
        }
        tokio::time::sleep(pause).await;
    }
    Ok(timings)
}

/// One anonymous sign-in attempt: its status (0 when there was no answer).
async fn attempt(client: reqwest::Client, site: String, spread: bool) -> u16 {
    let (username, password, forwarded) = {
        let mut rng = rand::thread_rng();
        let username: String = (0..12)
            .map(|_| char::from(rng.gen_range(b'a'..=b'z')))
            .collect();
        let password: String = (0..16)
            .map(|_| char::from(rng.gen_range(b'!'..=b'~')))
            .collect();
        let forwarded = format!(
            "{}.{}.{}.{}",
            rng.gen_range(1..=223u8),
            rng.r#gen::<u8>(),
            rng.r#gen::<u8>(),
            rng.gen_range(1..=254u8)
        );
        (username, password, forwarded)
    };
    let mut request = client
        .post(format!("{site}/login"))
        .form(&[("username", username), ("password", password)]);
    if spread {
        request = request.header("X-Forwarded-For", forwarded);
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let _ = answer.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_server, site, api_root) = if args.spawn {
        let (server, url, api_root) = spawn(&args.binary, args.api_port)?;
        (Some(server), url, api_root)
    } else {
        (None, args.url.trim_end_matches('/').to_owned(), None)
    };
    let api = match args.api.as_deref().or(api_root.as_deref()) {
        Some(api) => api.trim_end_matches('/').to_owned(),
        None => format!("{site}{}", args.api_prefix.trim_end_matches('/')),
    };
    let authorization = minitwit_sim_api::basic_authorization(&args.api_user, &args.api_password);
    println!(
        "site {site}, API {api}: {} rounds of {} concurrent anonymous sign-ins{}; {} registering and {} reading simulator clients",
        args.rounds,
        args.flood,
        if args.spread_addresses {
            ", each from a random X-Forwarded-For"
        } else {
            ""
        },
        args.registrars,
        args.readers
    );

    // Something to read.
    let seed = one_shot_client()?;
    let seeded = seed
        .post(format!("{api}/register"))
        .header("Authorization", &authorization)
        .json(&serde_json::json!({"username": "flood seed", "email": "s@example.org", "pwd": "pw"}))
        .send()
        .await
        .context("the API does not answer")?;
    anyhow::ensure!(
        matches!(seeded.status().as_u16(), 204 | 400),
        "registering through {api} answered {}",
        seeded.status()
    );
    for n in 0..100 {
        seed.post(format!("{api}/msgs/flood%20seed"))
            .header("Authorization", &authorization)
            .json(&serde_json::json!({ "content": format!("message {n}") }))
            .send()
            .await?;
    }

    let pause = Duration::from_millis(args.pause_ms);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(rand::random::<u32>().into()));
    let registrars: Vec<_> = (0..args.registrars)
        .map(|worker| {
            tokio::spawn(register_until(
                api.clone(),
                authorization.clone(),
                worker,
                pause,
                Arc::clone(&stop),
                Arc::clone(&counter),
            ))
        })
        .collect();
    let readers: Vec<_> = (0..args.readers)
        .map(|_| {
            tokio::spawn(read_until(
                api.clone(),
                authorization.clone(),
                pause,
                Arc::clone(&stop),
            ))
        })
        .collect();

    // The flood: each round fires every attempt at once, each on its own
    // connection.
    let flood_client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut flood_answers: BTreeMap<u16, usize> = BTreeMap::new();
    let overflows_before = listen_overflows();
    let started = Instant::now();
    for _ in 0..args.rounds {
        let attempts: Vec<_> = (0..args.flood)
            .map(|_| {
                tokio::spawn(attempt(
                    flood_client.clone(),
                    site.clone(),
                    args.spread_addresses,
                ))
            })
            .collect();
        for attempt in attempts {
            *flood_answers.entry(attempt.await?).or_default() += 1;
        }
    }
    let flood_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);

    let mut registrations = Timings::default();
    for registrar in registrars {
        let timings = registrar.await??;
        registrations.latencies.extend(timings.latencies);
        for (status, count) in timings.unexpected {
            *registrations.unexpected.entry(status).or_default() += count;
        }
    }
    let mut reads = Timings::default();
    for reader in readers {
        let timings = reader.await??;
        reads.latencies.extend(timings.latencies);
        for (status, count) in timings.unexpected {
            *reads.unexpected.entry(status).or_default() += count;
        }
    }

    let total: usize = flood_answers.values().sum();
    let by_status: Vec<String> = flood_answers
        .iter()
        .map(|(status, count)| {
            if *status == 0 {
                format!("no answer: {count}")
            } else {
                format!("{status}: {count}")
            }
        })
        .collect();
    println!(
        "flood: {total} POST /login in {flood_time:.2?}; answers by status: {}",
        by_status.join(", ")
    );
    registrations.report("API registrations (POST /api/register)");
    reads.report("API reads (GET /api/msgs?no=100)");
    if let (Some(before), Some(after)) = (overflows_before, listen_overflows()) {
        // A connection dropped from a full queue is retried by TCP a second
        // later: the likely cause of latencies near 1 s.
        println!(
            "connections dropped by full listen queues on this machine meanwhile: {}",
            after.saturating_sub(before)
        );
    }
    Ok(())
}
