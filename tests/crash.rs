//! End to end: crashes under load lose nothing that was acknowledged.
//!
//! A generated scenario is replayed with eight requests in flight, in
//! chunks; during each chunk the server (or, on Redis, redis-server itself)
//! is killed with `SIGKILL` while registrations, posts, follows and
//! unfollows are in flight. After each kill the store is opened directly
//! and exported, and every write the server had answered `204` must be in
//! it; the export must be in order and closed (every message's author and
//! every follow's users in it), and timelines newest first without
//! duplicates. Then the server restarts and the next chunk goes on. A
//! `SIGTERM` under load must end the server with status 0 and lose nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt as _;
use minitwit_core::backup::BackupWriter;
use minitwit_core::{PageRequest, Record, Store, Timeline, UserId};
use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{
    self, Action, ActionKind, ActionOutcome, GeneratorConfig, ReplayOptions, replay,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer, unique_namespace};
use minitwit_store_redis::{RedisConfig, RedisStore};
use minitwit_store_sled::{SledConfig, SledStore};
use support::Server;
use tokio::sync::Notify;

/// What a follow or unfollow of one pair left behind.
#[derive(Debug, Default, Clone, Copy)]
struct Pair {
    /// The last acknowledged change: `true` follow, `false` unfollow.
    acknowledged: Option<bool>,
    /// A later change was sent but not acknowledged: either state is right.
    uncertain: bool,
}

/// Every write the server acknowledged so far.
#[derive(Debug, Default)]
struct Ledger {
    users: BTreeSet<String>,
    tweets: HashMap<(String, String), usize>,
    pairs: HashMap<(String, String), Pair>,
    acknowledged: usize,
}

impl Ledger {
    fn record(&mut self, action: &Action, outcome: &ActionOutcome) {
        match (&action.kind, &outcome.got) {
            (ActionKind::Register { username, .. }, Ok(204)) => {
                self.users.insert(username.clone());
            }
            (ActionKind::Tweet { username, text }, Ok(204)) => {
                *self
                    .tweets
                    .entry((username.clone(), text.clone()))
                    .or_default() += 1;
            }
            (ActionKind::Follow { username, target }, got)
            | (ActionKind::Unfollow { username, target }, got) => {
                let pair = self
                    .pairs
                    .entry((username.clone(), target.clone()))
                    .or_default();
                match got {
                    Ok(204) => {
                        pair.acknowledged = Some(matches!(action.kind, ActionKind::Follow { .. }));
                        pair.uncertain = false;
                    }
                    // A definite refusal (unknown user, ...) changed nothing.
                    Ok(status) if *status < 500 => {}
                    // No answer, or a 5xx: it may have been applied.
                    _ => pair.uncertain = true,
                }
            }
            _ => {}
        }
        if outcome.got == Ok(204) {
            self.acknowledged += 1;
        }
    }

    /// Checks `records` (an export) against every acknowledged write.
    fn check(&self, records: &[Record], when: &str) {
        let mut names: BTreeMap<UserId, String> = BTreeMap::new();
        let mut texts: HashMap<(String, String), usize> = HashMap::new();
        let mut follows: BTreeSet<(String, String)> = BTreeSet::new();
        for record in records {
            match record {
                Record::User(stored) => {
                    names.insert(stored.user.id, stored.user.username.to_string());
                }
                Record::Message(message) => {
                    let author = names.get(&message.author).unwrap_or_else(|| {
                        panic!("{when}: message {} has no author", message.id.0)
                    });
                    *texts
                        .entry((author.clone(), message.text.to_string()))
                        .or_default() += 1;
                }
                Record::Follow { follower, followee } => {
                    let name = |id: &UserId| {
                        names.get(id).cloned().unwrap_or_else(|| {
                            panic!("{when}: a follow names user {}, who is not there", id.0)
                        })
                    };
                    follows.insert((name(follower), name(followee)));
                }
                Record::Latest(_) | Record::Secret { .. } => {}
            }
        }
        let present: BTreeSet<&String> = names.values().collect();
        for user in &self.users {
            assert!(
                present.contains(user),
                "{when}: acknowledged user {user:?} is lost"
            );
        }
        for (key, count) in &self.tweets {
            let kept = texts.get(key).copied().unwrap_or(0);
            assert!(
                kept >= *count,
                "{when}: {count} acknowledged posts {key:?}, {kept} kept"
            );
        }
        for (pair, state) in &self.pairs {
            if state.uncertain {
                continue;
            }
            match state.acknowledged {
                Some(true) => assert!(
                    follows.contains(pair),
                    "{when}: the acknowledged follow {pair:?} is lost"
                ),
                Some(false) => assert!(
                    !follows.contains(pair),
                    "{when}: the acknowledged unfollow {pair:?} is undone"
                ),
                None => {}
            }
        }
    }
}

