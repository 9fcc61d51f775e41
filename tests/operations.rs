//! End to end: what an operator relies on, with real processes.
//!
//! * `GET /health` on sled, and on Redis (main port and API port) while
//!   `redis-server` is killed and started again: 200, then 503 with a
//!   reason, then 200, with no server restart.
//! * After a replay of part of a generated scenario, `minitwit_users`,
//!   `minitwit_messages`, `minitwit_follows` and `minitwit_latest` on
//!   `/metrics` equal what the replay had acknowledged: on sled, also after a
//!   clean restart and after `SIGKILL`; on Redis, through two instances that
//!   both report the same totals.
//! * `X-Request-Id` on every answer (API, site, health, metrics, 404, 405):
//!   the client's own id echoed, else a fresh one.
//! * Every metric name (and every label value matched exactly) in the
//!   Grafana dashboard and the alert rules of `deploy/` is exposed by a live
//!   server.
//! * A real Prometheus scrapes real servers (one of them behind
//!   `MINITWIT_METRICS_TOKEN`), evaluates `deploy/alerts.yml` without error
//!   and returns the business figures through its query API; `promtool`
//!   accepts `deploy/prometheus.yml` and `deploy/alerts.yml`.
//! * No password, password hash, session cookie, admin token, metrics
//!   token, Basic credential or `Authorization` header reaches the log of a
//!   full run at debug level in text, and at trace level in JSON.
//! * With `MINITWIT_LOG_FORMAT=json` every line the server writes is a JSON
//!   object, and the line of each request carries its id, method, route
//!   template, status and latency.
//! * `/metrics` wants the bearer token when `MINITWIT_METRICS_TOKEN` is set.
//! * Signing in on the site reads the reader's first home page once (so
//!   that the page it leads to is in the home cache), as `/metrics` shows.
//!
//! Nothing here measures time: waits have generous deadlines and only
//! print how long they took. `redis-server`, `prometheus` and `promtool`
//! must be installed (`scripts/test` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minitwit_sim_api::SimClient;
use minitwit_sim_api::scenario::{
    self, Action, ActionKind, GeneratorConfig, ReplayOptions, ReplayReport, read_scenario, replay,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer, shared_url, unique_namespace};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use support::{Server, assert_clean_replay, free_port, run_minitwit};

/// How long a wait for something that should happen within a second may
/// last before the test gives up: long enough for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(10);

/// How long Prometheus may take to start, scrape and answer.
const PROMETHEUS_DEADLINE: Duration = Duration::from_secs(90);

/// The header of request ids.
const REQUEST_ID: &str = "X-Request-Id";

/// The site's session cookie.
const SESSION_COOKIE: &str = "minitwit_session";

/// The repository's `deploy/` directory.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn sled_store(dir: &Path, name: &str) -> String {
    format!("sled:{}", dir.join(name).display())
}

/// A plain HTTP client that does not follow redirects, keeps no cookies and
/// cannot hang a test.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The first `count` actions of a scenario written by `minitwit scenario
/// generate`, read back from its file.
fn generated_scenario(
    dir: &Path,
    users: usize,
    actions: usize,
    seed: u64,
    count: usize,
) -> Vec<Action> {
    let path = dir.join(format!("scenario-{seed}.tsv"));
    let (users, actions, seed) = (users.to_string(), actions.to_string(), seed.to_string());
    let out = path.display().to_string();
    let run = run_minitwit(
        &[
            "scenario",
            "generate",
            "--users",
            &users,
            "--actions",
            &actions,
            "--seed",
            &seed,
            "--out",
            &out,
        ],
        &[],
        None,
    );
    assert!(
        run.success,
        "minitwit scenario generate failed:\n{}",
        run.stderr
    );
    let file = std::fs::File::open(&path).unwrap();
    let mut read = read_scenario(std::io::BufReader::new(file)).unwrap();
    assert!(read.len() >= count, "the scenario is too short");
    read.truncate(count);
    read
}

/// What a replay got acknowledged (`204`), counted from its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Acknowledged {
    users: u64,
    messages: u64,
    follows: u64,
    latest: i64,
}

impl Acknowledged {
    /// Counts the registrations and posts `report` saw answered `204`; the
    /// follow edges and `latest` come from the state the (clean) replay
    /// implies, and the counts are checked against that state too.
    fn of(actions: &[Action], report: &ReplayReport) -> Self {
        assert_eq!(actions.len(), report.outcomes.len());
        let mut users = 0;
        let mut messages = 0;
        for (action, outcome) in actions.iter().zip(&report.outcomes) {
            if outcome.got != Ok(204) {
                continue;
            }
            match action.kind {
                ActionKind::Register { .. } => users += 1,
                ActionKind::Tweet { .. } => messages += 1,
                ActionKind::Follow { .. } | ActionKind::Unfollow { .. } => {}
            }
        }
        let expected = &report.expected;
        assert_eq!(users, expected.users.len() as u64);
        assert_eq!(messages, expected.message_count() as u64);
        Self {
            users,
            messages,
            follows: expected
                .users
                .values()
                .map(|user| user.follows.len() as u64)
                .sum(),
            latest: actions.last().unwrap().id,
        }
    }
}

/// Replays `actions` through `clients` (round-robin) and requires every
/// answer to be the correct one; returns what was acknowledged.
async fn replay_all(what: &str, clients: &[SimClient], actions: &[Action]) -> Acknowledged {
    let report = replay(clients, actions, ReplayOptions::default()).await;
    assert_clean_replay(what, &report, actions.len());
    let acknowledged = Acknowledged::of(actions, &report);
    assert!(
        acknowledged.users > 10 && acknowledged.messages > 10 && acknowledged.follows > 0,
        "{what}: too little happened to check anything: {acknowledged:?}"
    );
    eprintln!("{what}: acknowledged {acknowledged:?}");
    acknowledged
}

// ---------------------------------------------------------------------------
// The Prometheus text format

/// One sample of a Prometheus exposition.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Reads a quoted label value starting after its opening quote; returns the
/// value and the rest after the closing quote.
fn quoted(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, other)) => value.push(other),
                None => break,
            },
            '"' => return (value, &text[index + 1..]),
            other => value.push(other),
        }
    }
    panic!("unterminated label value in {text:?}")
}

