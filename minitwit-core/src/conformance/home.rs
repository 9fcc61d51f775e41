//! Checks of home timelines: a user's own messages and those of everyone
//! they follow, merged newest first, whatever the number of followees.

use std::sync::Arc;

use super::support::{Must, all_at_once, create, post};
use super::timelines::{Posted, expected, ids_of, raw, read_all, users_posting, walk};
use crate::{PageRequest, Store, Timeline, User, UserId};

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

/// Readers follow, unfollow and follow again authors with more messages
/// than any index copies on a follow, some followed by many readers; every
/// walk, in pages of 1, 5 and 30, holds exactly the messages it should.
pub async fn home_timelines_stay_whole_through_follow_changes(store: &Arc<dyn Store>) {
    let prolific = create(store, "prolific").await;
    let quiet = create(store, "quiet").await;
    let mut readers = Vec::new();
    for n in 0..5 {
        readers.push(create(store, &format!("reader {n}")).await);
    }
    let mut posted = Vec::new();
    for n in 0..70 {
        posted.push(posted_by(store, &prolific, n).await);
    }
    posted.push(posted_by(store, &quiet, 0).await);
    let mut follows = Vec::new();
    // Every reader follows both: the prolific author's followers outnumber
    // small home caches, so some readers are evicted and merged again.
    for reader in &readers {
        for author in [&prolific, &quiet] {
            assert!(store.follow(reader.id, author.id).await.must("follow"));
            follows.push((reader.id, author.id));
        }
    }
    let check = |posted: Vec<Posted>, follows: Vec<(UserId, UserId)>, when: &'static str| {
        let readers = readers.clone();
        async move {
            for reader in &readers {
                let want = expected(&posted, &follows, Timeline::Home(reader.id));
                for page_size in [1, 5, 30] {
                    assert_eq!(
                        raw(&walk(store, Timeline::Home(reader.id), page_size).await),
                        raw(&want),
                        "store contract: the home timeline of {:?} {when}, walked in pages of \
                         {page_size}, must hold exactly their own messages and those of the \
                         users they follow",
                        reader.username.as_str()
                    );
                }
            }
        }
    };
    check(
        posted.clone(),
        follows.clone(),
        "after following a prolific author",
    )
    .await;

    for n in 70..75 {
        posted.push(posted_by(store, &prolific, n).await);
        posted.push(posted_by(store, &readers[n % 5], n).await);
    }
    check(posted.clone(), follows.clone(), "after more posts").await;

    for reader in &readers[..3] {
        assert!(
            store
                .unfollow(reader.id, prolific.id)
                .await
                .must("unfollow")
        );
        follows.retain(|pair| *pair != (reader.id, prolific.id));
    }
    posted.push(posted_by(store, &prolific, 75).await);
    check(posted.clone(), follows.clone(), "after unfollows").await;

    for reader in &readers[..2] {
        assert!(
            store
                .follow(reader.id, prolific.id)
                .await
                .must("follow again")
        );
        follows.push((reader.id, prolific.id));
    }
    posted.push(posted_by(store, &prolific, 76).await);
    check(posted, follows, "after following again").await;
}

