//! Real `redis-server` processes for end-to-end tests of several `minitwit`
//! instances on one Redis.
//!
//! [`RedisServer`] starts its own server on a free loopback port, in a
//! temporary directory, with an append-only file (`appendfsync everysec`) and
//! no snapshots, so that [`kill`](RedisServer::kill) followed by
//! [`restart`](RedisServer::restart) brings the data back from the AOF, as a
//! crashed and restarted production Redis would. [`TestRedis`] is for the
//! tests that never kill Redis: the server named by `MINITWIT_TEST_REDIS_URL`
//! when that is set, otherwise a server of its own.
//!
//! A missing `redis-server` is a loud failure that says how to install it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming a running Redis to test against.
pub const URL_VAR: &str = "MINITWIT_TEST_REDIS_URL";

const INSTALL_HINT: &str = "redis-server is needed by the multi-instance end-to-end tests and was \
     not found on PATH. Install it with `apt-get install -y redis-server` (Debian/Ubuntu; \
     `brew install redis` on macOS), or set MINITWIT_TEST_REDIS_URL=redis://HOST:PORT to run \
     the tests that do not kill Redis against a running server.";

/// A `redis-server` child process on a loopback port, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    watchdog: Option<Child>,
    port: u16,
    dir: PathBuf,
    _temp: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port in a new temporary directory and waits
    /// until it answers `PING`.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("a temporary directory for redis-server");
        let mut server = Self {
            child: None,
            watchdog: None,
            port: 0,
            dir: temp.path().to_owned(),
            _temp: temp,
        };
        let mut last_error = String::new();
        // Another process may take the port between our probe and the
        // server's bind: try a few.
        for _ in 0..5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(err) => {
                    last_error = err;
                    server.kill();
                }
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "redis-server is already running");
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            // `dir` first: the log file is opened relative to it.
            .arg("--dir")
            .arg(&self.dir)
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
        self.watchdog = spawn_watchdog(child.id());
        self.child = Some(child);
        self.wait_until_ready()
    }

    /// Waits until the server answers `PING` with `PONG`.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let child = self.child.as_mut().expect("redis-server was started");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "redis-server exited with {status}; log:\n{}",
                    self.log()
                ));
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "redis-server did not answer PING within 20 s; log:\n{}",
            self.log()
        ))
    }

    /// What the server has logged (warnings and worse).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`, the form `MINITWIT_STORE` takes.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the process (`SIGSTOP`): it keeps its connections open and
    /// answers nothing until [`resume`](Self::resume), as a Redis stuck in a
    /// long command or a frozen host would.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`pause`](Self::pause)d server run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is not running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Kills the server with `SIGKILL`, as a crash would, and reaps it. What
    /// it had written to its append-only file stays there.
    pub fn kill(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, in the same directory: it
    /// reloads the append-only file of the earlier run.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill the server first");
        let mut last_error = String::new();
        // The old listening socket may take a moment to be released.
        for _ in 0..50 {
            match self.spawn() {
                Ok(()) => return,
                Err(err) => {
                    last_error = err;
                    self.kill();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "redis-server did not restart on port {}: {last_error}",
            self.port
        );
    }

    /// Its working directory (the append-only file and the log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Redis of a test that does not kill it: the one named by
/// `MINITWIT_TEST_REDIS_URL`, or a [`RedisServer`] of its own.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    _server: Option<RedisServer>,
}

impl TestRedis {
    /// `MINITWIT_TEST_REDIS_URL` when set, otherwise a new server.
    pub fn from_env_or_start() -> Self {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self {
                url: url.trim().to_owned(),
                _server: None,
            },
            _ => {
                let server = RedisServer::start();
                Self {
                    url: server.url(),
                    _server: Some(server),
                }
            }
        }
    }

    /// The server's URL, for `MINITWIT_STORE`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A Redis key namespace no other test run uses (for
/// `MINITWIT_REDIS_NAMESPACE`), so tests can share one server.
pub fn unique_namespace(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "e2e-{label}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A shell loop that kills `redis_pid` once this test process is gone, so a
/// test process that dies without unwinding leaves no server behind.
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

/// Whether a Redis on `port` answers `PING` with `PONG`.
pub fn ping(port: u16) -> bool {
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
