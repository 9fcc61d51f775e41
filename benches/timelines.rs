//! Does reading a timeline page cost the same whatever the number of stored
//! messages, and a home page the same whatever the number of followees? The
//! [`Store`] contract says a page costs in proportion to its size, not to how
//! many messages the store holds; the home cache of `minitwit_core::home`
//! makes a reader's home pages cost the same for 10 followees as for 10,000
//! once the first has been merged.
//!
//! For each backend (sled in a temporary directory, Redis on a
//! `redis-server` started for the run) and each data-set size (10k and 1M
//! messages by default) this builds one store: 10,000 authors who posted
//! with a skewed (power-law) distribution, and four readers who post nothing
//! and follow 10, 100, 1,000 and 10,000 of the authors. A second store of the
//! same backend gets the same data through an export and an import, with
//! the home cache switched off, so that every home page is merged at read
//! time: the `merged` baseline. On sled a third store, `cold`, gets the
//! data the same way and keeps no reader in its home cache, so that every
//! home page is the merge of a reader's first page: with the newest id of
//! each author known (`minitwit-store-sled`'s author heads), it opens only
//! the followees whose messages reach the page. It then measures, at each
//! size:
//!
//! * `public_first`: the newest page of the public timeline;
//! * `public_deep`: a public page before a message 90% of the way back;
//! * `user_first`: the newest page of one prolific author;
//! * `home_first_N`: the newest home page of the reader following N authors,
//!   `cached` (after the first read filled the cache), `merged` and, on
//!   sled, `cold`;
//! * `post`: one acknowledged (durable) post by an author two readers
//!   follow;
//! * `home_refollow_N`: the reader following N authors unfollows the most
//!   prolific of them and follows them again, then reads the newest home
//!   page: two durable writes, then the page, `cached` (the cache patches
//!   the reader's entry) and `merged` (what every page after a follow
//!   change cost when a change dropped the entry: a merge over every
//!   followee);
//! * `home_pulled_N` (Redis): the newest home page of a second reader
//!   following the same N authors, who first read after the most prolific
//!   author's posts already reached as many entries as the cache allows
//!   (1,024 other readers of that author read first), so that this
//!   reader's entry reads that author's posts at page time: `cached` and
//!   `merged` (what such a reader's every page cost when a full author
//!   left them without an entry).
//!
//! Every page holds 30 messages (checked before measuring). Run with
//!
//! ```text
//! cargo bench --bench timelines
//! ```
//!
//! `MINITWIT_BENCH_SIZES=10000,1000000` (the default) picks the sizes,
//! `MINITWIT_BENCH_BACKENDS=sled,redis` the backends,
//! `MINITWIT_BENCH_LOADERS=256` the number of concurrent loading tasks, and
//! `MINITWIT_BENCH_CACHE_MB` sled's page cache (the store's default, 16 MiB,
//! when unset); the figures are in `BENCHMARKS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use futures::TryStreamExt as _;
use minitwit_core::home::HomeCacheLimits;
use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, Timeline, UserId,
    Username,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer};
use minitwit_store_redis::{RedisConfig, RedisStore};
use minitwit_store_sled::{SledConfig, SledStore};

/// Number of authors.
const AUTHORS: usize = 10_000;
/// How many authors each reader follows.
const FOLLOWEE_COUNTS: [usize; 4] = [10, 100, 1_000, 10_000];
/// Page size, as the web pages and the API use.
const PAGE: usize = 30;
/// Rank of the author whose user timeline is read: prolific enough to fill a
/// page even in the smallest data set (about 1.5% of all messages).
const USER_RANK: usize = 10;
/// Default data-set sizes.
const DEFAULT_SIZES: [usize; 2] = [10_000, 1_000_000];
/// Default number of concurrent loading tasks: group commit makes each write
/// wait for a sync, so loading is fast only when many writes share one.
const DEFAULT_LOADERS: usize = 256;

