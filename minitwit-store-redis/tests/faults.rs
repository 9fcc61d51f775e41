//! Redis going away and coming back: calls fail fast with `Unavailable`
//! while it is gone, and the same store recovers by itself, with the data
//! written before the crash, once it is back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use minitwit_core::{
    Email, MessageText, NewUser, PageRequest, PasswordHash, Store, StoreError, Timeline, Username,
};
use minitwit_store_redis::{RedisConfig, RedisStore};
use support::RedisServer;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse("someone@example.org").unwrap(),
        password_hash: PasswordHash::from_phc("$argon2id$v=19$x".to_owned()),
    }
}

/// An upper bound that only catches hangs: the point is "not stuck", the
/// measured time is printed.
const HANG: Duration = Duration::from_secs(2);

fn config(server: &RedisServer) -> RedisConfig {
    let mut config = RedisConfig::new(server.url()).with_namespace("faults");
    // Room for a loaded test machine; still far below `HANG`.
    config.response_timeout = Duration::from_secs(1);
    config
}

/// Retries `call` until it succeeds, for at most ten seconds.
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match call().await {
            Ok(value) => {
                eprintln!(
                    "{what}: succeeded after {failures} failed calls, {:?}",
                    started.elapsed()
                );
                return value;
            }
            Err(err) if started.elapsed() < Duration::from_secs(10) => {
                failures += 1;
                eprintln!("{what}: not yet ({err})");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("{what}: the store did not recover: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_fails_fast_and_a_restarted_one_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start_persistent(dir.path());
    let port = server.port();
    let store = RedisStore::connect(config(&server)).await.unwrap();

    let ada = store.create_user(new_user("Ada")).await.unwrap();
    let text = MessageText::parse("written before the crash").unwrap();
    let message = store.post(ada.id, text, 1_700_000_000).await.unwrap();
    store.set_latest(7).await.unwrap();

    server.kill();

    for attempt in 0..3 {
        let started = Instant::now();
        let result = store.latest().await;
        let elapsed = started.elapsed();
        eprintln!("call {attempt} with Redis down: {elapsed:?}: {result:?}");
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "expected Unavailable, got {result:?}"
        );
        assert!(elapsed < HANG, "a call hung for {elapsed:?}");
    }
    let started = Instant::now();
    let write = store
        .post(ada.id, MessageText::parse("lost").unwrap(), 0)
        .await;
    eprintln!(
        "a write with Redis down: {:?}: {write:?}",
        started.elapsed()
    );
    assert!(matches!(write, Err(StoreError::Unavailable(_))));
    assert!(started.elapsed() < HANG);

    let _restarted = RedisServer::restart_persistent(dir.path(), port);

    let latest = eventually("latest after restart", || store.latest()).await;
    assert_eq!(latest, Some(7));
    let stored = store.user_by_name("Ada").await.unwrap().unwrap();
    assert_eq!(stored.user, ada);
    // Scripts were forgotten by the restarted server; they are reloaded.
    let page = store
        .timeline(Timeline::Public, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, message);
    let next = store
        .post(ada.id, MessageText::parse("after").unwrap(), 1)
        .await
        .unwrap();
    assert!(next > message, "ids keep growing across the restart");
}

#[tokio::test]
async fn connecting_to_a_server_that_is_not_there_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start_ephemeral(dir.path());
    let url = server.url();
    server.kill();
    let started = Instant::now();
    let result = RedisStore::connect(RedisConfig::new(url)).await;
    eprintln!("connect with no server: {:?}", started.elapsed());
    assert!(matches!(
        result,
        Err(minitwit_store_redis::RedisStoreError::Connect { .. })
    ));
    assert!(started.elapsed() < HANG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_times_out_and_recovers_when_it_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start_ephemeral(dir.path());
    let mut config = config(&server);
    config.response_timeout = Duration::from_millis(300);
    let store = RedisStore::connect(config).await.unwrap();
    store.set_latest(3).await.unwrap();

    // A stopped process keeps its connections open and answers nothing.
    server.pause();
    let started = Instant::now();
    let result = store.latest().await;
    eprintln!(
        "call to a stalled Redis: {:?}: {result:?}",
        started.elapsed()
    );
    server.resume();
    assert!(matches!(result, Err(StoreError::Unavailable(_))));
    assert!(started.elapsed() < HANG);

    let latest = eventually("latest after the stall", || store.latest()).await;
    assert_eq!(latest, Some(3));
}
