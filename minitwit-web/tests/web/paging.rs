//! Every timeline pages back through every message, without duplicates or
//! gaps.

use std::collections::HashSet;

use minitwit_core::{Store, UserId};
use rocket::http::Status;
use rocket::local::asynchronous::Client;

use crate::common::*;

/// Walks a timeline from `start` by its "older messages" links; returns the
/// texts in the order shown.
async fn walk(client: &Client, start: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut url = start.to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = get(client, &url).await;
        assert_eq!(status, Status::Ok, "{url}");
        let page = message_texts(&body);
        assert!(page.len() <= 30, "{url} shows {} messages", page.len());
        assert_eq!(pages > 0, body.contains("Newest messages"), "{url}");
        pages += 1;
        texts.extend(page);
        match older_link(&body) {
            Some(next) => {
                assert!(next.contains("before="), "{next}");
                url = next;
            }
            None => break,
        }
        assert!(pages < 100, "the walk does not end");
    }
    texts
}

fn assert_complete(texts: &[String], expected_newest_first: &[String]) {
    let unique: HashSet<&String> = texts.iter().collect();
    assert_eq!(unique.len(), texts.len(), "no duplicates");
    assert_eq!(texts, expected_newest_first, "no gaps, newest first");
}

#[rocket::async_test]
async fn public_and_user_timelines_reach_every_message() {
    let (client, store) = site().await;
    register(&client, "alice", "alice@example.org", "pw").await;
    register(&client, "bob", "bob@example.org", "pw").await;
    let service = service(store.clone());
    let mut all = Vec::new();
    let mut alices = Vec::new();
    for n in 0..107 {
        let (author, text) = if n % 3 == 0 {
            ("bob", format!("bob {n}"))
        } else {
            ("alice", format!("alice {n}"))
        };
        service.post(author, &text).await.unwrap();
        if author == "alice" {
            alices.push(text.clone());
        }
        all.push(text);
    }
    all.reverse();
    alices.reverse();
    let public = walk(&client, "/public").await;
    assert_eq!(public.len(), 107);
    assert_complete(&public, &all);
    let alice = walk(&client, "/alice").await;
    assert_complete(&alice, &alices);
}

#[rocket::async_test]
async fn the_home_timeline_pages_over_several_followed_authors() {
    let (client, store) = site().await;
    for name in ["a", "b", "c", "d", "stranger"] {
        register(&client, name, &format!("{name}@example.org"), "pw").await;
    }
    register_and_login(&client, "me").await;
    let service = service(store.clone());
    for followee in ["a", "b", "c", "d"] {
        service.follow("me", followee).await.unwrap();
    }
    let authors = ["a", "stranger", "b", "me", "c", "d", "stranger"];
    let mut expected = Vec::new();
    for n in 0..154 {
        let author = authors[n % authors.len()];
        let text = format!("{author} says {n}");
        service.post(author, &text).await.unwrap();
        if author != "stranger" {
            expected.push(text);
        }
    }
    expected.reverse();
    let home = walk(&client, "/").await;
    assert!(home.len() > 100);
    assert_complete(&home, &expected);
    // Still following, still the same user.
    assert!(store.is_following(UserId(6), UserId(1)).await.unwrap());
}

#[rocket::async_test]
async fn bad_cursors_show_the_first_page() {
    let (client, store) = site().await;
    register(&client, "alice", "alice@example.org", "pw").await;
    let service = service(store);
    for n in 0..35 {
        service.post("alice", &format!("m{n}")).await.unwrap();
    }
    let (_, first) = get(&client, "/public").await;
    for bad in [
        "/public?before=abc",
        "/public?before=-3",
        "/public?before=",
        "/alice?before=1e9",
    ] {
        let (status, body) = get(&client, bad).await;
        assert_eq!(status, Status::Ok, "{bad}");
        assert_eq!(
            message_texts(&body).first(),
            message_texts(&first).first(),
            "{bad}"
        );
    }
    let (status, body) = get(&client, "/public?before=1").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("There's no message so far."));
}