/// splitmix64: a small, deterministic pseudo-random generator, so that every
/// run builds the same data.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The rank of the author of message `index`: `AUTHORS * u^3` for a uniform
/// `u`, so rank 0 writes about 5% of all messages and the last ranks almost
/// none.
fn author_rank(index: usize) -> usize {
    let u = (mix(index as u64) >> 11) as f64 / (1_u64 << 53) as f64;
    ((AUTHORS as f64 * u * u * u) as usize).min(AUTHORS - 1)
}

/// The text of message `index`: 40 to 160 bytes.
fn text(index: usize) -> MessageText {
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor \
                  incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis";
    let len = 40 + (mix(!(index as u64)) % 120) as usize;
    let mut text = format!("message {index}: ");
    text.push_str(&filler[..len.saturating_sub(text.len()).min(filler.len())]);
    MessageText::parse(text.trim_end()).unwrap()
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{}@example.org", name.replace(' ', "."))).unwrap(),
        password_hash: PasswordHash::from_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        ),
        session_generation: 1,
    }
}

/// Where the stores of a run live.
enum Backend {
    Sled,
    Redis(RedisServer),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Self::Sled => "sled",
            Self::Redis(_) => "redis",
        }
    }

    /// A new, empty store of `kind`, and the directory it lives in (sled
    /// only), removed when dropped.
    async fn open(
        &self,
        kind: Kind,
        cache: Option<u64>,
    ) -> (Arc<dyn Store>, Option<tempfile::TempDir>) {
        match self {
            Self::Sled => {
                let dir = tempfile::Builder::new()
                    .prefix("minitwit-bench-")
                    .tempdir()
                    .unwrap();
                let config = SledConfig::new(dir.path());
                let mut config = match kind {
                    Kind::Cached => config,
                    Kind::Merged => config.home_cache(HomeCacheLimits::OFF),
                    Kind::Cold => config.home_cache(HomeCacheLimits {
                        readers: 0,
                        ..HomeCacheLimits::DEFAULT
                    }),
                };
                if let Some(bytes) = cache {
                    config = config.cache_capacity(bytes);
                }
                (Arc::new(SledStore::open(config).unwrap()), Some(dir))
            }
            Self::Redis(server) => {
                static NAMESPACES: AtomicUsize = AtomicUsize::new(0);
                let n = NAMESPACES.fetch_add(1, Ordering::Relaxed);
                let mut config = RedisConfig::new(server.url()).with_namespace(format!("bench{n}"));
                if kind != Kind::Cached {
                    config.home_cache = HomeCacheLimits::OFF;
                }
                config.response_timeout = Duration::from_secs(30);
                config.connect_timeout = Duration::from_secs(5);
                (Arc::new(RedisStore::connect(config).await.unwrap()), None)
            }
        }
    }
}

/// How a store of a data set reads home timelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// With its home cache.
    Cached,
    /// Without: every page merges every followee.
    Merged,
    /// Keeping no reader: every page is a reader's first (sled).
    Cold,
}

/// One built data set.
struct DataSet {
    backend: &'static str,
    messages: usize,
    /// The store with its home cache.
    store: Arc<dyn Store>,
    /// The same data, every follow read by merging.
    merged: Arc<dyn Store>,
    /// The same data, every home page a first page (sled only).
    cold: Option<Arc<dyn Store>>,
    /// Keeps the directories until the data set is dropped.
    _dirs: Vec<tempfile::TempDir>,
    /// The author of rank `USER_RANK`.
    prolific: UserId,
    /// The reader following `FOLLOWEE_COUNTS[i]` authors.
    readers: [UserId; 4],
    /// Readers following the same authors, whose entries pull the most
    /// prolific author (Redis only; see `pulling_readers`).
    pulling: Option<[UserId; 4]>,
    /// A message 90% of the way back from the newest.
    deep: MessageId,
    /// The author every reader follows first: the most prolific.
    refollowed: UserId,
}

/// Runs `count` jobs `0..count` on `loaders` concurrent tasks, each job
/// returning a value stored at its index.
async fn run_concurrently<T, F, Fut>(count: usize, loaders: usize, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let tasks: Vec<_> = (0..loaders.min(count).max(1))
        .map(|_| {
            let (next, job) = (Arc::clone(&next), Arc::clone(&job));
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return done;
                    }
                    done.push((index, job(index).await));
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, value)| value).collect()
}

