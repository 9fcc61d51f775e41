//! What one reader who follows very many can do to everyone else through
//! home timeline merges, on the Redis store (whose scripts run in the Redis
//! server's one thread, shared by every instance) or on sled.
//!
//! It loads a store through the `Store` API (authors posting with a skew,
//! readers who follow every author), then times a few "victim" tasks
//! reading the public timeline for a while alone, and again while
//! "attacker" tasks make the store merge: first home pages (of eight
//! readers following everyone, one after the other) and, from
//! `--attackers` tasks at once, pages deeper than the home cache holds, as
//! fast as the store answers. It prints the victims' latency and
//! throughput in both phases, and what each attacking page cost. Last, it
//! times the first home page of four more such readers while other tasks
//! post as fast as the store takes it, and the page after each (which the
//! first one's cache entry answers, unless the posts kept it from being
//! filled); and the reader who follows everyone paging back through
//! `--older-pages` pages, each below the last, as the site's "Older
//! messages" does. It asserts nothing: it measures.
//!
//! ```sh
//! cargo run --release --example home_merge_stall                  # Redis, 10,000 followees
//! cargo run --release --example home_merge_stall -- --backend sled
//! cargo run --release --example home_merge_stall -- --followees 2000 --messages 100000
//! ```
//!
//! The Redis store runs on a `redis-server` started for the run, without
//! persistence (`redis-server` must be on `PATH`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use futures::{StreamExt as _, TryStreamExt as _};
use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, Timeline, Timestamp,
    UserId, Username,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer};
use minitwit_store_redis::{RedisConfig, RedisStore};
use minitwit_store_sled::{SledConfig, SledStore};

/// Which store, how much data, how long.
#[derive(Debug, Parser)]
struct Args {
    /// The store to load and time.
    #[arg(long, value_enum, default_value_t = Backend::Redis)]
    backend: Backend,
    /// Authors, all followed by the attacking readers.
    #[arg(long, default_value_t = 10_000)]
    followees: usize,
    /// Messages posted by the authors.
    #[arg(long, default_value_t = 300_000)]
    messages: usize,
    /// Tasks reading the public timeline.
    #[arg(long, default_value_t = 4)]
    victims: usize,
    /// Tasks asking for deep home pages of the reader who follows everyone,
    /// at once.
    #[arg(long, default_value_t = 1)]
    attackers: usize,
    /// Seconds each phase lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Writes in flight while loading.
    #[arg(long, default_value_t = 256)]
    loaders: usize,
    /// Pages read back, one below the other, at the end.
    #[arg(long, default_value_t = 40)]
    older_pages: usize,
    /// Followees per script of a merge on Redis (`RedisConfig::merge_chunk`).
    #[arg(long, default_value_t = minitwit_store_redis::config::DEFAULT_MERGE_CHUNK)]
    merge_chunk: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Redis,
    Sled,
}

/// A stored password hash: no hashing is timed here.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// Readers created for first pages: each is a reader the cache has not seen.
const FIRST_PAGE_READERS: usize = 8;

