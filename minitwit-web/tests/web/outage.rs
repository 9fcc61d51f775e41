//! A store that fails: the site answers with its own 503 and 500 pages, and
//! refuses to start when it cannot read the session key.

use std::sync::Arc;

use minitwit_core::MemoryStore;
use minitwit_core::conformance::{Fault, FaultyStore};
use minitwit_web::{WebConfig, stage};
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;

use crate::common::*;

/// The reference store, able to fail every call on demand.
fn switchable() -> Arc<FaultyStore> {
    Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())))
}

#[rocket::async_test]
async fn an_unavailable_store_shows_the_try_again_page() {
    let store = switchable();
    let client = client_with(store.clone(), WebConfig::default(), figment()).await;
    register_and_login(&client, "alice").await;
    store.set_fault(Some(Fault::Unavailable));
    for path in ["/", "/public", "/alice"] {
        let response = client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::ServiceUnavailable, "{path}");
        assert_eq!(response.content_type(), Some(ContentType::HTML));
        let body = response.into_string().await.unwrap();
        assert!(body.contains("<h2>Temporarily unavailable</h2>"), "{body}");
        assert!(body.contains("try again"));
        assert!(
            !body.contains(FaultyStore::UNAVAILABLE_DETAIL),
            "no details leak"
        );
    }
    store.set_fault(None);
    let (status, body) = get(&client, "/").await;
    assert_eq!(status, Status::Ok);
    assert!(
        body.contains("sign out [alice]"),
        "the session outlived the outage"
    );

    // Signing in needs the password hash, which only the store has.
    get(&client, "/logout").await;
    store.set_fault(Some(Fault::Unavailable));
    let response = post(
        &client,
        "/login",
        &[("username", "alice"), ("password", "x")],
    )
    .await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
}

#[rocket::async_test]
async fn a_broken_store_shows_the_500_page() {
    let store = switchable();
    let client = client_with(store.clone(), WebConfig::default(), figment()).await;
    store.set_fault(Some(Fault::Failing));
    let response = client.get("/public").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<h2>Something went wrong</h2>"));
    assert!(!body.contains(FaultyStore::FAILURE_DETAIL));
}

#[rocket::async_test]
async fn no_start_without_the_session_key() {
    let store = switchable();
    store.set_fault(Some(Fault::Unavailable));
    let rocket = rocket::custom(figment()).attach(stage(service(store), WebConfig::default()));
    match Client::tracked(rocket).await {
        // Looking at the kind marks the error as handled.
        Err(err) => assert!(matches!(
            err.kind(),
            rocket::error::ErrorKind::FailedFairings(_)
        )),
        Ok(_) => panic!("started without a session key"),
    }
}