async fn build(backend: &Backend, messages: usize, loaders: usize, cache: Option<u64>) -> DataSet {
    let started = Instant::now();
    let (store, dir) = backend.open(Kind::Cached, cache).await;
    eprintln!(
        "building {messages} messages on {} with {loaders} concurrent loaders",
        backend.name()
    );

    let authors: Vec<UserId> = run_concurrently(AUTHORS, loaders, {
        let store = Arc::clone(&store);
        move |rank| {
            let store = Arc::clone(&store);
            async move {
                let user = store
                    .create_user(new_user(&format!("author {rank}")))
                    .await
                    .unwrap();
                user.id
            }
        }
    })
    .await;

    let mut readers = [UserId(0); 4];
    for (reader, count) in readers.iter_mut().zip(FOLLOWEE_COUNTS) {
        *reader = reader_of(&store, &authors, count, "reader", loaders).await;
    }

    let posted = Arc::new(AtomicUsize::new(0));
    let ids = run_concurrently(messages, loaders, {
        let (store, authors) = (Arc::clone(&store), Arc::new(authors.clone()));
        move |index| {
            let (store, authors, posted) = (
                Arc::clone(&store),
                Arc::clone(&authors),
                Arc::clone(&posted),
            );
            async move {
                let author = authors[author_rank(index)];
                let id = store
                    .post(author, text(index), 1_700_000_000 + index as i64)
                    .await
                    .unwrap();
                let done = posted.fetch_add(1, Ordering::Relaxed) + 1;
                if done % 100_000 == 0 {
                    eprintln!("  {done} messages posted ({:.0?})", started.elapsed());
                }
                id.0
            }
        }
    })
    .await;
    store.flush().await.unwrap();
    let pulling = match backend {
        Backend::Redis(_) => Some(pulling_readers(&store, &readers, &authors, loaders).await),
        Backend::Sled => None,
    };
    let mut ids = ids;
    ids.sort_unstable();
    let deep = MessageId(ids[ids.len() / 10]);
    eprintln!("built {messages} messages in {:.1?}", started.elapsed());
    let (merged, merged_dir) = backend.open(Kind::Merged, cache).await;
    copy(&store, &merged).await;
    eprintln!(
        "copied them to the merged baseline in {:.1?}",
        started.elapsed()
    );
    let (cold, cold_dir) = match backend {
        Backend::Sled => {
            let (cold, cold_dir) = backend.open(Kind::Cold, cache).await;
            copy(&store, &cold).await;
            eprintln!("and to the cold store in {:.1?}", started.elapsed());
            (Some(cold), cold_dir)
        }
        Backend::Redis(_) => (None, None),
    };
    DataSet {
        backend: backend.name(),
        messages,
        store,
        merged,
        cold,
        _dirs: dir.into_iter().chain(merged_dir).chain(cold_dir).collect(),
        prolific: authors[USER_RANK],
        readers,
        pulling,
        deep,
        refollowed: authors[0],
    }
}

/// A new reader who follows `count` authors, spread over all ranks,
/// prolific and quiet alike (the most prolific first).
async fn reader_of(
    store: &Arc<dyn Store>,
    authors: &[UserId],
    count: usize,
    name: &str,
    loaders: usize,
) -> UserId {
    let reader = store
        .create_user(new_user(&format!("{name} of {count}")))
        .await
        .unwrap()
        .id;
    let followees: Vec<UserId> = (0..count).map(|i| authors[i * AUTHORS / count]).collect();
    let store = Arc::clone(store);
    run_concurrently(count, loaders, move |i| {
        let (store, followee) = (Arc::clone(&store), followees[i]);
        async move { store.follow(reader, followee).await.unwrap() }
    })
    .await;
    reader
}