/// Every sample of an exposition in Prometheus' text format.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..name_end].to_owned();
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            loop {
                rest = rest.trim_start_matches([',', ' ']);
                if let Some(after) = rest.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (label, after) = rest
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("bad labels in {line:?}"));
                let (value, after) = quoted(after);
                labels.insert(label.trim().to_owned(), value);
                rest = after;
            }
        }
        let value = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The value of the one sample named `name` (a gauge without labels).
fn single(samples: &[Sample], name: &str) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0].value
}

/// `GET /metrics` of the server at `base`, with a bearer token if given;
/// requires a `200` in Prometheus' text format.
async fn scrape(http: &reqwest::Client, base: &str, token: Option<&str>) -> Vec<Sample> {
    let mut request = http.get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "GET {base}/metrics");
    let content_type = header(&answer, CONTENT_TYPE.as_str());
    assert!(
        content_type.starts_with("text/plain"),
        "/metrics content type {content_type:?}"
    );
    parse_exposition(&answer.text().await.unwrap())
}

/// The business figures a server reports on `/metrics`.
async fn figures(http: &reqwest::Client, base: &str) -> Acknowledged {
    let samples = scrape(http, base, None).await;
    Acknowledged {
        users: single(&samples, "minitwit_users") as u64,
        messages: single(&samples, "minitwit_messages") as u64,
        follows: single(&samples, "minitwit_follows") as u64,
        latest: single(&samples, "minitwit_latest") as i64,
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------
// /health

/// `GET {base}/health`: the status and the JSON body (`None` when the
/// server does not answer, e.g. while a port is still opening).
async fn health(http: &reqwest::Client, base: &str) -> Option<(StatusCode, serde_json::Value)> {
    let answer = http.get(format!("{base}/health")).send().await.ok()?;
    let status = answer.status();
    let content_type = header(&answer, CONTENT_TYPE.as_str());
    assert!(
        !header(&answer, REQUEST_ID).is_empty(),
        "/health without {REQUEST_ID}"
    );
    let body = answer.text().await.ok()?;
    assert!(
        content_type.starts_with("application/json"),
        "/health content type {content_type:?}: {body}"
    );
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|err| panic!("/health is not JSON ({err}): {body}"));
    Some((status, json))
}

/// Polls `/health` of `base` until it answers `want`; returns how long that
/// took and the body. Panics after [`DEADLINE`] with the last answer.
async fn wait_for_health(
    http: &reqwest::Client,
    base: &str,
    want: StatusCode,
) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    loop {
        let answer = health(http, base).await;
        if let Some((status, json)) = &answer
            && *status == want
        {
            return (started.elapsed(), json.clone());
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{base}/health did not answer {want} within {DEADLINE:?}; last answer: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_healthy(json: &serde_json::Value, store: &str) {
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["store"], store, "{json}");
    assert!(json.get("reason").is_none(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_sled_store_that_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sled_store(dir.path(), "data"), dir.path());
    let http = http_client();
    let (status, json) = health(&http, &server.site()).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_healthy(&json, "sled");
    let samples = scrape(&http, &server.site(), None).await;
    assert_eq!(single(&samples, "minitwit_store_up"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_redis_going_away_and_coming_back_without_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Of our own: this test kills it. Every write survives the kill.
    let mut redis = RedisServer::start(Persistence::AofAlways);
    let namespace = unique_namespace("health");
    let api_port = free_port();
    let api_port_text = api_port.to_string();
    let server = Server::start_with(
        &redis.url(),
        dir.path(),
        &[
            ("MINITWIT_REDIS_NAMESPACE", &namespace),
            ("MINITWIT_REDIS_RESPONSE_TIMEOUT_MS", "1000"),
            ("MINITWIT_API_PORT", &api_port_text),
        ],
    );
    let http = http_client();
    let bases = [server.site(), format!("http://127.0.0.1:{api_port}")];
    for base in &bases {
        // The API port may open a moment after the main one.
        let (_, json) = wait_for_health(&http, base, StatusCode::OK).await;
        assert_healthy(&json, "redis");
    }
    let api = SimClient::new(&server.api()).unwrap();
    api.register("Health Watcher", "h@example.org", "pw-health", Some(1))
        .await
        .unwrap();

    redis.kill();
    eprintln!("killed redis-server on port {}", redis.port());
    for base in &bases {
        let (took, json) = wait_for_health(&http, base, StatusCode::SERVICE_UNAVAILABLE).await;
        eprintln!("{base}/health: 503 {took:.2?} after the kill: {json}");
        assert_eq!(json["status"], "unavailable", "{json}");
        assert_eq!(json["store"], "redis", "{json}");
        let reason = json["reason"].as_str().unwrap_or_default();
        assert!(!reason.trim().is_empty(), "503 without a reason: {json}");
    }
    let samples = scrape(&http, &server.site(), None).await;
    assert_eq!(single(&samples, "minitwit_store_up"), 0.0, "Redis is down");

    redis.restart();
    eprintln!("restarted redis-server on port {}", redis.port());
    for base in &bases {
        let (took, json) = wait_for_health(&http, base, StatusCode::OK).await;
        eprintln!("{base}/health: 200 {took:.2?} after the restart");
        assert_healthy(&json, "redis");
    }
    let samples = scrape(&http, &server.site(), None).await;
    assert_eq!(single(&samples, "minitwit_store_up"), 1.0);
    assert_eq!(single(&samples, "minitwit_users"), 1.0);
    assert_eq!(single(&samples, "minitwit_latest"), 1.0);
    assert!(
        !server.log().contains("panicked"),
        "the server panicked:\n{}",
        server.log()
    );
}

// ---------------------------------------------------------------------------
// Business figures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_figures_equal_what_a_replay_acknowledged_and_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let actions = generated_scenario(dir.path(), 120, 3_000, 12, 1_500);
    let mut server = Server::start(&sled_store(dir.path(), "data"), dir.path());
    let http = http_client();
    let empty = figures(&http, &server.site()).await;
    assert_eq!(
        empty,
        Acknowledged {
            users: 0,
            messages: 0,
            follows: 0,
            latest: -1
        }
    );

    let client = SimClient::builder(server.api())
        .one_connection_per_request(true)
        .build()
        .unwrap();
    let acknowledged = replay_all("on sled", std::slice::from_ref(&client), &actions).await;
    assert_eq!(figures(&http, &server.site()).await, acknowledged);

    let status = server.terminate();
    assert!(status.success(), "SIGTERM: {status}\n{}", server.log());
    server.restart();
    assert_eq!(
        figures(&http, &server.site()).await,
        acknowledged,
        "after a clean restart"
    );

    // A few more writes, then a crash: the counts stay exact.
    client
        .register("Late Arrival", "late@example.org", "pw-late", Some(9_001))
        .await
        .unwrap();
    client
        .post_message("Late Arrival", "just before the crash", Some(9_002))
        .await
        .unwrap();
    let after = Acknowledged {
        users: acknowledged.users + 1,
        messages: acknowledged.messages + 1,
        latest: 9_002,
        ..acknowledged
    };
    server.kill();
    server.restart();
    assert_eq!(
        figures(&http, &server.site()).await,
        after,
        "after SIGKILL and a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_report_the_same_acknowledged_totals() {
    let dir = tempfile::tempdir().unwrap();
    let actions = generated_scenario(dir.path(), 100, 2_000, 34, 1_200);
    let redis = shared_url();
    let namespace = unique_namespace("figures");
    let env = [
        ("MINITWIT_REDIS_NAMESPACE", namespace.as_str()),
        ("MINITWIT_REDIS_RESPONSE_TIMEOUT_MS", "1000"),
    ];
    let mut a = Server::start_with(&redis, dir.path(), &env);
    let b = Server::start_with(&redis, dir.path(), &env);
    let clients: Vec<SimClient> = [&a, &b]
        .iter()
        .map(|server| SimClient::new(&server.api()).unwrap())
        .collect();
    // Action i goes to instance i % 2.
    let acknowledged = replay_all("through two instances", &clients, &actions).await;
    for server in [&a, &b] {
        assert_eq!(
            figures(&http_client(), &server.site()).await,
            acknowledged,
            "instance on port {}",
            server.port
        );
    }
    // A restarted instance reads the same totals from Redis.
    a.kill();
    a.restart();
    assert_eq!(
        figures(&http_client(), &a.site()).await,
        acknowledged,
        "a restarted instance"
    );
}

// ---------------------------------------------------------------------------
// Request ids

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("memory:", dir.path());
    let http = http_client();
    let (api, site) = (server.api(), server.site());
    let credential = minitwit_sim_api::basic_authorization("simulator", "super_safe!");
    let requests: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
        ("API latest", http.get(format!("{api}/latest")), StatusCode::OK),
        (
            "API register",
            http.post(format!("{api}/register"))
                .header(AUTHORIZATION, &credential)
                .json(&serde_json::json!({"username": "Id Tester", "email": "i@example.org", "pwd": "pw"})),
            StatusCode::NO_CONTENT,
        ),
        (
            "API without credential",
            http.get(format!("{api}/msgs")),
            StatusCode::FORBIDDEN,
        ),
        (
            "API unknown path",
            http.get(format!("{api}/no/such/thing")),
            StatusCode::NOT_FOUND,
        ),
        (
            "API wrong method",
            http.delete(format!("{api}/latest")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "API OpenAPI document",
            http.get(format!("{api}/openapi.json")),
            StatusCode::OK,
        ),
        ("site public", http.get(format!("{site}/public")), StatusCode::OK),
        (
            "site unknown page",
            http.get(format!("{site}/no/such/page")),
            StatusCode::NOT_FOUND,
        ),
        (
            "site redirect",
            http.get(format!("{site}/")),
            StatusCode::SEE_OTHER,
        ),
        ("health", http.get(format!("{site}/health")), StatusCode::OK),
        ("metrics", http.get(format!("{site}/metrics")), StatusCode::OK),
    ];
    let mut generated = BTreeSet::new();
    for (index, (what, request, status)) in requests.into_iter().enumerate() {
        let own = format!("test-{index}-a1b2c3");
        let echoed = request
            .try_clone()
            .unwrap()
            .header(REQUEST_ID, &own)
            .send()
            .await
            .unwrap();
        let got = echoed.status();
        // A redirect's exact code is the site's business; a redirect it is.
        if status == StatusCode::SEE_OTHER {
            assert!(got.is_redirection(), "{what}: {got}");
        } else {
            assert_eq!(got, status, "{what}");
        }
        assert_eq!(
            header(&echoed, REQUEST_ID),
            own,
            "{what}: the id is not echoed"
        );

        let fresh = request.send().await.unwrap();
        let id = header(&fresh, REQUEST_ID);
        assert!(!id.is_empty(), "{what}: no {REQUEST_ID} without one");
        assert!(generated.insert(id.clone()), "{what}: {id} was given twice");
    }
    // An id that could forge log lines or flood them is replaced.
    for unsafe_id in ["two words", &"x".repeat(500), "quote\"d"] {
        let answer = http
            .get(format!("{api}/latest"))
            .header(REQUEST_ID, unsafe_id)
            .send()
            .await
            .unwrap();
        let id = header(&answer, REQUEST_ID);
        assert!(
            !id.is_empty() && id != unsafe_id,
            "{unsafe_id:?} came back as {id:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// deploy/: the dashboard's and the alerts' metric names

/// A metric selector in a PromQL expression: the name and its label
/// matchers `(label, operator, value)`.
#[derive(Debug, Clone)]
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

/// PromQL's aggregation operators: a name followed by `(`, `by` or
/// `without`.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Words of PromQL that are no metric names.
const KEYWORDS: [&str; 7] = ["and", "or", "unless", "bool", "inf", "nan", "atan2"];

/// Words followed by a parenthesized list of label names.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The index just past the `close` that balances the `open` at `start`.
fn skip_balanced(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut index = start;
    let mut quote = None;
    while index < chars.len() {
        let c = chars[index];
        match quote {
            Some(_) if c == '\\' => index += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None if c == open => depth += 1,
            None if c == close => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            None => {}
        }
        index += 1;
    }
    panic!(
        "unbalanced {open} in {:?}",
        chars.iter().collect::<String>()
    )
}

/// Parses the label matchers of `{...}` (without the braces).
fn parse_matchers(inner: &str) -> Vec<(String, String, String)> {
    let mut matchers = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let op_at = rest
            .find(['=', '!'])
            .unwrap_or_else(|| panic!("bad matcher in {{{inner}}}"));
        let label = rest[..op_at].trim().to_owned();
        let after_label = &rest[op_at..];
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| after_label.starts_with(op))
            .unwrap_or_else(|| panic!("bad operator in {{{inner}}}"));
        let after_op = after_label[op.len()..].trim_start();
        let quote = after_op.chars().next().unwrap();
        assert!(
            quote == '"' || quote == '\'',
            "unquoted label value in {{{inner}}}"
        );
        let (value, after) = if quote == '"' {
            quoted(&after_op[1..])
        } else {
            let end = after_op[1..].find('\'').unwrap() + 1;
            (after_op[1..end].to_owned(), &after_op[end + 1..])
        };
        matchers.push((label, op.to_owned(), value));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    matchers
}

/// Every metric selector of a PromQL expression (function names,
/// keywords, label lists, ranges, durations and strings left out).
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let next_non_space = |from: usize| {
        (from..chars.len())
            .find(|&index| !chars[index].is_whitespace())
            .unwrap_or(chars.len())
    };
    let word_at = |from: usize| {
        let end = (from..chars.len())
            .find(|&index| !(chars[index].is_ascii_alphanumeric() || chars[index] == '_'))
            .unwrap_or(chars.len());
        chars[from..end].iter().collect::<String>()
    };
    let mut found = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '"' || c == '\'' || c == '`' {
            let end = (index + 1..chars.len())
                .find(|&end| chars[end] == c && chars[end - 1] != '\\')
                .unwrap_or_else(|| panic!("unterminated string in {expr:?}"));
            index = end + 1;
        } else if c == '[' {
            index = skip_balanced(&chars, index, '[', ']');
        } else if c == '{' {
            // A selector without a name outside: only `__name__` could name
            // its metric.
            let end = skip_balanced(&chars, index, '{', '}');
            let inner: String = chars[index + 1..end - 1].iter().collect();
            let matchers = parse_matchers(&inner);
            let name = matchers
                .iter()
                .find(|(label, op, _)| label == "__name__" && op == "=")
                .map(|(_, _, value)| value.clone())
                .unwrap_or_else(|| panic!("a selector without a metric name in {expr:?}"));
            found.push(Selector { name, matchers });
            index = end;
        } else if c == '$' {
            // A Grafana variable outside a selector.
            index += 1;
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric() || chars[index] == '_')
            {
                index += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(index + 1).is_some_and(char::is_ascii_digit))
        {
            // A number or a duration (`6h`, `1.5`, `1e3`).
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric()
                    || chars[index] == '.'
                    || chars[index] == '_')
            {
                index += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = index;
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric()
                    || chars[index] == '_'
                    || chars[index] == ':')
            {
                index += 1;
            }
            let word: String = chars[start..index].iter().collect();
            let next = next_non_space(index);
            let next_char = chars.get(next).copied();
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next_char == Some('(') {
                    index = skip_balanced(&chars, next, '(', ')');
                }
                continue;
            }
            // `offset` (whose duration is skipped as a number), the other
            // keywords, aggregations and function calls name no metric.
            let aggregation = AGGREGATIONS.contains(&lower.as_str())
                && (next_char == Some('(') || ["by", "without"].contains(&word_at(next).as_str()));
            if lower == "offset"
                || KEYWORDS.contains(&lower.as_str())
                || aggregation
                || next_char == Some('(')
            {
                continue;
            }
            let mut matchers = Vec::new();
            if next_char == Some('{') {
                let end = skip_balanced(&chars, next, '{', '}');
                let inner: String = chars[next + 1..end - 1].iter().collect();
                matchers = parse_matchers(&inner);
                index = end;
            }
            found.push(Selector {
                name: word,
                matchers,
            });
        } else {
            index += 1;
        }
    }
    found
}

#[test]
fn the_promql_reader_finds_metric_names_only() {
    let names = |expr: &str| {
        selectors(expr)
            .into_iter()
            .map(|selector| selector.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{x=~"5..", y="z"}[5m]))) > 0.3"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        names(
            "(time() - max by (job) (b)) > 2 * max(c{i=~\"$instance\"} > 0) and on (job) d offset 6h"
        ),
        ["b", "c", "d"]
    );
    assert_eq!(
        names("sum without (lane) (e) / ignoring (x) group_left (y) f or vector(0)"),
        ["e", "f"]
    );
    assert_eq!(names("count(g) + sum(h)"), ["g", "h"]);
    let matchers = &selectors(r#"m{result="done", i=~"$instance", s!="x"}"#)[0].matchers;
    assert_eq!(
        matchers,
        &[
            ("result".into(), "=".into(), "done".into()),
            ("i".into(), "=~".into(), "$instance".into()),
            ("s".into(), "!=".into(), "x".into()),
        ]
    );
}

