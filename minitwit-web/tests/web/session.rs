//! The session cookie: its attributes, and its key kept in the store.

use std::sync::Arc;

use minitwit_core::{MemoryStore, Store};
use minitwit_web::WebConfig;
use rocket::http::{Cookie, Status};
use rocket::local::asynchronous::Client;

use crate::common::*;

const SESSION: &str = "minitwit_session";

/// Signs in on `client` and returns the raw (encrypted) session cookie and
/// its whole `Set-Cookie` line.
async fn sign_in_cookie(client: &Client, username: &str) -> (String, String) {
    register(client, username, &format!("{username}@example.org"), "pw").await;
    let response = post(
        client,
        "/login",
        &[("username", username), ("password", "pw")],
    )
    .await;
    assert_eq!(location(&response), "/");
    let line = response
        .headers()
        .get("Set-Cookie")
        .find(|line| line.starts_with(&format!("{SESSION}=")))
        .expect("a session cookie")
        .to_owned();
    // The value as the browser stores it (the header percent-encodes it).
    let value = response.cookies().get(SESSION).unwrap().value().to_owned();
    (value, line)
}

async fn home_with_cookie(client: &Client, value: &str) -> Status {
    client
        .get("/")
        .cookie(Cookie::new(SESSION, value.to_owned()))
        .dispatch()
        .await
        .status()
}

