//! End to end: a newcomer's first hour, from a clean clone of the
//! repository's committed state.
//!
//! The README opens with exactly two commands, the server and the tests.
//! The server started as its first command does (with the binary this test
//! was built with instead of a second release build, in the clone as the
//! working directory, with no configuration but a free port) answers, keeps
//! its data in the clone's `minitwit-data`, renders the site, and a
//! generated scenario (whose generator says what it wrote) replayed with
//! `minitwit simulate --verify` shows 0 errors and 0 differences. Then every bad configuration a newcomer is likely to meet
//! says what is wrong and what to do, exactly once, before anything is
//! created; `minitwit serve --help` lists the settings; and `--address` and
//! `--port` work, ahead of their variables.
//!
//! The clone holds what is committed (uncommitted changes are not in it),
//! as on a CI runner.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{answers_http, free_port};

/// A clean clone of the repository this test belongs to, in a temporary
/// directory.
fn clone_repository() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("minitwit");
    let source = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("git")
        .args(["clone", "--quiet", source])
        .arg(&clone)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run git: install it (apt-get install git) to run this test");
    assert!(
        output.status.success(),
        "git clone {source} failed (is it a git repository?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, clone)
}

/// `minitwit ARGS` in `dir`, with no configuration from this process's
/// environment: only `env`.
fn minitwit(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minitwit"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs a command that must end by itself, within a generous deadline.
fn finish(mut command: Command, what: &str) -> Output {
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{what} did not end: it started instead of failing?\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A server this test started; killed if the test ends early.
struct Running {
    child: Option<Child>,
    port: u16,
}

impl Running {
    fn start(mut command: Command, port: u16) -> Self {
        // Standard error through a file, so a chatty server never blocks.
        let log = tempfile::NamedTempFile::new().unwrap();
        command.stdout(Stdio::null()).stderr(log.reopen().unwrap());
        let mut running = Self {
            child: Some(command.spawn().unwrap()),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // Ready when it answers HTTP, not when its socket accepts (see
        // `support::answers_http`).
        while !answers_http(port) {
            if let Some(status) = running.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the server exited with {status}:\n{}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        running
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends `SIGTERM`; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        child.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn get(url: &str) -> (u16, String, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    })
}

/// The commands of the README's first code block, comments left out.
fn first_commands(readme: &str) -> (usize, Vec<String>) {
    let mut lines = readme.lines().enumerate();
    let (start, _) = lines
        .by_ref()
        .find(|(_, line)| line.trim_start().starts_with("```"))
        .expect("the README has no code block");
    let commands = lines
        .take_while(|(_, line)| !line.trim_start().starts_with("```"))
        .map(|(_, line)| {
            line.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    (start + 1, commands)
}

#[test]
fn the_readme_opens_with_the_server_and_the_test_command() {
    let (_dir, clone) = clone_repository();
    let readme = std::fs::read_to_string(clone.join("README.md")).unwrap();
    let (line, commands) = first_commands(&readme);
    assert!(
        line <= 20,
        "the README's first commands start on line {line}: a newcomer should meet them at once"
    );
    assert_eq!(
        commands,
        ["cargo run --release -- serve", "scripts/test"],
        "the README's first code block"
    );
    // What those commands need is in the clone: the package whose binary
    // `cargo run` runs, and an executable test script.
    let manifest = std::fs::read_to_string(clone.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[package]\nname = \"minitwit\""));
    assert!(clone.join("src/main.rs").is_file());
    let script = clone.join("scripts/test");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&script).unwrap().permissions());
    assert!(
        mode & 0o111 != 0,
        "scripts/test is not executable in a clone"
    );
}

/// The README and the pages it links are in the repository: every relative
/// link of README.md and docs/*.md points at a file of the clone, none
/// outside it.
#[test]
fn the_readme_and_its_pages_stand_alone() {
    let (_dir, clone) = clone_repository();
    let mut pages = vec![clone.join("README.md")];
    for entry in std::fs::read_dir(clone.join("docs")).expect("docs/ in the repository") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    for required in [
        "api.md",
        "operations.md",
        "configuration.md",
        "backup-format.md",
    ] {
        assert!(
            clone.join("docs").join(required).is_file(),
            "docs/{required}"
        );
    }
    for file in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "Rocket.toml.example",
        "BENCHMARKS.md",
    ] {
        assert!(clone.join(file).is_file(), "{file}");
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#', ' ']).next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|path| path.starts_with(clone.canonicalize().unwrap()));
            assert!(
                inside,
                "{} links {target}, which is not a file of the repository",
                page.display()
            );
        }
    }
}

#[test]
fn the_readme_server_answers_and_a_replayed_scenario_verifies() {
    let (_dir, clone) = clone_repository();
    // `cargo run --release -- serve` in the clone: the same program with no
    // configuration, on a free port (8000 may be taken where tests run).
    let port = free_port();
    let port_text = port.to_string();
    let mut server = Running::start(
        minitwit(&clone, &["serve"], &[("ROCKET_PORT", &port_text)]),
        port,
    );

    let (status, _, latest) = get(&server.url("/api/latest"));
    assert_eq!((status, latest.as_str()), (200, r#"{"latest":-1}"#));
    let (status, content_type, page) = get(&server.url("/public"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        page.contains("Public Timeline") && page.contains("</html>"),
        "{page}"
    );
    assert!(
        clone.join("minitwit-data").is_dir(),
        "the default store is sled in ./minitwit-data"
    );

    let scenario = clone.join("scenario.tsv");
    let generated = finish(
        minitwit(
            &clone,
            &[
                "scenario",
                "generate",
                "--users",
                "60",
                "--actions",
                "800",
                "--seed",
                "16",
                "--out",
                "scenario.tsv",
            ],
            &[],
        ),
        "scenario generate",
    );
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&scenario).unwrap().lines().count(),
        800
    );
    let confirmation = String::from_utf8_lossy(&generated.stderr);
    assert!(
        confirmation.contains("wrote 800 actions") && confirmation.contains("scenario.tsv"),
        "scenario generate must say what it wrote: {confirmation}"
    );
    // A generous timeout: this checks answers, not speed, on a busy machine.
    let base = server.url("/api");
    let simulated = finish(
        minitwit(
            &clone,
            &[
                "simulate",
                "--base",
                &base,
                "--scenario",
                "scenario.tsv",
                "--verify",
                "--timeout-ms",
                "30000",
            ],
            &[],
        ),
        "simulate",
    );
    let report = String::from_utf8_lossy(&simulated.stdout);
    assert!(
        simulated.status.success(),
        "simulate --verify failed:\n{report}\n{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("all:") && line.ends_with("; 0 errors")),
        "{report}"
    );
    assert!(report.contains(": 0 differences"), "{report}");
    eprintln!("{}", report.trim());

    let status = server.stop();
    assert!(status.success(), "SIGTERM should end the server with 0");
}

/// What a bad start must say (every part), with nothing created.
struct BadStart {
    what: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    rocket_toml: Option<&'static str>,
    says: Vec<String>,
}

fn bad_start(
    what: &'static str,
    args: &[&str],
    env: &[(&'static str, &str)],
    says: &[&str],
) -> BadStart {
    BadStart {
        what,
        args: args.iter().map(ToString::to_string).collect(),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        rocket_toml: None,
        says: says.iter().map(ToString::to_string).collect(),
    }
}

/// Runs `bad` in a fresh directory inside the clone and checks that it is
/// refused as [`BadStart`] says, once, with nothing created; returns
/// standard error.
fn assert_refused(clone: &Path, bad: &BadStart) -> String {
    let dir = tempfile::tempdir_in(clone).unwrap();
    if let Some(toml) = bad.rocket_toml {
        std::fs::write(dir.path().join("Rocket.toml"), toml).unwrap();
    }
    let args: Vec<&str> = bad.args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = bad.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = finish(minitwit(dir.path(), &args, &env), bad.what);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{}: it started", bad.what);
    for part in &bad.says {
        assert!(
            stderr.contains(part.as_str()),
            "{}: the message does not say {part:?}:\n{stderr}",
            bad.what
        );
    }
    // Once: one `error:` line and no log line repeating it.
    let error_lines = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .count();
    assert_eq!(
        error_lines, 1,
        "{}: not said exactly once:\n{stderr}",
        bad.what
    );
    assert!(
        !stderr.contains("ERROR"),
        "{}: also logged as an error:\n{stderr}",
        bad.what
    );
    assert!(stdout.is_empty(), "{}: wrote {stdout:?}", bad.what);
    assert!(
        !dir.path().join("minitwit-data").exists(),
        "{}: created the sled directory before refusing",
        bad.what
    );
    stderr
}

#[test]
fn bad_configurations_say_what_is_wrong_and_what_to_do_once() {
    let (_dir, clone) = clone_repository();
    let serve = ["serve"];

    // Port in use: names the address and how to pick another.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let place = format!("127.0.0.1:{port}");
    assert_refused(
        &clone,
        &bad_start(
            "a port in use",
            &serve,
            &[("ROCKET_PORT", &port)],
            &[
                &place,
                "already in use",
                "ROCKET_PORT",
                "--port",
                "another port",
            ],
        ),
    );
    drop(taken);

    // Invalid ports: the setting, the value, where it came from.
    assert_refused(
        &clone,
        &bad_start(
            "ROCKET_PORT=notanumber",
            &serve,
            &[("ROCKET_PORT", "notanumber")],
            &[
                "ROCKET_PORT",
                "\"notanumber\"",
                "environment variable",
                "1 to 65535",
            ],
        ),
    );
    assert_refused(
        &clone,
        &bad_start(
            "ROCKET_PORT=99999",
            &serve,
            &[("ROCKET_PORT", "99999")],
            &["ROCKET_PORT", "99999", "environment variable", "1 to 65535"],
        ),
    );
    let mut from_file = bad_start(
        "port = 99999 in Rocket.toml",
        &serve,
        &[],
        &["`port`", "Rocket.toml", "99999", "1 to 65535"],
    );
    from_file.rocket_toml = Some("[default]\nport = 99999\n");
    assert_refused(&clone, &from_file);
    assert_refused(
        &clone,
        &bad_start(
            "ROCKET_ADDRESS=nowhere",
            &serve,
            &[("ROCKET_ADDRESS", "nowhere")],
            &["ROCKET_ADDRESS", "nowhere", "IP address"],
        ),
    );

    // An invalid log filter is reported, not ignored.
    assert_refused(
        &clone,
        &bad_start(
            "MINITWIT_LOG=foo=bar=baz",
            &serve,
            &[("MINITWIT_LOG", "foo=bar=baz")],
            &["MINITWIT_LOG", "foo=bar=baz", "not a log filter"],
        ),
    );

    // Redis that nobody listens on: each cause once.
    let redis = format!("redis://127.0.0.1:{}/0", free_port());
    let said = assert_refused(
        &clone,
        &bad_start(
            "a Redis nobody listens on",
            &["serve", "--store", &redis],
            &[("ROCKET_PORT", &free_port().to_string())],
            &[&redis],
        ),
    );
    let lower = said.to_lowercase();
    assert_eq!(
        lower.matches("connection refused").count(),
        1,
        "the cause is not said exactly once:\n{said}"
    );
    assert_eq!(
        lower.matches("cannot connect to redis").count(),
        1,
        "{said}"
    );

    // With JSON logs, the one report is a JSON line.
    let dir = tempfile::tempdir_in(&clone).unwrap();
    let output = finish(
        minitwit(
            dir.path(),
            &serve,
            &[
                ("ROCKET_PORT", "notanumber"),
                ("MINITWIT_LOG_FORMAT", "json"),
            ],
        ),
        "a bad port with JSON logs",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "said more than once:\n{stderr}");
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        line.to_string().contains("ROCKET_PORT") && line.to_string().contains("notanumber"),
        "{line}"
    );
    assert!(!dir.path().join("minitwit-data").exists());
}

#[test]
fn serve_help_lists_the_settings() {
    let output = finish(
        minitwit(&std::env::temp_dir(), &["serve", "--help"], &[]),
        "serve --help",
    );
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "--store",
        "--address",
        "--port",
        "MINITWIT_STORE",
        "MINITWIT_API_PREFIX",
        "MINITWIT_API_USER",
        "MINITWIT_LOG",
        "MINITWIT_TRUSTED_PROXIES",
        "MINITWIT_SESSION_DAYS",
        "ROCKET_ADDRESS",
        "ROCKET_PORT",
        "ROCKET_SECRET_KEY",
    ] {
        assert!(
            help.contains(setting),
            "--help does not name {setting}:\n{help}"
        );
    }
}

#[test]
fn address_and_port_flags_work_ahead_of_their_variables() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let other = free_port().to_string();
    let mut server = Running::start(
        minitwit(
            dir.path(),
            &[
                "serve",
                "--address",
                "127.0.0.1",
                "--port",
                &port_text,
                "--store",
                "memory:",
            ],
            &[("ROCKET_PORT", &other), ("ROCKET_ADDRESS", "0.0.0.0")],
        ),
        port,
    );
    let (status, _, latest) = get(&server.url("/api/latest"));
    assert_eq!((status, latest.as_str()), (200, r#"{"latest":-1}"#));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", other.parse::<u16>().unwrap())).is_err(),
        "the server listens on ROCKET_PORT too"
    );
    assert!(server.stop().success());

    // A flag wins over an invalid variable too.
    let port = free_port();
    let port_text = port.to_string();
    let mut server = Running::start(
        minitwit(
            dir.path(),
            &["serve", "--port", &port_text, "--store", "memory:"],
            &[("ROCKET_PORT", "notanumber")],
        ),
        port,
    );
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);
    assert!(server.stop().success());
    assert!(
        !dir.path().join("minitwit-data").exists(),
        "--store memory: created a sled directory"
    );
}