/// Checks that the `latest` in `records` is the value of one of `chunk`'s
/// requests when any of them was answered: every answered request recorded
/// its `latest` durably before answering, so after the crash the store
/// holds that value or a newer one, never one from before the chunk.
fn check_latest_is_from(
    chunk: &[Action],
    outcomes: &[ActionOutcome],
    records: &[Record],
    when: &str,
) {
    let answered = outcomes
        .iter()
        .any(|outcome| matches!(outcome.got, Ok(status) if status < 500));
    if !answered {
        return;
    }
    let latest = records.iter().find_map(|record| match record {
        Record::Latest(latest) => Some(*latest),
        _ => None,
    });
    let Some(latest) = latest else {
        panic!("{when}: requests were answered, but no latest is stored");
    };
    assert!(
        chunk.iter().any(|action| action.id == latest),
        "{when}: latest is {latest}, which no request since the restart sent"
    );
}

/// Exports `store` and checks what every export and timeline must be:
/// records in export order (the backup writer refuses any other), and the
/// public timeline and a sample of user and home timelines newest first
/// without duplicates.
async fn export_and_check_invariants(store: &Arc<dyn Store>, when: &str) -> Vec<Record> {
    let records: Vec<Record> = store.export().try_collect().await.unwrap();
    let mut writer = BackupWriter::new(std::io::sink()).unwrap();
    for record in &records {
        writer
            .write(record)
            .unwrap_or_else(|err| panic!("{when}: the export is out of order: {err}"));
    }
    let users: Vec<UserId> = records
        .iter()
        .filter_map(|record| match record {
            Record::User(stored) => Some(stored.user.id),
            _ => None,
        })
        .collect();
    let mut timelines = vec![Timeline::Public];
    for id in users.iter().step_by(7) {
        timelines.push(Timeline::User(*id));
        timelines.push(Timeline::Home(*id));
    }
    for timeline in timelines {
        let mut before = None;
        let mut seen = BTreeSet::new();
        loop {
            let page = store
                .timeline(timeline, PageRequest { before, limit: 50 })
                .await
                .unwrap_or_else(|err| panic!("{when}: {timeline:?} fails: {err}"));
            let Some(last) = page.last() else { break };
            for message in &page {
                assert!(
                    before.is_none_or(|cursor| message.id < cursor),
                    "{when}: {timeline:?} is not newest first"
                );
                assert!(
                    seen.insert(message.id),
                    "{when}: {timeline:?} repeats a message"
                );
                before = Some(message.id);
            }
            before = Some(last.id);
        }
    }
    records
}

/// Replays `actions` with eight in flight and calls `crash` once
/// `crash_after` of them were answered (or at the end); returns every
/// outcome.
async fn replay_and_crash(
    client: &SimClient,
    actions: &[Action],
    crash_after: usize,
    crash: impl FnOnce(),
) -> Vec<ActionOutcome> {
    let reached = Arc::new(Notify::new());
    let signalled = Arc::new(AtomicBool::new(false));
    let options = ReplayOptions {
        concurrency: 8,
        on_answer: Some(Arc::new({
            let (reached, signalled) = (Arc::clone(&reached), Arc::clone(&signalled));
            move |answered| {
                if answered >= crash_after && !signalled.swap(true, Ordering::SeqCst) {
                    reached.notify_one();
                }
            }
        })),
        ..ReplayOptions::default()
    };
    let replaying = {
        let (client, actions) = (client.clone(), actions.to_vec());
        tokio::spawn(async move { replay(&[client], &actions, options).await })
    };
    reached.notified().await;
    crash();
    replaying.await.unwrap().outcomes
}

fn scenario_in_chunks(chunks: usize, seed: u64) -> Vec<Vec<Action>> {
    let actions = scenario::generate(GeneratorConfig {
        users: 300,
        actions: chunks * 300,
        seed,
    });
    actions.chunks(300).map(<[Action]>::to_vec).collect()
}