/// The PromQL expressions of the dashboard (panel targets and templating
/// queries), with where each comes from.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(value: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let here = format!("{path}/{key}");
                    match (key.as_str(), value) {
                        ("expr", serde_json::Value::String(expr)) => {
                            out.push((here, expr.clone()));
                        }
                        ("query" | "definition", serde_json::Value::String(query))
                            if path.contains("templating") =>
                        {
                            out.push((here, query.clone()));
                        }
                        _ => walk(value, &here, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{index}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, "", &mut out);
    out.into_iter()
        .filter(|(_, query)| !query.trim().is_empty())
        .map(|(path, query)| {
            // Grafana's `label_values(metric, label)`: the metric is PromQL.
            match query.trim().strip_prefix("label_values(") {
                Some(args) => {
                    let args = args.trim_end().strip_suffix(')').unwrap();
                    let selector = match args.rfind(',') {
                        Some(comma) if !args[comma..].contains('}') => &args[..comma],
                        _ => args,
                    };
                    (path, selector.to_owned())
                }
                None => (path, query),
            }
        })
        .collect()
}

/// The `expr:` values of a Prometheus rules file: inline, quoted, or block
/// scalars (`|`, `>`, with chomping indicators).
fn rule_expressions(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim_start();
        index += 1;
        let Some(value) = trimmed
            .strip_prefix("expr:")
            .or_else(|| trimmed.strip_prefix("- expr:"))
        else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let indent = line.len() - trimmed.len();
            let mut block = Vec::new();
            while index < lines.len() {
                let next = lines[index];
                let next_indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && next_indent <= indent {
                    break;
                }
                block.push(next.trim());
                index += 1;
            }
            exprs.push(block.join(" "));
        } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            exprs.push(inner.replace("\\\"", "\""));
        } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            exprs.push(inner.replace("''", "'"));
        } else {
            exprs.push(value.to_owned());
        }
    }
    exprs
}

