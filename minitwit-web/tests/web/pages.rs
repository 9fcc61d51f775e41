//! Every route and exact text of the web contract.

use std::sync::Arc;

use minitwit_core::{MemoryStore, Store, UserId};
use minitwit_web::{AvatarStyle, WebConfig};
use rocket::http::{ContentType, Status};

use crate::common::*;

#[rocket::async_test]
async fn signed_out_home_redirects_to_public() {
    let (client, _) = site().await;
    let response = client.get("/").dispatch().await;
    assert_eq!(location(&response), "/public");
    let (status, body) = follow(&client, response).await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("<title>Public Timeline | MiniTwit</title>"));
    assert!(body.contains("<h2>Public Timeline</h2>"));
    assert!(body.contains("There's no message so far."));
    assert!(body.contains("href=\"/login\">sign in</a>"));
    assert!(body.contains("href=\"/register\">sign up</a>"));
}

#[rocket::async_test]
async fn register_form_has_the_inputs_in_order_and_a_submit_in_actions() {
    let (client, _) = site().await;
    let (status, body) = get(&client, "/register").await;
    assert_eq!(status, Status::Ok);
    assert_eq!(
        attributes(&body, "input", "name"),
        ["username", "email", "password", "password2", ""]
    );
    assert_eq!(attributes(&body, "input", "type")[4], "submit");
    let actions = body.split("class=\"actions\"").nth(1).unwrap();
    assert!(
        actions
            .split("</div>")
            .next()
            .unwrap()
            .contains("type=\"submit\"")
    );
    // Every input has a label.
    for id in ["username", "email", "password", "password2"] {
        assert!(
            body.contains(&format!("<label for=\"{id}\">")),
            "label for {id}"
        );
        assert!(body.contains(&format!("id=\"{id}\"")), "input {id}");
    }
}

#[rocket::async_test]
async fn register_errors_come_in_the_core_order() {
    let (client, _) = site().await;
    register(&client, "taken", "taken@example.org", "pw").await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "You have to enter a username"),
        (
            &[
                ("username", ""),
                ("email", "a@b"),
                ("password", "p"),
                ("password2", "p"),
            ],
            "You have to enter a username",
        ),
        (
            &[
                ("username", "new"),
                ("email", ""),
                ("password", "p"),
                ("password2", "p"),
            ],
            "You have to enter a valid email address",
        ),
        (
            &[
                ("username", "new"),
                ("email", "no-at-sign"),
                ("password", "p"),
                ("password2", "p"),
            ],
            "You have to enter a valid email address",
        ),
        (
            &[
                ("username", "new"),
                ("email", "a@b"),
                ("password", ""),
                ("password2", ""),
            ],
            "You have to enter a password",
        ),
        (
            &[
                ("username", "new"),
                ("email", "a@b"),
                ("password", "p"),
                ("password2", "q"),
            ],
            "The two passwords do not match",
        ),
        (
            &[
                ("username", "taken"),
                ("email", "a@b"),
                ("password", "p"),
                ("password2", "q"),
            ],
            "The two passwords do not match",
        ),
        (
            &[
                ("username", "taken"),
                ("email", "a@b"),
                ("password", "p"),
                ("password2", "p"),
            ],
            "The username is already taken",
        ),
    ];
    for (fields, error) in cases {
        let response = post(&client, "/register", fields).await;
        assert_eq!(response.status(), Status::Ok, "{fields:?}");
        let body = response.into_string().await.unwrap();
        assert!(
            body.contains(&format!("<strong>Error:</strong> {error}</div>")),
            "{fields:?}: {body}"
        );
    }
    // The form keeps what was typed, escaped.
    let response = post(
        &client,
        "/register",
        &[("username", "<b>"), ("email", "x\"y"), ("password", "")],
    )
    .await;
    let body = response.into_string().await.unwrap();
    assert!(body.contains("value=\"&lt;b&gt;\""));
    assert!(body.contains("value=\"x&#34;y\""));
}

