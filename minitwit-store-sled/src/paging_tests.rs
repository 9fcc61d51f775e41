//! Older home pages from cursors, with writes between the pages: every
//! page equals the plain merge, and a cursor answers only while what it
//! found still holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minitwit_core::home::HomeCacheLimits;
use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, Timeline, UserId,
    Username,
};

use crate::{SledConfig, SledStore};

/// A store whose cache entries keep four ids.
fn store() -> SledStore {
    SledStore::open(SledConfig::temporary().home_cache(HomeCacheLimits {
        entries: 4,
        ..HomeCacheLimits::DEFAULT
    }))
    .unwrap()
}

async fn register(store: &SledStore, name: &str) -> UserId {
    store
        .create_user(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse(&format!("{name}@example.org")).unwrap(),
            password_hash: PasswordHash::from_phc(
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
            ),
            session_generation: 1,
        })
        .await
        .unwrap()
        .id
}

async fn post(store: &SledStore, author: UserId) -> u64 {
    store
        .post(author, MessageText::parse("a message").unwrap(), 0)
        .await
        .unwrap()
        .0
}

/// A reader following four authors who posted 40 messages between them.
async fn reader_of_four(store: &SledStore) -> (UserId, Vec<UserId>) {
    let reader = register(store, "reader").await;
    let mut authors = Vec::new();
    for n in 0..4 {
        let author = register(store, &format!("author{n}")).await;
        assert!(store.follow(reader, author).await.unwrap());
        authors.push(author);
    }
    for n in 0..40 {
        post(store, authors[[0, 0, 0, 1, 2, 0, 3, 1][n % 8]]).await;
    }
    (reader, authors)
}

/// `reader`'s page of `limit` below `before`, checked against the plain
/// merge of the trees.
async fn checked_page(
    store: &SledStore,
    reader: UserId,
    before: Option<u64>,
    limit: usize,
) -> Vec<u64> {
    let page = PageRequest {
        before: before.map(MessageId),
        limit,
    };
    let got: Vec<u64> = store
        .timeline(Timeline::Home(reader), page)
        .await
        .unwrap()
        .iter()
        .map(|message| message.id.0)
        .collect();
    let authors = store.trees.home_authors(reader).unwrap();
    let merged: Vec<u64> = store
        .trees
        .merged_home_ids(&authors, page)
        .unwrap()
        .iter()
        .map(|(id, _)| id.0)
        .collect();
    assert_eq!(got, merged, "the page below {before:?}");
    got
}

#[tokio::test]
async fn older_pages_after_a_merge_come_from_its_cursor() {
    let store = store();
    let (reader, _) = reader_of_four(&store).await;
    let first = checked_page(&store, reader, None, 3).await;
    let mut before = first.last().copied();
    let mut pages = 1;
    loop {
        let page = checked_page(&store, reader, before, 3).await;
        pages += 1;
        match page.last() {
            Some(last) if page.len() == 3 => {
                before = Some(*last);
                // Past the entry, every full page leaves a cursor.
                if pages > 2 {
                    assert_eq!(store.paging.cursors.below(reader), Some(*last));
                }
            }
            _ => break,
        }
    }
    assert_eq!(pages, 14);
    assert_eq!(
        store.paging.cursors.size().0,
        0,
        "the last page leaves none"
    );
}

#[tokio::test]
async fn posts_between_pages_leave_the_cursor_whole() {
    let store = store();
    let (reader, authors) = reader_of_four(&store).await;
    let first = checked_page(&store, reader, None, 40).await;
    let mut before = checked_page(&store, reader, Some(first[10]), 5)
        .await
        .last()
        .copied();
    for author in &authors {
        post(&store, *author).await;
    }
    post(&store, reader).await;
    for _ in 0..3 {
        assert_eq!(store.paging.cursors.below(reader), before);
        before = checked_page(&store, reader, before, 5)
            .await
            .last()
            .copied();
        post(&store, authors[1]).await;
    }
}

#[tokio::test]
async fn a_follow_change_between_pages_ends_the_cursor() {
    for follow in [true, false] {
        let store = store();
        let (reader, authors) = reader_of_four(&store).await;
        let stranger = register(&store, "stranger").await;
        for _ in 0..10 {
            post(&store, stranger).await;
        }
        let first = checked_page(&store, reader, None, 40).await;
        let page = checked_page(&store, reader, Some(first[10]), 5).await;
        let below = page.last().copied();
        assert_eq!(store.paging.cursors.below(reader), below);
        if follow {
            assert!(store.follow(reader, stranger).await.unwrap());
        } else {
            assert!(store.unfollow(reader, authors[0]).await.unwrap());
        }
        let mut before = below;
        while let Some(last) = checked_page(&store, reader, before, 5).await.last() {
            before = Some(*last);
        }
    }
}

