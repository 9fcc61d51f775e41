//! The home page of a reader who follows many, timed through the site: a
//! store loaded with many messages through the simulator API, then two or
//! more readers following different numbers of authors sign in (timed: the
//! sign-in reads the reader's first home page into the home cache) and
//! load their home page (`GET /`), the first time and again. It also times the public timeline and a
//! prolific author's timeline early in the load and at its end, and prints
//! the server's memory at the end. It asserts nothing: it measures.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example home_page                      # 1 M messages, readers of 10 and 2,000
//! cargo run --release --example home_page -- --messages 100000 --followees 10,100,1000
//! ```
//!
//! By default it starts `target/release/minitwit serve` on sled in a
//! temporary directory (with the environment it was given, so `MINITWIT_*`
//! settings apply) and stops it at the end; `--url` targets a server you
//! started instead (its API under `/api`, or at `--api`), whose store must
//! not hold the users this program registers (`author-N`, `reader-N`).
//!
//! Loading registers `--authors` users (each registration hashes a
//! password, about 20 ms of a core), then posts `--messages` messages with
//! `--loaders` requests in flight, skewed as people post: a few authors
//! write most of them. Reader `reader-N` follows N authors spread over all
//! of them, prolific and quiet alike.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "shared/server.rs"]
mod server;

use anyhow::{bail, ensure};
use clap::Parser;
use futures::{StreamExt as _, TryStreamExt as _};
use minitwit_sim_api::SimClient;
use server::{Spawned, free_port, spawn_serve};