/// Readers whose first page is read while others post, and tasks posting.
const FLOOD_READERS: usize = 4;
const FLOOD_WRITERS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (store, _home) = open(args.backend, args.merge_chunk).await?;
    println!(
        "loading: {} authors, {} messages, {} readers following all of them",
        args.followees,
        args.messages,
        FIRST_PAGE_READERS + FLOOD_READERS + 1
    );
    let started = Instant::now();
    let authors = register(&store, "author", args.followees).await?;
    let readers = register(&store, "reader", FIRST_PAGE_READERS + FLOOD_READERS + 1).await?;
    let follows = readers
        .iter()
        .flat_map(|reader| authors.iter().map(move |author| (*reader, *author)));
    futures::stream::iter(follows)
        .map(|(reader, author)| {
            let store = Arc::clone(&store);
            async move { store.follow(reader, author).await }
        })
        .buffer_unordered(args.loaders)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let ids: Vec<MessageId> = futures::stream::iter(0..args.messages)
        .map(|index| {
            let store = Arc::clone(&store);
            let author = authors[skewed(index, authors.len())];
            async move {
                let text = MessageText::parse(&format!("message {index} of a timed load"))?;
                anyhow::Ok(store.post(author, text, index as Timestamp).await?)
            }
        })
        .buffer_unordered(args.loaders)
        .try_collect()
        .await?;
    let middle = ids.iter().copied().max().map_or(1, |id| id.0 / 2);
    println!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    let phase = Duration::from_secs(args.seconds);
    let alone = victims(&store, args.victims, phase).await?;
    report("victims alone", &alone, phase);

    let first_readers = readers[1..=FIRST_PAGE_READERS].to_vec();
    let flood_readers = readers[FIRST_PAGE_READERS + 1..].to_vec();
    let first_pages = {
        let store = Arc::clone(&store);
        async move {
            let mut first = Vec::new();
            for reader in first_readers {
                let started = Instant::now();
                store
                    .timeline(Timeline::Home(reader), PageRequest::first(30))
                    .await?;
                first.push(started.elapsed());
            }
            anyhow::Ok(first)
        }
    };
    let deep_pages = (0..args.attackers).map(|_| {
        let store = Arc::clone(&store);
        let reader = readers[0];
        tokio::spawn(async move {
            let mut deep = Vec::new();
            let until = Instant::now() + phase;
            while Instant::now() < until {
                let started = Instant::now();
                let page = PageRequest {
                    before: Some(MessageId(middle)),
                    limit: 30,
                };
                store.timeline(Timeline::Home(reader), page).await?;
                deep.push(started.elapsed());
            }
            anyhow::Ok(deep)
        })
    });
    let attack = async move {
        let (first, deep) = tokio::join!(first_pages, futures::future::join_all(deep_pages));
        let mut all = Vec::new();
        for run in deep {
            all.extend(run??);
        }
        anyhow::Ok((first?, all))
    };
    let (attacked, attacker) = tokio::join!(victims(&store, args.victims, phase), attack);
    report("victims under attack", &attacked?, phase);
    let (mut first, mut deep) = attacker?;
    println!(
        "attacker: {} first pages, p50 {:.2} ms, max {:.2} ms; {} deep pages, p50 {:.2} ms, max {:.2} ms",
        first.len(),
        ms(percentile(&mut first, 0.5)),
        ms(percentile(&mut first, 1.0)),
        deep.len(),
        ms(percentile(&mut deep, 0.5)),
        ms(percentile(&mut deep, 1.0)),
    );
    first_pages_during_a_flood(&store, &authors, &flood_readers).await?;
    older_pages(&store, readers[0], args.older_pages).await?;
    Ok(())
}

/// `reader`'s home pages of 30, from the newest back through `pages`
/// pages, each below the last message of the one before; prints what the
/// pages past the cache entry (128 ids, so from the fifth on) cost.
async fn older_pages(store: &Arc<dyn Store>, reader: UserId, pages: usize) -> anyhow::Result<()> {
    let mut before = None;
    let mut times = Vec::with_capacity(pages);
    for _ in 0..pages {
        let started = Instant::now();
        let page = store
            .timeline(Timeline::Home(reader), PageRequest { before, limit: 30 })
            .await?;
        times.push(started.elapsed());
        match page.last() {
            Some(last) if page.len() == 30 => before = Some(last.id),
            _ => break,
        }
    }
    let mut past_entry = times.get(4..).unwrap_or_default().to_vec();
    println!(
        "older pages: {} read; the first past the entry {:.2} ms, the {} after it p50 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(past_entry.first().copied().unwrap_or_default()),
        past_entry.len().saturating_sub(1),
        ms(percentile(past_entry.get_mut(1..).unwrap_or_default(), 0.5)),
        ms(percentile(past_entry.get_mut(1..).unwrap_or_default(), 1.0)),
    );
    Ok(())
}

