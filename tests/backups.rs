//! End to end: backups and restores with the real `minitwit` binary, from
//! sled to Redis and back byte for byte, from a server while it serves,
//! through pipes, on a schedule; and the refusals (a damaged backup, a
//! store that holds data, a wrong token).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{self, GeneratorConfig, ReplayOptions, replay};
use minitwit_store_redis::test_server::{shared_url, unique_namespace};
use support::{Server, assert_clean_replay, assert_holds, minitwit_ok, run_minitwit};

fn sled(dir: &Path, name: &str) -> String {
    format!("sled:{}", dir.join(name).display())
}

fn path_arg(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn scenario_of(actions: usize, seed: u64) -> Vec<scenario::Action> {
    scenario::generate(GeneratorConfig {
        users: 120,
        actions,
        seed,
    })
}

fn concurrently(concurrency: usize) -> ReplayOptions {
    ReplayOptions {
        concurrency,
        ..ReplayOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_from_sled_to_redis_and_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let first = sled(dir.path(), "first");
    let mut server = Server::start(&first, dir.path());
    let client = SimClient::new(&server.api()).unwrap();
    let actions = scenario_of(2_000, 41);
    let report = replay(std::slice::from_ref(&client), &actions, concurrently(4)).await;
    assert_clean_replay("on sled", &report, actions.len());
    assert!(server.terminate().success());

    let (a, b, c) = (
        path_arg(dir.path(), "a.gz"),
        path_arg(dir.path(), "b.gz"),
        path_arg(dir.path(), "c.gz"),
    );
    let redis = shared_url();
    let namespace = unique_namespace("migration");
    let env = [("MINITWIT_REDIS_NAMESPACE", namespace.as_str())];
    let summary = minitwit_ok(&["backup", "--store", &first, "--out", &a], &[]);
    assert!(summary.contains("backup: 120 users,"), "{summary}");
    minitwit_ok(&["restore", "--store", &redis, "--in", &a], &env);
    minitwit_ok(&["backup", "--store", &redis, "--out", &b], &env);
    let last = sled(dir.path(), "last");
    minitwit_ok(&["restore", "--store", &last, "--in", &b], &[]);
    minitwit_ok(&["backup", "--store", &last, "--out", &c], &[]);
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "sled → Redis changed the backup"
    );
    assert_eq!(
        bytes,
        std::fs::read(&c).unwrap(),
        "Redis → sled changed the backup"
    );

    // The restored stores serve exactly what the scenario implies.
    for (store, env) in [(last.as_str(), &[][..]), (redis.as_str(), &env[..])] {
        let server = Server::start_with(store, dir.path(), env);
        let client = SimClient::new(&server.api()).unwrap();
        assert_holds(&client, &report.expected, &format!("restored into {store}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_streams_backups_while_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let store = sled(dir.path(), "live");
    let token = "correct horse battery staple";
    let mut server = Server::start_with(&store, dir.path(), &[("MINITWIT_ADMIN_TOKEN", token)]);
    let client = SimClient::new(&server.api()).unwrap();
    let actions = scenario_of(3_000, 42);
    let replaying = {
        let (client, actions) = (client.clone(), actions.clone());
        tokio::spawn(async move { replay(&[client], &actions, concurrently(4)).await })
    };
    let base = server.site();
    let mut taken = 0;
    while !replaying.is_finished() || taken == 0 {
        let out = path_arg(dir.path(), &format!("live-{taken}.gz"));
        let base = base.clone();
        let out_arg = out.clone();
        let run = tokio::task::spawn_blocking(move || {
            run_minitwit(
                &[
                    "backup", "--server", &base, "--token", token, "--out", &out_arg,
                ],
                &[],
                None,
            )
        })
        .await
        .unwrap();
        assert!(
            run.success,
            "a backup during the replay failed:\n{}",
            run.stderr
        );
        // Each restores (restore checks it whole first, and the counts after).
        let target = sled(dir.path(), &format!("restored-{taken}"));
        minitwit_ok(&["restore", "--store", &target, "--in", &out], &[]);
        taken += 1;
    }
    let report = replaying.await.unwrap();
    assert_clean_replay("while backups were taken", &report, actions.len());
    eprintln!("{taken} backups taken during the replay");

    // Once quiet, the server's backup is the stopped store's, byte for byte.
    let live = path_arg(dir.path(), "quiet-live.gz");
    minitwit_ok(
        &[
            "backup", "--server", &base, "--token", token, "--out", &live,
        ],
        &[],
    );
    assert!(server.terminate().success());
    let offline = path_arg(dir.path(), "quiet-offline.gz");
    minitwit_ok(&["backup", "--store", &store, "--out", &offline], &[]);
    assert_eq!(
        std::fs::read(&live).unwrap(),
        std::fs::read(&offline).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_damaged_backups_and_busy_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = sled(dir.path(), "source");
    let mut server = Server::start_with(&store, dir.path(), &[("MINITWIT_ADMIN_TOKEN", "right")]);
    let client = SimClient::new(&server.api()).unwrap();
    let actions = scenario_of(600, 43);
    let report = replay(
        std::slice::from_ref(&client),
        &actions,
        ReplayOptions::default(),
    )
    .await;
    assert_clean_replay("source", &report, actions.len());

    let refused = path_arg(dir.path(), "refused.gz");
    let run = run_minitwit(
        &[
            "backup",
            "--server",
            &server.site(),
            "--token",
            "wrong",
            "--out",
            &refused,
        ],
        &[],
        None,
    );
    assert!(!run.success);
    assert!(
        run.stderr.contains("refused the admin token"),
        "{}",
        run.stderr
    );
    assert!(
        !Path::new(&refused).exists(),
        "a refused backup left a file"
    );
    let no_endpoint = Server::start("memory:", dir.path());
    let run = run_minitwit(
        &[
            "backup",
            "--server",
            &no_endpoint.site(),
            "--token",
            "x",
            "--out",
            &refused,
        ],
        &[],
        None,
    );
    assert!(
        run.stderr.contains("MINITWIT_ADMIN_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(server.terminate().success());

    let good = path_arg(dir.path(), "good.gz");
    minitwit_ok(&["backup", "--store", &store, "--out", &good], &[]);
    let bytes = std::fs::read(&good).unwrap();
    // One changed byte, anywhere: nothing is written, and it says why.
    let redis = shared_url();
    for position in [10, bytes.len() / 2, bytes.len() - 20] {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x04;
        let path = path_arg(dir.path(), "damaged.gz");
        std::fs::write(&path, &damaged).unwrap();
        let target = dir.path().join("never");
        let run = run_minitwit(
            &[
                "restore",
                "--store",
                &format!("sled:{}", target.display()),
                "--in",
                &path,
            ],
            &[],
            None,
        );
        assert!(!run.success, "a damaged backup was restored");
        assert!(
            run.stderr.contains("is not a usable backup"),
            "{}",
            run.stderr
        );
        assert!(!target.exists(), "a refused restore created the store");
        let namespace = unique_namespace("damaged");
        let run = run_minitwit(
            &["restore", "--store", &redis, "--in", &path],
            &[("MINITWIT_REDIS_NAMESPACE", &namespace)],
            None,
        );
        assert!(!run.success);
        let summary = minitwit_ok(
            &[
                "backup",
                "--store",
                &redis,
                "--out",
                &path_arg(dir.path(), "empty.gz"),
            ],
            &[("MINITWIT_REDIS_NAMESPACE", &namespace)],
        );
        assert!(
            summary.contains("backup: 0 users, 0 follows, 0 messages"),
            "{summary}"
        );
    }
    // A cut-off backup likewise.
    let cut = path_arg(dir.path(), "cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let run = run_minitwit(&["restore", "--store", "memory:", "--in", &cut], &[], None);
    assert!(
        !run.success && run.stderr.contains("truncated"),
        "{}",
        run.stderr
    );

    // A store that holds data is refused, unless forced.
    let other = sled(dir.path(), "other");
    let other_server = Server::start(&other, dir.path());
    SimClient::new(&other_server.api())
        .unwrap()
        .register("Somebody Else", "s@e.org", "pw", None)
        .await
        .unwrap();
    drop(other_server);
    let run = run_minitwit(&["restore", "--store", &other, "--in", &good], &[], None);
    assert!(!run.success);
    assert!(
        run.stderr.contains("holds 1 users and 0 messages") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    minitwit_ok(
        &["restore", "--store", &other, "--in", &good, "--force"],
        &[],
    );
    let again = path_arg(dir.path(), "again.gz");
    minitwit_ok(&["backup", "--store", &other, "--out", &again], &[]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        bytes,
        "--force did not restore exactly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_through_standard_output_and_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = sled(dir.path(), "piped");
    let mut server = Server::start(&store, dir.path());
    let client = SimClient::new(&server.api()).unwrap();
    let actions = scenario_of(400, 44);
    let report = replay(
        std::slice::from_ref(&client),
        &actions,
        ReplayOptions::default(),
    )
    .await;
    assert_clean_replay("piped", &report, actions.len());
    assert!(server.terminate().success());

    let run = run_minitwit(&["backup", "--store", &store, "--out", "-"], &[], None);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains("written to standard output"),
        "{}",
        run.stderr
    );
    let file = path_arg(dir.path(), "file.gz");
    minitwit_ok(&["backup", "--store", &store, "--out", &file], &[]);
    assert_eq!(run.stdout, std::fs::read(&file).unwrap());

    let target = sled(dir.path(), "from-stdin");
    let restored = run_minitwit(
        &["restore", "--store", &target, "--in", "-"],
        &[],
        Some(&run.stdout),
    );
    assert!(restored.success, "{}", restored.stderr);
    let server = Server::start(&target, dir.path());
    let client = SimClient::new(&server.api()).unwrap();
    assert_holds(&client, &report.expected, "restored from standard input").await;
}

/// Waits until `dir` holds a file, for at most `limit`.
fn wait_for_files(dir: &Path, limit: Duration) -> Vec<std::path::PathBuf> {
    let started = Instant::now();
    loop {
        let files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "gz"))
                    .collect()
            })
            .unwrap_or_default();
        if !files.is_empty() || started.elapsed() > limit {
            return files;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_takes_scheduled_backups_one_instance_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let backups_arg = backups.display().to_string();
    let redis = shared_url();
    let namespace = unique_namespace("scheduled");
    // Both instances take their first backup as they start, in the same
    // period of a day: one of them writes it.
    let env = [
        ("MINITWIT_REDIS_NAMESPACE", namespace.as_str()),
        ("MINITWIT_BACKUP_EVERY", "1day"),
        ("MINITWIT_BACKUP_DIR", backups_arg.as_str()),
        ("MINITWIT_LOG", "info"),
    ];
    let first = Server::start_with(&redis, dir.path(), &env);
    let second = Server::start_with(&redis, dir.path(), &env);
    let files = wait_for_files(&backups, Duration::from_secs(30));
    assert_eq!(files.len(), 1, "{files:?}");
    // Give the later instance time to have tried too.
    std::thread::sleep(Duration::from_millis(500));
    let written = [&first, &second]
        .iter()
        .map(|server| server.log().matches("scheduled backup written").count())
        .sum::<usize>();
    assert_eq!(written, 1, "{}\n{}", first.log(), second.log());
    assert_eq!(wait_for_files(&backups, Duration::ZERO).len(), 1);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let target = sled(dir.path(), "from-schedule");
    minitwit_ok(
        &[
            "restore",
            "--store",
            &target,
            "--in",
            &files[0].display().to_string(),
        ],
        &[],
    );
}
