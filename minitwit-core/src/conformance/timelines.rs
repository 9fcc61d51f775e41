//! Checks of messages and timelines: what a message carries, which
//! timeline shows it, order, limits and page cursors.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::support::{Must, all_at_once, assert_newest_first, create, post, text};
use crate::{MAX_MESSAGE_CHARS, Message, MessageId, PageRequest, Store, Timeline, User, UserId};

/// What the checks remember of a posted message, to compute the expected
/// timelines without asking the store.
#[derive(Debug, Clone, Copy)]
pub(super) struct Posted {
    pub(super) id: MessageId,
    pub(super) author: UserId,
}

/// The ids `timeline` must show, newest first.
pub(super) fn expected(
    posted: &[Posted],
    follows: &[(UserId, UserId)],
    timeline: Timeline,
) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = posted
        .iter()
        .filter(|message| match timeline {
            Timeline::Public => true,
            Timeline::User(user) => message.author == user,
            Timeline::Home(user) => {
                message.author == user || follows.contains(&(user, message.author))
            }
        })
        .map(|message| message.id)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

pub(super) fn ids_of(messages: &[Message]) -> Vec<MessageId> {
    messages.iter().map(|message| message.id).collect()
}

pub(super) fn raw(ids: &[MessageId]) -> Vec<u64> {
    ids.iter().map(|id| id.0).collect()
}

pub(super) async fn read(
    store: &Arc<dyn Store>,
    timeline: Timeline,
    page: PageRequest,
) -> Vec<Message> {
    let messages = store
        .timeline(timeline, page)
        .await
        .must(format_args!("timeline({timeline:?}, {page:?})"));
    assert!(
        messages.len() <= page.limit,
        "store contract: timeline({timeline:?}, {page:?}) returned {} messages, more than the limit",
        messages.len()
    );
    assert_newest_first(
        &ids_of(&messages),
        format_args!("timeline({timeline:?}, {page:?})"),
    );
    if let Some(before) = page.before {
        assert!(
            messages.iter().all(|message| message.id < before),
            "store contract: timeline({timeline:?}, {page:?}) returned ids not below the \
             cursor {}: {:?}",
            before.0,
            raw(&ids_of(&messages))
        );
    }
    messages
}

pub(super) async fn read_all(store: &Arc<dyn Store>, timeline: Timeline) -> Vec<Message> {
    read(store, timeline, PageRequest::first(100_000)).await
}

/// Walks `timeline` page by page, passing the last id of each page as the
/// next cursor, until a page comes back empty.
pub(super) async fn walk(
    store: &Arc<dyn Store>,
    timeline: Timeline,
    page_size: usize,
) -> Vec<MessageId> {
    let mut seen = Vec::new();
    let mut before = None;
    // `read` checks that every page is older than its cursor, so the walk
    // ends; the bound only turns a runaway store into a clear failure.
    for _ in 0..100_000 {
        let page = read(
            store,
            timeline,
            PageRequest {
                before,
                limit: page_size,
            },
        )
        .await;
        let Some(last) = page.last() else {
            return seen;
        };
        before = Some(last.id);
        seen.extend(ids_of(&page));
    }
    panic!("store contract: walking {timeline:?} in pages of {page_size} never ended")
}

/// Three users posting interleaved messages; returns them and what was
/// posted, oldest first.
pub(super) async fn users_posting(
    store: &Arc<dyn Store>,
    names: [&str; 3],
    count: usize,
) -> (Vec<User>, Vec<Posted>) {
    let mut users = Vec::new();
    for name in names {
        users.push(create(store, name).await);
    }
    let mut posted = Vec::new();
    // A fixed, irregular author order, so no timeline is a simple stride.
    let order = [0, 1, 1, 2, 0, 0, 2, 1, 0, 2, 2, 1, 0];
    for n in 0..count {
        let author = &users[order[n % order.len()]];
        let id = post(
            store,
            author,
            &format!("message {n} by {}", author.username),
            1_000 + n as i64,
        )
        .await;
        posted.push(Posted {
            id,
            author: author.id,
        });
    }
    (users, posted)
}

