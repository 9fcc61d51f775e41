//! Rate limits: over a limit the site answers 429 with `Retry-After`, and a
//! refused sign-in costs no password hash. Crafted cookies are ignored.

use std::sync::Arc;

use minitwit_core::{Caller, MemoryStore};
use minitwit_web::{RateLimits, WebConfig, stage};
use rocket::http::{Cookie, Header, Status};
use rocket::local::asynchronous::Client;

use crate::common::*;

async fn limited_site(limits: RateLimits) -> (Client, minitwit_core::MiniTwit) {
    let service = service(Arc::new(MemoryStore::new()));
    let config = WebConfig {
        rate_limits: limits,
        ..WebConfig::default()
    };
    let rocket = rocket::custom(figment()).attach(stage(service.clone(), config));
    (Client::tracked(rocket).await.unwrap(), service)
}

#[rocket::async_test]
async fn sign_ins_beyond_the_limit_are_429_and_cost_no_hash() {
    let (client, service) = limited_site(RateLimits {
        sign_in_per_username: 3,
        ..RateLimits::default()
    })
    .await;
    register(&client, "alice", "alice@example.org", "pw").await;
    let attempt = || {
        post(
            &client,
            "/login",
            &[("username", "alice"), ("password", "wrong")],
        )
    };
    for _ in 0..3 {
        let response = attempt().await;
        assert_eq!(
            response.status(),
            Status::Ok,
            "a wrong password shows the form"
        );
    }
    let hashed = service.hash_load(Caller::Site).done;
    let response = attempt().await;
    assert_eq!(response.status(), Status::TooManyRequests);
    let wait: u64 = response
        .headers()
        .get_one("Retry-After")
        .and_then(|value| value.parse().ok())
        .unwrap();
    assert!((1..=21).contains(&wait), "{wait}");
    let body = response.into_string().await.unwrap();
    assert!(body.contains("Too many attempts"), "{body}");
    assert_eq!(
        service.hash_load(Caller::Site).done,
        hashed,
        "a refused sign-in hashed a password"
    );
    // Another name is not limited by this one.
    let response = post(&client, "/login", &[("username", "bob"), ("password", "x")]).await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn sign_ups_and_posts_have_limits_of_their_own() {
    let (client, _) = limited_site(RateLimits {
        sign_up_per_address: 2,
        posts_per_user: 2,
        ..RateLimits::default()
    })
    .await;
    let sign_up = |name: &'static str, from: &'static str| {
        let pairs = [
            ("username", name),
            ("email", "someone@example.org"),
            ("password", "pw"),
            ("password2", "pw"),
        ];
        client
            .post("/register")
            .remote(from.parse().unwrap())
            .header(rocket::http::ContentType::Form)
            .body(form(&pairs))
            .dispatch()
    };
    for name in ["alice", "bob"] {
        let response = sign_up(name, "192.0.2.1:5000").await;
        assert_eq!(location(&response), "/login");
    }
    let response = sign_up("carol", "192.0.2.1:5001").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    // Another address has a budget of its own.
    let response = sign_up("carol", "192.0.2.2:5000").await;
    assert_eq!(location(&response), "/login");
    login(&client, "alice", "pw").await;
    for text in ["one", "two"] {
        let response = post(&client, "/add_message", &[("text", text)]).await;
        assert_eq!(location(&response), "/");
    }
    let response = post(&client, "/add_message", &[("text", "three")]).await;
    assert_eq!(response.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn follow_changes_have_a_limit_of_their_own() {
    let (client, _) = limited_site(RateLimits {
        follows_per_user: 2,
        ..RateLimits::default()
    })
    .await;
    for name in ["alice", "bob"] {
        register(&client, name, &format!("{name}@example.org"), "pw").await;
    }
    login(&client, "alice", "pw").await;
    let response = post(&client, "/bob/follow", &[]).await;
    assert_eq!(location(&response), "/bob");
    let response = post(&client, "/bob/unfollow", &[]).await;
    assert_eq!(location(&response), "/bob");
    let response = post(&client, "/bob/follow", &[]).await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert!(response.headers().get_one("Retry-After").is_some());
    // Posting has a budget of its own.
    let response = post(&client, "/add_message", &[("text", "still here")]).await;
    assert_eq!(location(&response), "/");
}

#[rocket::async_test]
async fn crafted_cookies_are_ignored() {
    let (client, _) = site().await;
    for cookie in [
        ("_flash", "1:%C3%A9"),
        ("_flash", "é"),
        ("minitwit_flash", "s:forged"),
        ("minitwit_session", "1:0:0:x"),
        ("minitwit_session", "\u{1f980}"),
    ] {
        for path in ["/public", "/login", "/", "/register"] {
            let response = client
                .get(path)
                .cookie(Cookie::new(cookie.0, cookie.1))
                .header(Header::new("Accept", "text/html"))
                .dispatch()
                .await;
            assert!(
                response.status().code < 500,
                "{path} with {cookie:?}: {}",
                response.status()
            );
            let body = response.into_string().await.unwrap_or_default();
            assert!(!body.contains("forged"), "a forged flash was shown");
        }
    }
}
