//! The simulator API through Rocket's local client, over the in-memory
//! store. Every check in the first part runs once per prefix (`/api`, `/v2`
//! and the root) to show that nothing depends on where the API is mounted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Answer, Api, Auth, FORBIDDEN, encode};
use minitwit_core::{MAX_MESSAGE_CHARS, MAX_REQUEST_BODY_BYTES};
use rocket::http::{ContentType, Method, Status};
use serde_json::json;

/// Runs each named check against the API mounted at each prefix.
macro_rules! at_every_prefix {
    ($($check:ident),* $(,)?) => {
        mod at_api {
            $( #[tokio::test] async fn $check() { super::$check(super::Api::new("/api").await).await } )*
        }
        mod at_v2 {
            $( #[tokio::test] async fn $check() { super::$check(super::Api::new("/v2/").await).await } )*
        }
        mod at_root {
            $( #[tokio::test] async fn $check() { super::$check(super::Api::new("/").await).await } )*
        }
    };
}

at_every_prefix!(
    latest_is_minus_one_at_first_and_needs_no_credential,
    latest_last_write_wins,
    latest_is_recorded_whatever_the_outcome,
    latest_is_not_recorded_for_a_403,
    a_non_integer_latest_is_a_400,
    every_protected_endpoint_wants_the_credential,
    register_answers_204_and_refuses_a_taken_name,
    register_validates_in_the_contracts_order,
    messages_are_newest_first_in_the_contracts_shape,
    no_defaults_to_100_and_is_clamped,
    a_non_integer_no_is_a_400,
    posting_wants_content,
    following_is_a_set,
    follow_requests_are_checked,
    unknown_users_are_404_on_every_user_route,
    bad_bodies_get_json_errors,
    unknown_routes_get_json_errors,
    names_with_spaces_and_unicode_work_in_paths,
    names_that_could_deceive_are_refused,
    no_answer_leaks_a_password_or_hash,
);

/// Every endpoint that wants the credential: method, path, body.
const PROTECTED: [(Method, &str, Option<&str>); 6] = [
    (
        Method::Post,
        "/register",
        Some(r#"{"username":"new","email":"n@x","pwd":"p"}"#),
    ),
    (Method::Get, "/msgs", None),
    (Method::Get, "/msgs/ann", None),
    (Method::Post, "/msgs/ann", Some(r#"{"content":"hi"}"#)),
    (Method::Get, "/fllws/ann", None),
    (Method::Post, "/fllws/ann", Some(r#"{"follow":"bob"}"#)),
];

async fn latest_is_minus_one_at_first_and_needs_no_credential(api: Api) {
    for auth in [Auth::Missing, Auth::Wrong, Auth::Right] {
        let answer = api.send(Method::Get, "/latest", auth, None, None).await;
        assert_eq!(answer.status, Status::Ok);
        assert_eq!(answer.content_type, Some(ContentType::JSON));
        assert_eq!(answer.json(), json!({ "latest": -1 }));
    }
    // Reading it records nothing, even with a credential and a value.
    api.send(Method::Get, "/latest?latest=5", Auth::Right, None, None)
        .await;
    assert_eq!(api.latest().await, -1);
}

async fn latest_last_write_wins(api: Api) {
    api.get("/msgs?latest=1337").await;
    assert_eq!(api.latest().await, 1337);
    api.post(
        "/register?latest=1",
        r#"{"username":"a","email":"a@b","pwd":"p"}"#,
    )
    .await
    .assert_no_content();
    assert_eq!(api.latest().await, 1);
    api.get("/fllws/a?no=3&latest=-20").await;
    assert_eq!(api.latest().await, -20);
}

async fn latest_is_recorded_whatever_the_outcome(api: Api) {
    api.register("ann").await;
    api.post(
        "/register?latest=10",
        r#"{"username":"ann","email":"a@b","pwd":"p"}"#,
    )
    .await
    .assert_error_msg(400, "The username is already taken");
    assert_eq!(api.latest().await, 10);
    api.get("/msgs/nobody?latest=11").await.assert_error(404);
    assert_eq!(api.latest().await, 11);
    api.post("/msgs/ann?latest=12", "{not json")
        .await
        .assert_error(400);
    assert_eq!(api.latest().await, 12);
    api.get("/msgs?no=x&latest=13").await.assert_error(400);
    assert_eq!(api.latest().await, 13);
    api.post("/fllws/ann?latest=14", r#"{"follow":"ann"}"#)
        .await
        .assert_error(400);
    assert_eq!(api.latest().await, 14);
    // Writes hand `latest` to the store with the write; every way they can
    // fail records it too.
    api.post("/fllws/ann?latest=15", "{}")
        .await
        .assert_error(400);
    assert_eq!(api.latest().await, 15);
    api.post("/msgs/nobody?latest=16", r#"{"content":"hi"}"#)
        .await
        .assert_error(404);
    assert_eq!(api.latest().await, 16);
    api.post("/fllws/ann?latest=17", r#"{"unfollow":"nobody"}"#)
        .await
        .assert_error(404);
    assert_eq!(api.latest().await, 17);
    api.post("/msgs/nobody?latest=18", r#"{"content":""}"#)
        .await
        .assert_error(404);
    assert_eq!(api.latest().await, 18);
    api.post("/msgs/ann?latest=19", r#"{"content":""}"#)
        .await
        .assert_error(400);
    assert_eq!(api.latest().await, 19);
    api.post(
        "/register?latest=20",
        r#"{"username":"bo","email":"no at","pwd":"p"}"#,
    )
    .await
    .assert_error(400);
    assert_eq!(api.latest().await, 20);
    api.post("/msgs/ann?latest=21", r#"{"content":"hi"}"#).await;
    assert_eq!(api.latest().await, 21);
}

async fn latest_is_not_recorded_for_a_403(api: Api) {
    api.get("/msgs?latest=3").await;
    for auth in [Auth::Missing, Auth::Wrong] {
        for (method, path, body) in PROTECTED {
            let path = format!("{path}?latest=99");
            let answer = api
                .send(method, &path, auth, Some(ContentType::JSON), body)
                .await;
            answer.assert_error_msg(403, FORBIDDEN);
        }
    }
    assert_eq!(api.latest().await, 3);
}

async fn a_non_integer_latest_is_a_400(api: Api) {
    api.get("/msgs?latest=8").await;
    let huge = "9".repeat(30);
    for value in ["abc", "1.5", "", "1e3", huge.as_str()] {
        let text = api
            .get(&format!("/msgs?latest={value}"))
            .await
            .assert_error(400);
        assert!(text.contains("latest"), "{text}");
        let answer = api
            .post(
                &format!("/register?latest={value}"),
                r#"{"username":"x","email":"x@y","pwd":"p"}"#,
            )
            .await;
        answer.assert_error(400);
    }
    // The request was refused before its handler ran: nobody registered.
    api.get("/msgs/x").await.assert_error(404);
    assert_eq!(api.latest().await, 8);
    // The credential is checked first.
    let answer = api
        .send(Method::Get, "/msgs?latest=abc", Auth::Missing, None, None)
        .await;
    answer.assert_error_msg(403, FORBIDDEN);
}

async fn every_protected_endpoint_wants_the_credential(api: Api) {
    api.register("bob").await;
    api.post("/register", r#"{"username":"ann","email":"a@b","pwd":"p"}"#)
        .await
        .assert_no_content();
    for (method, path, body) in PROTECTED {
        for auth in [Auth::Missing, Auth::Wrong] {
            let answer = api
                .send(method, path, auth, Some(ContentType::JSON), body)
                .await;
            answer.assert_error_msg(403, FORBIDDEN);
        }
        let answer = api
            .send(method, path, Auth::Right, Some(ContentType::JSON), body)
            .await;
        assert!(
            answer.status.class().is_success(),
            "{method} {path}: {answer:?}"
        );
    }
    // A wrong credential with a body the endpoint would refuse is still a 403.
    let answer = api
        .send(
            Method::Post,
            "/msgs/ann",
            Auth::Wrong,
            Some(ContentType::Text),
            Some("x"),
        )
        .await;
    answer.assert_error_msg(403, FORBIDDEN);
}

async fn register_answers_204_and_refuses_a_taken_name(api: Api) {
    let body = r#"{"username":"ann","email":"ann@example.org","pwd":"secret"}"#;
    let answer = api.post("/register", body).await;
    answer.assert_no_content();
    api.post("/register", body)
        .await
        .assert_error_msg(400, "The username is already taken");
    // Another name is fine.
    api.post(
        "/register",
        r#"{"username":"Ann","email":"ann@example.org","pwd":"x"}"#,
    )
    .await
    .assert_no_content();
}

async fn register_validates_in_the_contracts_order(api: Api) {
    const USERNAME: &str = "You have to enter a username";
    const EMAIL: &str = "You have to enter a valid email address";
    const PASSWORD: &str = "You have to enter a password";
    const TAKEN: &str = "The username is already taken";
    api.register("taken").await;
    let cases = [
        (json!({}), USERNAME),
        (json!({ "email": "bad", "pwd": "" }), USERNAME),
        (
            json!({ "username": "", "email": "a@b", "pwd": "p" }),
            USERNAME,
        ),
        (
            json!({ "username": null, "email": "a@b", "pwd": "p" }),
            USERNAME,
        ),
        (json!({ "username": "u", "pwd": "p" }), EMAIL),
        (json!({ "username": "u", "email": "", "pwd": "p" }), EMAIL),
        (
            json!({ "username": "u", "email": "no-at-sign", "pwd": "" }),
            EMAIL,
        ),
        (json!({ "username": "u", "email": "a@b" }), PASSWORD),
        (
            json!({ "username": "u", "email": "a@b", "pwd": "" }),
            PASSWORD,
        ),
        (
            json!({ "username": "taken", "email": "bad", "pwd": "p" }),
            EMAIL,
        ),
        (
            json!({ "username": "taken", "email": "a@b", "pwd": "" }),
            PASSWORD,
        ),
        (
            json!({ "username": "taken", "email": "a@b", "pwd": "p" }),
            TAKEN,
        ),
    ];
    for (body, text) in cases {
        let answer = api.post("/register", &body.to_string()).await;
        assert_eq!(answer.assert_error(400), text, "{body}");
    }
    // None of the refused registrations created a user.
    api.get("/msgs/u").await.assert_error(404);
}

async fn messages_are_newest_first_in_the_contracts_shape(api: Api) {
    assert_eq!(api.messages("/msgs").await, []);
    api.register("ann").await;
    api.register("bob").await;
    assert_eq!(api.messages("/msgs/ann").await, []);
    api.tweet("ann", "first").await;
    api.tweet("bob", "second <b>&</b> \"quoted\"").await;
    api.tweet("ann", "third 🦀").await;
    let all = api.messages("/msgs").await;
    let expected = [
        ("ann", "third 🦀"),
        ("bob", "second <b>&</b> \"quoted\""),
        ("ann", "first"),
    ];
    let pairs: Vec<(&str, &str)> = all.iter().map(|(u, c)| (u.as_str(), c.as_str())).collect();
    assert_eq!(pairs, expected);
    let anns = api.messages("/msgs/ann").await;
    let pairs: Vec<(&str, &str)> = anns.iter().map(|(u, c)| (u.as_str(), c.as_str())).collect();
    assert_eq!(pairs, [("ann", "third 🦀"), ("ann", "first")]);
    // pub_date is seconds since the epoch, as an integer.
    let first = &api.get("/msgs?no=1").await.json()[0];
    let pub_date = first["pub_date"].as_i64().expect("integer pub_date");
    assert!(pub_date > 1_600_000_000, "{first}");
}

async fn no_defaults_to_100_and_is_clamped(api: Api) {
    api.register("ann").await;
    for i in 0..105 {
        api.tweet("ann", &format!("message {i}")).await;
    }
    for path in ["/msgs", "/msgs/ann"] {
        let default = api.messages(path).await;
        assert_eq!(default.len(), 100, "{path}");
        assert_eq!(default[0].1, "message 104");
        assert_eq!(api.messages(&format!("{path}?no=3")).await.len(), 3);
        assert_eq!(api.messages(&format!("{path}?no=0")).await.len(), 0);
        assert_eq!(api.messages(&format!("{path}?no=-1")).await.len(), 0);
        assert_eq!(
            api.messages(&format!("{path}?no=-999999999999999999999"))
                .await
                .len(),
            0
        );
        assert_eq!(api.messages(&format!("{path}?no=104")).await.len(), 104);
        assert_eq!(api.messages(&format!("{path}?no=100000")).await.len(), 105);
        let huge = "9".repeat(50);
        assert_eq!(api.messages(&format!("{path}?no={huge}")).await.len(), 105);
    }
    for i in 0..102 {
        let name = format!("user {i}");
        api.register(&name).await;
        api.change_follow("ann", "follow", &name)
            .await
            .assert_no_content();
    }
    assert_eq!(api.follows("ann").await.len(), 100);
    let two = api.get("/fllws/ann?no=2").await.json();
    assert_eq!(two, json!({ "follows": ["user 0", "user 1"] }));
    let none = api.get("/fllws/ann?no=-5").await.json();
    assert_eq!(none, json!({ "follows": [] }));
    let all = api.get("/fllws/ann?no=50000").await.json();
    assert_eq!(all["follows"].as_array().map(Vec::len), Some(102));
}

async fn a_non_integer_no_is_a_400(api: Api) {
    api.register("ann").await;
    for path in ["/msgs", "/msgs/ann", "/fllws/ann"] {
        for value in ["abc", "1.5", "", "ten", "0x1"] {
            let text = api
                .get(&format!("{path}?no={value}"))
                .await
                .assert_error(400);
            assert!(text.contains("no"), "{text}");
        }
    }
}

async fn posting_wants_content(api: Api) {
    api.register("ann").await;
    for body in [r#"{"content":""}"#, "{}", r#"{"content":null}"#] {
        let answer = api.post("/msgs/ann", body).await;
        answer.assert_error_msg(400, "You have to enter a message");
    }
    let long = json!({ "content": "x".repeat(10_001) }).to_string();
    api.post("/msgs/ann", &long).await.assert_error(400);
    api.post("/msgs/nobody", r#"{"content":"hi"}"#)
        .await
        .assert_error_msg(404, "The user does not exist");
    assert_eq!(api.messages("/msgs").await, []);
}

async fn following_is_a_set(api: Api) {
    for name in ["ann", "bob", "cy"] {
        api.register(name).await;
    }
    assert_eq!(api.follows("ann").await, Vec::<String>::new());
    api.change_follow("ann", "follow", "bob")
        .await
        .assert_no_content();
    api.change_follow("ann", "follow", "bob")
        .await
        .assert_no_content();
    assert_eq!(api.follows("ann").await, ["bob"]);
    api.change_follow("ann", "follow", "cy")
        .await
        .assert_no_content();
    assert_eq!(api.follows("ann").await, ["bob", "cy"]);
    // Unfollowing someone not followed changes nothing.
    api.change_follow("bob", "unfollow", "cy")
        .await
        .assert_no_content();
    assert_eq!(api.follows("bob").await, Vec::<String>::new());
    api.change_follow("ann", "unfollow", "bob")
        .await
        .assert_no_content();
    assert_eq!(api.follows("ann").await, ["cy"]);
    api.change_follow("ann", "unfollow", "bob")
        .await
        .assert_no_content();
    assert_eq!(api.follows("ann").await, ["cy"]);
}

async fn follow_requests_are_checked(api: Api) {
    api.register("ann").await;
    api.register("bob").await;
    api.change_follow("ann", "follow", "ann")
        .await
        .assert_error_msg(400, "You cannot follow yourself");
    for body in [
        "{}",
        r#"{"follow":"bob","unfollow":"bob"}"#,
        r#"{"follow":null}"#,
        r#"{"other":"bob"}"#,
    ] {
        let text = api.post("/fllws/ann", body).await.assert_error(400);
        assert!(
            text.contains("follow") && text.contains("unfollow"),
            "{text}"
        );
    }
    for key in ["follow", "unfollow"] {
        api.change_follow("ann", key, "nobody")
            .await
            .assert_error_msg(404, "The user to follow or unfollow does not exist");
        api.change_follow("nobody", key, "bob")
            .await
            .assert_error_msg(404, "The user does not exist");
    }
    assert_eq!(api.follows("ann").await, Vec::<String>::new());
}

async fn unknown_users_are_404_on_every_user_route(api: Api) {
    api.register("ann").await;
    for name in ["nobody", "Ann", "ann ", "Zoë"] {
        let path = encode(name);
        let not_found = "The user does not exist";
        api.get(&format!("/msgs/{path}"))
            .await
            .assert_error_msg(404, not_found);
        api.post(&format!("/msgs/{path}"), r#"{"content":"hi"}"#)
            .await
            .assert_error_msg(404, not_found);
        api.get(&format!("/fllws/{path}"))
            .await
            .assert_error_msg(404, not_found);
        api.post(&format!("/fllws/{path}"), r#"{"follow":"ann"}"#)
            .await
            .assert_error_msg(404, not_found);
    }
}

async fn bad_bodies_get_json_errors(api: Api) {
    api.register("ann").await;
    api.register("bob").await;
    let paths = ["/register", "/msgs/ann", "/fllws/ann"];
    for path in paths {
        for body in [
            "{not json",
            "",
            "[1, 2]",
            "\"text\"",
            r#"{"username": 5, "content": 5, "follow": 5}"#,
        ] {
            let text = api.post(path, body).await.assert_error(400);
            assert!(text.contains("JSON"), "{path} {body}: {text}");
        }
        for content_type in [ContentType::Text, ContentType::Form, ContentType::HTML] {
            let answer = api
                .send(
                    Method::Post,
                    path,
                    Auth::Right,
                    Some(content_type),
                    Some("{}"),
                )
                .await;
            answer.assert_error(415);
        }
        let oversized = json!({ "content": "x".repeat(MAX_REQUEST_BODY_BYTES) }).to_string();
        api.post(path, &oversized).await.assert_error(413);
    }
    // A missing Content-Type is read as JSON, and so is one with parameters.
    let answer = api
        .send(
            Method::Post,
            "/msgs/ann",
            Auth::Right,
            None,
            Some(r#"{"content":"plain"}"#),
        )
        .await;
    answer.assert_no_content();
    let with_charset = ContentType::new("application", "json").with_params(("charset", "utf-8"));
    let answer = api
        .send(
            Method::Post,
            "/fllws/ann",
            Auth::Right,
            Some(with_charset),
            Some(r#"{"follow":"bob"}"#),
        )
        .await;
    answer.assert_no_content();
    // A body right at the limit is accepted.
    let padding = MAX_REQUEST_BODY_BYTES - r#"{"content":"","pad":""}"#.len() - 1;
    let exact = format!(r#"{{"content":"x","pad":"{}"}}"#, "p".repeat(padding));
    assert_eq!(exact.len(), MAX_REQUEST_BODY_BYTES);
    api.post("/msgs/ann", &exact).await.assert_no_content();
    // The longest message, every character outside the basic plane and
    // written as JSON escapes (a surrogate pair each), fits the limit.
    let crab = "\\ud83e\\udd80".repeat(MAX_MESSAGE_CHARS);
    let escaped = format!(r#"{{"content": "{crab}"}}"#);
    assert!(escaped.len() > 100_000);
    api.post("/msgs/ann", &escaped).await.assert_no_content();
    let newest = api.get("/msgs/ann?no=1").await.json();
    assert_eq!(newest[0]["content"], "🦀".repeat(MAX_MESSAGE_CHARS));
}

async fn unknown_routes_get_json_errors(api: Api) {
    // Unknown paths are 404; known paths with another method, 405.
    let cases: [(Method, &str, u16); 8] = [
        (Method::Get, "/nope", 404),
        (Method::Get, "/msgs/ann/extra", 404),
        (Method::Post, "/msgs", 405),
        (Method::Post, "/latest", 405),
        (Method::Delete, "/msgs/ann", 405),
        (Method::Put, "/register", 405),
        (Method::Get, "/register", 405),
        (Method::Patch, "/fllws/ann", 405),
    ];
    for (method, path, status) in cases {
        for auth in [Auth::Missing, Auth::Right] {
            let answer: Answer = api.send(method, path, auth, None, None).await;
            assert_eq!(answer.status.code, status, "{method} {path}");
            answer.assert_error(status);
        }
    }
}

async fn names_with_spaces_and_unicode_work_in_paths(api: Api) {
    let names = [
        "Roger Histand",
        "Zoë Ó Briain",
        "日本 🦀",
        "a/b?c#d%e&f=g+h",
    ];
    for name in names {
        api.register(name).await;
    }
    for (i, name) in names.iter().enumerate() {
        api.tweet(name, &format!("by {name}")).await;
        let next = names[(i + 1) % names.len()];
        api.change_follow(name, "follow", next)
            .await
            .assert_no_content();
    }
    for (i, name) in names.iter().enumerate() {
        let mine = api.messages(&format!("/msgs/{}", encode(name))).await;
        assert_eq!(mine, [((*name).to_owned(), format!("by {name}"))]);
        assert_eq!(api.follows(name).await, [names[(i + 1) % names.len()]]);
    }
    // Upper- and lower-case escapes decode alike.
    let answer = api.get("/msgs/Zo%c3%ab%20%C3%93%20Briain").await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
}

async fn no_answer_leaks_a_password_or_hash(api: Api) {
    let password = "correct horse battery staple";
    let register = json!({ "username": "ann", "email": "a@b", "pwd": password }).to_string();
    let mut answers = vec![
        api.post("/register", &register).await,
        api.post("/register", &register).await,
    ];
    api.register("bob").await;
    answers.push(api.change_follow("ann", "follow", "bob").await);
    api.tweet("ann", "hello").await;
    for path in ["/msgs", "/msgs/ann", "/fllws/ann", "/latest", "/nope"] {
        answers.push(api.get(path).await);
    }
    for answer in answers {
        let body = answer.body.to_lowercase();
        assert!(!body.contains("argon2"), "{body}");
        assert!(!body.contains(password), "{body}");
        assert!(!body.contains("pw-bob"), "{body}");
    }
}

async fn names_that_could_deceive_are_refused(api: Api) {
    for (name, text) in [
        (
            "public",
            "This name belongs to a page of the site; choose another username",
        ),
        (
            "Logout",
            "This name belongs to a page of the site; choose another username",
        ),
        (
            "..",
            "This name belongs to a page of the site; choose another username",
        ),
        (
            "admin\u{202e}nimda",
            "The username may not contain invisible formatting characters",
        ),
        (
            "zero\u{200b}width",
            "The username may not contain invisible formatting characters",
        ),
    ] {
        let body = json!({"username": name, "email": "x@example.org", "pwd": "pw"});
        api.post("/register", &body.to_string())
            .await
            .assert_error_msg(400, text);
    }
    // One name in two Unicode spellings: taken, and found by either.
    api.register("Åsa").await;
    let decomposed = "A\u{30a}sa";
    let body = json!({"username": decomposed, "email": "x@example.org", "pwd": "pw"});
    api.post("/register", &body.to_string())
        .await
        .assert_error_msg(400, "The username is already taken");
    api.tweet(decomposed, "posted with the decomposed spelling")
        .await;
    let messages = api.messages(&format!("/msgs/{}", encode("Åsa"))).await;
    assert_eq!(
        messages,
        [(
            "Åsa".to_owned(),
            "posted with the decomposed spelling".to_owned()
        )]
    );
}
