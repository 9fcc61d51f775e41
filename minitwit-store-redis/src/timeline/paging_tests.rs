//! Older home pages from cursors, on a real `redis-server`, with writes
//! between the pages: every page equals what a merge in one script gives,
//! and a cursor answers only while what it read still holds.

use std::time::Duration;

use minitwit_core::home::HomeCacheLimits;
use minitwit_core::{
    MessageId, MessageRecord, MessageText, PageRequest, Record, Store, Timeline, UserId,
};

use super::fill_tests::{checked_home, post, register};
use crate::test_server::{shared_url, unique_namespace};
use crate::{RedisConfig, RedisStore};

/// A store whose entries keep eight ids and whose merges read one source
/// per script, and one on the same namespace that merges every page in one
/// script (no cache): what every page must equal.
async fn stores() -> (RedisStore, RedisStore) {
    let (paging, plain) = configs();
    (
        RedisStore::connect(paging).await.unwrap(),
        RedisStore::connect(plain).await.unwrap(),
    )
}

/// The configurations of [`stores`].
fn configs() -> (RedisConfig, RedisConfig) {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace("paging"));
    config.response_timeout = Duration::from_secs(5);
    let mut plain = config.clone();
    config.merge_chunk = 1;
    config.home_cache = HomeCacheLimits {
        entries: 8,
        ..HomeCacheLimits::DEFAULT
    };
    plain.home_cache = HomeCacheLimits::OFF;
    plain.merge_chunk = usize::MAX;
    (config, plain)
}

/// A reader following four authors who posted 40 messages between them.
async fn reader_of_four(store: &RedisStore) -> (UserId, Vec<UserId>) {
    let reader = register(store, "reader").await;
    let mut authors = Vec::new();
    for n in 0..4 {
        let author = register(store, &format!("author{n}")).await;
        assert!(store.follow(reader, author).await.unwrap());
        authors.push(author);
    }
    for n in 0..40 {
        // Uneven: the first author posts most.
        post(store, authors[[0, 0, 0, 1, 2, 0, 3, 1][n % 8]]).await;
    }
    (reader, authors)
}

/// `reader`'s page of `limit` below `before` on `store`, checked against
/// the merge in one script of `plain`.
async fn checked_page(
    store: &RedisStore,
    plain: &RedisStore,
    reader: UserId,
    before: u64,
    limit: usize,
) -> Vec<u64> {
    let page = PageRequest::before(MessageId(before), limit);
    let ids = |messages: Vec<minitwit_core::Message>| {
        messages
            .iter()
            .map(|message| message.id.0)
            .collect::<Vec<_>>()
    };
    let got = ids(store.timeline(Timeline::Home(reader), page).await.unwrap());
    let merged = ids(plain.timeline(Timeline::Home(reader), page).await.unwrap());
    assert_eq!(got, merged, "the page below {before}");
    got
}

