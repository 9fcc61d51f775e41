//! Real `redis-server` processes for tests: of this crate, and of
//! applications built on it.
//!
//! Enabled by the `test-server` cargo feature (off by default); nothing in
//! the store itself uses it. It **spawns `redis-server` child processes**,
//! which must be on `PATH`.
//!
//! * [`RedisServer`] starts a server of its own on a free loopback port, in
//!   a directory you give or a temporary one, with or without an
//!   append-only file ([`Persistence`]). It can be killed with `SIGKILL`
//!   ([`kill`](RedisServer::kill)), [`restart`](RedisServer::restart)ed on
//!   the same port and directory (reloading its append-only file), and
//!   frozen with `SIGSTOP` / `SIGCONT` ([`pause`](RedisServer::pause),
//!   [`resume`](RedisServer::resume)).
//! * [`shared_url`] is one server for the whole test process, started on
//!   first use, or the running server named by [`URL_VAR`]
//!   (`MINITWIT_TEST_REDIS_URL`) when that is set. Give each test a
//!   [`unique_namespace`] on it, and tests run in parallel without seeing
//!   each other.
//!
//! Every server is killed when its [`RedisServer`] is dropped, and a watchdog
//! process kills it once the test process is gone, even if that process
//! died without unwinding (the shared server, which lives in a static, is
//! never dropped), so no `redis-server` outlives the tests.
//!
//! # Panics
//!
//! This is a test harness: the convenience functions ([`RedisServer::start`],
//! [`RedisServer::start_in`], [`RedisServer::restart`], [`RedisServer::pause`],
//! [`RedisServer::resume`], [`shared_url`]) panic with a clear message when
//! the server cannot be started or signalled, so a test fails loudly. A
//! missing `redis-server` binary panics with how to install it
//! (`apt-get install -y redis-server`). The `try_*` functions return a
//! [`TestServerError`] instead.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming a running Redis to test against
/// (`redis://HOST:PORT[/DB]`), used by [`shared_url`].
pub const URL_VAR: &str = "MINITWIT_TEST_REDIS_URL";

/// How to get `redis-server`, in the message of a failed start.
pub const INSTALL_HINT: &str = "redis-server is needed by these tests and was not found on \
     PATH. Install it with `apt-get install -y redis-server` (Debian/Ubuntu; \
     `brew install redis` on macOS), or set MINITWIT_TEST_REDIS_URL=redis://HOST:PORT to run \
     the tests that do not kill Redis against a running server.";

/// How long a started server may take to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a test server could not be started or signalled.
#[derive(Debug, thiserror::Error)]
pub enum TestServerError {
    /// `redis-server` is not on `PATH`.
    #[error("{INSTALL_HINT}")]
    NotInstalled,
    /// An I/O operation of the harness failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The server exited during start-up.
    #[error("redis-server on port {port} exited with {status}; log:\n{log}")]
    Exited {
        /// The port it was to listen on.
        port: u16,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it logged.
        log: String,
    },
    /// The server did not answer `PING` in time.
    #[error(
        "redis-server on port {port} did not answer PING within {READY_TIMEOUT:?}; log:\n{log}"
    )]
    NotReady {
        /// The port it was to listen on.
        port: u16,
        /// What it logged.
        log: String,
    },
    /// The operation needs a running server, and it is not running.
    #[error("redis-server on port {port} is not running")]
    NotRunning {
        /// The port it listened on.
        port: u16,
    },
    /// The operation needs a stopped server, and it is running.
    #[error("redis-server on port {port} is already running")]
    AlreadyRunning {
        /// The port it listens on.
        port: u16,
    },
    /// `kill -SIGNAL` did not succeed.
    #[error("kill {signal} of redis-server (pid {pid}) failed")]
    Signal {
        /// The signal, as given to `kill`.
        signal: &'static str,
        /// The process id.
        pid: u32,
    },
}