#[rocket::async_test]
async fn the_session_cookie_is_http_only_and_lax() {
    let (client, _) = site().await;
    let (value, line) = sign_in_cookie(&client, "alice").await;
    // The plain value is `user:generation:issued:store`; sealed, it is base64
    // (which has no colon) and never shows the name.
    assert!(
        !value.contains("alice") && !value.contains(':'),
        "encrypted: {value}"
    );
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Lax"), "{line}");
    assert!(!line.contains("Secure"), "{line}");
    // One lifetime: Max-Age and Expires agree (30 days by default).
    assert!(line.contains("Max-Age=2592000"), "{line}");
    let expires = line
        .split("; ")
        .find_map(|part| part.strip_prefix("Expires="))
        .expect("an Expires attribute");
    let expires = rocket::time::OffsetDateTime::parse(
        expires,
        &rocket::time::format_description::well_known::Rfc2822,
    )
    .unwrap_or_else(|err| panic!("{expires}: {err}"));
    let days = (expires - rocket::time::OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
    assert!(
        (29.9..=30.1).contains(&days),
        "Expires is {days} days away: {line}"
    );

    let store = Arc::new(MemoryStore::new());
    let config = WebConfig {
        secure_cookies: true,
        ..WebConfig::default()
    };
    let secure = client_with(store, config, figment()).await;
    let (_, line) = sign_in_cookie(&secure, "alice").await;
    assert!(line.contains("Secure"), "{line}");
}

#[rocket::async_test]
async fn instances_on_one_store_share_the_session_key() {
    let store = Arc::new(MemoryStore::new());
    let first = client_with(store.clone(), WebConfig::default(), figment()).await;
    let second = client_with(store.clone(), WebConfig::default(), figment()).await;
    let (value, _) = sign_in_cookie(&first, "alice").await;

    assert_eq!(
        home_with_cookie(&second, &value).await,
        Status::Ok,
        "accepted by the other instance"
    );
    let page = second
        .get("/")
        .cookie(Cookie::new(SESSION, value.clone()))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(page.contains("sign out [alice]"));

    // A restart on the same store keeps the session too.
    drop(first);
    let restarted = client_with(store.clone(), WebConfig::default(), figment()).await;
    assert_eq!(home_with_cookie(&restarted, &value).await, Status::Ok);

    // The key is in the store, 64 bytes.
    let key = store
        .get_or_init_secret("session-key", &[9; 64])
        .await
        .unwrap();
    assert_eq!(key.len(), 64);
    assert_ne!(key, vec![9; 64]);

    // Another store has another key: the same user there is not signed in.
    let other_store = Arc::new(MemoryStore::new());
    let other = client_with(other_store, WebConfig::default(), figment()).await;
    register(&other, "alice", "alice@example.org", "pw").await;
    assert_eq!(home_with_cookie(&other, &value).await, Status::SeeOther);
}

#[rocket::async_test]
async fn a_configured_secret_key_wins_over_the_store() {
    let key = vec![42u8; 64];
    let first_store = Arc::new(MemoryStore::new());
    let first = client_with(
        first_store.clone(),
        WebConfig::default(),
        figment().merge(("secret_key", key.clone())),
    )
    .await;
    // A second instance on the same store, with the same configured key.
    let second = client_with(
        first_store.clone(),
        WebConfig::default(),
        figment().merge(("secret_key", key.clone())),
    )
    .await;
    let (value, _) = sign_in_cookie(&first, "alice").await;
    assert_eq!(home_with_cookie(&second, &value).await, Status::Ok);
    // The same key on another store: the cookie decrypts, but it names
    // another store, so nobody is signed in there, not even the user who
    // has the same name and id.
    let other = client_with(
        Arc::new(MemoryStore::new()),
        WebConfig::default(),
        figment().merge(("secret_key", key)),
    )
    .await;
    register(&other, "alice", "alice@example.org", "pw").await;
    assert_eq!(home_with_cookie(&other, &value).await, Status::SeeOther);
    // The stage never created a key in the store.
    let stored = first_store
        .get_or_init_secret("session-key", &[7; 64])
        .await
        .unwrap();
    assert_eq!(stored, vec![7; 64]);
}

#[rocket::async_test]
async fn tampered_cookies_sign_nobody_in() {
    let (client, _) = site().await;
    let (value, _) = sign_in_cookie(&client, "alice").await;
    let mut tampered = value.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let fresh = client_with(
        Arc::new(MemoryStore::new()),
        WebConfig::default(),
        figment(),
    )
    .await;
    assert_eq!(home_with_cookie(&fresh, &tampered).await, Status::SeeOther);
    assert_eq!(
        home_with_cookie(&fresh, "1:1234").await,
        Status::SeeOther,
        "a plain value is not a session"
    );
}

#[rocket::async_test]
async fn signing_out_ends_every_copy_of_the_session_on_every_instance() {
    let store = Arc::new(MemoryStore::new());
    let key = figment().merge(("secret_key", vec![5u8; 64]));
    let first = client_with(store.clone(), WebConfig::default(), key.clone()).await;
    let second = client_with(store, WebConfig::default(), key).await;
    let (copied, _) = sign_in_cookie(&first, "alice").await;
    assert_eq!(home_with_cookie(&second, &copied).await, Status::Ok);

    // Sign out on the first instance, with the cookie the browser holds.
    let response = first
        .get("/logout")
        .cookie(Cookie::new(SESSION, copied.clone()))
        .dispatch()
        .await;
    assert_eq!(location(&response), "/public");
    for instance in [&first, &second] {
        assert_eq!(
            home_with_cookie(instance, &copied).await,
            Status::SeeOther,
            "a cookie copied before sign-out still signs in"
        );
        let posted = instance
            .post("/add_message")
            .cookie(Cookie::new(SESSION, copied.clone()))
            .header(rocket::http::ContentType::Form)
            .body("text=after+sign-out")
            .dispatch()
            .await;
        assert_eq!(posted.status(), Status::Unauthorized);
    }
    // Signing in again works, with a new cookie.
    let response = post(
        &second,
        "/login",
        &[("username", "alice"), ("password", "pw")],
    )
    .await;
    let fresh = response.cookies().get(SESSION).unwrap().value().to_owned();
    assert_eq!(home_with_cookie(&first, &fresh).await, Status::Ok);
    assert_eq!(home_with_cookie(&first, &copied).await, Status::SeeOther);
}