#[rocket::async_test]
async fn registering_flashes_and_leads_to_login() {
    let (client, store) = site().await;
    let response = post(
        &client,
        "/register",
        &[
            ("username", "alice"),
            ("email", "alice@example.org"),
            ("password", "pw"),
            ("password2", "pw"),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login");
    let (status, body) = follow(&client, response).await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("<ul class=\"flashes\">"));
    assert!(body.contains("You were successfully registered and can login now"));
    assert!(body.contains("<h2>Sign In</h2>"));
    // A flash shows once.
    let (_, again) = get(&client, "/login").await;
    assert!(!again.contains("You were successfully registered"));
    assert!(store.user_by_name("alice").await.unwrap().is_some());
}

#[rocket::async_test]
async fn login_errors_success_and_signed_in_redirects() {
    let (client, _) = site().await;
    register(&client, "alice", "alice@example.org", "right").await;

    let response = post(
        &client,
        "/login",
        &[("username", "bob"), ("password", "right")],
    )
    .await;
    assert_eq!(response.status(), Status::Ok);
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<strong>Error:</strong> Invalid username</div>"));

    let response = post(
        &client,
        "/login",
        &[("username", "alice"), ("password", "wrong")],
    )
    .await;
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<strong>Error:</strong> Invalid password</div>"));
    assert!(body.contains("value=\"alice\""), "the name is kept");

    let response = post(
        &client,
        "/login",
        &[("username", "alice"), ("password", "right")],
    )
    .await;
    assert_eq!(location(&response), "/");
    let (status, body) = follow(&client, response).await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("You were logged in"));
    assert!(body.contains("<title>My Timeline | MiniTwit</title>"));
    assert!(body.contains("sign out [alice]"));

    for path in ["/login", "/register"] {
        let response = client.get(path).dispatch().await;
        assert_eq!(location(&response), "/", "{path} when signed in");
    }
    let response = post(&client, "/register", &[("username", "x")]).await;
    assert_eq!(location(&response), "/");
}

#[rocket::async_test]
async fn logout_flashes_and_ends_the_session() {
    let (client, _) = site().await;
    register_and_login(&client, "alice").await;
    let response = client.get("/logout").dispatch().await;
    assert_eq!(location(&response), "/public");
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("You were logged out"));
    let response = client.get("/").dispatch().await;
    assert_eq!(location(&response), "/public");
}

#[rocket::async_test]
async fn messages_are_recorded_escaped_and_dated() {
    let (client, _) = site().await;
    register_and_login(&client, "alice").await;
    let response = post(&client, "/add_message", &[("text", "test message 1")]).await;
    assert_eq!(location(&response), "/");
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("Your message was recorded"));
    assert!(body.contains("test message 1"));

    post(&client, "/add_message", &[("text", "<x>")]).await;
    post(
        &client,
        "/add_message",
        &[("text", "Tom & Jerry say \"it's\"")],
    )
    .await;
    let (_, body) = get(&client, "/").await;
    assert!(body.contains("&lt;x&gt;"));
    assert!(!body.contains("<x>"));
    assert!(body.contains("Tom &amp; Jerry say &#34;it&#39;s&#34;"));
    assert!(body.contains("&mdash; 2009-02-13 @ 23:31"));
    let (_, public) = get(&client, "/public").await;
    assert!(public.contains("&lt;x&gt;"));
    let (_, own) = get(&client, "/alice").await;
    assert!(own.contains("test message 1"));
}