/// Whether and how a [`RedisServer`] keeps its data on disk. Snapshots
/// (`save`) are always off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persistence {
    /// No persistence: a killed server loses everything.
    #[default]
    None,
    /// An append-only file with `appendfsync always`: every acknowledged
    /// write survives a kill.
    AofAlways,
    /// An append-only file with `appendfsync everysec`, as a typical
    /// production server runs.
    AofEverySec,
}

impl Persistence {
    fn args(self) -> [&'static str; 4] {
        match self {
            Self::None => ["--appendonly", "no", "--appendfsync", "always"],
            Self::AofAlways => ["--appendonly", "yes", "--appendfsync", "always"],
            Self::AofEverySec => ["--appendonly", "yes", "--appendfsync", "everysec"],
        }
    }
}

/// A `redis-server` child process on a loopback port, killed when dropped
/// (and, should the test process die without dropping it, by a watchdog).
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    watchdog: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    _temp: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts a server on a free port in a new temporary directory (removed
    /// when the server is dropped) and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// When it cannot start; see [`try_start`](Self::try_start).
    pub fn start(persistence: Persistence) -> Self {
        Self::try_start(persistence).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Starts a server on a free port in `dir` (its append-only file and its
    /// log, `redis.log`, go there) and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// When it cannot start; see [`try_start_in`](Self::try_start_in).
    pub fn start_in(dir: &Path, persistence: Persistence) -> Self {
        Self::try_start_in(dir, persistence).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Like [`start`](Self::start), returning the error.
    ///
    /// # Errors
    ///
    /// When no temporary directory can be made, or as
    /// [`try_start_in`](Self::try_start_in).
    pub fn try_start(persistence: Persistence) -> Result<Self, TestServerError> {
        let temp = tempfile::tempdir().map_err(|source| TestServerError::Io {
            what: "create a temporary directory for redis-server",
            source,
        })?;
        let mut server = Self::try_start_in(temp.path(), persistence)?;
        server._temp = Some(temp);
        Ok(server)
    }

    /// Like [`start_in`](Self::start_in), returning the error.
    ///
    /// # Errors
    ///
    /// [`TestServerError::NotInstalled`] without `redis-server`; otherwise
    /// the error of the last of a few attempts on different ports (another
    /// process may take a port between the probe and the server's bind).
    pub fn try_start_in(dir: &Path, persistence: Persistence) -> Result<Self, TestServerError> {
        let mut server = Self {
            child: None,
            watchdog: None,
            port: 0,
            dir: dir.to_owned(),
            persistence,
            _temp: None,
        };
        let mut last_error = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(err @ TestServerError::NotInstalled) => return Err(err),
                Err(err) => {
                    server.kill();
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.unwrap_or(TestServerError::NotRunning { port: server.port }))
    }

    fn spawn(&mut self) -> Result<(), TestServerError> {
        if self.child.is_some() {
            return Err(TestServerError::AlreadyRunning { port: self.port });
        }
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(self.persistence.args())
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
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(TestServerError::NotInstalled);
            }
            Err(source) => {
                return Err(TestServerError::Io {
                    what: "run redis-server",
                    source,
                });
            }
        };
        self.watchdog = spawn_watchdog(child.id());
        self.child = Some(child);
        self.wait_until_ready()
    }

    /// Waits until the server answers `PING` with `PONG`.
    fn wait_until_ready(&mut self) -> Result<(), TestServerError> {
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            let Some(child) = self.child.as_mut() else {
                return Err(TestServerError::NotRunning { port: self.port });
            };
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(TestServerError::Exited {
                    port: self.port,
                    status,
                    log: self.log(),
                });
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(TestServerError::NotReady {
            port: self.port,
            log: self.log(),
        })
    }

    /// Starts the killed server again on the same port, in the same
    /// directory, with the same persistence: it reloads the append-only
    /// file of the earlier run.
    ///
    /// # Panics
    ///
    /// When it cannot start; see [`try_restart`](Self::try_restart).
    pub fn restart(&mut self) {
        if let Err(err) = self.try_restart() {
            panic!("{err}");
        }
    }

    /// Like [`restart`](Self::restart), returning the error.
    ///
    /// # Errors
    ///
    /// [`TestServerError::AlreadyRunning`] unless the server was
    /// [`kill`](Self::kill)ed; otherwise the error of the last of the
    /// attempts made over about five seconds (the old listening socket may
    /// take a moment to be released).
    pub fn try_restart(&mut self) -> Result<(), TestServerError> {
        if self.child.is_some() {
            return Err(TestServerError::AlreadyRunning { port: self.port });
        }
        let mut last_error = None;
        for _ in 0..50 {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(err @ TestServerError::NotInstalled) => return Err(err),
                Err(err) => {
                    self.kill();
                    last_error = Some(err);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last_error.unwrap_or(TestServerError::NotRunning { port: self.port }))
    }

    /// Kills the server with `SIGKILL`, as a crash would, and reaps it (and
    /// its watchdog). What it had written to its append-only file stays
    /// there. Does nothing if it is not running.
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

    /// Stops the process (`SIGSTOP`): it keeps its connections open and
    /// answers nothing until [`resume`](Self::resume), as a Redis stuck in a
    /// long command or a frozen host would.
    ///
    /// # Panics
    ///
    /// When the server is not running or the signal fails.
    pub fn pause(&self) {
        if let Err(err) = self.try_signal("-STOP") {
            panic!("{err}");
        }
    }

    /// Lets a [`pause`](Self::pause)d server run again (`SIGCONT`).
    ///
    /// # Panics
    ///
    /// When the server is not running or the signal fails.
    pub fn resume(&self) {
        if let Err(err) = self.try_signal("-CONT") {
            panic!("{err}");
        }
    }

    fn try_signal(&self, signal: &'static str) -> Result<(), TestServerError> {
        let child = self
            .child
            .as_ref()
            .ok_or(TestServerError::NotRunning { port: self.port })?;
        let pid = child.id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .map_err(|source| TestServerError::Io {
                what: "run kill",
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(TestServerError::Signal { signal, pid })
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`, for [`RedisConfig::new`](crate::RedisConfig::new)
    /// or an application's store URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// What the server has logged (warnings and worse); empty when nothing
    /// or the log cannot be read.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Its working directory (the append-only file and the log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is running (started and not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A shell loop that kills `redis_pid` once this process is gone, so a test
/// process that dies without unwinding (or a server in a static, never
/// dropped) leaves no server behind. `None` if `sh` cannot be run.
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

/// A loopback port nobody listens on right now.
///
/// # Errors
///
/// When no loopback port can be bound.
pub fn free_port() -> Result<u16, TestServerError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| TestServerError::Io {
            what: "bind a free loopback port",
            source,
        })
}

/// Whether a Redis on loopback `port` answers `PING` with `PONG`.
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

/// The Redis shared by the tests of this process: [`URL_VAR`]
/// (`MINITWIT_TEST_REDIS_URL`) when set and not empty, otherwise a
/// [`RedisServer`] without persistence started on first use, which lives
/// until the process ends (its watchdog then kills it). Give each test a
/// [`unique_namespace`] on it.
///
/// # Panics
///
/// When the server cannot be started (see [`RedisServer::start`]).
pub fn shared_url() -> String {
    static SHARED: OnceLock<(String, Option<RedisServer>)> = OnceLock::new();
    SHARED
        .get_or_init(|| match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
            _ => {
                let server = RedisServer::start(Persistence::None);
                (server.url(), Some(server))
            }
        })
        .0
        .clone()
}

/// A key namespace (for [`RedisConfig::with_namespace`](crate::RedisConfig::with_namespace))
/// that no other test of any run uses, so tests can share one server:
/// `test-{label}-{pid}-{nanos}-{counter}`. `label` must not contain `:`.
pub fn unique_namespace(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "test-{label}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
