//! Cross-site requests that change state are refused, and links to
//! state-changing pages opened from outside the site only ask to confirm;
//! our own pages and non-browser clients act.

use minitwit_core::{PageRequest, Store, Timeline, UserId};
use rocket::http::{ContentType, Status};

use crate::common::*;

const CROSS_SITE: &[(&str, &str)] = &[("Sec-Fetch-Site", "cross-site")];
const EVIL_ORIGIN: &[(&str, &str)] = &[
    ("Host", "localhost:8000"),
    ("Origin", "https://evil.example"),
];

async fn messages(store: &dyn Store) -> usize {
    store
        .timeline(Timeline::Public, PageRequest::first(100))
        .await
        .unwrap()
        .len()
}

#[rocket::async_test]
async fn cross_site_posts_are_refused_with_a_page() {
    let (client, store) = site().await;
    register_and_login(&client, "alice").await;
    for headers in [CROSS_SITE, EVIL_ORIGIN, &[("Sec-Fetch-Site", "same-site")]] {
        let response = post_with(&client, "/add_message", &[("text", "forged")], headers).await;
        assert_eq!(response.status(), Status::Forbidden, "{headers:?}");
        assert_eq!(response.content_type(), Some(ContentType::HTML));
        let body = response.into_string().await.unwrap();
        assert!(body.contains("<h2>Request refused</h2>"));
    }
    assert_eq!(messages(store.as_ref()).await, 0);
}

/// Asserts a page that asks to confirm with a form posting to `action`.
async fn assert_confirmation(
    response: rocket::local::asynchronous::LocalResponse<'_>,
    action: &str,
) {
    assert_eq!(response.status(), Status::Ok);
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<h2>Please confirm</h2>"), "{body}");
    assert!(
        body.contains(&format!("<form action=\"{action}\" method=\"post\"")),
        "{body}"
    );
}

/// A browser that opens a link from a mail (`Sec-Fetch-Site: none`), or
/// from another site, or that sends no fetch metadata and no referrer.
const FROM_OUTSIDE: [&[(&str, &str)]; 4] = [
    &[("Sec-Fetch-Site", "none")],
    CROSS_SITE,
    EVIL_ORIGIN,
    &[(
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    )],
];

#[rocket::async_test]
async fn follow_links_from_outside_only_ask_and_forms_are_refused() {
    let (client, store) = site().await;
    register(&client, "foo", "foo@example.org", "pw").await;
    register_and_login(&client, "bar").await;
    for headers in FROM_OUTSIDE {
        for path in ["/foo/follow", "/foo/unfollow"] {
            let response = get_with(&client, path, headers).await;
            assert_confirmation(response, path).await;
        }
    }
    for headers in [CROSS_SITE, EVIL_ORIGIN] {
        for path in ["/foo/follow", "/foo/unfollow"] {
            let response = post_with(&client, path, &[], headers).await;
            assert_eq!(
                response.status(),
                Status::Forbidden,
                "POST {path} {headers:?}"
            );
        }
    }
    assert!(!store.is_following(UserId(2), UserId(1)).await.unwrap());
}

#[rocket::async_test]
async fn cross_site_login_register_and_logout_are_refused() {
    let (client, store) = site().await;
    register(&client, "alice", "alice@example.org", "pw").await;
    let response = post_with(
        &client,
        "/login",
        &[("username", "alice"), ("password", "pw")],
        CROSS_SITE,
    )
    .await;
    assert_eq!(response.status(), Status::Forbidden);
    let pairs = [
        ("username", "mallory"),
        ("email", "m@x"),
        ("password", "p"),
        ("password2", "p"),
    ];
    let response = post_with(&client, "/register", &pairs, EVIL_ORIGIN).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert!(store.user_by_name("mallory").await.unwrap().is_none());

    login(&client, "alice", "pw").await;
    for headers in FROM_OUTSIDE {
        let response = get_with(&client, "/logout", headers).await;
        assert_confirmation(response, "/logout").await;
    }
    let response = post_with(&client, "/logout", &[], CROSS_SITE).await;
    assert_eq!(response.status(), Status::Forbidden);
    let (_, home) = get(&client, "/").await;
    assert!(home.contains("sign out [alice]"), "still signed in");
    // The confirmation's button signs out.
    let response = post_with(
        &client,
        "/logout",
        &[],
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(location(&response), "/public");
}

#[rocket::async_test]
async fn same_origin_requests_from_our_pages_are_accepted() {
    let (client, store) = site().await;
    register(&client, "foo", "foo@example.org", "pw").await;
    register_and_login(&client, "bar").await;

    let response = post_with(
        &client,
        "/add_message",
        &[("text", "one")],
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(location(&response), "/");
    let same_origin = &[
        ("Host", "localhost:8000"),
        ("Origin", "http://localhost:8000"),
    ];
    let response = post_with(&client, "/add_message", &[("text", "two")], same_origin).await;
    assert_eq!(location(&response), "/");
    assert_eq!(messages(store.as_ref()).await, 2);

    let response = post_with(
        &client,
        "/foo/follow",
        &[],
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(location(&response), "/foo");
    assert!(store.is_following(UserId(2), UserId(1)).await.unwrap());
    // A link on one of our pages.
    let response = get_with(
        &client,
        "/foo/unfollow",
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(location(&response), "/foo");
    assert!(!store.is_following(UserId(2), UserId(1)).await.unwrap());
    // A link typed into the address bar, or opened from a mail: asks.
    let response = get_with(&client, "/foo/follow", &[("Sec-Fetch-Site", "none")]).await;
    assert_confirmation(response, "/foo/follow").await;
    assert!(!store.is_following(UserId(2), UserId(1)).await.unwrap());
}

#[rocket::async_test]
async fn a_client_with_only_the_session_cookie_is_accepted() {
    let (client, store) = site().await;
    register(&client, "foo", "foo@example.org", "pw").await;
    register_and_login(&client, "bar").await;
    let response = client.get("/foo/follow").dispatch().await;
    assert_eq!(location(&response), "/foo");
    assert!(store.is_following(UserId(2), UserId(1)).await.unwrap());
    let response = post(&client, "/add_message", &[("text", "plain")]).await;
    assert_eq!(location(&response), "/");
    assert_eq!(messages(store.as_ref()).await, 1);
}
