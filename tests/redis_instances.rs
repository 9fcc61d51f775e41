//! End to end: several stateless `minitwit serve` processes on one real
//! `redis-server`. They hold no state of their own, so any request can go to
//! any instance: a scenario replayed alternately through two of them is
//! stored exactly, a session started on one is valid on the other, and when
//! Redis goes away (killed, or stalled) both answer `503` quickly and recover
//! by themselves once it is back, with every acknowledged write still there.
//!
//! The tests that do not kill Redis share one server, in a namespace each:
//! `MINITWIT_TEST_REDIS_URL` when it is set, otherwise a `redis-server`
//! started for this test binary. The fault tests always start a
//! `redis-server` of their own (`minitwit_store_redis::test_server`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use minitwit_sim_api::SimClient;
use minitwit_sim_api::client::ClientError;
use minitwit_sim_api::scenario::{
    self, Action, ActionKind, ExpectedState, GeneratorConfig, ReplayOptions, replay,
};
use minitwit_store_redis::test_server::{Persistence, RedisServer, shared_url, unique_namespace};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use support::{Server, assert_clean_replay, assert_holds};

/// The Redis command deadline the instances run with: the default (250 ms)
/// is tuned for production; a test machine shared with compilers needs more
/// room to keep "0 errors" meaningful. It does not change how a dead Redis is
/// noticed: a refused connection fails at once.
const REDIS_RESPONSE_TIMEOUT_MS: &str = "1000";

/// An upper bound on one answer while Redis is down that only catches hangs;
/// the measured times are printed.
const HANG: Duration = Duration::from_secs(2);

/// How long the instances get to recover after Redis is back.
const RECOVERY: Duration = Duration::from_secs(10);

/// Starts `count` instances on `store` at once (so they also race to set up
/// the shared session key), each on its own port, all in one namespace.
fn start_instances(
    count: usize,
    store: &str,
    namespace: &str,
    log_dir: &std::path::Path,
) -> Vec<Server> {
    start_instances_with(count, store, namespace, log_dir, REDIS_RESPONSE_TIMEOUT_MS)
}

/// [`start_instances`] with another Redis command deadline, in ms.
fn start_instances_with(
    count: usize,
    store: &str,
    namespace: &str,
    log_dir: &std::path::Path,
    response_timeout_ms: &str,
) -> Vec<Server> {
    let env = [
        ("MINITWIT_REDIS_NAMESPACE", namespace),
        ("MINITWIT_REDIS_RESPONSE_TIMEOUT_MS", response_timeout_ms),
    ];
    std::thread::scope(|scope| {
        let starting: Vec<_> = (0..count)
            .map(|_| scope.spawn(|| Server::start_with(store, log_dir, &env)))
            .collect();
        starting
            .into_iter()
            .map(|handle| handle.join().expect("an instance failed to start"))
            .collect()
    })
}

/// A simulator-like client of `server`'s API: one connection per request.
fn sim_client(server: &Server) -> SimClient {
    SimClient::builder(server.api())
        .one_connection_per_request(true)
        .build()
        .unwrap()
}

/// A plain HTTP client that does not follow redirects, keeps no cookies and
/// cannot hang a test.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_replayed_alternately_through_two_instances_is_stored_exactly() {
    let logs = tempfile::tempdir().unwrap();
    let redis = shared_url();
    let namespace = unique_namespace("replay");
    let instances = start_instances(2, &redis, &namespace, logs.path());
    let clients: Vec<SimClient> = instances.iter().map(sim_client).collect();
    for client in &clients {
        assert_eq!(client.latest().await.unwrap(), -1, "a new namespace");
    }

    let actions = scenario::generate(GeneratorConfig {
        users: 150,
        actions: 2_500,
        seed: 4242,
    });
    // Action i goes to instance i % 2: every user's requests hop between
    // the two.
    let report = replay(&clients, &actions, ReplayOptions::default()).await;
    assert_clean_replay("replayed over two instances", &report, actions.len());
    let expected = report.expected;
    assert!(expected.users.len() > 100 && expected.message_count() > 1_000);

    // Each instance sees everything, whichever instance wrote it.
    for client in &clients {
        assert_holds(client, &expected, "after the replay").await;
    }
    let last = actions.last().unwrap().id;
    for client in &clients {
        assert_eq!(
            client.latest().await.unwrap(),
            last,
            "{}",
            client.base_url()
        );
    }
    // The public timeline is the same, message for message, on both.
    let public_a = clients[0].messages(Some(10_000), None).await.unwrap();
    let public_b = clients[1].messages(Some(10_000), None).await.unwrap();
    assert_eq!(public_a.len(), expected.message_count());
    assert!(public_a == public_b, "the public timelines differ");
    eprintln!(
        "both instances hold {} users, {} messages, latest {last}",
        expected.users.len(),
        public_a.len()
    );
}