/// Series Prometheus makes itself, for every target.
const SYNTHETIC: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Labels Prometheus attaches to every series of a target.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_the_alerts_use_is_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let backups = backups.display().to_string();
    let server = Server::start_with(
        &sled_store(dir.path(), "data"),
        dir.path(),
        &[
            ("MINITWIT_BACKUP_EVERY", "1h"),
            ("MINITWIT_BACKUP_DIR", &backups),
            ("MINITWIT_ADMIN_TOKEN", "dashboard-admin-token"),
        ],
    );
    // Something of everything: API and site requests, a registration (a
    // password hash), a post, a sign-in.
    let client = SimClient::new(&server.api()).unwrap();
    client
        .register("Dash Board", "d@example.org", "pw-dash", Some(1))
        .await
        .unwrap();
    client
        .post_message("Dash Board", "hello, dashboard", Some(2))
        .await
        .unwrap();
    client.latest().await.unwrap();
    let http = http_client();
    let public = http
        .get(format!("{}/public", server.site()))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    let samples = scrape(&http, &server.site(), None).await;
    let exposed: BTreeSet<&str> = samples.iter().map(|sample| sample.name.as_str()).collect();

    let dashboard_file = deploy_dir().join("grafana/dashboards/minitwit.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboard_file).unwrap()).unwrap();
    let mut queries: Vec<(String, String)> = dashboard_queries(&dashboard)
        .into_iter()
        .map(|(path, query)| (format!("dashboard {path}"), query))
        .collect();
    let dashboard_count = queries.len();
    let alerts = std::fs::read_to_string(deploy_dir().join("alerts.yml")).unwrap();
    let rules = alerts
        .lines()
        .filter(|line| {
            line.trim_start().starts_with("- alert:") || line.trim_start().starts_with("- record:")
        })
        .count();
    let exprs = rule_expressions(&alerts);
    assert_eq!(
        exprs.len(),
        rules,
        "an expression of alerts.yml was not read"
    );
    queries.extend(
        exprs
            .into_iter()
            .enumerate()
            .map(|(index, expr)| (format!("alerts.yml rule {index}"), expr)),
    );
    assert!(
        dashboard_count > 20,
        "only {dashboard_count} dashboard queries read"
    );

    let mut unknown = Vec::new();
    let mut unmatched = Vec::new();
    let mut used = BTreeSet::new();
    for (place, query) in &queries {
        let found = selectors(query);
        assert!(!found.is_empty(), "{place}: no metric in {query:?}");
        for selector in found {
            if SYNTHETIC.contains(&selector.name.as_str()) {
                continue;
            }
            used.insert(selector.name.clone());
            if !exposed.contains(selector.name.as_str()) {
                unknown.push(format!("{place}: {}", selector.name));
                continue;
            }
            // A label value matched exactly must exist, or the query is
            // always empty.
            for (label, op, value) in &selector.matchers {
                if op != "=" || TARGET_LABELS.contains(&label.as_str()) || value.contains('$') {
                    continue;
                }
                let exists = samples.iter().any(|sample| {
                    sample.name == selector.name && sample.labels.get(label) == Some(value)
                });
                if !exists {
                    unmatched.push(format!("{place}: {}{{{label}=\"{value}\"}}", selector.name));
                }
            }
        }
    }
    eprintln!(
        "{} queries use {} metrics, all exposed: {used:?}",
        queries.len(),
        used.len()
    );
    assert!(
        unknown.is_empty(),
        "metrics used in deploy/ that /metrics does not expose:\n{}",
        unknown.join("\n")
    );
    assert!(
        unmatched.is_empty(),
        "label values used in deploy/ that /metrics never has:\n{}",
        unmatched.join("\n")
    );
    for name in [
        "minitwit_users",
        "minitwit_messages",
        "minitwit_http_requests_total",
    ] {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }

    // Every panel asks the datasource Grafana is provisioned with.
    let provisioning = std::fs::read_to_string(
        deploy_dir().join("grafana/provisioning/datasources/prometheus.yaml"),
    )
    .unwrap();
    let uid = provisioning
        .lines()
        .find_map(|line| line.trim().strip_prefix("uid:"))
        .map(|uid| uid.trim().trim_matches(['"', '\'']).to_owned())
        .expect("the datasource has no uid");
    fn datasource_uids(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if key == "datasource" && value["type"] == "prometheus" {
                        out.insert(value["uid"].as_str().unwrap_or_default().to_owned());
                    } else {
                        datasource_uids(value, out);
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    datasource_uids(item, out);
                }
            }
            _ => {}
        }
    }
    let mut uids = BTreeSet::new();
    datasource_uids(&dashboard, &mut uids);
    assert_eq!(
        uids,
        BTreeSet::from([uid]),
        "datasource uids of the dashboard"
    );
}

