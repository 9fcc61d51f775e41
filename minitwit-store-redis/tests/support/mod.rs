//! Test support: real `redis-server` processes on free loopback ports, and
//! fresh stores in unique namespaces.
//!
//! By default each test binary starts one shared `redis-server` (no
//! persistence, in a temporary directory) the first time a store is asked
//! for; every store gets a namespace of its own on it, so tests run in
//! parallel without seeing each other. Set `MINITWIT_TEST_REDIS_URL` to use
//! a running server instead. Tests that kill and restart Redis start a
//! dedicated [`RedisServer`].
//!
//! A missing `redis-server` is a loud failure that says how to install it.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use minitwit_core::Store;
use minitwit_store_redis::{RedisConfig, RedisStore};

/// The environment variable naming a running Redis to test against.
pub const URL_VAR: &str = "MINITWIT_TEST_REDIS_URL";

const INSTALL_HINT: &str = "redis-server is needed to test minitwit-store-redis and was not found \
     on PATH. Install it with `apt-get install -y redis-server` (Debian/Ubuntu; \
     `brew install redis` on macOS), or set MINITWIT_TEST_REDIS_URL=redis://HOST:PORT \
     to test against a running server.";

/// A `redis-server` child process, killed when dropped (and, should the test
/// process die without dropping it, by a watchdog that notices).
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server without persistence on a free port, in `dir`.
    pub fn start_ephemeral(dir: &Path) -> Self {
        Self::start_on_free_port(dir, false)
    }

    /// Starts a server with an append-only file (`appendfsync always`) on a
    /// free port, in `dir`.
    pub fn start_persistent(dir: &Path) -> Self {
        Self::start_on_free_port(dir, true)
    }

    /// Starts a persistent server on `port` in `dir`, as a restart of one
    /// that ran there before: it reloads that server's append-only file.
    pub fn restart_persistent(dir: &Path, port: u16) -> Self {
        // The old listening socket may take a moment to be released.
        let mut last_error = String::new();
        for _ in 0..20 {
            match Self::try_start(dir, port, true) {
                Ok(server) => return server,
                Err(err) => last_error = err,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {port}: {last_error}");
    }

    fn start_on_free_port(dir: &Path, persistent: bool) -> Self {
        let mut last_error = String::new();
        // Another process may take the port between our probe and the
        // server's bind; try a few.
        for _ in 0..5 {
            match Self::try_start(dir, free_port(), persistent) {
                Ok(server) => return server,
                Err(err) => last_error = err,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    fn try_start(dir: &Path, port: u16, persistent: bool) -> Result<Self, String> {
        let appendonly = if persistent { "yes" } else { "no" };
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir)
            .args(["--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(err) => panic!("cannot run redis-server: {err}"),
        };
        let mut server = Self {
            watchdog: spawn_watchdog(child.id()),
            child,
            port,
            dir: dir.to_owned(),
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    /// Waits until the server answers `PING` with `PONG`.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!("redis-server exited with {status}; log:\n{log}"));
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("redis-server did not answer PING within 20 s".to_owned())
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server process (SIGSTOP): it keeps its connections and
    /// answers nothing until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`pause`](Self::pause)d server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        self.kill();
    }
}

/// A shell loop that kills `redis_pid` once this test process is gone, for
/// the shared server, which lives in a static and is never dropped.
fn spawn_watchdog(redis_pid: u32) -> Option<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(r#"while kill -0 "$0" 2>/dev/null; do sleep 0.2; done; kill -9 "$1" 2>/dev/null"#)
        .arg(std::process::id().to_string())
        .arg(redis_pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0_u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

struct Shared {
    url: String,
    _server: Option<(RedisServer, tempfile::TempDir)>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The URL of the server shared by the tests of this binary, started on
/// first use (or `MINITWIT_TEST_REDIS_URL`).
pub fn shared_url() -> String {
    SHARED
        .get_or_init(|| {
            if let Ok(url) = std::env::var(URL_VAR) {
                return Shared { url, _server: None };
            }
            let dir = tempfile::tempdir().expect("temporary directory for redis-server");
            let server = RedisServer::start_ephemeral(dir.path());
            Shared {
                url: server.url(),
                _server: Some((server, dir)),
            }
        })
        .url
        .clone()
}

/// A namespace no other store of any test run uses.
pub fn unique_namespace() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "test-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The configuration of a test store: the shared server, a fresh namespace,
/// and a response deadline generous enough for a loaded test machine.
pub fn test_config() -> RedisConfig {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace());
    config.response_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config
}

/// Connects a store with `config`.
pub async fn connect(config: RedisConfig) -> RedisStore {
    RedisStore::connect(config)
        .await
        .expect("connect to the test redis-server")
}

/// A fresh, empty store on the shared server.
pub async fn fresh_redis_store() -> RedisStore {
    connect(test_config()).await
}

/// A fresh, empty store on the shared server, as the conformance suite takes
/// it.
pub async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(fresh_redis_store().await)
}
