//! Redis-specific behaviour beyond the shared suite: races between server
//! instances (separate connections), how ids are drawn, namespaces, write
//! tokens, configurations refused before connecting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, StoreError, Timeline,
    User, UserId, Username,
};
use minitwit_store_redis::test_server::{shared_url, unique_namespace};
use minitwit_store_redis::{RedisConfig, RedisStore};

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{}@example.org", name.replace(' ', "."))).unwrap(),
        password_hash: PasswordHash::from_phc(format!("$argon2id$v=19$hash-of-{name}")),
        session_generation: 1,
    }
}

async fn register(store: &RedisStore, name: &str) -> User {
    store.create_user(new_user(name)).await.unwrap()
}

async fn post(store: &RedisStore, author: UserId, text: &str) -> MessageId {
    store
        .post(author, MessageText::parse(text).unwrap(), 1_700_000_000)
        .await
        .unwrap()
}

fn ids(messages: &[minitwit_core::Message]) -> Vec<u64> {
    messages.iter().map(|message| message.id.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_sixteen_concurrent_registrations_wins() {
    let config = support::test_config();
    // Four "server instances", each with its own connection.
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(support::connect(config.clone()).await);
    }
    let mut tasks = Vec::new();
    for attempt in 0..16 {
        let store = instances[attempt % 4].clone();
        tasks.push(tokio::spawn(async move {
            let mut user = new_user("Roger Histand");
            user.email = Email::parse(&format!("attempt{attempt}@example.org")).unwrap();
            store.create_user(user).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(user) => winners.push(user),
            Err(StoreError::UsernameTaken) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration succeeds");
    let stored = instances[3]
        .user_by_name("Roger Histand")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user, winners[0]);
    // The losers did not use up ids: the next user gets the next one.
    let next = register(&instances[1], "Someone Else").await;
    assert_eq!(next.id.0, winners[0].id.0 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_from_many_instances_get_unique_growing_ids() {
    let config = support::test_config();
    let first = support::connect(config.clone()).await;
    let second = support::connect(config).await;
    let author = register(&first, "Ada").await.id;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            post(&store, author, &format!("message {n}")).await
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        assert!(all.insert(task.await.unwrap().0), "duplicate id");
    }
    let later = post(&second, author, "after all of them").await;
    assert!(all.iter().all(|id| *id < later.0));
    let page = first
        .timeline(Timeline::Public, PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(page.len(), 41);
}

#[tokio::test]
async fn namespaces_do_not_see_each_other() {
    let url = shared_url();
    let one =
        support::connect(RedisConfig::new(url.clone()).with_namespace(unique_namespace("store")))
            .await;
    let two =
        support::connect(RedisConfig::new(url).with_namespace(unique_namespace("store"))).await;
    assert_ne!(one.namespace(), two.namespace());

    let ada = register(&one, "Ada").await;
    post(&one, ada.id, "only in one").await;
    one.set_latest(42).await.unwrap();
    one.get_or_init_secret("session", b"one").await.unwrap();

    assert!(two.user_by_name("Ada").await.unwrap().is_none());
    assert!(two.user_by_id(ada.id).await.unwrap().is_none());
    assert!(
        two.timeline(Timeline::Public, PageRequest::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(two.latest().await.unwrap(), None);
    assert_eq!(
        two.get_or_init_secret("session", b"two").await.unwrap(),
        b"two"
    );
    // The same name is free in the other namespace, and ids start over.
    let other_ada = register(&two, "Ada").await;
    assert_eq!(other_ada.id, ada.id);
    assert_eq!(one.latest().await.unwrap(), Some(42));
}

#[tokio::test]
async fn bad_configurations_are_refused_before_connecting() {
    let bad_namespace = RedisConfig::new(shared_url()).with_namespace("a:b");
    assert!(matches!(
        RedisStore::connect(bad_namespace).await,
        Err(minitwit_store_redis::RedisStoreError::InvalidNamespace(_))
    ));
    let bad_url = RedisConfig::new("http://example.org");
    assert!(matches!(
        RedisStore::connect(bad_url).await,
        Err(minitwit_store_redis::RedisStoreError::InvalidUrl { .. })
    ));
}

/// A raw connection to the shared server, to look at keys directly.
async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(shared_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_post_sent_twice_with_one_write_token_posts_once() {
    let store = support::fresh_redis_store().await;
    let ada = register(&store, "Ada").await.id;
    let text = || MessageText::parse("sent twice").unwrap();
    let token = "0123456789abcdef0123456789abcdef";

    let first = store
        .post_with_write_token(ada, text(), 1_700_000_000, token)
        .await
        .unwrap();
    let again = store
        .post_with_write_token(ada, text(), 1_700_000_000, token)
        .await
        .unwrap();
    assert_eq!(again, first, "the re-send answers the first run's id");
    for timeline in [Timeline::Public, Timeline::User(ada), Timeline::Home(ada)] {
        let page = store
            .timeline(timeline, PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(ids(&page), [first.0], "{timeline:?}");
    }

    let mut raw = raw_connection().await;
    let namespace = store.namespace();
    let counter: u64 = redis::cmd("GET")
        .arg(format!("{namespace}:next_message_id"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(counter, first.0, "the re-send drew no id");
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{namespace}:write:{token}"))
        .query_async(&mut raw)
        .await
        .unwrap();
    let max = i64::try_from(minitwit_store_redis::layout::WRITE_TOKEN_TTL.as_secs()).unwrap();
    assert!(0 < ttl && ttl <= max, "the token record expires: TTL {ttl}");

    // Another token is another post, as is every plain `post`.
    let other = store
        .post_with_write_token(ada, text(), 1_700_000_000, "another token")
        .await
        .unwrap();
    let plain = post(&store, ada, "sent twice").await;
    let plain_again = post(&store, ada, "sent twice").await;
    assert!(first < other && other < plain && plain < plain_again);
    let page = store
        .timeline(Timeline::Public, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.len(), 4);
}

#[tokio::test]
async fn a_registration_sent_twice_with_one_write_token_creates_one_user() {
    let store = support::fresh_redis_store().await;
    let token = "fedcba9876543210fedcba9876543210";

    let first = store
        .create_user_with_write_token(new_user("Ada"), token)
        .await
        .unwrap();
    let again = store
        .create_user_with_write_token(new_user("Ada"), token)
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "the re-send returns the user, not UsernameTaken"
    );
    let stored = store.user_by_name("Ada").await.unwrap().unwrap();
    assert_eq!(stored.user, first);

    // Any other call with the name finds it taken.
    assert!(matches!(
        store
            .create_user_with_write_token(new_user("Ada"), "another token")
            .await,
        Err(StoreError::UsernameTaken)
    ));
    assert!(matches!(
        store.create_user(new_user("Ada")).await,
        Err(StoreError::UsernameTaken)
    ));
    // The re-send drew no id: the next user gets the next one.
    let grace = register(&store, "Grace").await;
    assert_eq!(grace.id.0, first.id.0 + 1);
}

#[tokio::test]
async fn a_namespace_of_the_first_layout_is_counted_once_on_connect() {
    let config = support::test_config();
    let ns = config.namespace.clone();
    let mut raw = raw_connection().await;
    // What the first layout wrote for two users, a follow and a message:
    // no counts, no `N:users`, no session generations.
    let mut old = redis::pipe();
    old.cmd("SET").arg(format!("{ns}:next_user_id")).arg(2);
    for (id, name) in [(1, "Ada"), (2, "Grace")] {
        old.cmd("HSET")
            .arg(format!("{ns}:user:{id}"))
            .arg("name")
            .arg(name)
            .arg("email")
            .arg("a@b")
            .arg("pw_hash")
            .arg("$argon2id$old");
        old.cmd("HSET")
            .arg(format!("{ns}:user_ids"))
            .arg(name)
            .arg(id);
    }
    old.cmd("ZADD").arg(format!("{ns}:follows:1")).arg(2).arg(2);
    old.cmd("SET").arg(format!("{ns}:next_message_id")).arg(1);
    old.cmd("HSET")
        .arg(format!("{ns}:message:1"))
        .arg("author")
        .arg(2)
        .arg("text")
        .arg("hi")
        .arg("pub_date")
        .arg(5);
    old.cmd("ZADD")
        .arg(format!("{ns}:timeline:public"))
        .arg(1)
        .arg(1);
    old.cmd("ZADD")
        .arg(format!("{ns}:timeline:user:2"))
        .arg(1)
        .arg(1);
    let () = old.query_async(&mut raw).await.unwrap();

    let store = support::connect(config.clone()).await;
    assert!(!store.was_created());
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.users, counts.follows, counts.messages), (2, 1, 1));
    let ada = store.user_by_name("Ada").await.unwrap().unwrap();
    assert_eq!(ada.session_generation, 0);
    let exported: Vec<minitwit_core::Record> = futures::TryStreamExt::try_collect(store.export())
        .await
        .unwrap();
    assert_eq!(exported.len(), 4, "{exported:?}");
    // Ada's follow, from before the home cache, shows in her home timeline.
    let home = store
        .timeline(Timeline::Home(ada.user.id), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&home), [1]);
    assert!(store.unfollow(ada.user.id, UserId(2)).await.unwrap());
    let home = store
        .timeline(Timeline::Home(ada.user.id), PageRequest::first(10))
        .await
        .unwrap();
    assert!(home.is_empty());
    // Later writes count on top; a second connect counts nothing again.
    let carl = register(&store, "Carl").await;
    assert_eq!(carl.id.0, 3);
    let again = support::connect(config).await;
    assert_eq!(again.counts().await.unwrap().users, 3);
}

/// The home cache lives in Redis: a reader's entry filled through one
/// instance receives the posts, follows and unfollows made through another.
#[tokio::test]
async fn a_home_cache_entry_follows_writes_from_every_instance() {
    let config = support::test_config();
    let one = support::connect(config.clone()).await;
    let two = support::connect(config).await;
    let reader = register(&one, "reader").await;
    let author = register(&one, "author").await;
    let other = register(&one, "other").await;
    let first = post(&one, author.id, "first").await;
    assert!(one.follow(reader.id, author.id).await.unwrap());
    let home = |store: &RedisStore| {
        let store = store.clone();
        async move {
            ids(&store
                .timeline(Timeline::Home(reader.id), PageRequest::first(10))
                .await
                .unwrap())
        }
    };
    assert_eq!(home(&one).await, [first.0]);
    let second = post(&two, author.id, "second").await;
    assert_eq!(home(&one).await, [second.0, first.0]);
    assert!(two.follow(reader.id, other.id).await.unwrap());
    let third = post(&two, other.id, "third").await;
    assert_eq!(home(&one).await, [third.0, second.0, first.0]);
    assert!(two.unfollow(reader.id, author.id).await.unwrap());
    assert_eq!(home(&one).await, [third.0]);
    post(&two, author.id, "unseen").await;
    assert_eq!(home(&one).await, [third.0]);
}

/// An entry filled while its reader saw no message has no ids; the first
/// post for it creates its set of ids, which must expire with the entry
/// rather than outlive it.
#[tokio::test]
async fn an_entry_that_starts_empty_expires_as_a_whole() {
    let config = support::test_config();
    let ns = config.namespace.clone();
    let store = support::connect(config).await;
    let reader = register(&store, "reader").await;
    let author = register(&store, "author").await;
    assert!(store.follow(reader.id, author.id).await.unwrap());
    let home = store
        .timeline(Timeline::Home(reader.id), PageRequest::first(10))
        .await
        .unwrap();
    assert!(home.is_empty());
    let posted = post(&store, author.id, "first").await;
    let home = store
        .timeline(Timeline::Home(reader.id), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&home), [posted.0]);
    let mut raw = raw_connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{ns}:home:{}", reader.id.0))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl > 0, "the ids of an entry must expire, PTTL {ttl}");
}

#[tokio::test]
async fn a_namespace_of_a_newer_layout_is_refused() {
    let config = support::test_config();
    let mut raw = raw_connection().await;
    let () = redis::cmd("SET")
        .arg(format!("{}:layout", config.namespace))
        .arg(99)
        .query_async(&mut raw)
        .await
        .unwrap();
    let err = RedisStore::connect(config).await.unwrap_err();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(chain.contains("layout 99, newer than"), "{chain}");
}