// ---------------------------------------------------------------------------
// Prometheus

/// A child process killed when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How to get `prometheus` and `promtool`.
const PROMETHEUS_HINT: &str = "these tests need Prometheus' `prometheus` and `promtool` on PATH: \
     install Debian's package with `apt-get install -y prometheus` (scripts/test does)";

/// Runs `promtool ARGS` in `cwd` and requires success.
fn promtool(args: &[&str], cwd: &Path) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|err| panic!("cannot run promtool ({err}): {PROMETHEUS_HINT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_prometheus_configuration_and_the_alert_rules() {
    let deploy = deploy_dir();
    let config = promtool(&["check", "config", "prometheus.yml"], &deploy);
    eprintln!("{config}");
    // The configuration loads the rules: both are checked together.
    assert!(config.contains("alerts.yml"), "{config}");
    let rules = promtool(&["check", "rules", "alerts.yml"], &deploy);
    eprintln!("{rules}");
    assert!(rules.contains("SUCCESS"), "{rules}");
}

/// `GET {prometheus}/api/v1/...`: the `data` of a successful answer, or
/// `None` while Prometheus cannot answer.
async fn prometheus_api(http: &reqwest::Client, url: String) -> Option<serde_json::Value> {
    let answer = http.get(url).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let json: serde_json::Value = answer.json().await.ok()?;
    (json["status"] == "success").then(|| json["data"].clone())
}