/// Readers who follow what `readers` follow, and who first read once the
/// most prolific author's posts reach as many entries as the cache allows:
/// `readers` read first, then 1,024 others who follow that author alone.
async fn pulling_readers(
    store: &Arc<dyn Store>,
    readers: &[UserId; 4],
    authors: &[UserId],
    loaders: usize,
) -> [UserId; 4] {
    let first = |reader| store.timeline(Timeline::Home(reader), PageRequest::first(PAGE));
    for reader in readers {
        first(*reader).await.unwrap();
    }
    let prolific = authors[0];
    run_concurrently(HomeCacheLimits::DEFAULT.readers, loaders, {
        let store = Arc::clone(store);
        move |n| {
            let store = Arc::clone(&store);
            async move {
                let fan = store
                    .create_user(new_user(&format!("fan {n}")))
                    .await
                    .unwrap()
                    .id;
                store.follow(fan, prolific).await.unwrap();
                store
                    .timeline(Timeline::Home(fan), PageRequest::first(PAGE))
                    .await
                    .unwrap();
            }
        }
    })
    .await;
    let mut pulling = [UserId(0); 4];
    for (reader, count) in pulling.iter_mut().zip(FOLLOWEE_COUNTS) {
        *reader = reader_of(store, authors, count, "pulling reader", loaders).await;
        first(*reader).await.unwrap();
    }
    pulling
}

