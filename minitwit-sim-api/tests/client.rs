//! The typed client against a real server: Rocket listening on a loopback
//! port, real HTTP through reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use minitwit_core::MemoryStore;
use minitwit_sim_api::{ApiConfig, ClientError, SimClient, stage};
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket, Shutdown, get, post, routes};
use tokio::sync::oneshot;

/// A server with the API at `prefix`; shut down when dropped.
struct Server {
    base: String,
    shutdown: Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts a server with the API at `prefix` and returns once it listens.
async fn start(prefix: &str) -> Server {
    let service = common::service(Arc::new(MemoryStore::new()));
    let api = stage(service, ApiConfig::default().with_prefix(prefix));
    let mut server = launch(rocket::custom(common::figment()).attach(api)).await;
    server.base.push_str(prefix.trim_end_matches('/'));
    server
}

/// Launches `rocket` on a free loopback port and returns once it listens;
/// the base is the server's root.
async fn launch(rocket: Rocket<Build>) -> Server {
    let port = free_port();
    let figment = common::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port));
    let (listening, listening_rx) = oneshot::channel();
    let rocket = rocket
        .configure(figment)
        .attach(AdHoc::on_liftoff("listening", |_| {
            Box::pin(async move {
                let _ = listening.send(());
            })
        }))
        .ignite()
        .await
        .unwrap();
    let shutdown = rocket.shutdown();
    tokio::spawn(rocket.launch());
    listening_rx.await.expect("the server started");
    Server {
        base: format!("http://127.0.0.1:{port}"),
        shutdown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_through_the_client() {
    let server = start("/api").await;
    let client = SimClient::new(&server.base).unwrap();
    assert_eq!(client.latest().await.unwrap(), -1);

    for (id, name) in [(1, "Roger Histand"), (2, "Zoë 日本"), (3, "a/b?c#d%e")] {
        client
            .register(name, "x@example.org", "pw", Some(id))
            .await
            .unwrap();
    }
    let taken = client
        .register("Roger Histand", "x@y", "pw", Some(4))
        .await
        .unwrap_err();
    assert!(
        matches!(&taken, ClientError::Api { status: 400, error_msg } if error_msg == "The username is already taken"),
        "{taken:?}"
    );
    assert_eq!(taken.status(), Some(400));
    assert_eq!(client.latest().await.unwrap(), 4);

    client
        .post_message("Roger Histand", "hello", Some(5))
        .await
        .unwrap();
    client
        .post_message("Zoë 日本", "hej 🦀", None)
        .await
        .unwrap();
    let all = client.messages(None, None).await.unwrap();
    let texts: Vec<(&str, &str)> = all
        .iter()
        .map(|m| (m.user.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(texts, [("Zoë 日本", "hej 🦀"), ("Roger Histand", "hello")]);
    assert_eq!(client.messages(Some(1), None).await.unwrap().len(), 1);
    let mine = client
        .user_messages("Roger Histand", Some(10), None)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].content, "hello");
    assert!(mine[0].pub_date > 0);

    client
        .follow("a/b?c#d%e", "Zoë 日本", Some(6))
        .await
        .unwrap();
    client
        .follow("a/b?c#d%e", "Roger Histand", None)
        .await
        .unwrap();
    client
        .follow("a/b?c#d%e", "Roger Histand", None)
        .await
        .unwrap();
    let follows = client.follows("a/b?c#d%e", None, None).await.unwrap();
    assert_eq!(follows, ["Roger Histand", "Zoë 日本"]);
    assert_eq!(
        client
            .follows("a/b?c#d%e", Some(1), None)
            .await
            .unwrap()
            .len(),
        1
    );
    client
        .unfollow("a/b?c#d%e", "Roger Histand", Some(7))
        .await
        .unwrap();
    client
        .unfollow("a/b?c#d%e", "Roger Histand", None)
        .await
        .unwrap();
    assert_eq!(
        client.follows("a/b?c#d%e", None, None).await.unwrap(),
        ["Zoë 日本"]
    );
    assert_eq!(client.latest().await.unwrap(), 7);

    let missing = client
        .user_messages("nobody", None, Some(8))
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    let missing = client
        .follow("Roger Histand", "nobody", None)
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    let empty = client
        .post_message("Roger Histand", "", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&empty, ClientError::Api { status: 400, error_msg } if error_msg == "You have to enter a message")
    );
    let me = client
        .follow("Roger Histand", "Roger Histand", None)
        .await
        .unwrap_err();
    assert_eq!(me.status(), Some(400));
    assert_eq!(client.latest().await.unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_connections_are_configurable() {
    let server = start("/").await;
    let anonymous = SimClient::builder(&server.base)
        .without_credential()
        .build()
        .unwrap();
    let refused = anonymous.messages(None, Some(3)).await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Api { status: 403, error_msg } if error_msg == minitwit_sim_api::NOT_AUTHORIZED),
        "{refused:?}"
    );
    assert_eq!(anonymous.latest().await.unwrap(), -1);
    let wrong = SimClient::builder(&server.base)
        .credential("simulator", "guess")
        .build()
        .unwrap();
    assert_eq!(
        wrong.follows("x", None, None).await.unwrap_err().status(),
        Some(403)
    );

    // The simulator's way: a new connection per request, `Connection: close`.
    let closing = SimClient::builder(format!("{}/", server.base))
        .one_connection_per_request(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for i in 0..20 {
        closing
            .register(&format!("user {i}"), "u@x", "pw", Some(i))
            .await
            .unwrap();
    }
    assert_eq!(closing.latest().await.unwrap(), 19);
    closing.follow("user 0", "user 1", Some(20)).await.unwrap();
    assert_eq!(
        closing.follows("user 0", None, None).await.unwrap(),
        ["user 1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_timeout_and_a_closed_port_a_transport_error() {
    // Accepts connections (the kernel does) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/api", silent.local_addr().unwrap());
    let client = SimClient::builder(base)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.latest().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout), "{err:?}");

    let closed = format!("http://127.0.0.1:{}/api", free_port());
    let err = SimClient::new(&closed).unwrap().latest().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
}

#[get("/latest")]
fn not_the_api() -> &'static str {
    "<html>a page</html>"
}