/// The value of an instant query that yields one series, or `None` while
/// it yields none.
async fn query_one(http: &reqwest::Client, prometheus: &str, query: &str) -> Option<f64> {
    let mut url = reqwest::Url::parse(&format!("{prometheus}/api/v1/query")).unwrap();
    url.query_pairs_mut().append_pair("query", query);
    let data = prometheus_api(http, url.to_string()).await?;
    let result = data["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_figures_and_evaluates_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let actions = generated_scenario(dir.path(), 60, 1_000, 56, 600);
    // One server scraped as the deployment does, one behind a metrics
    // token as deploy/prometheus.yml describes.
    let open = Server::start(&sled_store(dir.path(), "data"), dir.path());
    let token = "prometheus-scrape-token-5b1e";
    let guarded = Server::start_with("memory:", dir.path(), &[("MINITWIT_METRICS_TOKEN", token)]);
    let acknowledged =
        replay_all("scraped", &[SimClient::new(&open.api()).unwrap()], &actions).await;
    let guarded_client = SimClient::new(&guarded.api()).unwrap();
    for (index, name) in ["Scraped One", "Scraped Two", "Scraped Three"]
        .iter()
        .enumerate()
    {
        guarded_client
            .register(name, "s@example.org", "pw-scraped", Some(index as i64 + 1))
            .await
            .unwrap();
    }

    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, token).unwrap();
    std::fs::copy(
        deploy_dir().join("alerts.yml"),
        dir.path().join("alerts.yml"),
    )
    .unwrap();
    let config = format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: minitwit
    static_configs:
      - targets: ['127.0.0.1:{open}']
  - job_name: minitwit-guarded
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs:
      - targets: ['127.0.0.1:{guarded}']
",
        open = open.port,
        guarded = guarded.port,
        token_file = token_file.display(),
    );
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    promtool(&["check", "config", "prometheus.yml"], dir.path());

    let port = free_port();
    let prometheus_log = dir.path().join("prometheus.log");
    let log = std::fs::File::create(&prometheus_log).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run prometheus ({err}): {PROMETHEUS_HINT}"));
    let mut prometheus_process = Reaped(child);
    let prometheus = format!("http://127.0.0.1:{port}");
    let http = http_client();
    let prometheus_log_text = || std::fs::read_to_string(&prometheus_log).unwrap_or_default();

    let started = Instant::now();
    let wanted = [
        (
            "minitwit_users{job=\"minitwit\"}",
            acknowledged.users as f64,
        ),
        (
            "minitwit_messages{job=\"minitwit\"}",
            acknowledged.messages as f64,
        ),
        (
            "minitwit_follows{job=\"minitwit\"}",
            acknowledged.follows as f64,
        ),
        (
            "minitwit_latest{job=\"minitwit\"}",
            acknowledged.latest as f64,
        ),
        ("up{job=\"minitwit\"}", 1.0),
        ("minitwit_users{job=\"minitwit-guarded\"}", 3.0),
        ("up{job=\"minitwit-guarded\"}", 1.0),
    ];
    for (query, want) in wanted {
        loop {
            let got = query_one(&http, &prometheus, query).await;
            if got == Some(want) {
                eprintln!(
                    "{query} = {want} through Prometheus after {:.2?}",
                    started.elapsed()
                );
                break;
            }
            if let Ok(Some(status)) = prometheus_process.0.try_wait() {
                panic!(
                    "prometheus exited with {status}:\n{}",
                    prometheus_log_text()
                );
            }
            assert!(
                started.elapsed() < PROMETHEUS_DEADLINE,
                "Prometheus answers {query} with {got:?}, not {want}; its log:\n{}",
                prometheus_log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The server's own figures are the same.
    assert_eq!(figures(&http, &open.site()).await, acknowledged);

    // Every alert rule of deploy/ evaluates without error on real series.
    let seen_rules = loop {
        let data = prometheus_api(&http, format!("{prometheus}/api/v1/rules")).await;
        let rules: Vec<serde_json::Value> = data
            .iter()
            .flat_map(|data| data["groups"].as_array().cloned().unwrap_or_default())
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let bad: Vec<String> = rules
            .iter()
            .filter(|rule| rule["health"] == "err")
            .map(|rule| format!("{}: {}", rule["name"], rule["lastError"]))
            .collect();
        assert!(
            bad.is_empty(),
            "alert rules fail to evaluate:\n{}",
            bad.join("\n")
        );
        if !rules.is_empty() && rules.iter().all(|rule| rule["health"] == "ok") {
            break rules.len();
        }
        assert!(
            started.elapsed() < PROMETHEUS_DEADLINE,
            "the alert rules were not all evaluated: {rules:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("{seen_rules} alert rules evaluated without error");
    assert!(seen_rules >= 6, "only {seen_rules} rules loaded");
}

// ---------------------------------------------------------------------------
// Logs

/// A client of the site that keeps cookies as a browser does, and every
/// value of the session cookie it was ever given.
struct Browser {
    http: reqwest::Client,
    site: String,
    jar: BTreeMap<String, String>,
    sessions: BTreeSet<String>,
}

impl Browser {
    fn new(site: String) -> Self {
        Self {
            http: http_client(),
            site,
            jar: BTreeMap::new(),
            sessions: BTreeSet::new(),
        }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.site));
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self
                .jar
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        if !form.is_empty() {
            request = request.form(form);
        }
        let answer = request.send().await.unwrap();
        for set in answer.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            let expired = value.is_empty()
                || set.to_ascii_lowercase().contains("max-age=0")
                || set.contains("1970");
            if name == SESSION_COOKIE && !value.is_empty() {
                self.sessions.insert(value.clone());
            }
            if expired {
                self.jar.remove(&name);
            } else {
                self.jar.insert(name, value);
            }
        }
        answer
    }

    async fn expect_redirect(
        &mut self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
        to: &str,
    ) {
        let answer = self.send(method, path, form).await;
        let status = answer.status();
        let location = header(&answer, LOCATION.as_str());
        assert!(
            status.is_redirection() && location == to,
            "{path}: {status} to {location:?}, not to {to:?}: {}",
            answer.text().await.unwrap_or_default()
        );
    }

    /// Signs up on the site; sent on to the sign-in page.
    async fn sign_up(&mut self, name: &str, email: &str, password: &str) {
        self.expect_redirect(
            reqwest::Method::POST,
            "/register",
            &[
                ("username", name),
                ("email", email),
                ("password", password),
                ("password2", password),
            ],
            "/login",
        )
        .await;
    }

    /// Tries to sign in with a wrong password; requires a refusal.
    async fn sign_in_refused(&mut self, name: &str, wrong_password: &str) {
        let refused = self
            .send(
                reqwest::Method::POST,
                "/login",
                &[("username", name), ("password", wrong_password)],
            )
            .await;
        assert!(
            !refused.status().is_redirection(),
            "a wrong password signed in"
        );
    }

    /// Signs in on the site; sent on to the home timeline.
    async fn sign_in(&mut self, name: &str, password: &str) {
        self.expect_redirect(
            reqwest::Method::POST,
            "/login",
            &[("username", name), ("password", password)],
            "/",
        )
        .await;
    }
}

/// How many home timeline pages the server has read from its store.
async fn home_timeline_reads(http: &reqwest::Client, base: &str) -> f64 {
    scrape(http, base, None)
        .await
        .iter()
        .filter(|sample| {
            sample.name == "minitwit_store_operation_duration_seconds_count"
                && sample.labels.get("operation").map(String::as_str) == Some("home_timeline")
        })
        .map(|sample| sample.value)
        .sum()
}

/// Signing in on the site reads the reader's first home page, so that the
/// page it sends them to comes from the store's home cache: the sign-in
/// itself makes one home timeline read, before any `GET /`; a wrong
/// password makes none.
#[tokio::test]
async fn signing_in_prepares_the_home_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sled_store(dir.path(), "data"), dir.path());
    let http = http_client();
    let (name, password) = ("Early Reader", "early-reader-password");
    let mut browser = Browser::new(server.site());
    browser.sign_up(name, "early@example.org", password).await;
    let before = home_timeline_reads(&http, &server.site()).await;
    browser.sign_in_refused(name, "not the password").await;
    assert_eq!(home_timeline_reads(&http, &server.site()).await, before);
    browser.sign_in(name, password).await;
    assert_eq!(
        home_timeline_reads(&http, &server.site()).await,
        before + 1.0
    );
}