/// The first home page of each of `readers` while other tasks post as
/// fast as the store takes it, then their second page: when the first one
/// filled the reader's cache entry despite the posts, the second comes from
/// it.
async fn first_pages_during_a_flood(
    store: &Arc<dyn Store>,
    authors: &[UserId],
    readers: &[UserId],
) -> anyhow::Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..FLOOD_WRITERS)
        .map(|writer| {
            let store = Arc::clone(store);
            let stop = Arc::clone(&stop);
            let authors = authors.to_vec();
            tokio::spawn(async move {
                let mut posted = 0_usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let index = writer + posted * FLOOD_WRITERS;
                    let text = MessageText::parse("posted during first pages")?;
                    let author = authors[skewed(index, authors.len())];
                    store.post(author, text, index as Timestamp).await?;
                    posted += 1;
                }
                anyhow::Ok(posted)
            })
        })
        .collect();
    let started = Instant::now();
    let mut first = Vec::new();
    let mut second = Vec::new();
    for reader in readers {
        for times in [&mut first, &mut second] {
            let page_started = Instant::now();
            store
                .timeline(Timeline::Home(*reader), PageRequest::first(30))
                .await?;
            times.push(page_started.elapsed());
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut posted = 0;
    for writer in writers {
        posted += writer.await??;
    }
    println!(
        "during {:.0} posts/s: {} first pages, p50 {:.2} ms; the page after each, p50 {:.2} ms, max {:.2} ms",
        posted as f64 / elapsed.as_secs_f64(),
        first.len(),
        ms(percentile(&mut first, 0.5)),
        ms(percentile(&mut second, 0.5)),
        ms(percentile(&mut second, 1.0)),
    );
    Ok(())
}

/// A fresh, empty store of `backend`, and what it lives on (a Redis server
/// or a directory), to keep until the end of the run.
async fn open(
    backend: Backend,
    merge_chunk: usize,
) -> anyhow::Result<(Arc<dyn Store>, Box<dyn std::any::Any>)> {
    Ok(match backend {
        Backend::Redis => {
            let server = RedisServer::start(Persistence::None);
            let mut config = RedisConfig::new(server.url()).with_namespace("stall");
            config.response_timeout = Duration::from_secs(30);
            config.merge_chunk = merge_chunk;
            let store: Arc<dyn Store> = Arc::new(RedisStore::connect(config).await?);
            (store, Box::new(server))
        }
        Backend::Sled => {
            let dir = tempfile::tempdir()?;
            let store: Arc<dyn Store> = Arc::new(SledStore::open(SledConfig::new(dir.path()))?);
            (store, Box::new(dir))
        }
    })
}

/// Registers `count` users named `{prefix}-N`.
async fn register(
    store: &Arc<dyn Store>,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<UserId>> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let name = format!("{prefix}-{n}");
        let user = store
            .create_user(NewUser {
                username: Username::parse(&name)?,
                email: Email::parse(&format!("{name}@example.org"))?,
                password_hash: PasswordHash::from_phc(HASH.into()),
                session_generation: 1,
            })
            .await
            .with_context(|| format!("registering {name}"))?;
        ids.push(user.id);
    }
    Ok(ids)
}

/// The author of message `index`: `count · u³` for a pseudo-random uniform
/// `u`, so a few authors write most messages.
fn skewed(index: usize, count: usize) -> usize {
    let mut z = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let u = ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64;
    ((count as f64 * u * u * u) as usize).min(count - 1)
}

/// `tasks` tasks reading the newest public page over and over for
/// `phase`; every read's latency.
async fn victims(
    store: &Arc<dyn Store>,
    tasks: usize,
    phase: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let until = Instant::now() + phase;
    let runs = (0..tasks).map(|_| {
        let store = Arc::clone(store);
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                store
                    .timeline(Timeline::Public, PageRequest::first(30))
                    .await?;
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut all = Vec::new();
    for run in futures::future::join_all(runs).await {
        all.extend(run??);
    }
    Ok(all)
}

fn report(what: &str, latencies: &[Duration], phase: Duration) {
    let mut sorted = latencies.to_vec();
    println!(
        "{what}: {:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len() as f64 / phase.as_secs_f64(),
        ms(percentile(&mut sorted, 0.5)),
        ms(percentile(&mut sorted, 0.99)),
        ms(percentile(&mut sorted, 1.0)),
    );
}

fn percentile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    values[index]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