/// A posted message comes back with its id, its author as created, its
/// text exactly (any Unicode, control characters, the longest allowed) and
/// its `pub_date`; sequential posts get growing ids.
pub async fn messages_are_stored_exactly(store: &Arc<dyn Store>) {
    let ada = create(store, "Ada Lovelace").await;
    let zoe = create(store, "Zoë Ångström").await;
    let longest = "ü".repeat(MAX_MESSAGE_CHARS);
    let texts: Vec<(&User, String, i64)> = vec![
        (&ada, "Hello, world!".to_owned(), 1_700_000_000),
        (&zoe, "Zoë says: ünïcødé 李小龍 🦀".to_owned(), 0),
        (
            &ada,
            "<script>alert('x')</script> & \"quotes\" \\ %s {}".to_owned(),
            -1,
        ),
        (
            &zoe,
            "line one\nline two\r\n\ttabbed\u{0}nul".to_owned(),
            i64::MAX,
        ),
        (&ada, " ".to_owned(), i64::MIN),
        (&zoe, longest, 1_234_567_890),
        (&ada, "Hello, world!".to_owned(), 1_700_000_000),
    ];
    let mut posted: Vec<Message> = Vec::new();
    for (author, raw, pub_date) in &texts {
        let id = store
            .post(author.id, text(raw), *pub_date)
            .await
            .must("post");
        if let Some(previous) = posted.last() {
            assert!(
                id > previous.id,
                "store contract: message ids must grow: {} was posted after {}",
                id.0,
                previous.id.0
            );
        }
        posted.push(Message {
            id,
            author: (*author).clone(),
            text: text(raw),
            pub_date: *pub_date,
        });
    }
    posted.reverse();
    let public = read_all(store, Timeline::Public).await;
    assert_eq!(
        raw(&ids_of(&public)),
        raw(&ids_of(&posted)),
        "store contract: the public timeline must hold every message, newest first"
    );
    for (got, want) in public.iter().zip(&posted) {
        assert_eq!(
            got.author, want.author,
            "store contract: message {} carries the wrong author",
            want.id.0
        );
        assert!(
            got.text == want.text,
            "store contract: message {} text changed: stored {} chars, read back {} chars \
             (first 40: {:?} vs {:?})",
            want.id.0,
            want.text.as_str().chars().count(),
            got.text.as_str().chars().count(),
            want.text.as_str().chars().take(40).collect::<String>(),
            got.text.as_str().chars().take(40).collect::<String>(),
        );
        assert_eq!(
            got.pub_date, want.pub_date,
            "store contract: message {} pub_date changed",
            want.id.0
        );
    }
}

/// A user timeline holds that user's messages and no one else's, newest
/// first; a user who never posted has an empty one.
pub async fn user_timelines_hold_only_that_users_messages(store: &Arc<dyn Store>) {
    let (users, posted) = users_posting(store, ["ann", "ben", "cat"], 20).await;
    let quiet = create(store, "quiet").await;
    for user in &users {
        let got = read_all(store, Timeline::User(user.id)).await;
        assert_eq!(
            raw(&ids_of(&got)),
            raw(&expected(&posted, &[], Timeline::User(user.id))),
            "store contract: the user timeline of {:?} must hold exactly their messages",
            user.username.as_str()
        );
        assert!(
            got.iter().all(|message| message.author == *user),
            "store contract: a user timeline carries another author"
        );
    }
    assert!(
        read_all(store, Timeline::User(quiet.id)).await.is_empty(),
        "store contract: a user who never posted has an empty user timeline"
    );
    assert!(
        read_all(store, Timeline::Home(quiet.id)).await.is_empty(),
        "store contract: a user who never posted nor follows has an empty home timeline"
    );
}

/// Timelines of a user id that nobody has are empty, not an error.
pub async fn timelines_of_unknown_users_are_empty(store: &Arc<dyn Store>) {
    let (_, posted) = users_posting(store, ["known", "also known", "third"], 5).await;
    assert_eq!(posted.len(), 5);
    for timeline in [
        Timeline::User(UserId(u64::MAX)),
        Timeline::Home(UserId(u64::MAX)),
    ] {
        assert!(
            read_all(store, timeline).await.is_empty(),
            "store contract: {timeline:?} of a user id nobody has must be empty"
        );
    }
}