/// Gives the scenario's registrations passwords no log line could hold by
/// chance (`secret-pw-` and the action id).
fn with_distinct_passwords(actions: &mut [Action]) -> Vec<String> {
    let mut passwords = Vec::new();
    for action in actions {
        if let ActionKind::Register { password, .. } = &mut action.kind
            && !password.is_empty()
        {
            *password = format!("secret-pw-{}-Qx7", action.id);
            passwords.push(password.clone());
        }
    }
    passwords
}

/// Drives a server at `level` through everything that handles a
/// secret, stops it, and requires that no secret is in its log.
async fn no_secret_is_logged(format: &str, level: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (api_user, api_password) = ("sim-operator", "api-secret-password-8c2d");
    let admin_token = "admin-secret-token-4e9a";
    let metrics_token = "metrics-secret-token-7f31";
    let wrong_token = "wrong-secret-token-0b6c";
    let mut server = Server::start_with(
        &sled_store(dir.path(), "data"),
        dir.path(),
        &[
            ("MINITWIT_LOG", level),
            ("MINITWIT_LOG_FORMAT", format),
            ("ROCKET_LOG_LEVEL", "debug"),
            ("MINITWIT_API_USER", api_user),
            ("MINITWIT_API_PASSWORD", api_password),
            ("MINITWIT_ADMIN_TOKEN", admin_token),
            ("MINITWIT_METRICS_TOKEN", metrics_token),
        ],
    );
    let mut secrets: Vec<String> = vec![
        api_password.into(),
        admin_token.into(),
        metrics_token.into(),
        wrong_token.into(),
        minitwit_sim_api::basic_authorization(api_user, api_password)
            .trim_start_matches("Basic ")
            .into(),
        minitwit_sim_api::basic_authorization(api_user, "wrong-api-password-3a")
            .trim_start_matches("Basic ")
            .into(),
        "wrong-api-password-3a".into(),
        "$argon2".into(),
        "Bearer".into(),
    ];

    // The simulator API: part of a scenario, and a wrong credential.
    let mut actions = scenario::generate(GeneratorConfig {
        users: 40,
        actions: 400,
        seed: 78,
    });
    secrets.extend(with_distinct_passwords(&mut actions));
    let client = SimClient::builder(server.api())
        .credential(api_user, api_password)
        .build()
        .unwrap();
    replay_all(&format!("at {level} level"), &[client], &actions).await;
    let wrong = SimClient::builder(server.api())
        .credential(api_user, "wrong-api-password-3a")
        .build()
        .unwrap();
    let refused = wrong.messages(Some(5), None).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));

    // The site: sign up, a wrong password, sign in, post, sign out.
    let (name, password, wrong_password) = (
        "Log Reader",
        "site-secret-password-91d0",
        "site-wrong-password-5e2f",
    );
    secrets.extend([password.to_owned(), wrong_password.to_owned()]);
    let mut browser = Browser::new(server.site());
    browser.sign_up(name, "reader@example.org", password).await;
    browser.sign_in_refused(name, wrong_password).await;
    browser.sign_in(name, password).await;
    assert!(
        !browser.sessions.is_empty(),
        "signing in set no session cookie"
    );
    browser
        .expect_redirect(
            reqwest::Method::POST,
            "/add_message",
            &[("text", "Nothing secret in here")],
            "/",
        )
        .await;
    let home = browser.send(reqwest::Method::GET, "/", &[]).await;
    assert_eq!(home.status(), StatusCode::OK);
    let home = home.text().await.unwrap();
    assert!(home.contains("Nothing secret in here"), "{home}");
    browser
        .expect_redirect(reqwest::Method::POST, "/logout", &[], "/public")
        .await;
    secrets.extend(browser.sessions.iter().cloned());

    // The admin backup and the metrics, with and without their tokens.
    let http = http_client();
    let backup = http
        .get(format!("{}/admin/backup", server.site()))
        .bearer_auth(admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(backup.status(), StatusCode::OK);
    assert!(!backup.bytes().await.unwrap().is_empty());
    let backup = http
        .get(format!("{}/admin/backup", server.site()))
        .bearer_auth(wrong_token)
        .send()
        .await
        .unwrap();
    assert_eq!(backup.status(), StatusCode::UNAUTHORIZED);
    scrape(&http, &server.site(), Some(metrics_token)).await;
    let metrics = http
        .get(format!("{}/metrics", server.site()))
        .bearer_auth(wrong_token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);

    // Stopping flushes every line.
    let status = server.terminate();
    assert!(status.success(), "SIGTERM: {status}");
    let log = server.log();
    let lines = log.lines().count();
    let marker = level.to_uppercase();
    let debug_lines = log.lines().filter(|line| line.contains(&marker)).count();
    eprintln!("{format}: {lines} log lines, {debug_lines} at {level} level");
    assert!(
        lines > actions.len(),
        "too few lines to mean anything:\n{log}"
    );
    assert!(
        debug_lines > 0,
        "nothing was logged at {level} level:\n{log}"
    );

    let mut leaks = Vec::new();
    let lower = log.to_lowercase();
    for secret in &secrets {
        if let Some(at) = log.find(secret.as_str()) {
            leaks.push(format!("{secret:?} in: {}", line_around(&log, at)));
        }
    }
    if let Some(at) = lower.find("authorization") {
        leaks.push(format!("\"Authorization\" in: {}", line_around(&log, at)));
    }
    assert!(
        leaks.is_empty(),
        "{format} log at {level} level holds secrets:\n{}",
        leaks.join("\n")
    );
}