/// Where in a chunk of `len` answers the crash comes: spread over the
/// middle of it, differently for each chunk.
fn crash_point(chunk: usize, len: usize) -> usize {
    len * (20 + (chunk * 37) % 60) / 100
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_loses_nothing_acknowledged_when_killed_at_twenty_four_points() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store_url = format!("sled:{}", data.display());
    let mut server = Server::start(&store_url, dir.path());
    let client = SimClient::new(&server.api()).unwrap();
    let mut ledger = Ledger::default();
    let chunks = scenario_in_chunks(24, 8_101);
    for (n, chunk) in chunks.iter().enumerate() {
        let outcomes = replay_and_crash(&client, chunk, crash_point(n, chunk.len()), || {
            server.kill();
        })
        .await;
        for (action, outcome) in chunk.iter().zip(&outcomes) {
            ledger.record(action, outcome);
        }
        let when = format!("after SIGKILL {} of {}", n + 1, chunks.len());
        {
            let store: Arc<dyn Store> = Arc::new(SledStore::open(SledConfig::new(&data)).unwrap());
            let records = export_and_check_invariants(&store, &when).await;
            ledger.check(&records, &when);
            check_latest_is_from(chunk, &outcomes, &records, &when);
        }
        server.restart();
    }
    eprintln!(
        "{} kills, {} acknowledged writes, all kept",
        chunks.len(),
        ledger.acknowledged
    );
    // About 1,000 on a quiet machine; fewer when a loaded one refuses some
    // registrations as busy (and their users' later writes with them).
    assert!(
        ledger.acknowledged > 500,
        "too few writes to prove anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_with_appendfsync_always_loses_nothing_when_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start(Persistence::AofAlways);
    let namespace = unique_namespace("crash");
    let env = [
        ("MINITWIT_REDIS_NAMESPACE", namespace.as_str()),
        ("MINITWIT_REDIS_RESPONSE_TIMEOUT_MS", "1000"),
    ];
    let server = Server::start_with(&redis.url(), dir.path(), &env);
    let client = SimClient::new(&server.api()).unwrap();
    let mut ledger = Ledger::default();
    let chunks = scenario_in_chunks(8, 8_102);
    for (n, chunk) in chunks.iter().enumerate() {
        let outcomes = replay_and_crash(&client, chunk, crash_point(n, chunk.len()), || {
            redis.kill();
        })
        .await;
        for (action, outcome) in chunk.iter().zip(&outcomes) {
            ledger.record(action, outcome);
        }
        redis.restart();
        let when = format!("after redis-server's SIGKILL {} of {}", n + 1, chunks.len());
        let mut config = RedisConfig::new(redis.url()).with_namespace(namespace.clone());
        config.response_timeout = std::time::Duration::from_secs(5);
        let store: Arc<dyn Store> = Arc::new(RedisStore::connect(config).await.unwrap());
        let records = export_and_check_invariants(&store, &when).await;
        ledger.check(&records, &when);
        check_latest_is_from(chunk, &outcomes, &records, &when);
    }
    eprintln!(
        "{} kills of redis-server, {} acknowledged writes, all kept",
        chunks.len(),
        ledger.acknowledged
    );
    assert!(
        ledger.acknowledged > 300,
        "too few writes to prove anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_exits_cleanly_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&format!("sled:{}", data.display()), dir.path());
    let client = SimClient::new(&server.api()).unwrap();
    let mut ledger = Ledger::default();
    let chunks = scenario_in_chunks(2, 8_103);
    let mut status = None;
    let outcomes = replay_and_crash(&client, &chunks[0], chunks[0].len() / 2, || {
        status = Some(server.terminate());
    })
    .await;
    let status = status.unwrap();
    assert!(status.success(), "SIGTERM under load ended with {status}");
    for (action, outcome) in chunks[0].iter().zip(&outcomes) {
        ledger.record(action, outcome);
    }
    let sled = SledStore::open(SledConfig::new(&data)).unwrap();
    assert!(
        !sled.was_recounted(),
        "a SIGTERM must close the store cleanly (its counts kept)"
    );
    let store: Arc<dyn Store> = Arc::new(sled);
    let records = export_and_check_invariants(&store, "after SIGTERM").await;
    ledger.check(&records, "after SIGTERM");
    assert!(
        ledger.acknowledged > 100,
        "too few writes to prove anything"
    );
}