/// The store trusts the user ids it is given, but a page that reaches a
/// message whose author does not exist fails with
/// [`StoreError::Corrupt`](crate::StoreError::Corrupt) instead of inventing
/// an author; pages that do not reach it are fine.
pub async fn a_message_without_its_author_is_corrupt(store: &Arc<dyn Store>) {
    let ada = create(store, "ada").await;
    post(store, &ada, "fine", 0).await;
    let ghost = UserId(987_654_321);
    store
        .post(ghost, text("orphan"), 0)
        .await
        .must("post by a user id nobody has");
    for timeline in [Timeline::Public, Timeline::User(ghost)] {
        let page = store.timeline(timeline, PageRequest::first(10)).await;
        assert!(
            matches!(page, Err(crate::StoreError::Corrupt(_))),
            "store contract: timeline({timeline:?}) reaching a message without an author must \
             fail as corrupt, not {page:?}"
        );
    }
    let fine = read_all(store, Timeline::User(ada.id)).await;
    assert_eq!(
        fine.len(),
        1,
        "store contract: a page that does not reach the orphan must be fine"
    );
}

/// `limit` caps a page (0 gives an empty page) and `before` keeps only
/// messages with smaller ids, whether or not the cursor's message is in
/// that timeline.
pub async fn timelines_respect_limit_and_before(store: &Arc<dyn Store>) {
    let (users, posted) = users_posting(store, ["first", "second", "third"], 30).await;
    assert!(store.follow(users[0].id, users[1].id).await.must("follow"));
    let follows = [(users[0].id, users[1].id)];
    let timelines = [
        Timeline::Public,
        Timeline::User(users[0].id),
        Timeline::User(users[2].id),
        Timeline::Home(users[0].id),
        Timeline::Home(users[1].id),
    ];
    let mut cursors: Vec<MessageId> = posted.iter().map(|message| message.id).collect();
    let max_id = cursors.iter().map(|id| id.0).max().unwrap_or(0);
    cursors.extend([MessageId(0), MessageId(max_id + 1), MessageId(u64::MAX)]);

    for timeline in timelines {
        let full = expected(&posted, &follows, timeline);
        for limit in [0, 1, 2, 5, 100] {
            let got = read(store, timeline, PageRequest::first(limit)).await;
            assert_eq!(
                raw(&ids_of(&got)),
                raw(&full[..limit.min(full.len())]),
                "store contract: timeline({timeline:?}) with limit {limit} must be the newest \
                 {limit} messages"
            );
        }
        for &before in &cursors {
            let older: Vec<MessageId> = full.iter().copied().filter(|id| *id < before).collect();
            for limit in [0, 1, 3, 100] {
                let got = read(store, timeline, PageRequest::before(before, limit)).await;
                assert_eq!(
                    raw(&ids_of(&got)),
                    raw(&older[..limit.min(older.len())]),
                    "store contract: timeline({timeline:?}) before {} with limit {limit} must be \
                     the newest {limit} messages with smaller ids",
                    before.0
                );
            }
        }
    }
}

/// Walking every timeline page by page (pages of 1, 3 and 7), passing the
/// last id of each page as the next `before`, visits every message exactly
/// once, newest first.
pub async fn paging_visits_every_message_once(store: &Arc<dyn Store>) {
    let (users, posted) = users_posting(store, ["walker", "walked", "bystander"], 23).await;
    assert!(store.follow(users[0].id, users[1].id).await.must("follow"));
    assert!(store.follow(users[2].id, users[0].id).await.must("follow"));
    let follows = [(users[0].id, users[1].id), (users[2].id, users[0].id)];
    let mut timelines = vec![Timeline::Public];
    for user in &users {
        timelines.push(Timeline::User(user.id));
        timelines.push(Timeline::Home(user.id));
    }
    for timeline in timelines {
        let full = expected(&posted, &follows, timeline);
        for page_size in [1, 3, 7] {
            let seen = walk(store, timeline, page_size).await;
            assert_eq!(
                raw(&seen),
                raw(&full),
                "store contract: walking {timeline:?} in pages of {page_size} must visit every \
                 message exactly once, newest first"
            );
        }
    }
}