#[rocket::async_test]
async fn an_empty_message_is_not_recorded() {
    let (client, store) = site().await;
    register_and_login(&client, "alice").await;
    let response = post(&client, "/add_message", &[("text", "")]).await;
    assert_eq!(location(&response), "/");
    let (_, body) = follow(&client, response).await;
    assert!(!body.contains("Your message was recorded"));
    assert!(body.contains("There's no message so far."));
    let page = store
        .timeline(
            minitwit_core::Timeline::Public,
            minitwit_core::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(page.is_empty());
}

#[rocket::async_test]
async fn signed_out_actions_get_the_401_page() {
    let (client, _) = site().await;
    register(&client, "foo", "foo@example.org", "pw").await;
    let response = post(&client, "/add_message", &[("text", "hi")]).await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<h2>Please sign in</h2>"));
    assert!(body.contains("href=\"/login\""));
    for path in ["/foo/follow", "/foo/unfollow"] {
        let (status, body) = get(&client, path).await;
        assert_eq!(status, Status::Unauthorized, "{path}");
        assert!(body.contains("Please sign in"));
        let response = client.post(path).dispatch().await;
        assert_eq!(response.status(), Status::Unauthorized, "POST {path}");
    }
}

#[rocket::async_test]
async fn unknown_users_get_the_404_page() {
    let (client, _) = site().await;
    let (status, body) = get(&client, "/nobody").await;
    assert_eq!(status, Status::NotFound);
    assert!(body.contains("<h2>Page not found</h2>"));
    assert!(body.contains("<link rel=\"stylesheet\""));
    register_and_login(&client, "alice").await;
    for path in ["/nobody/follow", "/nobody/unfollow"] {
        let (status, body) = get(&client, path).await;
        assert_eq!(status, Status::NotFound, "{path}");
        assert!(body.contains("Page not found"));
        assert!(
            body.contains("sign out [alice]"),
            "the error page knows the viewer"
        );
    }
    let (status, _) = get(&client, "/no/such/page").await;
    assert_eq!(status, Status::NotFound);
}

#[rocket::async_test]
async fn follow_status_line_in_its_three_forms() {
    let (client, _) = site().await;
    register(&client, "foo", "foo@example.org", "pw").await;
    // Signed out: no status line.
    let (_, body) = get(&client, "/foo").await;
    assert!(body.contains("<title>foo's Timeline | MiniTwit</title>"));
    assert!(!body.contains("followstatus"));

    register_and_login(&client, "bar").await;
    let (_, own) = get(&client, "/bar").await;
    assert!(own.contains("This is you!"));
    assert!(own.contains("<h2>bar's Timeline</h2>"));

    let (_, other) = get(&client, "/foo").await;
    assert!(other.contains("You are not yet following this user."));
    assert!(other.contains("<form class=\"inline\" method=\"post\" action=\"/foo/follow\">"));
    assert!(other.contains(">Follow user</button>"));

    let response = client.get("/foo/follow").dispatch().await;
    assert_eq!(location(&response), "/foo");
    let (_, followed) = follow(&client, response).await;
    assert!(followed.contains("You are now following &#34;foo&#34;"));
    assert!(followed.contains("You are currently following this user."));
    assert!(followed.contains("<form class=\"inline\" method=\"post\" action=\"/foo/unfollow\">"));
    assert!(followed.contains(">Unfollow user</button>"));

    let response = client.get("/foo/unfollow").dispatch().await;
    assert_eq!(location(&response), "/foo");
    let (_, unfollowed) = follow(&client, response).await;
    assert!(unfollowed.contains("You are no longer following &#34;foo&#34;"));
    assert!(unfollowed.contains("You are not yet following this user."));
}

#[rocket::async_test]
async fn follow_forms_post_and_home_shows_followed_messages() {
    let (client, store) = site().await;
    register_and_login(&client, "foo").await;
    post(&client, "/add_message", &[("text", "the message by foo")]).await;
    client.get("/logout").dispatch().await;
    register_and_login(&client, "bar").await;
    post(&client, "/add_message", &[("text", "the message by bar")]).await;

    let (_, home) = get(&client, "/").await;
    assert!(home.contains("the message by bar"));
    assert!(!home.contains("the message by foo"));

    let response = client.post("/foo/follow").dispatch().await;
    assert_eq!(location(&response), "/foo");
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("You are now following &#34;foo&#34;"));
    assert!(store.is_following(UserId(2), UserId(1)).await.unwrap());

    let (_, home) = get(&client, "/").await;
    assert!(home.contains("the message by foo") && home.contains("the message by bar"));
    let (_, foo_page) = get(&client, "/foo").await;
    assert!(foo_page.contains("the message by foo") && !foo_page.contains("the message by bar"));

    let response = client.post("/foo/unfollow").dispatch().await;
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("You are no longer following &#34;foo&#34;"));
    assert!(!store.is_following(UserId(2), UserId(1)).await.unwrap());
}

#[rocket::async_test]
async fn following_oneself_flashes_the_core_error() {
    let (client, _) = site().await;
    register_and_login(&client, "foo").await;
    let response = client.get("/foo/follow").dispatch().await;
    assert_eq!(location(&response), "/foo");
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("<li class=\"flash-error\">You cannot follow yourself</li>"));
}