/// Copies every record of `from` into the empty `to`, in batches.
async fn copy(from: &Arc<dyn Store>, to: &Arc<dyn Store>) {
    let mut records = from.export();
    let mut batch = Vec::with_capacity(1_000);
    while let Some(record) = records.try_next().await.unwrap() {
        batch.push(record);
        if batch.len() == 1_000 {
            to.import(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    to.import(batch).await.unwrap();
}

/// The operations measured, each a timeline read with its page request.
fn reads(data: &DataSet) -> Vec<(String, Timeline, PageRequest)> {
    let mut reads = vec![
        (
            "public_first".to_owned(),
            Timeline::Public,
            PageRequest::first(PAGE),
        ),
        (
            "public_deep".to_owned(),
            Timeline::Public,
            PageRequest::before(data.deep, PAGE),
        ),
        (
            "user_first".to_owned(),
            Timeline::User(data.prolific),
            PageRequest::first(PAGE),
        ),
    ];
    for (reader, count) in data.readers.iter().zip(FOLLOWEE_COUNTS) {
        reads.push((
            format!("home_first_{count}"),
            Timeline::Home(*reader),
            PageRequest::first(PAGE),
        ));
    }
    reads
}

/// `reader` unfollows `author` and follows them again, then reads their
/// newest home page.
async fn refollow_and_read(store: &Arc<dyn Store>, reader: UserId, author: UserId) -> usize {
    assert!(store.unfollow(reader, author).await.unwrap());
    assert!(store.follow(reader, author).await.unwrap());
    store
        .timeline(Timeline::Home(reader), PageRequest::first(PAGE))
        .await
        .unwrap()
        .len()
}

fn label(messages: usize) -> String {
    match messages {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn env_list(name: &str) -> Option<Vec<usize>> {
    let raw = std::env::var(name).ok()?;
    let values = raw
        .split(',')
        .map(|part| part.trim().replace('_', "").parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|err| panic!("{name}={raw:?}: {err}"));
    Some(values)
}

fn main() {
    let sizes = env_list("MINITWIT_BENCH_SIZES").unwrap_or_else(|| DEFAULT_SIZES.to_vec());
    let loaders = env_list("MINITWIT_BENCH_LOADERS")
        .and_then(|list| list.first().copied())
        .unwrap_or(DEFAULT_LOADERS);
    let cache = env_list("MINITWIT_BENCH_CACHE_MB")
        .and_then(|list| list.first().copied())
        .map(|mb| mb as u64 * 1024 * 1024);
    let backends: Vec<Backend> = std::env::var("MINITWIT_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sled,redis".into())
        .split(',')
        .map(|name| match name.trim() {
            "sled" => Backend::Sled,
            "redis" => Backend::Redis(RedisServer::start(Persistence::None)),
            other => panic!("MINITWIT_BENCH_BACKENDS: unknown backend {other:?}"),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let data: Vec<DataSet> = backends
        .iter()
        .flat_map(|backend| sizes.iter().map(move |&size| (backend, size)))
        .map(|(backend, size)| runtime.block_on(build(backend, size, loaders, cache)))
        .collect();

    // Every read must return a full page, the same on both stores, or it
    // would measure less work at one size than at another.
    for set in &data {
        for (name, timeline, page) in reads(set) {
            let got = runtime
                .block_on(set.store.timeline(timeline, page))
                .unwrap();
            assert_eq!(got.len(), PAGE, "{name} at {} messages", set.messages);
            for other in std::iter::once(&set.merged).chain(&set.cold) {
                let merged = runtime.block_on(other.timeline(timeline, page)).unwrap();
                assert_eq!(got, merged, "{name}: the index and the merge disagree");
            }
        }
        // So do the pages of readers who pull an author.
        for reader in set.pulling.iter().flatten() {
            let home = Timeline::Home(*reader);
            let page = PageRequest::first(PAGE);
            let got = runtime.block_on(set.store.timeline(home, page)).unwrap();
            let merged = runtime.block_on(set.merged.timeline(home, page)).unwrap();
            assert_eq!(got.len(), PAGE);
            assert_eq!(got, merged, "home of a reader who pulls an author");
        }
        // After a follow change, the patched entry and the merge agree too.
        for reader in set.readers {
            runtime.block_on(async {
                for store in [&set.store, &set.merged] {
                    refollow_and_read(store, reader, set.refollowed).await;
                }
                let home = Timeline::Home(reader);
                let got = set.store.timeline(home, PageRequest::first(PAGE)).await;
                let merged = set.merged.timeline(home, PageRequest::first(PAGE)).await;
                assert_eq!(got.unwrap(), merged.unwrap(), "home after a follow change");
            });
        }
    }

    let names: Vec<String> = reads(&data[0]).into_iter().map(|(name, ..)| name).collect();
    for (op, name) in names.iter().enumerate() {
        let mut group = criterion.benchmark_group(name.as_str());
        for set in &data {
            let (_, timeline, page) = reads(set).swap_remove(op);
            let mut stores: Vec<(&str, &Arc<dyn Store>)> = vec![("", &set.store)];
            if name.starts_with("home") {
                stores = vec![("cached", &set.store), ("merged", &set.merged)];
                stores.extend(set.cold.iter().map(|cold| ("cold", cold)));
            }
            for (kind, store) in stores {
                let id = if kind.is_empty() {
                    format!("{}-{}", set.backend, label(set.messages))
                } else {
                    format!("{}-{kind}-{}", set.backend, label(set.messages))
                };
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.to_async(&runtime).iter(|| store.timeline(timeline, page));
                });
            }
        }
        group.finish();
    }

    let mut group = criterion.benchmark_group("post");
    for set in &data {
        let author = set.prolific;
        let mut index = set.messages;
        let id = format!("{}-{}", set.backend, label(set.messages));
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.to_async(&runtime).iter(|| {
                index += 1;
                set.store.post(author, text(index), 1_700_000_000)
            });
        });
    }
    group.finish();

    for (which, count) in FOLLOWEE_COUNTS.iter().enumerate() {
        let mut group = criterion.benchmark_group(format!("home_refollow_{count}"));
        for set in &data {
            let (reader, author) = (set.readers[which], set.refollowed);
            for (kind, store) in [("cached", &set.store), ("merged", &set.merged)] {
                let id = format!("{}-{kind}-{}", set.backend, label(set.messages));
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.to_async(&runtime)
                        .iter(|| refollow_and_read(store, reader, author));
                });
            }
        }
        group.finish();
    }

    for (which, count) in FOLLOWEE_COUNTS.iter().enumerate() {
        let mut group = criterion.benchmark_group(format!("home_pulled_{count}"));
        for set in &data {
            let Some(pulling) = set.pulling else { continue };
            let home = Timeline::Home(pulling[which]);
            for (kind, store) in [("cached", &set.store), ("merged", &set.merged)] {
                let id = format!("{}-{kind}-{}", set.backend, label(set.messages));
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.to_async(&runtime)
                        .iter(|| store.timeline(home, PageRequest::first(PAGE)));
                });
            }
        }
        group.finish();
    }

    criterion.final_summary();
}
