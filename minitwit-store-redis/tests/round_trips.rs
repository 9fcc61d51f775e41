//! What a registration of the simulator API costs in round trips to Redis,
//! as the server sees them (`MONITOR`), on a server of its own so that no
//! other test's commands are counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::TcpStream;

use minitwit_core::{Caller, Error, HashCost, MiniTwit, Registration, Store};
use minitwit_store_redis::test_server::{Persistence, RedisServer};
use minitwit_store_redis::{RedisConfig, RedisStore};

/// The commands clients send to a server, as `MONITOR` shows them: one
/// per round trip (a script's own commands are shown as the script's, and
/// left out).
struct Monitor {
    lines: Lines<BufReader<TcpStream>>,
    raw: redis::aio::MultiplexedConnection,
    marks: u32,
}

impl Monitor {
    async fn start(server: &RedisServer) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("+OK"));
        let raw = redis::Client::open(server.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mut monitor = Self {
            lines,
            raw,
            marks: 0,
        };
        monitor.sent().await;
        monitor
    }

    /// The commands clients sent since the last call.
    async fn sent(&mut self) -> Vec<String> {
        self.marks += 1;
        let mark = format!("round-trip-mark-{}", self.marks);
        let _: String = redis::cmd("ECHO")
            .arg(&mark)
            .query_async(&mut self.raw)
            .await
            .unwrap();
        let mut sent = Vec::new();
        loop {
            let line = self.lines.next_line().await.unwrap().unwrap();
            if line.contains(&mark) {
                return sent;
            }
            if !line.contains(" lua]") {
                sent.push(line);
            }
        }
    }
}

fn registration(name: &str) -> Registration<'_> {
    Registration {
        username: name,
        email: "someone@example.org",
        password: "secret",
        password_confirmation: None,
        caller: Caller::SimulatorApi,
    }
}

#[tokio::test]
async fn a_registration_with_latest_is_one_round_trip_taken_or_not() {
    let server = RedisServer::start(Persistence::None);
    let store = RedisStore::connect(RedisConfig::new(server.url()))
        .await
        .unwrap();
    // A second instance on the same server, which has seen nothing.
    let other = RedisStore::connect(RedisConfig::new(server.url()))
        .await
        .unwrap();
    let minitwit = |store: &RedisStore| {
        MiniTwit::builder(Arc::new(store.clone()))
            .hash_cost(HashCost::INSECURE_MINIMUM)
            .build()
            .unwrap()
    };
    let (here, there) = (minitwit(&store), minitwit(&other));
    let mut monitor = Monitor::start(&server).await;

    let mut cost = async |minitwit: &MiniTwit, name: &str, latest: i64| {
        monitor.sent().await;
        let hashed = minitwit.hash_load(Caller::SimulatorApi).done;
        let outcome = minitwit
            .register_with_latest(registration(name), Some(latest))
            .await;
        let spent = monitor.sent().await.len();
        let hashes = minitwit.hash_load(Caller::SimulatorApi).done - hashed;
        assert_eq!(store.latest().await.unwrap(), Some(latest), "{name}");
        (outcome.map(|user| user.username.to_string()), spent, hashes)
    };

    let (ada, spent, hashes) = cost(&here, "Ada", 1).await;
    assert_eq!(ada.unwrap(), "Ada");
    assert_eq!((spent, hashes), (1, 1), "a new name: the creation alone");

    let (again, spent, hashes) = cost(&here, "Ada", 2).await;
    assert!(matches!(again, Err(Error::UsernameTaken)), "{again:?}");
    assert_eq!(
        (spent, hashes),
        (1, 0),
        "a name this instance knows taken: the check alone, no hash"
    );

    let (elsewhere, spent, hashes) = cost(&there, "Ada", 3).await;
    assert!(
        matches!(elsewhere, Err(Error::UsernameTaken)),
        "{elsewhere:?}"
    );
    assert_eq!(
        (spent, hashes),
        (1, 1),
        "a name taken, unknown to the instance: the creation decides"
    );
    let (elsewhere, spent, hashes) = cost(&there, "Ada", 4).await;
    assert!(
        matches!(elsewhere, Err(Error::UsernameTaken)),
        "{elsewhere:?}"
    );
    assert_eq!(
        (spent, hashes),
        (1, 0),
        "now known taken there too: the check alone, no hash"
    );

    // Freed by a clear, the name is free again for the instance that had
    // seen it taken: the check finds it free, the creation takes it.
    store.clear().await.unwrap();
    let (freed, spent, hashes) = cost(&here, "Ada", 5).await;
    assert_eq!(freed.unwrap(), "Ada");
    assert_eq!(
        (spent, hashes),
        (2, 1),
        "a name known taken but freed: the check, then the creation"
    );
    let (next, spent, hashes) = cost(&here, "Grace", 6).await;
    assert_eq!(next.unwrap(), "Grace");
    assert_eq!((spent, hashes), (1, 1));
}
