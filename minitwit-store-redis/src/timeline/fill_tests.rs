//! A fill in chunks with writes between its steps, on a real `redis-server`:
//! the entry it leaves (or does not) always gives the pages a merge gives.

use std::time::Duration;

use minitwit_core::home::HomeCacheLimits;
use minitwit_core::{
    Email, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, Timeline, UserId,
    Username,
};

use super::Fill;
use crate::layout::HOME_PULLED_MAX;
use crate::scripts::FILL_SINCE_MAX;
use crate::test_server::{shared_url, unique_namespace};
use crate::{RedisConfig, RedisStore};

/// A store filling and merging one followee per script, and a second one
/// on the same namespace that merges every page in one script (no cache):
/// what every page must equal.
pub(super) async fn stores() -> (RedisStore, RedisStore) {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace("fill"));
    config.response_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    let mut plain = config.clone();
    config.merge_chunk = 1;
    plain.home_cache = HomeCacheLimits::OFF;
    plain.merge_chunk = usize::MAX;
    let chunked = RedisStore::connect(config).await.unwrap();
    let plain = RedisStore::connect(plain).await.unwrap();
    (chunked, plain)
}

pub(super) async fn register(store: &RedisStore, name: &str) -> UserId {
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

pub(super) async fn post(store: &RedisStore, author: UserId) -> MessageId {
    store
        .post(author, MessageText::parse("a message").unwrap(), 0)
        .await
        .unwrap()
}

pub(super) async fn home(store: &RedisStore, reader: UserId) -> Vec<u64> {
    store
        .timeline(Timeline::Home(reader), PageRequest::first(50))
        .await
        .unwrap()
        .iter()
        .map(|message| message.id.0)
        .collect()
}

/// `reader`'s home page on `store`, checked to be the page a merge in one
/// script gives (`plain`).
pub(super) async fn checked_home(
    store: &RedisStore,
    plain: &RedisStore,
    reader: UserId,
) -> Vec<u64> {
    let page = home(store, reader).await;
    assert_eq!(page, home(plain, reader).await);
    page
}

/// A reader following three authors with two messages each, an author
/// they do not follow yet with two older messages, and a fill of the
/// reader's entry started (its chunks run, its last step not).
struct Filling {
    reader: UserId,
    followees: Vec<UserId>,
    stranger: UserId,
    fill: Fill,
}

async fn start_fill(store: &RedisStore) -> Filling {
    let reader = register(store, "reader").await;
    let stranger = register(store, "stranger").await;
    post(store, stranger).await;
    post(store, stranger).await;
    let mut followees = Vec::new();
    for n in 0..3 {
        let author = register(store, &format!("author{n}")).await;
        post(store, author).await;
        post(store, author).await;
        assert!(store.follow(reader, author).await.unwrap());
        followees.push(author);
    }
    let token = crate::write_token();
    let (kind, newest, messages, _, sources, _) =
        store.home_script(reader, "+inf", 50, &token).await.unwrap();
    assert_eq!(kind, "fill");
    assert_eq!(sources.len(), 4);
    let fill = store
        .start_fill(reader, &newest, &messages, &sources, &token)
        .await
        .unwrap();
    Filling {
        reader,
        followees,
        stranger,
        fill,
    }
}

impl Filling {
    async fn finish(&self, store: &RedisStore) -> String {
        store.finish_fill(&self.fill).await.unwrap()
    }
}

async fn has_entry(store: &RedisStore, reader: UserId) -> bool {
    let mut exists = redis::cmd("EXISTS");
    exists.arg(format!(
        "{}:home_from:{}",
        store.layout.namespace(),
        reader.0
    ));
    store.conn.query::<u64>("test", &exists).await.unwrap() == 1
}

#[tokio::test]
async fn a_first_page_in_chunks_fills_the_entry_that_posts_then_reach() {
    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    assert_eq!(filling.finish(&store).await, "filled");
    assert!(has_entry(&store, filling.reader).await);
    checked_home(&store, &plain, filling.reader).await;
    assert_eq!(home(&store, filling.reader).await.len(), 6);
    let later = post(&store, filling.followees[1]).await;
    assert_eq!(home(&store, filling.reader).await[0], later.0);
    checked_home(&store, &plain, filling.reader).await;
}

#[tokio::test]
async fn posts_during_a_fill_are_in_the_entry_and_their_authors_reach_it_again() {
    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    // After their chunk: these posts find no entry and drop the reader from
    // their authors' fans.
    let during = post(&store, filling.followees[0]).await;
    let own = post(&store, filling.reader).await;
    post(&store, filling.stranger).await;
    assert_eq!(filling.finish(&store).await, "filled");
    let page = checked_home(&store, &plain, filling.reader).await;
    assert_eq!(page[..2], [own.0, during.0]);
    let after = post(&store, filling.followees[0]).await;
    let own_after = post(&store, filling.reader).await;
    assert_eq!(
        home(&store, filling.reader).await[..2],
        [own_after.0, after.0]
    );
    checked_home(&store, &plain, filling.reader).await;
}

#[tokio::test]
async fn a_follow_or_an_unfollow_during_a_fill_leaves_no_entry() {
    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    assert!(
        store
            .follow(filling.reader, filling.stranger)
            .await
            .unwrap()
    );
    assert_eq!(filling.finish(&store).await, "changed");
    assert!(!has_entry(&store, filling.reader).await);
    let page = checked_home(&store, &plain, filling.reader).await;
    assert_eq!(
        page.len(),
        8,
        "the stranger's older messages are on the page"
    );

    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    assert!(
        store
            .unfollow(filling.reader, filling.followees[2])
            .await
            .unwrap()
    );
    assert_eq!(filling.finish(&store).await, "changed");
    assert!(!has_entry(&store, filling.reader).await);
    assert_eq!(home(&store, filling.reader).await.len(), 4);
    checked_home(&store, &plain, filling.reader).await;
}

#[tokio::test]
async fn a_fill_that_did_not_see_every_message_leaves_no_entry() {
    let (store, _) = stores().await;
    let filling = start_fill(&store).await;
    // A message counted that is not above the fill's newest id: what an
    // import of older ids meanwhile looks like.
    let mut count = redis::cmd("INCR");
    count.arg(format!("{}:count:messages", store.layout.namespace()));
    store.conn.query::<u64>("test", &count).await.unwrap();
    assert_eq!(filling.finish(&store).await, "changed");
    assert!(!has_entry(&store, filling.reader).await);
}

#[tokio::test]
async fn a_fill_outrun_by_posts_takes_them_a_chunk_at_a_time() {
    let (store, plain) = stores().await;
    let mut filling = start_fill(&store).await;
    let mut during = Vec::new();
    for n in 0..2 * FILL_SINCE_MAX + 10 {
        let author = if n % 100 == 0 {
            filling.followees[n % 3]
        } else {
            filling.stranger
        };
        let id = post(&store, author).await;
        if author != filling.stranger {
            during.push(id.0);
        }
    }
    assert_eq!(filling.finish(&store).await, "busy");
    assert!(!has_entry(&store, filling.reader).await);
    store.catch_up(&mut filling.fill).await.unwrap();
    assert_eq!(filling.fill.counted, 8 + 2 * FILL_SINCE_MAX as u64 + 10);
    assert_eq!(filling.finish(&store).await, "filled");
    assert!(has_entry(&store, filling.reader).await);
    let page = checked_home(&store, &plain, filling.reader).await;
    during.reverse();
    assert_eq!(page[..during.len()], during[..]);
    let after = post(&store, filling.followees[0]).await;
    assert_eq!(home(&store, filling.reader).await[0], after.0);
}

#[tokio::test]
async fn an_unfollow_and_a_follow_back_during_a_fill_leave_no_entry() {
    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    let author = filling.followees[1];
    assert!(store.unfollow(filling.reader, author).await.unwrap());
    assert!(store.follow(filling.reader, author).await.unwrap());
    assert_eq!(filling.finish(&store).await, "changed");
    assert!(!has_entry(&store, filling.reader).await);
    // The next page fills the entry again, and the author's posts reach it.
    checked_home(&store, &plain, filling.reader).await;
    assert!(has_entry(&store, filling.reader).await);
    let later = post(&store, author).await;
    assert_eq!(home(&store, filling.reader).await[0], later.0);
}

#[tokio::test]
async fn a_fill_finished_twice_or_after_another_keeps_the_first_entry() {
    let (store, plain) = stores().await;
    let filling = start_fill(&store).await;
    assert_eq!(home(&store, filling.reader).await.len(), 6);
    assert_eq!(filling.finish(&store).await, "filled");
    let later = post(&store, filling.followees[2]).await;
    assert_eq!(filling.finish(&store).await, "filled");
    assert_eq!(home(&store, filling.reader).await[0], later.0);
    checked_home(&store, &plain, filling.reader).await;
}

/// A merge in chunks waits while another one runs in the same store; a
/// reader merged in one script, and a page from the cache, do not.
#[tokio::test]
async fn merges_in_chunks_run_one_at_a_time() {
    let (store, _) = stores().await;
    let filling = start_fill(&store).await;
    assert_eq!(filling.finish(&store).await, "filled");
    let few = register(&store, "few").await;
    let other = register(&store, "other").await;
    for author in &filling.followees[..2] {
        assert!(store.follow(other, *author).await.unwrap());
    }
    let read = |reader: UserId| {
        let store = store.clone();
        tokio::spawn(async move { home(&store, reader).await.len() })
    };
    let held = store.merges.acquire().await.unwrap();
    assert_eq!(
        read(filling.reader).await.unwrap(),
        6,
        "a cached page never waits"
    );
    assert_eq!(
        read(few).await.unwrap(),
        0,
        "a reader of nobody merges in one script"
    );
    let waiting = read(other);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "a fill in chunks waits for its turn"
    );
    drop(held);
    assert_eq!(waiting.await.unwrap(), 4);
}

