//! Checks of home timelines: a user's own messages and those of everyone
//! they follow, merged newest first, whatever the number of followees.

use std::sync::Arc;

use super::support::{Must, create, post};
use super::timelines::{Posted, expected, ids_of, raw, read_all, users_posting, walk};
use crate::{Store, Timeline, UserId};

/// A home timeline holds the user's own messages and those of everyone they
/// follow, now: following someone shows their earlier messages too, and
/// unfollowing removes them.
pub async fn home_timelines_hold_own_and_followed_messages(store: &Arc<dyn Store>) {
    let (users, mut posted) =
        users_posting(store, ["home owner", "followed", "stranger"], 26).await;
    let (me, friend, stranger) = (&users[0], &users[1], &users[2]);
    let mut follows = Vec::new();

    let check = |posted: Vec<Posted>, follows: Vec<(UserId, UserId)>, when: &'static str| async move {
        for user in [me, friend, stranger] {
            let got = read_all(store, Timeline::Home(user.id)).await;
            assert_eq!(
                raw(&ids_of(&got)),
                raw(&expected(&posted, &follows, Timeline::Home(user.id))),
                "store contract: the home timeline of {:?} {when} must hold exactly their own \
                 messages and those of the users they follow",
                user.username.as_str()
            );
        }
    };

    check(posted.clone(), follows.clone(), "before any follow").await;
    assert!(store.follow(me.id, friend.id).await.must("follow"));
    follows.push((me.id, friend.id));
    check(
        posted.clone(),
        follows.clone(),
        "after following (earlier messages included)",
    )
    .await;

    for n in 0..4 {
        for author in [me, friend, stranger] {
            let id = post(
                store,
                author,
                &format!("later {n} by {}", author.username),
                5_000,
            )
            .await;
            posted.push(Posted {
                id,
                author: author.id,
            });
        }
    }
    check(posted.clone(), follows.clone(), "after more posts").await;

    assert!(store.follow(me.id, stranger.id).await.must("follow"));
    follows.push((me.id, stranger.id));
    check(
        posted.clone(),
        follows.clone(),
        "after following a second user",
    )
    .await;

    assert!(store.unfollow(me.id, friend.id).await.must("unfollow"));
    follows.retain(|pair| *pair != (me.id, friend.id));
    check(posted.clone(), follows.clone(), "after an unfollow").await;

    assert!(store.unfollow(me.id, stranger.id).await.must("unfollow"));
    follows.clear();
    check(posted, follows, "after unfollowing everyone").await;
}

/// A reader following forty authors of uneven activity (some post every
/// round, some rarely, a quarter are not followed) pages through a home
/// timeline that holds exactly their messages and the reader's own, newest
/// first, in pages of 1, 7 and 30.
pub async fn home_timelines_page_through_many_followees(store: &Arc<dyn Store>) {
    let reader = create(store, "reader").await;
    let mut authors = Vec::new();
    let mut follows = Vec::new();
    for n in 0..40 {
        let author = create(store, &format!("author {n}")).await;
        if n % 4 != 0 {
            assert!(store.follow(reader.id, author.id).await.must("follow"));
            follows.push((reader.id, author.id));
        }
        authors.push(author);
    }
    let mut posted = Vec::new();
    for round in 0..5 {
        for (n, author) in authors.iter().enumerate() {
            if (round + n) % (1 + n % 3) == 0 {
                let id = post(
                    store,
                    author,
                    &format!("{} says {round}", author.username),
                    0,
                )
                .await;
                posted.push(Posted {
                    id,
                    author: author.id,
                });
            }
        }
        let id = post(store, &reader, &format!("reader says {round}"), 0).await;
        posted.push(Posted {
            id,
            author: reader.id,
        });
    }
    let want = expected(&posted, &follows, Timeline::Home(reader.id));
    for page_size in [1, 7, 30] {
        assert_eq!(
            raw(&walk(store, Timeline::Home(reader.id), page_size).await),
            raw(&want),
            "store contract: the home timeline of a reader following 30 of 40 authors, walked \
             in pages of {page_size}, must hold exactly their messages and the reader's own"
        );
    }
}

/// The service never lets anyone follow themselves, but a store asked to
/// must not show that user's messages twice in their home timeline.
pub async fn home_timelines_show_each_message_once(store: &Arc<dyn Store>) {
    let me = create(store, "me").await;
    let friend = create(store, "friend").await;
    store.follow(me.id, me.id).await.must("follow(me, me)");
    assert!(store.follow(me.id, friend.id).await.must("follow"));
    let mut posted = Vec::new();
    for n in 0..6 {
        let author = if n % 2 == 0 { &me } else { &friend };
        let id = post(store, author, &format!("message {n}"), 0).await;
        posted.push(Posted {
            id,
            author: author.id,
        });
    }
    let follows: Vec<(UserId, UserId)> = vec![(me.id, friend.id)];
    let got = read_all(store, Timeline::Home(me.id)).await;
    assert_eq!(
        raw(&ids_of(&got)),
        raw(&expected(&posted, &follows, Timeline::Home(me.id))),
        "store contract: a home timeline must show each message once, even for a user who \
         follows themselves"
    );
}
