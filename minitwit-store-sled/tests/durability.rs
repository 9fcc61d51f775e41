//! Durability of `SledStore` on a real directory: acknowledged writes survive
//! `SIGKILL`, everything survives a normal close, ids keep growing across
//! reopens, and group commit lets concurrent writers share syncs.
//!
//! The crash test runs this test binary a second time as a child process
//! (selected by an environment variable): the child writes from several
//! tasks and prints each write to stdout the moment it is acknowledged; the
//! parent reads a while, kills the child with `SIGKILL`, reopens the
//! directory and checks that every acknowledged write is there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, Timeline, UserId,
    Username,
};
use minitwit_store_sled::{SledConfig, SledStore};

/// Set in the child process: the directory to write to.
const CHILD_DIR: &str = "MINITWIT_SLED_CRASH_CHILD_DIR";
/// How many acknowledgements the parent reads before it kills the child.
const ACKS_BEFORE_KILL: usize = 300;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse("someone@example.org").unwrap(),
        password_hash: PasswordHash::from_phc(format!("$argon2id$hash-of-{name}")),
        session_generation: 1,
    }
}

fn text(raw: &str) -> MessageText {
    MessageText::parse(raw).unwrap()
}

fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SledStore::open(SledConfig::new(dir)).unwrap())
}

/// Prints one acknowledgement as a line, unbuffered, bypassing the test
/// harness's output capture.
fn ack(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ACK {line}").unwrap();
    out.flush().unwrap();
}

/// The acknowledgement in a line of the child's output. The test harness
/// may print its own text (`test crash_child ... `) before the first one.
fn acknowledged(line: &str) -> Option<&str> {
    line.find("ACK ").map(|start| &line[start + 4..])
}

/// The child's side of the crash test: a no-op unless run by
/// [`acknowledged_writes_survive_sigkill`].
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = open(Path::new(&dir));
        let secret = store
            .get_or_init_secret("session", b"the first secret")
            .await
            .unwrap();
        ack(&format!("secret {}", String::from_utf8(secret).unwrap()));
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { write_forever(&*store, writer).await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
    // The parent should have killed us long before; crash anyway so that no
    // clean shutdown flushes anything.
    std::process::abort();
}

/// One writer of the child: register, post, follow the previous user,
/// record `latest`; acknowledge each as soon as it returns.
async fn write_forever(store: &dyn Store, writer: u32) {
    let mut previous: Option<(UserId, String)> = None;
    for i in 0..100_000_u32 {
        let name = format!("w{writer} u{i}");
        let user = store.create_user(new_user(&name)).await.unwrap();
        ack(&format!("user {}\t{name}", user.id.0));
        let words = format!("w{writer} message {i}");
        let id = store
            .post(user.id, text(&words), i64::from(i))
            .await
            .unwrap();
        ack(&format!("post {}\t{}\t{words}", id.0, user.id.0));
        if let Some((previous_id, previous_name)) = &previous {
            store.follow(user.id, *previous_id).await.unwrap();
            ack(&format!(
                "follow {}\t{}\t{name}\t{previous_name}",
                user.id.0, previous_id.0
            ));
        }
        if writer == 0 {
            store.set_latest(i64::from(i)).await.unwrap();
            ack(&format!("latest {i}"));
        }
        previous = Some((user.id, name));
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acks = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(acked) = acknowledged(&line) {
            acks.push(acked.to_owned());
            if acks.len() == ACKS_BEFORE_KILL {
                break;
            }
        }
    }
    assert_eq!(acks.len(), ACKS_BEFORE_KILL, "the child stopped early");
    // `Child::kill` sends SIGKILL on Unix: no destructor, no flush.
    child.kill().unwrap();
    // Everything the child printed before it died was acknowledged too.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(acked) = acknowledged(&line) {
            acks.push(acked.to_owned());
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was not killed: {status:?}");

    let store = open(dir.path());
    let mut checked = [0_usize; 5];
    let mut last_latest = None;
    for acked in &acks {
        let (kind, rest) = acked.split_once(' ').unwrap();
        let fields: Vec<&str> = rest.split('\t').collect();
        match kind {
            "secret" => {
                let stored = store
                    .get_or_init_secret("session", b"a later secret")
                    .await
                    .unwrap();
                assert_eq!(stored, fields[0].as_bytes());
                checked[0] += 1;
            }
            "user" => {
                let id = UserId(fields[0].parse().unwrap());
                let stored = store.user_by_name(fields[1]).await.unwrap();
                assert_eq!(stored.map(|s| s.user.id), Some(id), "lost {acked}");
                checked[1] += 1;
            }
            "post" => {
                let id: u64 = fields[0].parse().unwrap();
                let author = UserId(fields[1].parse().unwrap());
                let page = PageRequest::before(MessageId(id + 1), 1);
                let found = store.timeline(Timeline::User(author), page).await.unwrap();
                assert_eq!(
                    found.first().map(|m| m.id),
                    Some(MessageId(id)),
                    "lost {acked}"
                );
                assert_eq!(found[0].text.as_str(), fields[2]);
                let public = store.timeline(Timeline::Public, page).await.unwrap();
                assert_eq!(
                    public.first().map(|m| m.id),
                    Some(MessageId(id)),
                    "lost {acked}"
                );
                checked[2] += 1;
            }
            "follow" => {
                let follower = UserId(fields[0].parse().unwrap());
                let followee = UserId(fields[1].parse().unwrap());
                assert!(
                    store.is_following(follower, followee).await.unwrap(),
                    "lost {acked}"
                );
                checked[3] += 1;
            }
            "latest" => {
                last_latest = Some(fields[0].parse::<i64>().unwrap());
                checked[4] += 1;
            }
            other => panic!("unknown acknowledgement {other}"),
        }
    }
    if let Some(acked) = last_latest {
        // Later, unacknowledged writes may have landed too; never older.
        assert!(store.latest().await.unwrap().unwrap() >= acked);
    }
    assert_eq!(checked[0], 1);
    assert!(checked[1] > 0 && checked[2] > 0 && checked[3] > 0 && checked[4] > 0);
    eprintln!(
        "after SIGKILL: all {} acknowledged writes present ({} users, {} posts, {} follows, \
         {} latest)",
        acks.len(),
        checked[1],
        checked[2],
        checked[3],
        checked[4]
    );
}