/// A reader pages back through their home timeline while, between pages,
/// a followee posts, they follow and unfollow someone with older messages,
/// and unfollow and follow again an author: each page holds the newest
/// messages below its cursor of the authors followed when it is read,
/// whether the next page is asked for below the page's last message or
/// below the one before it (as a caller that reads one more than it shows
/// does).
pub async fn home_pages_follow_changes_made_between_them(store: &Arc<dyn Store>) {
    let reader = create(store, "reader").await;
    let stranger = create(store, "stranger").await;
    let mut authors = Vec::new();
    for n in 0..4 {
        authors.push(create(store, &format!("author {n}")).await);
    }
    let mut posted = Vec::new();
    for n in 0..60 {
        // Uneven, and the stranger's messages among everyone's.
        let author = [
            &authors[0],
            &authors[0],
            &authors[1],
            &stranger,
            &authors[2],
        ][n % 5];
        posted.push(posted_by(store, author, n).await);
        if n % 13 == 0 {
            posted.push(posted_by(store, &authors[3], n).await);
        }
    }
    let mut follows = Vec::new();
    for author in &authors {
        assert!(store.follow(reader.id, author.id).await.must("follow"));
        follows.push((reader.id, author.id));
    }
    for below_last in [true, false] {
        let mut before = None;
        for step in 0..100 {
            let page = PageRequest { before, limit: 4 };
            let got = ids_of(
                &store
                    .timeline(Timeline::Home(reader.id), page)
                    .await
                    .must("page"),
            );
            let want: Vec<_> = expected(&posted, &follows, Timeline::Home(reader.id))
                .into_iter()
                .filter(|id| before.is_none_or(|before| *id < before))
                .take(4)
                .collect();
            assert_eq!(
                raw(&got),
                raw(&want),
                "store contract: page {step} of the home timeline below {before:?}, with \
                 follows changed between pages, must hold the newest messages of the users \
                 followed now"
            );
            if got.len() < 4 {
                break;
            }
            before = Some(got[if below_last { 3 } else { 2 }]);
            let mut change = |pair| {
                let followed = follows.contains(&pair);
                if followed {
                    follows.retain(|follow| *follow != pair);
                } else {
                    follows.push(pair);
                }
                !followed
            };
            match step % 4 {
                0 => posted.push(posted_by(store, &authors[step % 3], 100 + step).await),
                1 => {
                    if change((reader.id, stranger.id)) {
                        assert!(store.follow(reader.id, stranger.id).await.must("follow"));
                    } else {
                        assert!(
                            store
                                .unfollow(reader.id, stranger.id)
                                .await
                                .must("unfollow")
                        );
                    }
                }
                2 => {
                    let author = &authors[step % 4];
                    if change((reader.id, author.id)) {
                        assert!(store.follow(reader.id, author.id).await.must("follow"));
                    } else {
                        assert!(store.unfollow(reader.id, author.id).await.must("unfollow"));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Authors post while readers follow and unfollow them and read their home
/// timelines, all at once; once every call has returned, each home timeline
/// holds exactly the messages of the authors its reader follows: no post
/// slips between a follow, a read and what a backend keeps of them.
pub async fn home_timelines_stay_whole_under_concurrent_posts_and_follows(store: &Arc<dyn Store>) {
    let mut authors = Vec::new();
    for n in 0..4 {
        authors.push(create(store, &format!("author {n}")).await);
    }
    let mut readers = Vec::new();
    for n in 0..4 {
        readers.push(create(store, &format!("reader {n}")).await);
    }
    // Readers 0 and 1 follow every author before the race; during it, 0
    // unfollows authors 0 and 1, and 2 and 3 follow every author.
    for reader in &readers[..2] {
        for author in &authors {
            assert!(store.follow(reader.id, author.id).await.must("follow"));
        }
    }
    let tasks = authors.len() + 5;
    let (authors_in, readers_in) = (authors.clone(), readers.clone());
    let results = all_at_once(store, tasks, move |store, task| {
        let (authors, readers) = (authors_in.clone(), readers_in.clone());
        async move {
            let mut posted = Vec::new();
            if let Some(author) = authors.get(task) {
                for n in 0..12 {
                    let id = post(&store, author, &format!("{} #{n}", author.username), 0).await;
                    posted.push(Posted {
                        id,
                        author: author.id,
                    });
                    tokio::task::yield_now().await;
                }
            } else if task == authors.len() {
                for author in &authors[..2] {
                    store
                        .unfollow(readers[0].id, author.id)
                        .await
                        .must("unfollow");
                }
            } else if task >= authors.len() + 3 {
                for _ in 0..10 {
                    for reader in &readers {
                        let page = PageRequest::first(5);
                        store
                            .timeline(Timeline::Home(reader.id), page)
                            .await
                            .must("home timeline");
                    }
                    tokio::task::yield_now().await;
                }
            } else {
                let reader = &readers[task - authors.len() + 1];
                for author in &authors {
                    store.follow(reader.id, author.id).await.must("follow");
                    tokio::task::yield_now().await;
                }
            }
            posted
        }
    })
    .await;
    let posted: Vec<Posted> = results.into_iter().flatten().collect();
    let mut follows = Vec::new();
    for (n, reader) in readers.iter().enumerate() {
        for (m, author) in authors.iter().enumerate() {
            let follows_now = match n {
                0 => m >= 2,
                1..=3 => true,
                _ => false,
            };
            if follows_now {
                follows.push((reader.id, author.id));
            }
        }
    }
    for reader in &readers {
        let want = expected(&posted, &follows, Timeline::Home(reader.id));
        assert_eq!(
            raw(&walk(store, Timeline::Home(reader.id), 7).await),
            raw(&want),
            "store contract: after posts raced with follows and unfollows, the home timeline of \
             {:?} must hold exactly the messages of the authors they follow",
            reader.username.as_str()
        );
    }
}

/// Readers who have read their home timeline (so a backend may keep it)
/// then follow and unfollow: an author with more messages than any backend
/// keeps per reader, followed by a reader whose timeline was empty and by
/// one whose own and followed messages interleave with the author's; every
/// walk, in pages of 1, 5 and 30, holds exactly the messages it should,
/// after each change and after later posts.
pub async fn home_timelines_stay_whole_when_readers_change_follows_after_reading(
    store: &Arc<dyn Store>,
) {
    let prolific = create(store, "prolific").await;
    let quiet = create(store, "quiet").await;
    let empty = create(store, "empty reader").await;
    let busy = create(store, "busy reader").await;
    let mut posted = Vec::new();
    let mut post_as = async |author: &User, n: usize| {
        posted.push(posted_by(store, author, n).await);
    };
    for n in 0..150 {
        post_as(&prolific, n).await;
        if n % 10 == 0 {
            post_as(&quiet, n).await;
        }
        if n % 6 == 0 {
            post_as(&busy, n).await;
        }
    }
    let mut follows = vec![(busy.id, quiet.id)];
    assert!(store.follow(busy.id, quiet.id).await.must("follow"));

    let check = async |posted: &[Posted], follows: &[(UserId, UserId)], when: &str| {
        for reader in [&empty, &busy] {
            let want = expected(posted, follows, Timeline::Home(reader.id));
            for page_size in [1, 5, 30] {
                assert_eq!(
                    raw(&walk(store, Timeline::Home(reader.id), page_size).await),
                    raw(&want),
                    "store contract: the home timeline of {:?} {when}, walked in pages of \
                     {page_size}, must hold exactly their own messages and those of the users \
                     they follow",
                    reader.username.as_str()
                );
            }
        }
    };
    // Each reader reads a first page before every change.
    let read_first = async || {
        for reader in [&empty, &busy] {
            store
                .timeline(Timeline::Home(reader.id), PageRequest::first(1))
                .await
                .must("home timeline");
        }
    };

    read_first().await;
    for reader in [&empty, &busy] {
        assert!(store.follow(reader.id, prolific.id).await.must("follow"));
        follows.push((reader.id, prolific.id));
    }
    check(
        &posted,
        &follows,
        "after following an author read after reading",
    )
    .await;

    for n in 150..160 {
        let id = post(store, &prolific, &format!("later #{n}"), 0).await;
        posted.push(Posted {
            id,
            author: prolific.id,
        });
    }
    check(&posted, &follows, "after the followed author posted more").await;

    read_first().await;
    assert!(store.unfollow(busy.id, quiet.id).await.must("unfollow"));
    follows.retain(|pair| *pair != (busy.id, quiet.id));
    check(&posted, &follows, "after unfollowing the quiet author").await;

    read_first().await;
    for reader in [&empty, &busy] {
        assert!(
            store
                .unfollow(reader.id, prolific.id)
                .await
                .must("unfollow")
        );
    }
    follows.retain(|(_, followee)| *followee != prolific.id);
    check(&posted, &follows, "after unfollowing the prolific author").await;

    read_first().await;
    assert!(store.follow(busy.id, quiet.id).await.must("follow"));
    assert!(store.follow(busy.id, prolific.id).await.must("follow"));
    follows.extend([(busy.id, quiet.id), (busy.id, prolific.id)]);
    check(&posted, &follows, "after following both again").await;
}

/// `author` posts their `n`-th message, recorded for the expected pages.
async fn posted_by(store: &Arc<dyn Store>, author: &User, n: usize) -> Posted {
    let id = post(store, author, &format!("{} #{n}", author.username), 0).await;
    Posted {
        id,
        author: author.id,
    }
}