#[post("/register")]
fn created() -> rocket::response::status::Created<&'static str> {
    rocket::response::status::Created::new("/somewhere")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_the_apis_are_reported_as_such() {
    let site = rocket::custom(common::figment()).mount("/site", routes![not_the_api, created]);
    let server = launch(site).await;
    // A success whose body is not the endpoint's JSON.
    let site = SimClient::new(&format!("{}/site", server.base)).unwrap();
    let err = site.latest().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "{err:?}");
    // A success that is not the one the simulator expects.
    let err = site.register("a", "a@b", "p", None).await.unwrap_err();
    assert!(
        matches!(err, ClientError::UnexpectedStatus { status: 201 }),
        "{err:?}"
    );
    // A failure whose body is not the API's JSON error keeps its status.
    let elsewhere = SimClient::new(&format!("{}/elsewhere", server.base)).unwrap();
    let err = elsewhere.latest().await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
}

/// A replay with many actions in flight gets every answer a sequential one
/// gets, including the 404 of a follow sent before its target registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_replay_answers_as_the_scenario_order_says() {
    use minitwit_sim_api::scenario::{
        Action, ActionKind, GeneratorConfig, Pace, ReplayOptions, compare, generate, replay,
    };
    let server = start("/api").await;
    let client = SimClient::new(&server.base).unwrap();
    let mut actions = generate(GeneratorConfig {
        users: 150,
        actions: 3_000,
        seed: 11,
    });
    // A follow of a user who registers only later must still be a 404.
    let next_id = actions.len() as i64 + 1;
    let action = |offset: i64, kind| Action {
        id: next_id + offset,
        delay_ms: 0,
        timestamp_ms: 0,
        kind,
    };
    let first = actions[0].kind.username().to_owned();
    actions.push(action(
        0,
        ActionKind::Follow {
            username: first.clone(),
            target: "late comer".into(),
        },
    ));
    actions.push(action(
        1,
        ActionKind::Register {
            username: "late comer".into(),
            email: "late@example.org".into(),
            password: "pw".into(),
        },
    ));
    actions.push(action(
        2,
        ActionKind::Follow {
            username: first,
            target: "late comer".into(),
        },
    ));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let options = ReplayOptions {
        pace: Pace::Max,
        concurrency: 8,
        on_answer: Some(Arc::new({
            let answered = Arc::clone(&answered);
            move |count| {
                answered.fetch_max(count, std::sync::atomic::Ordering::SeqCst);
            }
        })),
    };
    let report = replay(std::slice::from_ref(&client), &actions, options).await;
    assert_eq!(report.requests, actions.len());
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    let last = report.outcomes.len() - 1;
    assert_eq!(report.outcomes[last - 2].got, Ok(404));
    assert_eq!(report.outcomes[last].got, Ok(204));
    assert_eq!(
        answered.load(std::sync::atomic::Ordering::SeqCst),
        actions.len()
    );
    let differences = compare(&client, &report.expected).await.unwrap();
    assert!(differences.is_empty(), "{differences:?}");
}