/// While another task keeps posting, a page-by-page walk of a timeline
/// still visits every message that existed when the walk began exactly
/// once, never repeats one, and stays newest first.
pub async fn paging_is_stable_while_messages_are_posted(store: &Arc<dyn Store>) {
    const NEW_POSTS: usize = 20;
    let (users, posted) = users_posting(store, ["reader", "writer", "other"], 30).await;
    assert!(store.follow(users[0].id, users[1].id).await.must("follow"));
    let follows = [(users[0].id, users[1].id)];
    let timelines = [
        Timeline::Public,
        Timeline::User(users[1].id),
        Timeline::Home(users[0].id),
    ];
    let mut all_posted = posted.clone();

    for (round, timeline) in timelines.into_iter().enumerate() {
        let existing = expected(&all_posted, &follows, timeline);
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let poster = {
            let store = Arc::clone(store);
            let users = users.clone();
            tokio::spawn(async move {
                let mut new = Vec::new();
                for n in 0..NEW_POSTS {
                    let author = &users[n % users.len()];
                    let id = post(&store, author, &format!("concurrent {round}/{n}"), 9_000).await;
                    new.push(Posted {
                        id,
                        author: author.id,
                    });
                    // The walker may be gone already; then nobody listens.
                    let _ = sender.send(id);
                }
                new
            })
        };

        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = read(store, timeline, PageRequest { before, limit: 3 }).await;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            seen.extend(ids_of(&page));
            // Let at least one more message be posted before the next page,
            // for as long as the poster runs.
            receiver.recv().await;
        }
        let new = poster
            .await
            .unwrap_or_else(|err| panic!("the posting task panicked: {err}"));
        all_posted.extend(&new);

        assert_newest_first(
            &seen,
            format_args!("walking {timeline:?} while messages are posted"),
        );
        let seen_set: HashSet<MessageId> = seen.iter().copied().collect();
        let missing: Vec<u64> = existing
            .iter()
            .filter(|id| !seen_set.contains(id))
            .map(|id| id.0)
            .collect();
        assert!(
            missing.is_empty(),
            "store contract: walking {timeline:?} while messages are posted skipped messages \
             that existed when the walk began: {missing:?}"
        );
        let new_ids: HashSet<MessageId> = expected(&new, &follows, timeline).into_iter().collect();
        let existing_set: BTreeSet<MessageId> = existing.iter().copied().collect();
        let foreign: Vec<u64> = seen
            .iter()
            .filter(|id| !existing_set.contains(id) && !new_ids.contains(id))
            .map(|id| id.0)
            .collect();
        assert!(
            foreign.is_empty(),
            "store contract: walking {timeline:?} visited messages that do not belong to it: \
             {foreign:?}"
        );
    }
}

/// Sixteen tasks post at once: every message gets a unique id, each task's
/// ids grow in the order its posts completed, and every message appears in
/// the timelines exactly once.
pub async fn concurrent_posts_get_unique_growing_ids(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    const POSTS_PER_TASK: usize = 8;
    let mut authors = Vec::new();
    for n in 0..4 {
        authors.push(create(store, &format!("poster {n}")).await);
    }
    let answers = all_at_once(store, TASKS, |store, task| {
        let author = authors[task % authors.len()].clone();
        async move {
            let mut ids = Vec::new();
            for n in 0..POSTS_PER_TASK {
                ids.push(post(&store, &author, &format!("task {task} post {n}"), 42).await);
            }
            (author.id, ids)
        }
    })
    .await;
    let mut posted = Vec::new();
    for (author, ids) in answers {
        for pair in ids.windows(2) {
            assert!(
                pair[0] < pair[1],
                "store contract: a post that returned before another began must have the \
                 smaller id, but {} came after {}",
                pair[1].0,
                pair[0].0
            );
        }
        posted.extend(ids.into_iter().map(|id| Posted { id, author }));
    }
    let unique: HashSet<MessageId> = posted.iter().map(|message| message.id).collect();
    assert_eq!(
        unique.len(),
        TASKS * POSTS_PER_TASK,
        "store contract: concurrent posts must get unique ids"
    );

    let later = post(store, &authors[0], "after everything", 43).await;
    assert!(
        posted.iter().all(|message| message.id < later),
        "store contract: a post begun after others returned must have a larger id"
    );
    posted.push(Posted {
        id: later,
        author: authors[0].id,
    });

    let public = read_all(store, Timeline::Public).await;
    assert_eq!(
        raw(&ids_of(&public)),
        raw(&expected(&posted, &[], Timeline::Public)),
        "store contract: the public timeline must hold every concurrently posted message once"
    );
    for author in &authors {
        let got = walk(store, Timeline::User(author.id), 5).await;
        assert_eq!(
            raw(&got),
            raw(&expected(&posted, &[], Timeline::User(author.id))),
            "store contract: the user timeline of {:?} lost or repeated concurrent posts",
            author.username.as_str()
        );
    }
}