#[tokio::test]
async fn a_post_under_way_below_a_page_keeps_the_merge_from_leaving_a_cursor() {
    let store = store();
    let (reader, _) = reader_of_four(&store).await;
    let first = checked_page(&store, reader, None, 40).await;
    // As if a post had taken an id below the page and not committed yet
    // (and no cursor were left from the first page).
    store.paging.cursors.clear();
    let under_way = store.paging.posting(|| Ok::<_, ()>(first[20] - 1)).unwrap();
    let page = checked_page(&store, reader, Some(first[10]), 5).await;
    assert!(page.iter().all(|id| *id > under_way.id));
    assert_eq!(store.paging.cursors.below(reader), None);
    drop(under_way);
    let page = checked_page(&store, reader, Some(first[10]), 5).await;
    assert_eq!(store.paging.cursors.below(reader), page.last().copied());
}

#[tokio::test]
async fn an_import_or_a_clear_ends_every_cursor() {
    let store = store();
    let (reader, _) = reader_of_four(&store).await;
    let first = checked_page(&store, reader, None, 40).await;
    let page = checked_page(&store, reader, Some(first[10]), 5).await;
    assert!(store.paging.cursors.below(reader).is_some());
    store.import(Vec::new()).await.unwrap();
    assert_eq!(store.paging.cursors.size(), (0, 0));
    let page = checked_page(&store, reader, page.last().copied(), 5).await;
    assert!(store.paging.cursors.below(reader).is_some());
    store.clear().await.unwrap();
    assert_eq!(store.paging.cursors.size(), (0, 0));
    assert!(
        checked_page(&store, reader, page.last().copied(), 5)
            .await
            .is_empty()
    );
}

/// With no cache, a reader's first page is a merge too, so its cursor
/// starts among the newest ids while posts take theirs: rounds of posts on
/// several tasks while the reader reads first pages and the page below
/// each; after each round, the page the cursor left (if any) answers is
/// the merge's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_made_among_concurrent_posts_stay_whole() {
    let store = std::sync::Arc::new(
        SledStore::open(SledConfig::temporary().home_cache(HomeCacheLimits::OFF)).unwrap(),
    );
    let (reader, authors) = reader_of_four(&store).await;
    let mut checked = 0;
    for _ in 0..20 {
        let posters: Vec<_> = authors
            .iter()
            .map(|author| {
                let (store, author) = (std::sync::Arc::clone(&store), *author);
                tokio::spawn(async move {
                    for _ in 0..25 {
                        post(&store, author).await;
                    }
                })
            })
            .collect();
        let paging = {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..25 {
                    let home = Timeline::Home(reader);
                    let first = store.timeline(home, PageRequest::first(3)).await.unwrap();
                    if let Some(last) = first.last() {
                        let page = PageRequest::before(last.id, 3);
                        store.timeline(home, page).await.unwrap();
                    }
                }
            })
        };
        for task in posters {
            task.await.unwrap();
        }
        paging.await.unwrap();
        // The round's last merge may have left none (a post was under way).
        if let Some(below) = store.paging.cursors.below(reader) {
            checked_page(&store, reader, Some(below), 3).await;
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Through the service, as the site pages: it reads one message more than
/// it shows and asks next for the page below the last one shown, which the
/// cursor answers too.
#[tokio::test]
async fn pages_the_service_asks_for_come_from_the_cursor() {
    let store = std::sync::Arc::new(store());
    let (reader, _) = reader_of_four(&store).await;
    let all = checked_page(&store, reader, None, 100).await;
    let service = minitwit_core::MiniTwit::builder(store.clone())
        .build()
        .unwrap();
    let mut page = PageRequest::first(3);
    let mut shown = Vec::new();
    loop {
        let got = service.home_timeline(reader, page).await.unwrap();
        shown.extend(got.messages.iter().map(|message| message.id.0));
        let Some(next) = got.next else { break };
        // Past the entry (four ids), every page leaves a cursor for it.
        if shown.len() > 4 {
            assert!(
                store.paging.cursors.answers(reader, next.0),
                "below {next:?}"
            );
        }
        page = PageRequest::before(next, 3);
    }
    assert_eq!(shown, all);
}