#[rocket::async_test]
async fn usernames_with_spaces_and_markup_work_in_urls() {
    let (client, _) = site().await;
    register_and_login(&client, "Roger Histand").await;
    post(&client, "/add_message", &[("text", "hello")]).await;
    client.get("/logout").dispatch().await;
    register_and_login(&client, "<b>&'\"").await;
    let (_, public) = get(&client, "/public").await;
    assert!(public.contains("href=\"/Roger%20Histand\">Roger Histand</a>"));
    let (status, page) = get(&client, "/Roger%20Histand").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("<h2>Roger Histand's Timeline</h2>"));
    assert!(page.contains("action=\"/Roger%20Histand/follow\""));
    let response = client.get("/Roger%20Histand/follow").dispatch().await;
    assert_eq!(location(&response), "/Roger%20Histand");
    let (_, body) = follow(&client, response).await;
    assert!(body.contains("You are now following &#34;Roger Histand&#34;"));
    assert!(body.contains("sign out [&lt;b&gt;&amp;&#39;&#34;]"));
    let (status, own) = get(&client, "/%3Cb%3E%26%27%22").await;
    assert_eq!(status, Status::Ok);
    assert!(own.contains("This is you!"));
}

#[rocket::async_test]
async fn identicon_avatars_are_served_with_a_long_cache() {
    let (client, _) = site().await;
    register(&client, "ada", "MyEmailAddress@example.com", "pw").await;
    login(&client, "ada", "pw").await;
    post(&client, "/add_message", &[("text", "hello")]).await;
    let (_, body) = get(&client, "/public").await;
    // The address's md5 (Gravatar's hash) never appears: the identicon's
    // URL carries a keyed hash.
    assert!(!body.contains("0bc83cb571cd1c50ba6f3e8a78ef1346"), "{body}");
    let start = body.find("<img src=\"/avatar/").unwrap() + "<img src=\"/avatar/".len();
    let hash = body[start..start + 32].to_owned();
    assert!(body[start + 32..].starts_with(".svg\""), "{body}");

    let response = client.get(format!("/avatar/{hash}.svg")).dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::SVG));
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    let svg = response.into_string().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<rect"));

    for bad in [
        "/avatar/xyz.svg".to_owned(),
        format!("/avatar/{}.svg", hash.to_uppercase()),
        format!("/avatar/{hash}.png"),
    ] {
        let (status, _) = get(&client, &bad).await;
        assert_eq!(status, Status::NotFound, "{bad}");
    }
}

#[rocket::async_test]
async fn gravatar_links_when_configured() {
    let store = Arc::new(MemoryStore::new());
    let config = WebConfig {
        avatars: AvatarStyle::Gravatar,
        ..WebConfig::default()
    };
    let client = client_with(store, config, figment()).await;
    register(&client, "ada", "MyEmailAddress@example.com", "pw").await;
    login(&client, "ada", "pw").await;
    post(&client, "/add_message", &[("text", "hello")]).await;
    let response = client.get("/public").dispatch().await;
    let csp = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' https://www.gravatar.com"));
    let body = response.into_string().await.unwrap();
    assert!(body.contains(
        "src=\"https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=identicon&amp;s=48\""
    ));
}

#[rocket::async_test]
async fn assets_are_embedded_and_cached() {
    let (client, _) = site().await;
    let (_, page) = get(&client, "/public").await;
    let stylesheet = attributes(&page, "link", "href")[0].to_owned();
    assert!(stylesheet.starts_with("/static/style.css?v="));
    let response = client.get(stylesheet).dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::CSS));
    assert!(
        response
            .headers()
            .get_one("Cache-Control")
            .unwrap()
            .contains("max-age")
    );
    let css = response.into_string().await.unwrap();
    assert!(css.contains(":focus-visible") && css.contains("max-width") && css.contains("@media"));

    assert!(page.contains("<link rel=\"icon\" href=\"/favicon.svg\""));
    for icon in ["/favicon.svg", "/favicon.ico"] {
        let response = client.get(icon).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{icon}");
        assert_eq!(response.content_type(), Some(ContentType::SVG));
    }
}

#[rocket::async_test]
async fn pages_carry_security_headers_and_no_scripts() {
    let (client, _) = site().await;
    let response = client.get("/public").dispatch().await;
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let csp = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let body = response.into_string().await.unwrap();
    assert!(!body.contains("<script"));
    assert!(body.contains("<meta name=\"viewport\""));
}

#[rocket::async_test]
async fn a_missing_template_directory_is_no_error() {
    let store = Arc::new(MemoryStore::new());
    let figment = figment().merge(("template_dir", "/nonexistent/minitwit/templates"));
    let client = client_with(store, WebConfig::default(), figment).await;
    let (status, body) = get(&client, "/public").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("Public Timeline"));
}
