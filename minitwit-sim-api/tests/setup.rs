//! How the API is staged and configured, and how it fails: the default
//! password hashing cost, another credential, other limits, a Rocket that
//! also serves an HTML site with its own state and catchers, invalid
//! configurations, and a store that breaks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{AUTH, Api, Auth, FORBIDDEN, figment, service};
use minitwit_core::conformance::{Fault, FaultyStore};
use minitwit_core::{MemoryStore, MiniTwit, texts};
use minitwit_sim_api::{ApiConfig, basic_authorization, stage};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::{catch, catchers, get, routes};

#[tokio::test]
async fn registration_works_with_the_default_hash_cost() {
    let service = MiniTwit::builder(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let rocket = rocket::custom(figment()).attach(stage(service.clone(), ApiConfig::default()));
    let api = Api::from_rocket("/api".into(), rocket).await;
    let body = r#"{"username":"ann","email":"a@b","pwd":"a real password"}"#;
    api.post("/register?latest=2", body)
        .await
        .assert_no_content();
    api.tweet("ann", "hi").await;
    assert_eq!(api.latest().await, 2);
    // The password was hashed so that it verifies.
    service
        .authenticate("ann", "a real password")
        .await
        .unwrap();
}

#[tokio::test]
async fn another_credential_replaces_the_simulators() {
    let config = ApiConfig::default().with_credential("replayer", "s3cret");
    let api = Api::with_config(config).await;
    api.get("/msgs").await.assert_error_msg(403, FORBIDDEN);
    let mut request = api.client.get("/api/msgs");
    request.add_header(Header::new(
        "Authorization",
        basic_authorization("replayer", "s3cret"),
    ));
    assert_eq!(request.dispatch().await.status(), Status::Ok);
}

#[tokio::test]
async fn limits_are_configurable() {
    let config = ApiConfig {
        prefix: "/sim".into(),
        max_no: 3,
        default_no: 2,
        max_body_bytes: 40,
        ..ApiConfig::default()
    };
    let api = Api::with_config(config).await;
    api.post("/register", r#"{"username":"a","email":"a@b","pwd":"p"}"#)
        .await
        .assert_no_content();
    for i in 0..5 {
        api.tweet("a", &format!("m{i}")).await;
    }
    assert_eq!(api.messages("/msgs").await.len(), 2);
    assert_eq!(api.messages("/msgs/a?no=1").await.len(), 1);
    assert_eq!(api.messages("/msgs/a?no=4").await.len(), 3);
    assert_eq!(api.messages("/msgs?no=1000000").await.len(), 3);
    let text = api
        .post(
            "/msgs/a",
            r#"{"content":"this one is more than forty bytes long"}"#,
        )
        .await
        .assert_error(413);
    assert!(text.contains("40"), "{text}");
}

#[catch(404)]
fn html_not_found() -> (ContentType, &'static str) {
    (ContentType::HTML, "<h1>Not found</h1>")
}

#[catch(default)]
fn html_error() -> (ContentType, &'static str) {
    (ContentType::HTML, "<h1>Error</h1>")
}

#[get("/")]
fn home() -> &'static str {
    "home"
}

#[tokio::test]
async fn the_api_lives_beside_a_site_with_its_own_state_and_catchers() {
    let service = service(Arc::new(MemoryStore::new()));
    let rocket = rocket::custom(figment())
        .manage(service.clone())
        .mount("/", routes![home])
        .register("/", catchers![html_not_found, html_error])
        .attach(stage(service, ApiConfig::default()));
    let api = Api::from_rocket("/api".into(), rocket).await;
    api.get("/nope").await.assert_error(404);
    api.send(Method::Get, "/msgs", Auth::Missing, None, None)
        .await
        .assert_error_msg(403, FORBIDDEN);
    let site = api.client.get("/nope").dispatch().await;
    assert_eq!(site.status(), Status::NotFound);
    assert_eq!(site.content_type(), Some(ContentType::HTML));
    let site = api.client.get("/apis/x").dispatch().await;
    assert_eq!(site.content_type(), Some(ContentType::HTML));
    assert_eq!(
        api.client
            .get("/")
            .dispatch()
            .await
            .into_string()
            .await
            .as_deref(),
        Some("home")
    );
}

#[tokio::test]
async fn an_invalid_prefix_stops_ignition() {
    for prefix in ["api", "/api?x=1", "/a//b", "/a b"] {
        let config = ApiConfig::default().with_prefix(prefix);
        let rocket = common::rocket_with(config);
        assert_fairing_failed(Client::tracked(rocket).await);
    }
}

#[tokio::test]
async fn staging_twice_on_one_rocket_stops_ignition() {
    let service = service(Arc::new(MemoryStore::new()));
    let rocket = rocket::custom(figment())
        .attach(stage(service.clone(), ApiConfig::default()))
        .attach(stage(service, ApiConfig::default().with_prefix("/v2")));
    assert_fairing_failed(Client::tracked(rocket).await);
}

/// Asserts that ignition failed because of a fairing (the API's stage).
#[track_caller]
fn assert_fairing_failed(ignited: Result<Client, rocket::Error>) {
    match ignited {
        Ok(_) => panic!("ignition succeeded"),
        // Looking at the kind marks the error handled, so dropping it does
        // not abort.
        Err(err) => assert!(
            matches!(err.kind(), rocket::error::ErrorKind::FailedFairings(_)),
            "{err}"
        ),
    }
}

#[get("/boom")]
fn boom() -> &'static str {
    panic!("a handler bug with /secret/path in its message")
}