/// What to load and what to time.
#[derive(Debug, Parser)]
struct Args {
    /// The site of a server you started, for example `http://127.0.0.1:8000`;
    /// without it the program starts `target/release/minitwit serve` on
    /// sled itself.
    #[arg(long)]
    url: Option<String>,
    /// The simulator API's base URL, when it is not the site's `/api`.
    #[arg(long)]
    api: Option<String>,
    /// Messages to post.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Authors who post them.
    #[arg(long, default_value_t = 2_000)]
    authors: usize,
    /// How many authors each reader follows, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,2000")]
    followees: Vec<usize>,
    /// Requests in flight while loading.
    #[arg(long, default_value_t = 64)]
    loaders: usize,
    /// Page loads timed for each figure.
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

/// The password of every user this program registers.
const PASSWORD: &str = "home page timing";

/// Registrations in flight: each hashes a password, so more only queue (and
/// past the server's hashing queue, are told to come back: 503).
const REGISTERING: usize = 4;

/// A server this program started on sled, stopped when dropped (before its
/// directory goes).
struct Server {
    spawned: Spawned,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The server's resident and peak resident memory, in MiB.
    fn memory_mib(&self) -> Option<(f64, f64)> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.spawned.0.id())).ok()?;
        let field = |name: &str| -> Option<f64> {
            let kib: f64 = status
                .lines()
                .find_map(|line| line.strip_prefix(name))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(kib / 1024.0)
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// Starts the server on sled in a temporary directory; its site's URL.
fn spawn() -> anyhow::Result<(Server, String)> {
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/minitwit");
    let port = free_port()?;
    let dir = tempfile::Builder::new()
        .prefix("minitwit-home-page-")
        .tempdir()?;
    let store = format!("sled:{}", dir.path().join("data").display());
    let spawned = spawn_serve(&binary, &store, port, &[])?;
    let server = Server { spawned, _dir: dir };
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// splitmix64: deterministic pseudo-random numbers, the same every run.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The author of message `index`: rank `authors·u³` for a uniform `u`, so
/// that a few authors write most messages.
fn author_of(index: usize, authors: usize) -> usize {
    let u = (mix(index as u64) >> 11) as f64 / (1u64 << 53) as f64;
    ((authors as f64 * u * u * u) as usize).min(authors - 1)
}

fn author_name(rank: usize) -> String {
    format!("author-{rank}")
}

/// Median, 90th percentile and maximum of `times`, in milliseconds.
fn summary(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort_unstable();
    let at = |q: f64| {
        let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[index].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.9), at(1.0))
}

/// Loads `path` `samples` times (with `cookie`, when given) and returns
/// how long each load took, failing on any answer but 200.
async fn time_page(
    http: &reqwest::Client,
    site: &str,
    path: &str,
    cookie: Option<&str>,
    samples: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut request = http.get(format!("{site}{path}"));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let started = Instant::now();
        let answer = request.send().await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        times.push(started.elapsed());
        ensure!(
            status == 200,
            "GET {path}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(times)
}

/// Times the public timeline and the most prolific author's timeline.
async fn time_timelines(
    http: &reqwest::Client,
    site: &str,
    samples: usize,
    when: &str,
) -> anyhow::Result<()> {
    for path in ["/public".to_owned(), format!("/{}", author_name(0))] {
        let (p50, p90, max) = summary(&mut time_page(http, site, &path, None, samples).await?);
        println!("{when}: GET {path}: p50 {p50:.2} ms, p90 {p90:.2} ms, max {max:.2} ms");
    }
    Ok(())
}

/// Signs `username` in on the site; the session's `Cookie` header and how
/// long signing in took.
async fn sign_in(
    http: &reqwest::Client,
    site: &str,
    username: &str,
) -> anyhow::Result<(String, Duration)> {
    let started = Instant::now();
    let answer = http
        .post(format!("{site}/login"))
        .header(reqwest::header::ORIGIN, site)
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await?;
    let took = started.elapsed();
    let cookie = answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    if cookie.is_empty() {
        bail!(
            "signing {username} in gave {} and no cookie",
            answer.status()
        );
    }
    Ok((cookie, took))
}

/// Registers `name`, coming back after a second while the server says it is
/// busy (503: its password-hashing queue is full).
async fn register(client: &SimClient, name: &str) -> anyhow::Result<()> {
    let email = format!("{name}@example.org");
    for _ in 0..30 {
        match client.register(name, &email, PASSWORD, None).await {
            Err(err) if err.status() == Some(503) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            answer => return Ok(answer?),
        }
    }
    bail!("registering {name}: the server stayed busy for 30 s")
}

/// Runs `jobs` with `loaders` in flight, printing progress every
/// `report` jobs.
async fn load<F, Fut>(
    what: &str,
    jobs: usize,
    loaders: usize,
    report: usize,
    job: F,
) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let mut done = 0;
    let mut answers = futures::stream::iter(0..jobs)
        .map(job)
        .buffer_unordered(loaders.max(1));
    while answers.try_next().await?.is_some() {
        done += 1;
        if done % report == 0 || done == jobs {
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  {what}: {done} of {jobs} in {seconds:.1} s ({:.0}/s)",
                done as f64 / seconds
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.authors > 0, "--authors must be at least 1");
    if let Some(&most) = args.followees.iter().max() {
        ensure!(
            most <= args.authors,
            "a reader cannot follow {most} of {} authors",
            args.authors
        );
    }
    let (spawned, site) = match &args.url {
        Some(url) => (None, url.trim_end_matches('/').to_owned()),
        None => {
            let (spawned, site) = spawn()?;
            (Some(spawned), site)
        }
    };
    let api = args.api.clone().unwrap_or_else(|| format!("{site}/api"));
    let client = SimClient::builder(api.as_str())
        .timeout(Duration::from_secs(60))
        .build()?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.latest().await.is_err() {
        ensure!(Instant::now() < deadline, "{api} does not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("site {site}, API {api}");

    load(
        "authors registered",
        args.authors,
        REGISTERING,
        500,
        |rank| {
            let client = &client;
            async move { register(client, &author_name(rank)).await }
        },
    )
    .await?;
    for &count in &args.followees {
        let reader = format!("reader-{count}");
        register(&client, &reader).await?;
        load(
            &format!("{reader}'s follows"),
            count,
            args.loaders,
            count.max(1),
            |i| {
                let (client, reader) = (&client, &reader);
                async move {
                    Ok(client
                        .follow(reader, &author_name(i * args.authors / count), None)
                        .await?)
                }
            },
        )
        .await?;
    }

    let early = args.messages.min(10_000);
    let post = |index: usize| {
        let client = &client;
        let authors = args.authors;
        async move {
            let text = format!("message {index}: what one of our authors had to say today");
            Ok(client
                .post_message(&author_name(author_of(index, authors)), &text, None)
                .await?)
        }
    };
    load("messages posted", early, args.loaders, early.max(1), &post).await?;
    time_timelines(&http, &site, args.samples, &format!("at {early} messages")).await?;
    load(
        "messages posted",
        args.messages - early,
        args.loaders,
        100_000,
        |index| post(early + index),
    )
    .await?;
    time_timelines(
        &http,
        &site,
        args.samples,
        &format!("at {} messages", args.messages),
    )
    .await?;

    println!(
        "home page (GET / signed in), {} messages, {} authors:",
        args.messages, args.authors
    );
    let mut firsts = Vec::new();
    let mut medians = Vec::new();
    for &count in &args.followees {
        let reader = format!("reader-{count}");
        let (cookie, signing_in) = sign_in(&http, &site, &reader).await?;
        let signing_in = signing_in.as_secs_f64() * 1e3;
        let first = time_page(&http, &site, "/", Some(&cookie), 1).await?[0].as_secs_f64() * 1e3;
        let (p50, p90, max) =
            summary(&mut time_page(&http, &site, "/", Some(&cookie), args.samples).await?);
        println!(
            "  {reader}: sign-in {signing_in:.2} ms, first load {first:.2} ms; then p50 {p50:.2} ms, p90 {p90:.2} ms, max {max:.2} ms"
        );
        firsts.push(first);
        medians.push(p50);
    }
    if let (Some(first), Some(last)) = (args.followees.first(), args.followees.last())
        && firsts.len() > 1
    {
        println!(
            "  {last} followees ÷ {first}: first load {:.2}, p50 {:.2}",
            firsts[firsts.len() - 1] / firsts[0],
            medians[medians.len() - 1] / medians[0]
        );
    }
    if let Some((rss, peak)) = spawned.as_ref().and_then(Server::memory_mib) {
        println!("server memory: {rss:.1} MiB resident, {peak:.1} MiB at most");
    }
    Ok(())
}
