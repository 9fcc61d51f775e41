//! Crafted cookies, as property tests through Rocket's local client: any
//! value of the flash cookie, of Rocket's own `_flash`, of the session
//! cookie or of any other cookie leaves every page answering with one of
//! the site's own answers (never a server error), and a genuine session
//! cookie with any one character changed, cut or extended signs nobody in.

use std::sync::Arc;

use minitwit_core::MemoryStore;
use minitwit_web::{WebConfig, stage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rocket::http::{Cookie, Status};
use rocket::local::asynchronous::Client;

use crate::common::*;

const SESSION: &str = "minitwit_session";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A site whose client keeps no cookies between requests, so that every
/// case starts from the same state.
async fn untracked_site() -> Client {
    let store = Arc::new(MemoryStore::new());
    let rocket = rocket::custom(figment()).attach(stage(service(store), WebConfig::default()));
    Client::untracked(rocket).await.unwrap()
}

/// Cookie values worth trying: anything, things shaped like the real
/// values (base64, `n:text`, percent escapes), and split characters.
fn cookie_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-zA-Z+/=]{0,120}",
        "[0-9se]{0,3}:.{0,12}",
        "(%[0-9A-F]{2}){0,8}",
        Just("1:é".to_owned()),
        Just("s:é".to_owned()),
    ]
}

#[test]
fn crafted_cookies_never_make_a_page_fail() {
    let runtime = runtime();
    let client = runtime.block_on(async {
        let client = untracked_site().await;
        register(&client, "alice", "alice@example.org", "pw").await;
        client
    });
    let names = prop::sample::select(vec!["_flash", "minitwit_flash", SESSION, "other"]);
    let paths = prop::sample::select(vec![
        "/",
        "/public",
        "/login",
        "/register",
        "/alice",
        "/alice/follow",
        "/logout",
        "/nobody",
    ]);
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let outcome = runner.run(&(names, cookie_value(), paths), |(name, value, path)| {
        let (status, body) = runtime.block_on(async {
            let response = client
                .get(path)
                .cookie(Cookie::new(name, value.clone()))
                .dispatch()
                .await;
            let status = response.status();
            (status, response.into_string().await.unwrap_or_default())
        });
        prop_assert!(
            matches!(status.code, 200 | 303 | 401 | 404),
            "{path} with {name}={value:?}: {status}"
        );
        if status != Status::SeeOther {
            prop_assert!(
                body.contains("| MiniTwit</title>"),
                "{path} with {name}={value:?}: not one of the site's pages"
            );
        }
        // A crafted cookie never signs anyone in.
        prop_assert!(
            !body.contains("My Timeline"),
            "{path} with {name}={value:?} shows a home timeline"
        );
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// How a genuine cookie value is changed.
#[derive(Debug, Clone)]
enum Change {
    /// The character at this index (modulo the length) replaced.
    Replace(usize, char),
    /// Cut to this many characters (modulo the length).
    Cut(usize),
    /// Extended by this text.
    Extend(String),
}

fn change() -> impl Strategy<Value = Change> {
    let base64 = prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
            .chars()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        (any::<usize>(), base64).prop_map(|(at, c)| Change::Replace(at, c)),
        any::<usize>().prop_map(Change::Cut),
        "[A-Za-z0-9+/=]{1,8}".prop_map(Change::Extend),
    ]
}

fn apply(value: &str, change: &Change) -> String {
    let chars: Vec<char> = value.chars().collect();
    match change {
        Change::Replace(at, c) => {
            let mut chars = chars;
            let at = at % chars.len();
            chars[at] = *c;
            chars.into_iter().collect()
        }
        Change::Cut(at) => chars[..at % chars.len()].iter().collect(),
        Change::Extend(more) => format!("{value}{more}"),
    }
}

#[test]
fn a_changed_session_cookie_signs_nobody_in() {
    let runtime = runtime();
    let (client, genuine) = runtime.block_on(async {
        let client = untracked_site().await;
        register(&client, "alice", "alice@example.org", "pw").await;
        let response = post(
            &client,
            "/login",
            &[("username", "alice"), ("password", "pw")],
        )
        .await;
        let value = response.cookies().get(SESSION).unwrap().value().to_owned();
        drop(response);
        (client, value)
    });
    let home = |value: String| {
        runtime.block_on(async {
            client
                .get("/")
                .cookie(Cookie::new(SESSION, value))
                .dispatch()
                .await
                .status()
        })
    };
    assert_eq!(
        home(genuine.clone()),
        Status::Ok,
        "the genuine cookie signs in"
    );
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let outcome = runner.run(&change(), |change| {
        let changed = apply(&genuine, &change);
        prop_assume!(changed != genuine);
        prop_assert_eq!(home(changed), Status::SeeOther, "{:?}", change);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