/// Whether `store` answers `reader`'s page below `before` from a cursor
/// (the cursor is used up either way).
async fn from_cursor(store: &RedisStore, reader: UserId, before: u64, limit: usize) -> bool {
    store
        .older_page(reader, &format!("({before}"), limit)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn older_pages_after_a_merge_come_from_its_cursor() {
    let (store, plain) = stores().await;
    let (reader, _) = reader_of_four(&store).await;
    let first = checked_home(&store, &plain, reader).await;
    assert_eq!(first.len(), 41 - 1);
    // Pages of four from the tenth message on: the entry answers the first
    // ones, then a merge, then its cursor, down to the end.
    let mut before = first[9];
    let mut pages = 0;
    loop {
        let page = checked_page(&store, &plain, reader, before, 4).await;
        let Some(last) = page.last() else { break };
        before = *last;
        pages += 1;
        if page.len() < 4 {
            break;
        }
        assert_eq!(store.cursors.size().0, 1, "a cursor below {before}");
    }
    assert_eq!(pages, 8);
    // A full page below a cursor's page comes from it.
    let page = checked_page(&store, &plain, reader, first[20], 4).await;
    assert!(from_cursor(&store, reader, page[3], 4).await);
    assert!(!from_cursor(&store, reader, page[3], 4).await, "used up");
}

#[tokio::test]
async fn posts_between_pages_leave_the_cursor_whole() {
    let (store, plain) = stores().await;
    let (reader, authors) = reader_of_four(&store).await;
    let first = checked_home(&store, &plain, reader).await;
    let page = checked_page(&store, &plain, reader, first[15], 5).await;
    for author in &authors {
        post(&store, *author).await;
    }
    post(&store, reader).await;
    assert!(store.cursors.take(reader, page[4]).is_some());
    let page = checked_page(&store, &plain, reader, first[15], 5).await;
    for author in &authors {
        post(&store, *author).await;
    }
    let mut before = page[4];
    for _ in 0..3 {
        let page = checked_page(&store, &plain, reader, before, 5).await;
        before = page[4];
    }
    assert!(from_cursor(&store, reader, before, 5).await);
}

#[tokio::test]
async fn a_follow_change_between_pages_ends_the_cursor() {
    for follow in [true, false] {
        let (store, plain) = stores().await;
        let (reader, authors) = reader_of_four(&store).await;
        let stranger = register(&store, "stranger").await;
        for _ in 0..10 {
            post(&store, stranger).await;
        }
        let first = checked_home(&store, &plain, reader).await;
        let page = checked_page(&store, &plain, reader, first[15], 5).await;
        if follow {
            assert!(store.follow(reader, stranger).await.unwrap());
        } else {
            assert!(store.unfollow(reader, authors[0]).await.unwrap());
        }
        assert!(!from_cursor(&store, reader, page[4], 5).await);
        let page = checked_page(&store, &plain, reader, first[15], 5).await;
        let mut before = page[4];
        while let Some(last) = checked_page(&store, &plain, reader, before, 5).await.last() {
            before = *last;
        }
    }
}

#[tokio::test]
async fn messages_imported_below_a_cursor_end_it() {
    let (store, plain) = stores().await;
    let reader = register(&store, "reader").await;
    let author = register(&store, "author").await;
    let other = register(&store, "other").await;
    assert!(store.follow(reader, author).await.unwrap());
    assert!(store.follow(reader, other).await.unwrap());
    // A gap of ids below every message the reader sees.
    let record = |id: u64| {
        Record::Message(MessageRecord {
            id: MessageId(id),
            author,
            text: MessageText::parse("imported").unwrap(),
            pub_date: 0,
        })
    };
    store.import(vec![record(1_000)]).await.unwrap();
    for n in 0..30 {
        post(&store, [author, other, author][n % 3]).await;
    }
    let first = checked_home(&store, &plain, reader).await;
    let page = checked_page(&store, &plain, reader, first[10], 5).await;
    store.import(vec![record(500)]).await.unwrap();
    assert!(!from_cursor(&store, reader, page[4], 5).await);
    let mut before = first[10];
    let mut seen = Vec::new();
    loop {
        let page = checked_page(&store, &plain, reader, before, 5).await;
        seen.extend(&page);
        match page.last() {
            Some(last) if page.len() == 5 => before = *last,
            _ => break,
        }
    }
    assert_eq!(seen.last(), Some(&500));
}

#[tokio::test]
async fn a_merge_by_another_instance_ends_this_ones_cursor() {
    let (config, plain) = configs();
    let store = RedisStore::connect(config.clone()).await.unwrap();
    let other = RedisStore::connect(config).await.unwrap();
    let plain = RedisStore::connect(plain).await.unwrap();
    let (reader, _) = reader_of_four(&store).await;
    let first = checked_home(&store, &plain, reader).await;
    let page = checked_page(&store, &plain, reader, first[15], 5).await;
    checked_page(&other, &plain, reader, first[15], 5).await;
    assert!(!from_cursor(&store, reader, page[4], 5).await);
    assert!(from_cursor(&other, reader, page[4], 5).await);
}

/// Through the service, as the site pages: it reads one message more than
/// it shows and asks next for the page below the last one shown, which the
/// cursor answers too.
#[tokio::test]
async fn pages_the_service_asks_for_come_from_the_cursor() {
    let (store, plain) = stores().await;
    let (reader, _) = reader_of_four(&store).await;
    let service = minitwit_core::MiniTwit::builder(std::sync::Arc::new(store.clone()))
        .build()
        .unwrap();
    let mut page = PageRequest::first(3);
    let mut shown = Vec::new();
    loop {
        let got = service.home_timeline(reader, page).await.unwrap();
        shown.extend(got.messages.iter().map(|message| message.id.0));
        let Some(next) = got.next else { break };
        // Past the entry (eight ids), every page leaves a cursor for it.
        if shown.len() > 9 {
            assert!(store.cursors.answers(reader, next.0), "below {next:?}");
        }
        page = PageRequest::before(next, 3);
    }
    let all = plain
        .timeline(Timeline::Home(reader), PageRequest::first(100))
        .await
        .unwrap();
    let all: Vec<u64> = all.iter().map(|message| message.id.0).collect();
    assert_eq!(shown, all);
}
