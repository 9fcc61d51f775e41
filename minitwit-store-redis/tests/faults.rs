//! Redis going away and coming back: calls fail fast with `Unavailable`
//! while it is gone, and the same store recovers by itself, with the data
//! written before the crash, once it is back. A connection that breaks after
//! a write ran is sent again without writing twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use minitwit_core::{
    Email, MessageText, NewUser, PageRequest, PasswordHash, Store, StoreError, Timeline, Username,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer};
use minitwit_store_redis::{RedisConfig, RedisStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse("someone@example.org").unwrap(),
        password_hash: PasswordHash::from_phc("$argon2id$v=19$x".to_owned()),
        session_generation: 1,
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
    let mut server = RedisServer::start(Persistence::AofAlways);
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

    server.restart();
    assert_eq!(server.port(), port, "restarted on the same port");

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
    let mut server = RedisServer::start(Persistence::None);
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
    let server = RedisServer::start(Persistence::None);
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

/// A TCP proxy in front of a Redis server that, once armed, lets the next
/// script call through to Redis and then closes the client's connection
/// instead of passing the reply on: the write ran, and the client cannot
/// know.
struct ReplyDroppingProxy {
    port: u16,
    armed: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ReplyDroppingProxy {
    async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (task_armed, task_dropped, task_accepted) =
            (armed.clone(), dropped.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                task_accepted.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                tokio::spawn(Self::relay(
                    client,
                    server,
                    task_armed.clone(),
                    task_dropped.clone(),
                ));
            }
        });
        Self {
            port,
            armed,
            dropped,
            accepted,
            task,
        }
    }

    /// Copies bytes both ways; when armed, the first request carrying a
    /// script call goes through and its reply closes the connection.
    async fn relay(
        mut client: TcpStream,
        mut server: TcpStream,
        armed: Arc<AtomicBool>,
        dropped: Arc<AtomicUsize>,
    ) {
        let mut drop_next_reply = false;
        let (mut from_client, mut from_server) = ([0_u8; 16 * 1024], [0_u8; 16 * 1024]);
        loop {
            tokio::select! {
                read = client.read(&mut from_client) => {
                    let Ok(n @ 1..) = read else { return };
                    let request = &from_client[..n];
                    if server.write_all(request).await.is_err() {
                        return;
                    }
                    let is_script = request.windows(7).any(|w| w.eq_ignore_ascii_case(b"EVALSHA"));
                    if is_script && armed.swap(false, Ordering::SeqCst) {
                        drop_next_reply = true;
                    }
                }
                read = server.read(&mut from_server) => {
                    let Ok(n @ 1..) = read else { return };
                    if drop_next_reply {
                        dropped.fetch_add(1, Ordering::SeqCst);
                        // Dropping both streams closes the client's connection.
                        return;
                    }
                    if client.write_all(&from_server[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Drops the reply to the next script call.
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

impl Drop for ReplyDroppingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_reply_was_lost_is_sent_again_without_writing_twice() {
    let server = RedisServer::start(Persistence::None);
    let proxy = ReplyDroppingProxy::start(server.port()).await;
    let mut config = RedisConfig::new(proxy.url()).with_namespace("lost-replies");
    config.response_timeout = Duration::from_secs(2);
    let store = RedisStore::connect(config).await.unwrap();
    let connections = proxy.accepted.load(Ordering::SeqCst);

    // A registration that ran but whose reply never came back: the re-send
    // returns the new user, not UsernameTaken.
    proxy.arm();
    let ada = store.create_user(new_user("Ada")).await.unwrap();
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1, "a reply was lost");
    assert!(
        proxy.accepted.load(Ordering::SeqCst) > connections,
        "the store reconnected"
    );
    let stored = store.user_by_name("Ada").await.unwrap().unwrap();
    assert_eq!(stored.user, ada);

    // The same for a post: one message, with the id the call returned.
    proxy.arm();
    let text = MessageText::parse("posted once").unwrap();
    let message = store.post(ada.id, text, 1_700_000_000).await.unwrap();
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 2, "a reply was lost");
    let page = store
        .timeline(Timeline::Public, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.len(), 1, "the re-send posted nothing: {page:?}");
    assert_eq!(page[0].id, message);
    assert_eq!(page[0].text.as_str(), "posted once");

    // Both scripts ran once: each counter was drawn from once.
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let counters: (u64, u64) = redis::pipe()
        .cmd("GET")
        .arg("lost-replies:next_user_id")
        .cmd("GET")
        .arg("lost-replies:next_message_id")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(counters, (ada.id.0, message.0));
    assert_eq!(counters, (1, 1));
}