#[tokio::test]
async fn everything_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob, first_ids) = {
        let store = open(dir.path());
        let ada = store.create_user(new_user("Ada Lovelace")).await.unwrap();
        let bob = store.create_user(new_user("Bob")).await.unwrap();
        store.follow(ada.id, bob.id).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                store
                    .post(bob.id, text(&format!("bob {i}")), 100 + i)
                    .await
                    .unwrap(),
            );
        }
        ids.push(store.post(ada.id, text("ada"), 200).await.unwrap());
        store.set_latest(42).await.unwrap();
        store.get_or_init_secret("session", b"kept").await.unwrap();
        (ada, bob, ids)
    };
    let store = open(dir.path());
    let stored = store.user_by_name("Ada Lovelace").await.unwrap().unwrap();
    assert_eq!(stored.user, ada);
    assert_eq!(stored.password_hash, new_user("Ada Lovelace").password_hash);
    assert_eq!(store.user_by_id(bob.id).await.unwrap().unwrap().user, bob);
    assert!(store.is_following(ada.id, bob.id).await.unwrap());
    assert_eq!(
        store.followees(ada.id, 10).await.unwrap(),
        vec![bob.clone()]
    );
    let home = store
        .timeline(Timeline::Home(ada.id), PageRequest::first(10))
        .await
        .unwrap();
    let mut expected = first_ids.clone();
    expected.reverse();
    assert_eq!(home.iter().map(|m| m.id).collect::<Vec<_>>(), expected);
    assert_eq!(home[1].text.as_str(), "bob 4");
    assert_eq!(home[1].pub_date, 104);
    assert_eq!(store.latest().await.unwrap(), Some(42));
    assert_eq!(
        store.get_or_init_secret("session", b"new").await.unwrap(),
        b"kept"
    );
    assert!(matches!(
        store.create_user(new_user("Bob")).await,
        Err(minitwit_core::StoreError::UsernameTaken)
    ));

    // Ids keep growing after a reopen.
    let newest_before = *first_ids.iter().max().unwrap();
    let after = store.post(bob.id, text("after reopen"), 300).await.unwrap();
    assert!(after > newest_before, "{after:?} <= {newest_before:?}");
    let carl = store.create_user(new_user("Carl")).await.unwrap();
    assert!(carl.id > bob.id);
    drop(store);
    let store = open(dir.path());
    let again = store
        .post(bob.id, text("after second reopen"), 400)
        .await
        .unwrap();
    assert!(again > after);
    let public = store
        .timeline(Timeline::Public, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(
        public.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![again, after]
    );
    store.flush().await.unwrap();
}

/// Not a benchmark (nothing is asserted about time): prints how long 1000
/// acknowledged posts take one after another and from 16 tasks at once, on
/// a real directory, to show that concurrent writers share syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_serves_sequential_and_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let author = store.create_user(new_user("writer")).await.unwrap();

    let started = Instant::now();
    for i in 0..1000 {
        store
            .post(author.id, text(&format!("sequential {i}")), 0)
            .await
            .unwrap();
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..1000 / 16 + usize::from(task < 1000 % 16) {
                    store
                        .post(author.id, text(&format!("task {task} post {i}")), 0)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let concurrent = started.elapsed();
    eprintln!(
        "1000 acknowledged posts: sequential {sequential:?} ({:?} each), \
         16 concurrent tasks {concurrent:?} ({:?} each)",
        sequential / 1000,
        concurrent / 1000
    );

    let all = store
        .timeline(Timeline::User(author.id), PageRequest::first(5000))
        .await
        .unwrap();
    assert_eq!(all.len(), 2000);
    assert!(all.windows(2).all(|pair| pair[0].id > pair[1].id));
}