/// The value of the `name` cookie that `response` sets, as `name=value`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(key, value)| key.trim() == name && !value.is_empty())
        })
        .map(|pair| pair.trim().to_owned())
}

/// The name of the site's session cookie.
const SESSION_COOKIE: &str = "minitwit_session";

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Signs `username` up through the site at `site`, as its form does.
async fn sign_up(http: &reqwest::Client, site: &str, username: &str, password: &str) {
    let registered = http
        .post(format!("{site}/register"))
        .form(&[
            ("username", username),
            ("email", "someone@example.org"),
            ("password", password),
            ("password2", password),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        registered.status().is_redirection() && location(&registered) == "/login",
        "sign-up on {site}: {} to {:?}",
        registered.status(),
        location(&registered)
    );
}

/// Signs in through the site at `site`; returns the session cookie as
/// `name=value`.
async fn sign_in(http: &reqwest::Client, site: &str, username: &str, password: &str) -> String {
    let signed_in = http
        .post(format!("{site}/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    assert!(
        signed_in.status().is_redirection() && location(&signed_in) == "/",
        "sign-in on {site}: {} to {:?}",
        signed_in.status(),
        location(&signed_in)
    );
    set_cookie(&signed_in, SESSION_COOKIE)
        .unwrap_or_else(|| panic!("signing in on {site} sets no {SESSION_COOKIE} cookie"))
}

/// Whether `session` signs `username` in on the site at `site`: `/` is
/// their home timeline.
async fn assert_signed_in(http: &reqwest::Client, site: &str, session: &str, username: &str) {
    let home = http
        .get(format!("{site}/"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    let status = home.status();
    let redirect = location(&home);
    let body = home.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "{site} does not accept the session (redirects to {redirect:?}):\n{body}"
    );
    assert!(
        body.contains("My Timeline"),
        "not the home timeline:\n{body}"
    );
    assert!(
        body.contains(username),
        "the page does not name {username}:\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_on_one_instance_is_valid_on_the_other() {
    let logs = tempfile::tempdir().unwrap();
    let redis = shared_url();
    let namespace = unique_namespace("session");
    let instances = start_instances(2, &redis, &namespace, logs.path());
    let (a, b) = (instances[0].site(), instances[1].site());
    let http = http_client();
    let (username, password) = ("Grace Hopper", "cobol-1959");

    // Sign up and sign in on A.
    sign_up(&http, &a, username, password).await;
    let session = sign_in(&http, &a, username, password).await;

    // Without the cookie, B sends a visitor to the public timeline...
    let anonymous = http.get(format!("{b}/")).send().await.unwrap();
    assert!(anonymous.status().is_redirection());
    assert_eq!(location(&anonymous), "/public");
    // ...with A's cookie, B shows Grace her own timeline.
    assert_signed_in(&http, &b, &session, username).await;

    // Post through B; A shows it.
    let text = "Posted through instance B, read through instance A";
    let posted = http
        .post(format!("{b}/add_message"))
        .header(COOKIE, &session)
        .form(&[("text", text)])
        .send()
        .await
        .unwrap();
    assert!(
        posted.status().is_redirection() && location(&posted) == "/",
        "posting on B: {} to {:?}",
        posted.status(),
        location(&posted)
    );
    let public_on_a = http.get(format!("{a}/public")).send().await.unwrap();
    assert_eq!(public_on_a.status(), StatusCode::OK);
    let public_on_a = public_on_a.text().await.unwrap();
    assert!(
        public_on_a.contains(text) && public_on_a.contains(username),
        "A's public timeline lacks the message posted on B:\n{public_on_a}"
    );
    assert_signed_in(&http, &a, &session, username).await;
    let home_on_a = http
        .get(format!("{a}/"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    let home_on_a = home_on_a.text().await.unwrap();
    assert!(
        home_on_a.contains(text),
        "A's home timeline lacks the message posted on B:\n{home_on_a}"
    );
    // A session started on B works on A too.
    let session_b = sign_in(&http, &b, username, password).await;
    assert_signed_in(&http, &a, &session_b, username).await;

    // And the simulator API of either instance sees the same.
    let api = sim_client(&instances[0]);
    let messages = api.user_messages(username, Some(10), None).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].content, text);
}

/// What an instance answered while Redis was down.
struct Probe {
    what: String,
    status: StatusCode,
    content_type: String,
    body: String,
    latency: Duration,
}

async fn probe(request: reqwest::RequestBuilder, what: String) -> Probe {
    let started = Instant::now();
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("{what}: no answer: {err}"));
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    let latency = started.elapsed();
    eprintln!("{what}: {status} in {latency:.2?}");
    Probe {
        what,
        status,
        content_type,
        body,
        latency,
    }
}

/// Checks an API answer while Redis is down: a quick `503` with the API's
/// JSON error.
fn assert_api_unavailable(probe: &Probe) {
    let Probe { what, body, .. } = probe;
    assert_eq!(
        probe.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {body}"
    );
    assert!(probe.latency < HANG, "{what} hung for {:?}", probe.latency);
    assert!(
        probe.content_type.starts_with("application/json"),
        "{what}: content type {:?}",
        probe.content_type
    );
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|err| panic!("{what}: not JSON ({err}): {body}"));
    assert_eq!(json["status"], 503, "{what}: {body}");
    let message = json["error_msg"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no error_msg: {body}");
    let lower = message.to_lowercase();
    assert!(
        !lower.contains("redis") && !lower.contains("127.0.0.1") && !lower.contains("refused"),
        "{what}: the error leaks store details: {message}"
    );
}

/// Checks a page answer while Redis is down: a quick `503` HTML page.
fn assert_page_unavailable(probe: &Probe) {
    let Probe { what, body, .. } = probe;
    assert_eq!(
        probe.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {body}"
    );
    assert!(probe.latency < HANG, "{what} hung for {:?}", probe.latency);
    assert!(
        probe.content_type.starts_with("text/html"),
        "{what}: content type {:?}",
        probe.content_type
    );
    assert!(
        body.contains("<html") && body.contains("Temporarily unavailable"),
        "{what}: not the unavailable page:\n{body}"
    );
}

/// Replays `actions` after a state reached by earlier ones, round-robin over
/// `clients` starting with the first, and returns the answers that differ
/// from a correct server's, as `(action id, expected, got)`.
async fn continue_replay(
    clients: &[SimClient],
    state: &mut ExpectedState,
    actions: &[Action],
) -> Vec<(i64, u16, String)> {
    let mut errors = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        let expected = state.apply(action);
        let client = &clients[index % clients.len()];
        let latest = Some(action.id);
        let outcome = match &action.kind {
            ActionKind::Register {
                username,
                email,
                password,
            } => client.register(username, email, password, latest).await,
            ActionKind::Tweet { username, text } => {
                client.post_message(username, text, latest).await
            }
            ActionKind::Follow { username, target } => {
                client.follow(username, target, latest).await
            }
            ActionKind::Unfollow { username, target } => {
                client.unfollow(username, target, latest).await
            }
        };
        let got = match outcome {
            Ok(()) => Ok(204),
            Err(err) => err.status().ok_or_else(|| err.to_string()),
        };
        if got != Ok(expected) {
            errors.push((action.id, expected, format!("{got:?}")));
        }
    }
    errors
}

/// Polls `latest` through `client` until it answers, for at most
/// [`RECOVERY`]; returns how long that took and how many calls failed.
async fn wait_for_recovery(client: &SimClient) -> (Duration, usize, Result<i64, ClientError>) {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        let result = client.latest().await;
        if result.is_ok() || started.elapsed() > RECOVERY {
            return (started.elapsed(), failures, result);
        }
        failures += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_instances_answer_503_while_redis_is_down_and_recover_when_it_is_back() {
    let logs = tempfile::tempdir().unwrap();
    // Always a server of our own: this test kills it.
    let mut redis = RedisServer::start(Persistence::AofEverySec);
    let namespace = unique_namespace("faults");
    let instances = start_instances(2, &redis.url(), &namespace, logs.path());
    let clients: Vec<SimClient> = instances.iter().map(sim_client).collect();

    let actions = scenario::generate(GeneratorConfig {
        users: 100,
        actions: 1_600,
        seed: 7_003,
    });
    let (before, after) = actions.split_at(1_000);

    // The first part of the scenario, through both instances.
    let report = replay(&clients, before, ReplayOptions::default()).await;
    assert_clean_replay("before Redis goes away", &report, before.len());
    let mut state = report.expected;
    let last_before = before.last().unwrap().id;
    // Someone to act as in the probes.
    let someone = state.users.keys().next().unwrap().clone();

    // Someone signed in on the site: signed up on A, signed in on B.
    let http = http_client();
    let (site_user, site_password) = ("Site Visitor", "visitor-password");
    sign_up(&http, &instances[0].site(), site_user, site_password).await;
    let session = sign_in(&http, &instances[1].site(), site_user, site_password).await;

    // Redis syncs its append-only file every second: let the last write
    // reach the disk, then crash it.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    redis.kill();
    eprintln!("killed redis-server on port {}", redis.port());

    let authorization = ("Authorization", "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh");
    let mut probes = Vec::new();
    for (name, server) in ["A", "B"].into_iter().zip(&instances) {
        let api = server.api();
        let site = server.site();
        let encoded = someone.replace(' ', "%20");
        let api_probes = [
            probe(
                http.get(format!("{api}/latest")),
                format!("{name}: GET /api/latest"),
            )
            .await,
            probe(
                http.get(format!("{api}/msgs?no=20"))
                    .header(authorization.0, authorization.1),
                format!("{name}: GET /api/msgs"),
            )
            .await,
            probe(
                http.post(format!("{api}/msgs/{encoded}?latest=999999"))
                    .header(authorization.0, authorization.1)
                    .json(&serde_json::json!({ "content": "written while Redis is down" })),
                format!("{name}: POST /api/msgs/{someone}"),
            )
            .await,
            probe(
                http.post(format!("{api}/register"))
                    .header(authorization.0, authorization.1)
                    .json(&serde_json::json!({
                        "username": "Nobody Yet", "email": "n@example.org", "pwd": "pw"
                    })),
                format!("{name}: POST /api/register"),
            )
            .await,
        ];
        for answer in &api_probes {
            assert_api_unavailable(answer);
        }
        let page_probes = [
            probe(
                http.get(format!("{site}/public")),
                format!("{name}: GET /public"),
            )
            .await,
            probe(
                http.get(format!("{site}/{encoded}")),
                format!("{name}: GET /{someone}"),
            )
            .await,
            probe(
                http.get(format!("{site}/")).header(COOKIE, &session),
                format!("{name}: GET / signed in"),
            )
            .await,
            probe(
                http.post(format!("{site}/login"))
                    .form(&[("username", site_user), ("password", site_password)]),
                format!("{name}: POST /login"),
            )
            .await,
        ];
        for answer in &page_probes {
            assert_page_unavailable(answer);
        }
        probes.extend(api_probes);
        probes.extend(page_probes);
    }
    let slowest = probes.iter().map(|probe| probe.latency).max().unwrap();
    eprintln!(
        "{} answers while Redis was down, all 503, slowest {slowest:.2?}",
        probes.len()
    );

    // Back on the same port, from the same append-only file.
    let down_since = Instant::now();
    redis.restart();
    eprintln!(
        "restarted redis-server on port {} after {:.2?}",
        redis.port(),
        down_since.elapsed()
    );
    for (name, client) in ["A", "B"].into_iter().zip(&clients) {
        let (took, failures, result) = wait_for_recovery(client).await;
        eprintln!("{name}: first 2xx {took:.2?} after the restart, after {failures} failed calls");
        let latest = result.unwrap_or_else(|err| {
            panic!("instance {name} did not recover within {RECOVERY:?}: {err}")
        });
        // Nothing answered 503 was applied, and everything answered 204
        // before the crash is there.
        assert_eq!(latest, last_before, "instance {name}: /latest");
    }
    for client in &clients {
        assert_holds(client, &state, "after Redis came back").await;
    }
    // The session still works on both, and signing in works again.
    for server in &instances {
        assert_signed_in(&http, &server.site(), &session, site_user).await;
        let again = sign_in(&http, &server.site(), site_user, site_password).await;
        assert_signed_in(&http, &server.site(), &again, site_user).await;
    }

    // New writes succeed, through both, and the rest of the scenario plays
    // out as if nothing had happened.
    let errors = continue_replay(&clients, &mut state, after).await;
    assert!(
        errors.is_empty(),
        "after recovery: {} unexpected answers, first ones: {:?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    for client in &clients {
        assert_holds(client, &state, "after the rest of the scenario").await;
    }
    assert_eq!(clients[1].latest().await.unwrap(), after.last().unwrap().id);
    for (name, server) in ["A", "B"].into_iter().zip(&instances) {
        let log = server.log();
        assert!(
            !log.contains("panicked"),
            "instance {name} panicked:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_makes_both_instances_answer_503_and_they_recover_when_it_resumes() {
    let logs = tempfile::tempdir().unwrap();
    // Always a server of our own: this test stops it.
    let redis = RedisServer::start(Persistence::AofEverySec);
    let namespace = unique_namespace("stall");
    // What a stalled Redis costs each request is this deadline: close to the
    // production default (250 ms), a little more for a loaded machine.
    let instances = start_instances_with(2, &redis.url(), &namespace, logs.path(), "300");
    let clients: Vec<SimClient> = instances.iter().map(sim_client).collect();
    let (a, b) = (&clients[0], &clients[1]);
    a.register("Stalled Writer", "s@example.org", "pw", Some(1))
        .await
        .unwrap();
    b.post_message("Stalled Writer", "before the stall", Some(2))
        .await
        .unwrap();

    // A stopped Redis keeps its connections open and answers nothing.
    redis.pause();
    let http = http_client();
    let authorization = ("Authorization", "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh");
    let mut probes = Vec::new();
    for (name, server) in ["A", "B"].into_iter().zip(&instances) {
        let api = server.api();
        let answers = [
            probe(
                http.get(format!("{api}/latest")),
                format!("{name}: GET /api/latest (stalled)"),
            )
            .await,
            probe(
                http.get(format!("{api}/msgs/Stalled%20Writer"))
                    .header(authorization.0, authorization.1),
                format!("{name}: GET /api/msgs/Stalled Writer (stalled)"),
            )
            .await,
        ];
        for answer in &answers {
            assert_api_unavailable(answer);
        }
        let page = probe(
            http.get(format!("{}/public", server.site())),
            format!("{name}: GET /public (stalled)"),
        )
        .await;
        assert_page_unavailable(&page);
        probes.extend(answers);
        probes.push(page);
    }
    // A write that times out may still be applied once Redis resumes (the
    // command had been sent), as the store documents: count what happened.
    let write = probe(
        http.post(format!("{}/msgs/Stalled%20Writer", instances[0].api()))
            .header(authorization.0, authorization.1)
            .json(&serde_json::json!({ "content": "during the stall" })),
        "A: POST /api/msgs/Stalled Writer (stalled)".to_owned(),
    )
    .await;
    assert_api_unavailable(&write);
    probes.push(write);
    let slowest = probes.iter().map(|probe| probe.latency).max().unwrap();
    eprintln!(
        "{} answers while Redis was stalled, all 503, slowest {slowest:.2?}",
        probes.len()
    );

    redis.resume();
    for (name, client) in ["A", "B"].into_iter().zip(&clients) {
        let (took, failures, result) = wait_for_recovery(client).await;
        eprintln!("{name}: first 2xx {took:.2?} after the resume, after {failures} failed calls");
        result.unwrap_or_else(|err| {
            panic!("instance {name} did not recover within {RECOVERY:?}: {err}")
        });
    }
    a.post_message("Stalled Writer", "after the stall", Some(3))
        .await
        .unwrap();
    for client in &clients {
        let texts: Vec<String> = client
            .user_messages("Stalled Writer", Some(10), None)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|message| message.content)
            .collect();
        let during = texts
            .iter()
            .filter(|text| *text == "during the stall")
            .count();
        eprintln!(
            "{}: the write answered 503 during the stall was applied {during} times",
            client.base_url()
        );
        let others: Vec<&String> = texts
            .iter()
            .filter(|text| *text != "during the stall")
            .collect();
        assert_eq!(others, ["before the stall", "after the stall"]);
        assert!(
            during <= 1,
            "a timed-out write was applied twice: {texts:?}"
        );
        assert_eq!(client.latest().await.unwrap(), 3);
    }
}