/// A tiny deterministic generator (xorshift), so a failure replays.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// Two instances filling in chunks while posts, follows and unfollows run
/// on both and entries vanish (as they expire), and readers page back past
/// their entries (so that merges leave cursors), in rounds: after each
/// round, every entry holds what a merge gives, and so does every page a
/// cursor left during the round answers; at the end, every followee's next
/// post reaches the entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_filled_in_chunks_among_concurrent_writes_stay_whole() {
    race(HomeCacheLimits::DEFAULT.readers).await;
    // Two readers at most per author, of three: fans always full.
    race(2).await;
}

/// [`entries_filled_in_chunks_among_concurrent_writes_stay_whole`] with
/// at most `readers` readers per author.
async fn race(readers_per_author: usize) {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace("race"));
    config.response_timeout = Duration::from_secs(5);
    let mut plain = config.clone();
    config.merge_chunk = 1;
    config.home_cache = HomeCacheLimits {
        entries: 4,
        readers: readers_per_author,
        ..HomeCacheLimits::DEFAULT
    };
    plain.home_cache = HomeCacheLimits::OFF;
    plain.merge_chunk = usize::MAX;
    let one = RedisStore::connect(config.clone()).await.unwrap();
    let two = RedisStore::connect(config).await.unwrap();
    let plain = RedisStore::connect(plain).await.unwrap();
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(register(&one, &format!("user{n}")).await);
    }
    let readers = users[..3].to_vec();
    let older = |store: &RedisStore, reader: UserId, before: Option<u64>, limit: usize| {
        let store = store.clone();
        let page = PageRequest {
            before: before.map(MessageId),
            limit,
        };
        async move {
            store
                .timeline(Timeline::Home(reader), page)
                .await
                .unwrap()
                .iter()
                .map(|message| message.id.0)
                .collect::<Vec<_>>()
        }
    };
    let page = |store: &RedisStore, reader: UserId, limit: usize| older(store, reader, None, limit);
    for round in 0..20_u64 {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = [one.clone(), two.clone()]
            .into_iter()
            .enumerate()
            .map(|(n, store)| {
                let users = users.clone();
                tokio::spawn(async move {
                    let mut dice = Dice(0x9E37_79B9 + round * 2 + n as u64);
                    for _ in 0..60 {
                        let (reader, author) = (users[dice.roll(3)], users[dice.roll(users.len())]);
                        match dice.roll(10) {
                            0..=5 => {
                                post(&store, author).await;
                            }
                            6..=7 if reader != author => {
                                store.follow(reader, author).await.unwrap();
                            }
                            _ => {
                                store.unfollow(reader, author).await.unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        let churn = [one.clone(), two.clone()].map(|store| {
            let readers = readers.clone();
            let done = std::sync::Arc::clone(&done);
            tokio::spawn(async move {
                let mut dice = Dice(0x5851_F42D + round);
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let reader = readers[dice.roll(readers.len())];
                    if dice.roll(4) == 0 {
                        let mut forget = redis::cmd("DEL");
                        let ns = store.layout.namespace();
                        forget
                            .arg(format!("{ns}:home:{}", reader.0))
                            .arg(format!("{ns}:home_from:{}", reader.0));
                        store.conn.query::<u64>("test", &forget).await.unwrap();
                    }
                    let first = store
                        .timeline(Timeline::Home(reader), PageRequest::first(3))
                        .await
                        .unwrap();
                    // Past the entry (four ids), twice: a merge, then its
                    // cursor.
                    let mut before = first.last().map(|message| message.id);
                    for _ in 0..2 {
                        let Some(id) = before else { break };
                        let page = PageRequest::before(id, 3);
                        let older = store.timeline(Timeline::Home(reader), page).await;
                        before = older.unwrap().last().map(|message| message.id);
                    }
                }
            })
        });
        for writer in writers {
            writer.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in churn {
            task.await.unwrap();
        }
        for reader in &readers {
            for store in [&one, &two] {
                if let Some(below) = store.cursors.below(*reader) {
                    let merged = older(&plain, *reader, Some(below), 3).await;
                    let got = older(store, *reader, Some(below), 3).await;
                    assert_eq!(got, merged, "round {round}, below {below}");
                }
            }
            for limit in [1, 3, 4] {
                let merged = page(&plain, *reader, limit).await;
                assert_eq!(page(&one, *reader, limit).await, merged, "round {round}");
                assert_eq!(page(&two, *reader, limit).await, merged, "round {round}");
            }
        }
    }
    for reader in &readers {
        for author in users.iter().filter(|author| *author != reader) {
            let newest = post(&two, *author).await;
            let followed = one.is_following(*reader, *author).await.unwrap();
            let first = page(&one, *reader, 1).await;
            assert_eq!(first == [newest.0], followed, "{reader:?} and {author:?}");
        }
    }
}

/// The members of a set of `store`'s namespace, sorted.
async fn members(store: &RedisStore, key: &str, id: UserId) -> Vec<u64> {
    let mut read = redis::cmd("SMEMBERS");
    read.arg(format!("{}:{key}:{}", store.layout.namespace(), id.0));
    let mut ids: Vec<u64> = store.conn.query("test", &read).await.unwrap();
    ids.sort_unstable();
    ids
}

/// Whether `reader`'s set of pulled authors lives at least as long as
/// their entry (a set that went first would lose those authors' posts).
async fn pulls_outlive_entry(store: &RedisStore, reader: UserId) -> bool {
    let ns = store.layout.namespace();
    let ttl = |key: &str| {
        let mut read = redis::cmd("PTTL");
        read.arg(format!("{ns}:{key}:{}", reader.0));
        read
    };
    let entry: i64 = store.conn.query("test", &ttl("home_from")).await.unwrap();
    let pulls: i64 = store.conn.query("test", &ttl("home_pulled")).await.unwrap();
    entry > 0 && pulls >= entry
}

/// Drops `reader`'s entry, as its expiry would.
async fn expire_entry(store: &RedisStore, reader: UserId) {
    let ns = store.layout.namespace();
    let mut forget = redis::cmd("DEL");
    for key in ["home", "home_from", "home_pulled"] {
        forget.arg(format!("{ns}:{key}:{}", reader.0));
    }
    store.conn.query::<u64>("test", &forget).await.unwrap();
}

/// An author's posts reach at most `readers` entries: a reader who would
/// be one more pulls the author (reads their posts at page time), in one
/// script or in chunks, on a first page or a follow; once an entry among
/// the fans goes, a new entry takes its place.
#[tokio::test]
async fn an_authors_posts_reach_at_most_readers_entries() {
    for merge_chunk in [usize::MAX, 1] {
        let (store, plain) = fans_of_two(merge_chunk).await;
        let author = register(&store, "author").await;
        let other = register(&store, "other").await;
        post(&store, author).await;
        post(&store, other).await;
        let mut readers = Vec::new();
        for n in 0..3 {
            let reader = register(&store, &format!("reader{n}")).await;
            assert!(store.follow(reader, author).await.unwrap());
            checked_home(&store, &plain, reader).await;
            assert!(has_entry(&store, reader).await);
            readers.push(reader);
        }
        assert_eq!(members(&store, "fans", author).await.len(), 2);
        assert_eq!(members(&store, "home_pulled", readers[2]).await, [author.0]);
        assert!(pulls_outlive_entry(&store, readers[2]).await);
        assert!(members(&store, "home_pulled", readers[0]).await.is_empty());
        let newest = post(&store, author).await;
        for reader in &readers {
            assert_eq!(checked_home(&store, &plain, *reader).await[0], newest.0);
        }
        // A reader with an entry who follows someone whose fans are full
        // pulls them, and keeps the entry.
        let third = register(&store, "third").await;
        post(&store, third).await;
        for reader in &readers[..2] {
            assert!(store.follow(*reader, third).await.unwrap());
        }
        checked_home(&store, &plain, other).await;
        assert!(has_entry(&store, other).await);
        assert!(store.follow(other, third).await.unwrap());
        assert!(has_entry(&store, other).await);
        assert_eq!(members(&store, "home_pulled", other).await, [third.0]);
        assert!(pulls_outlive_entry(&store, other).await);
        let newest = post(&store, third).await;
        assert_eq!(checked_home(&store, &plain, other).await[0], newest.0);
        // An unfollow ends the pull.
        assert!(store.unfollow(other, third).await.unwrap());
        assert!(members(&store, "home_pulled", other).await.is_empty());
        checked_home(&store, &plain, other).await;
        // A set that still names them (an unfollow through an instance of
        // the previous version) does not bring their posts back.
        let mut stale = redis::cmd("SADD");
        stale
            .arg(format!(
                "{}:home_pulled:{}",
                store.layout.namespace(),
                other.0
            ))
            .arg(third.0);
        store.conn.query::<u64>("test", &stale).await.unwrap();
        checked_home(&store, &plain, other).await;
        // Once an entry among the fans goes, a new entry takes its place.
        expire_entry(&store, readers[0]).await;
        expire_entry(&store, readers[2]).await;
        checked_home(&store, &plain, readers[2]).await;
        assert!(has_entry(&store, readers[2]).await, "chunk {merge_chunk}");
        assert!(members(&store, "home_pulled", readers[2]).await.is_empty());
        assert!(
            members(&store, "fans", author)
                .await
                .contains(&readers[2].0)
        );
        let newest = post(&store, author).await;
        for reader in &readers {
            assert_eq!(checked_home(&store, &plain, *reader).await[0], newest.0);
        }
    }
}

/// A store whose authors' posts reach two entries at most (filling and
/// merging in chunks of `merge_chunk` followees), and one on the same
/// namespace that merges every page in one script.
async fn fans_of_two(merge_chunk: usize) -> (RedisStore, RedisStore) {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace("fans"));
    config.response_timeout = Duration::from_secs(5);
    let mut plain = config.clone();
    config.merge_chunk = merge_chunk;
    config.home_cache = HomeCacheLimits {
        readers: 2,
        ..HomeCacheLimits::DEFAULT
    };
    plain.home_cache = HomeCacheLimits::OFF;
    (
        RedisStore::connect(config).await.unwrap(),
        RedisStore::connect(plain).await.unwrap(),
    )
}

/// A reader pulls at most `HOME_PULLED_MAX` authors: one who would pull one
/// more keeps no entry, and their pages are merged.
#[tokio::test]
async fn a_reader_pulls_a_bounded_number_of_authors() {
    for merge_chunk in [usize::MAX, 1] {
        let (store, plain) = fans_of_two(merge_chunk).await;
        let fans = [
            register(&store, "fan0").await,
            register(&store, "fan1").await,
        ];
        let mut authors = Vec::new();
        for n in 0..=HOME_PULLED_MAX {
            let author = register(&store, &format!("author{n}")).await;
            post(&store, author).await;
            for fan in fans {
                assert!(store.follow(fan, author).await.unwrap());
            }
            authors.push(author);
        }
        for fan in fans {
            checked_home(&store, &plain, fan).await;
            assert!(members(&store, "home_pulled", fan).await.is_empty());
        }
        let reader = register(&store, "reader").await;
        for author in &authors[..HOME_PULLED_MAX] {
            assert!(store.follow(reader, *author).await.unwrap());
        }
        checked_home(&store, &plain, reader).await;
        assert!(has_entry(&store, reader).await, "chunk {merge_chunk}");
        assert_eq!(
            members(&store, "home_pulled", reader).await.len(),
            HOME_PULLED_MAX
        );
        // One more: on a follow, then on a first page.
        assert!(
            store
                .follow(reader, authors[HOME_PULLED_MAX])
                .await
                .unwrap()
        );
        assert!(!has_entry(&store, reader).await);
        checked_home(&store, &plain, reader).await;
        assert!(!has_entry(&store, reader).await, "chunk {merge_chunk}");
        let newest = post(&store, authors[HOME_PULLED_MAX]).await;
        assert_eq!(checked_home(&store, &plain, reader).await[0], newest.0);
        // Meanwhile no fill is tried: pages are merged at once.
        let expected = if merge_chunk == 1 { "merge" } else { "page" };
        for _ in 0..2 {
            let token = crate::write_token();
            let (kind, ..) = store.home_script(reader, "+inf", 50, &token).await.unwrap();
            assert_eq!(kind, expected, "chunk {merge_chunk}");
            assert!(!has_entry(&store, reader).await);
        }
        // Until a follow change: one author fewer, and the entry pulls 32.
        assert!(store.unfollow(reader, authors[0]).await.unwrap());
        checked_home(&store, &plain, reader).await;
        assert!(has_entry(&store, reader).await, "chunk {merge_chunk}");
        assert_eq!(
            members(&store, "home_pulled", reader).await.len(),
            HOME_PULLED_MAX
        );
    }
}