#[tokio::test]
async fn a_panic_under_the_prefix_is_a_json_500() {
    let rocket = common::rocket_with(ApiConfig::default()).mount("/api", routes![boom]);
    let api = Api::from_rocket("/api".into(), rocket).await;
    let text = api.get("/boom").await.assert_error(500);
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn store_failures_are_500_or_503_without_details() {
    let store = Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())));
    let rocket =
        rocket::custom(figment()).attach(stage(service(store.clone()), ApiConfig::default()));
    let api = Api::from_rocket("/api".into(), rocket).await;
    let requests: [(Method, &str, Option<&str>); 8] = [
        (Method::Get, "/latest", None),
        (Method::Get, "/msgs?latest=4", None),
        (
            Method::Post,
            "/register",
            Some(r#"{"username":"a","email":"a@b","pwd":"p"}"#),
        ),
        (Method::Get, "/msgs", None),
        (Method::Get, "/msgs/a", None),
        (Method::Post, "/msgs/a", Some(r#"{"content":"x"}"#)),
        (Method::Get, "/fllws/a", None),
        (Method::Post, "/fllws/a", Some(r#"{"unfollow":"b"}"#)),
    ];
    for (fault, status, text) in [
        (Fault::Failing, 500, texts::INTERNAL),
        (Fault::Unavailable, 503, texts::UNAVAILABLE),
    ] {
        store.set_fault(Some(fault));
        for (method, path, body) in requests {
            let answer = api
                .send(method, path, Auth::Right, Some(ContentType::JSON), body)
                .await;
            assert_eq!(answer.assert_error(status), text, "{method} {path}");
            for detail in [
                FaultyStore::UNAVAILABLE_DETAIL,
                FaultyStore::FAILURE_DETAIL,
                "10.9.8.7",
                "/var/lib",
            ] {
                assert!(!answer.body.contains(detail), "{}", answer.body);
            }
        }
        // Validation that needs no store still answers 400, and a missing
        // credential still 403.
        let answer = api
            .post("/register", r#"{"username":"","email":"a@b","pwd":"p"}"#)
            .await;
        answer.assert_error(400);
        let answer = api
            .send(Method::Get, "/msgs", Auth::Missing, None, None)
            .await;
        answer.assert_error(403);
    }
}

#[tokio::test]
async fn the_local_client_sees_the_exact_error_body() {
    let api = Api::new("/api").await;
    let mut request = api.client.get("/api/msgs");
    request.add_header(Header::new("Authorization", format!("{AUTH}x")));
    let body = request.dispatch().await.into_string().await.unwrap();
    assert_eq!(
        body,
        r#"{"status":403,"error_msg":"You are not authorized to use this resource!"}"#
    );
}