/// The log line around byte `at`.
fn line_around(log: &str, at: usize) -> &str {
    let start = log[..at].rfind('\n').map_or(0, |index| index + 1);
    let end = log[at..].find('\n').map_or(log.len(), |index| at + index);
    &log[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_debug_log_in_text() {
    no_secret_is_logged("text", "debug").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_trace_log_in_json() {
    no_secret_is_logged("json", "trace").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_json_lines_with_one_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(
        &sled_store(dir.path(), "data"),
        dir.path(),
        &[
            ("MINITWIT_LOG", "debug"),
            ("MINITWIT_LOG_FORMAT", "json"),
            ("ROCKET_LOG_LEVEL", "debug"),
        ],
    );
    let http = http_client();
    let (api, site) = (server.api(), server.site());
    let credential = minitwit_sim_api::basic_authorization("simulator", "super_safe!");
    // (id, request, method, route template, status)
    let requests = [
        (
            "json-register",
            http.post(format!("{api}/register?latest=5"))
                .header(AUTHORIZATION, &credential)
                .json(&serde_json::json!({"username": "Jason Lines", "email": "j@example.org", "pwd": "pw"})),
            "POST",
            "/api/register",
            204,
        ),
        (
            "json-user-msgs",
            http.get(format!("{api}/msgs/Jason%20Lines?no=5"))
                .header(AUTHORIZATION, &credential),
            "GET",
            "/api/msgs/<username>",
            200,
        ),
        (
            "json-post",
            http.post(format!("{api}/msgs/Jason%20Lines"))
                .header(AUTHORIZATION, &credential)
                .json(&serde_json::json!({"content": "a line of JSON"})),
            "POST",
            "/api/msgs/<username>",
            204,
        ),
        ("json-latest", http.get(format!("{api}/latest")), "GET", "/api/latest", 200),
        (
            "json-405",
            http.put(format!("{api}/latest")),
            "PUT",
            "/api/latest",
            405,
        ),
        (
            "json-user-page",
            http.get(format!("{site}/Jason%20Lines")),
            "GET",
            "/<username>",
            200,
        ),
        ("json-health", http.get(format!("{site}/health")), "GET", "/health", 200),
        ("json-metrics", http.get(format!("{site}/metrics")), "GET", "/metrics", 200),
    ];
    let mut sent = Vec::new();
    for (id, request, method, route, status) in requests {
        let answer = request.header(REQUEST_ID, id).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{id}");
        sent.push((id, method, route, status));
    }
    let missing = http
        .get(format!("{site}/no/such/page"))
        .header(REQUEST_ID, "json-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let status = server.terminate();
    assert!(status.success(), "SIGTERM: {status}");
    let log = server.log();
    let mut by_id: BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>> =
        BTreeMap::new();
    let mut lines = 0;
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        lines += 1;
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("a log line is not JSON ({err}): {line}"));
        let object = json
            .as_object()
            .unwrap_or_else(|| panic!("a log line is not a JSON object: {line}"));
        assert!(
            object.contains_key("timestamp") && object.contains_key("level"),
            "a log line without time or level: {line}"
        );
        if let Some(id) = object.get("request_id").and_then(|id| id.as_str()) {
            by_id.entry(id.to_owned()).or_default().push(object.clone());
        }
    }
    eprintln!("{lines} log lines, all JSON objects");
    for (id, method, route, status) in sent {
        let found = by_id.get(id).cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "{id}: {} lines: {found:?}", found.len());
        let line = &found[0];
        assert_eq!(line["method"], method, "{id}: {line:?}");
        assert_eq!(line["route"], route, "{id}: {line:?}");
        assert_eq!(line["status"], status, "{id}: {line:?}");
        let latency = line["latency_ms"].as_f64();
        assert!(
            latency.is_some_and(|ms| ms >= 0.0),
            "{id}: no latency: {line:?}"
        );
    }
    let not_found = by_id.get("json-404").cloned().unwrap_or_default();
    assert_eq!(not_found.len(), 1, "json-404: {not_found:?}");
    assert_eq!(not_found[0]["status"], 404);
    assert!(not_found[0]["route"].is_string());
}

// ---------------------------------------------------------------------------
// The metrics token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_want_the_bearer_token_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let token = "metrics-token-for-this-test";
    let server = Server::start_with("memory:", dir.path(), &[("MINITWIT_METRICS_TOKEN", token)]);
    let http = http_client();
    let url = format!("{}/metrics", server.site());
    let refused: [(&str, reqwest::RequestBuilder); 5] = [
        ("no token", http.get(&url)),
        ("a wrong token", http.get(&url).bearer_auth("not-the-token")),
        (
            "a longer token",
            http.get(&url).bearer_auth(format!("{token}x")),
        ),
        (
            "the token without Bearer",
            http.get(&url).header(AUTHORIZATION, token),
        ),
        (
            "Basic",
            http.get(&url).basic_auth("prometheus", Some(token)),
        ),
    ];
    for (what, request) in refused {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        let body = answer.text().await.unwrap();
        assert!(!body.contains("minitwit_users"), "{what}: the metrics leak");
    }
    let samples = scrape(&http, &server.site(), Some(token)).await;
    assert_eq!(single(&samples, "minitwit_users"), 0.0);
    // Health stays open to load balancers and container runtimes.
    let (status, json) = health(&http, &server.site()).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_healthy(&json, "memory");
}
