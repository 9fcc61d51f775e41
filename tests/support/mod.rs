//! Runs the real `minitwit` binary for end-to-end tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A `minitwit serve` child process on a free loopback port.
pub struct Server {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    /// The store URL it was started with.
    pub store: String,
    log: PathBuf,
    env: Vec<(String, String)>,
}

/// Whether a server on `port` answers an HTTP request (any status): a
/// socket that accepts connections is not yet a server that serves them,
/// and a test's first request must not race the end of its start-up.
pub fn answers_http(port: u16) -> bool {
    use std::io::{Read as _, Write as _};

    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut start = [0_u8; 5];
    stream.read_exact(&mut start).is_ok() && &start == b"HTTP/"
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts `minitwit serve` on `store` and waits until the API answers.
    pub fn start(store: &str, log_dir: &Path) -> Self {
        Self::start_with(store, log_dir, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables.
    pub fn start_with(store: &str, log_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut server = Self {
            child: None,
            port,
            store: store.to_owned(),
            log: log_dir.join(format!("server-{port}.log")),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        // Appends, so the log of a restarted server keeps the earlier runs.
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_minitwit"));
        command
            .arg("serve")
            .env("MINITWIT_STORE", &self.store)
            .env("ROCKET_PORT", self.port.to_string())
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_LOG_LEVEL", "critical")
            .env("MINITWIT_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(
            command
                .spawn()
                .expect("cannot start target minitwit binary"),
        );
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "minitwit exited during start-up with {status}:\n{}",
                    self.log()
                );
            }
            if answers_http(self.port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "minitwit did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The base URL of the simulator API.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// The base URL of the site.
    pub fn site(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `SIGTERM` and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server not running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        child.wait().unwrap()
    }

    /// Kills the process with `SIGKILL`: no shutdown code runs.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts the same server again (same store, same port).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts that the server behind `client` holds exactly `expected` (every
/// user's follows and messages, and `/latest`); `when` names the moment.
pub async fn assert_holds(
    client: &minitwit_sim_api::SimClient,
    expected: &minitwit_sim_api::scenario::ExpectedState,
    when: &str,
) {
    let differences = minitwit_sim_api::scenario::compare(client, expected)
        .await
        .unwrap();
    assert!(
        differences.is_empty(),
        "{when}, through {}: {} differences, first ones:\n{}",
        client.base_url(),
        differences.len(),
        differences
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Prints a replay's figures and asserts that every one of `sent` actions
/// got the answer a correct server gives.
pub fn assert_clean_replay(
    what: &str,
    report: &minitwit_sim_api::scenario::ReplayReport,
    sent: usize,
) {
    eprintln!(
        "{what}: {} actions in {:.2?}: {:.0} requests/s, p50 {:.2?}, p99 {:.2?}, max {:.2?}, {} errors",
        report.requests,
        report.elapsed,
        report.throughput(),
        report.latency_quantile(0.5),
        report.latency_quantile(0.99),
        report.latency_quantile(1.0),
        report.errors.len(),
    );
    assert_eq!(report.requests, sent, "{what}: not every action was sent");
    assert!(
        report.errors.is_empty(),
        "{what}: unexpected answers: {:?}",
        &report.errors[..report.errors.len().min(10)]
    );
}

/// What a run of the `minitwit` binary did.
pub struct Run {
    /// Whether it exited with status 0.
    pub success: bool,
    /// What it wrote to standard output.
    pub stdout: Vec<u8>,
    /// What it wrote to standard error.
    pub stderr: String,
}

/// Runs `minitwit ARGS` with `env` (and `stdin`, if any) to completion.
pub fn run_minitwit(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    use std::io::Write as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_minitwit"));
    command
        .args(args)
        .env("MINITWIT_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .expect("cannot start target minitwit binary");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Written from a thread, so a child that stops reading cannot
        // block the test.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let output = child.wait_with_output().unwrap();
    Run {
        success: output.status.success(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `minitwit ARGS` and requires success; returns standard error (the
/// summary line).
pub fn minitwit_ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let run = run_minitwit(args, env, None);
    assert!(run.success, "minitwit {args:?} failed:\n{}", run.stderr);
    run.stderr
}
