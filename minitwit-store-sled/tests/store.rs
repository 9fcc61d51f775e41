//! Focused behaviour tests of `SledStore` on a real sled directory: the
//! contract points where sled's own semantics matter (atomic registration,
//! index-kept timelines, the k-way merged home timeline, paging) and a
//! comparison with the reference `MemoryStore`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use minitwit_core::{
    Email, MemoryStore, Message, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store,
    StoreError, Timeline, User, UserId, Username,
};
use minitwit_store_sled::{SledConfig, SledStore};

fn temporary() -> Arc<dyn Store> {
    Arc::new(SledStore::open(SledConfig::temporary()).unwrap())
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{}@example.org", name.replace(' ', "."))).unwrap(),
        password_hash: PasswordHash::from_phc(format!("$argon2id$v=19$m=8,t=1,p=1$salt${name}")),
    }
}

fn text(raw: &str) -> MessageText {
    MessageText::parse(raw).unwrap()
}

async fn register(store: &dyn Store, name: &str) -> User {
    store.create_user(new_user(name)).await.unwrap()
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn users_are_found_by_exact_name_and_id() {
    let store = temporary();
    let zoe = register(&*store, "Zoë Ångström").await;
    let found = store.user_by_name("Zoë Ångström").await.unwrap().unwrap();
    assert_eq!(found.user, zoe);
    assert_eq!(found.password_hash, new_user("Zoë Ångström").password_hash);
    assert_eq!(store.user_by_id(zoe.id).await.unwrap().unwrap().user, zoe);
    assert!(store.user_by_name("zoë ångström").await.unwrap().is_none());
    assert!(store.user_by_name("Zoë").await.unwrap().is_none());
    assert!(
        store
            .user_by_id(UserId(zoe.id.0 + 1000))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.create_user(new_user("Zoë Ångström")).await,
        Err(StoreError::UsernameTaken)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_registrations_of_one_name_have_one_winner() {
    let store = temporary();
    for round in 0..5 {
        let name = format!("Roger Histand {round}");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                let name = name.clone();
                tokio::spawn(async move { store.create_user(new_user(&name)).await })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(user) => winners.push(user),
                Err(StoreError::UsernameTaken) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let stored = store.user_by_name(&name).await.unwrap().unwrap();
        assert_eq!(stored.user, winners[0]);
    }
}

#[tokio::test]
async fn follows_are_a_set_listed_in_id_order() {
    let store = temporary();
    let ada = register(&*store, "ada").await;
    let mut others = Vec::new();
    for name in ["bob", "cy", "dee", "eve"] {
        others.push(register(&*store, name).await);
    }
    for other in others.iter().rev() {
        assert!(store.follow(ada.id, other.id).await.unwrap());
    }
    assert!(!store.follow(ada.id, others[0].id).await.unwrap());
    assert!(store.is_following(ada.id, others[0].id).await.unwrap());
    assert!(!store.is_following(others[0].id, ada.id).await.unwrap());
    assert_eq!(store.followees(ada.id, 100).await.unwrap(), others);
    assert_eq!(
        store.followees(ada.id, 2).await.unwrap(),
        others[..2].to_vec()
    );
    assert!(store.followees(ada.id, 0).await.unwrap().is_empty());
    assert!(store.unfollow(ada.id, others[1].id).await.unwrap());
    assert!(!store.unfollow(ada.id, others[1].id).await.unwrap());
    assert!(!store.unfollow(others[1].id, ada.id).await.unwrap());
    let expected: Vec<_> = others
        .iter()
        .filter(|u| u.id != others[1].id)
        .cloned()
        .collect();
    assert_eq!(store.followees(ada.id, 100).await.unwrap(), expected);
    assert!(store.followees(others[2].id, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn timelines_come_newest_first_from_the_right_authors() {
    let store = temporary();
    let ada = register(&*store, "ada").await;
    let bob = register(&*store, "bob").await;
    let cy = register(&*store, "cy").await;
    store.follow(ada.id, bob.id).await.unwrap();
    let mut ids = Vec::new();
    for (author, words) in [
        (&ada, "ada 1"),
        (&bob, "bob 1"),
        (&cy, "cy 1"),
        (&bob, "bob 2"),
        (&ada, "ada 2"),
        (&cy, "cy 2"),
    ] {
        ids.push(
            store
                .post(author.id, text(words), 1_700_000_000)
                .await
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");

    let public = store
        .timeline(Timeline::Public, PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(
        texts(&public),
        ["cy 2", "ada 2", "bob 2", "cy 1", "bob 1", "ada 1"]
    );
    assert_eq!(public[0].author, cy);
    assert_eq!(public[0].pub_date, 1_700_000_000);

    let user = store
        .timeline(Timeline::User(bob.id), PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(texts(&user), ["bob 2", "bob 1"]);
    assert!(user.iter().all(|m| m.author == bob));

    let home = store
        .timeline(Timeline::Home(ada.id), PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(texts(&home), ["ada 2", "bob 2", "bob 1", "ada 1"]);
    let home = store
        .timeline(Timeline::Home(ada.id), PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(texts(&home), ["ada 2", "bob 2", "bob 1"]);
    let home = store
        .timeline(Timeline::Home(ada.id), PageRequest::before(ids[3], 100))
        .await
        .unwrap();
    assert_eq!(texts(&home), ["bob 1", "ada 1"]);

    store.unfollow(ada.id, bob.id).await.unwrap();
    let home = store
        .timeline(Timeline::Home(ada.id), PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(texts(&home), ["ada 2", "ada 1"]);

    // A user nobody has heard of has empty timelines, not an error.
    let nobody = Timeline::Home(UserId(u64::MAX));
    assert!(
        store
            .timeline(nobody, PageRequest::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let nobody = Timeline::User(UserId(u64::MAX));
    assert!(
        store
            .timeline(nobody, PageRequest::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    for timeline in [
        Timeline::Public,
        Timeline::User(ada.id),
        Timeline::Home(ada.id),
    ] {
        assert!(
            store
                .timeline(timeline, PageRequest::first(0))
                .await
                .unwrap()
                .is_empty()
        );
        let below_everything = PageRequest::before(MessageId(0), 10);
        assert!(
            store
                .timeline(timeline, below_everything)
                .await
                .unwrap()
                .is_empty()
        );
        let below_first = PageRequest::before(ids[0], 10);
        assert!(
            store
                .timeline(timeline, below_first)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn home_timeline_merges_many_followees() {
    let store = temporary();
    let reader = register(&*store, "reader").await;
    let mut authors = Vec::new();
    for i in 0..40 {
        let author = register(&*store, &format!("author {i}")).await;
        if i % 4 != 0 {
            store.follow(reader.id, author.id).await.unwrap();
        }
        authors.push(author);
    }
    let mut expected = Vec::new();
    for round in 0..5 {
        for (i, author) in authors.iter().enumerate() {
            // Uneven activity: some authors post every round, some rarely.
            if (round + i) % (1 + i % 3) == 0 {
                let words = format!("{} says {round}", author.username);
                let id = store.post(author.id, text(&words), 0).await.unwrap();
                if i % 4 != 0 {
                    expected.push((id, words));
                }
            }
        }
        let words = format!("reader says {round}");
        let id = store.post(reader.id, text(&words), 0).await.unwrap();
        expected.push((id, words));
    }
    expected.reverse();

    // Walk the home timeline in pages of 7 and compare with the expectation.
    let mut seen = Vec::new();
    let mut page = PageRequest::first(7);
    loop {
        let messages = store
            .timeline(Timeline::Home(reader.id), page)
            .await
            .unwrap();
        assert!(messages.len() <= 7);
        let Some(last) = messages.last() else { break };
        page = PageRequest::before(last.id, 7);
        seen.extend(
            messages
                .into_iter()
                .map(|m| (m.id, m.text.as_str().to_owned())),
        );
    }
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_walk_sees_each_old_message_once_while_others_post() {
    let store = temporary();
    let ada = register(&*store, "ada").await;
    let mut before_walk = Vec::new();
    for i in 0..120 {
        before_walk.push(
            store
                .post(ada.id, text(&format!("old {i}")), 0)
                .await
                .unwrap(),
        );
    }
    let poster = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for i in 0..60 {
                store
                    .post(ada.id, text(&format!("new {i}")), 0)
                    .await
                    .unwrap();
            }
        })
    };
    for timeline in [
        Timeline::Public,
        Timeline::User(ada.id),
        Timeline::Home(ada.id),
    ] {
        let mut page = PageRequest::first(9);
        let mut walked = Vec::new();
        loop {
            let messages = store.timeline(timeline, page).await.unwrap();
            let Some(last) = messages.last() else { break };
            page = PageRequest::before(last.id, 9);
            walked.extend(messages.iter().map(|m| m.id));
        }
        assert!(walked.windows(2).all(|pair| pair[0] > pair[1]));
        let walked: HashSet<_> = walked.into_iter().collect();
        assert!(
            before_walk.iter().all(|id| walked.contains(id)),
            "{timeline:?}"
        );
    }
    poster.await.unwrap();
}

#[tokio::test]
async fn a_message_without_its_author_is_corrupt() {
    let store = temporary();
    let ada = register(&*store, "ada").await;
    store.post(ada.id, text("fine"), 0).await.unwrap();
    store
        .post(UserId(987_654), text("orphan"), 0)
        .await
        .unwrap();
    let public = store
        .timeline(Timeline::Public, PageRequest::first(10))
        .await;
    assert!(matches!(public, Err(StoreError::Corrupt(_))), "{public:?}");
    let user = store
        .timeline(Timeline::User(UserId(987_654)), PageRequest::first(10))
        .await;
    assert!(matches!(user, Err(StoreError::Corrupt(_))), "{user:?}");
    // Pages that do not reach the orphan are fine.
    let ada_page = store
        .timeline(Timeline::User(ada.id), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(texts(&ada_page), ["fine"]);
}

#[tokio::test]
async fn latest_is_last_write_wins() {
    let store = temporary();
    assert_eq!(store.latest().await.unwrap(), None);
    store.set_latest(1337).await.unwrap();
    store.set_latest(1).await.unwrap();
    assert_eq!(store.latest().await.unwrap(), Some(1));
    store.set_latest(-5).await.unwrap();
    assert_eq!(store.latest().await.unwrap(), Some(-5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_secret_initialisations_agree() {
    let store = temporary();
    let tasks: Vec<_> = (0..16_u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.get_or_init_secret("session", &[i; 32]).await })
        })
        .collect();
    let mut values = HashSet::new();
    for task in tasks {
        values.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(values.len(), 1);
    let value = values.into_iter().next().unwrap();
    assert_eq!(
        store.get_or_init_secret("session", b"other").await.unwrap(),
        value
    );
    assert_eq!(
        store.get_or_init_secret("csrf", b"other").await.unwrap(),
        b"other"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_follow_and_unfollow_end_in_a_serial_state() {
    let store = temporary();
    let ada = register(&*store, "ada").await;
    let bob = register(&*store, "bob").await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                if i % 2 == 0 {
                    store
                        .follow(ada.id, bob.id)
                        .await
                        .map(|changed| (true, changed))
                } else {
                    store
                        .unfollow(ada.id, bob.id)
                        .await
                        .map(|changed| (false, changed))
                }
            })
        })
        .collect();
    let mut follows_changed = 0_i32;
    let mut unfollows_changed = 0_i32;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            (true, true) => follows_changed += 1,
            (false, true) => unfollows_changed += 1,
            _ => {}
        }
    }
    // Changes alternate in any serial order, so the final state is whether
    // one more follow than unfollow took effect.
    let following = store.is_following(ada.id, bob.id).await.unwrap();
    assert_eq!(follows_changed - unfollows_changed, i32::from(following));
}

/// The same operations on the reference store and on sled give the same
/// answers (ids differ between stores, so messages compare by text).
#[tokio::test]
async fn agrees_with_the_memory_store() {
    let sled = temporary();
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let stores = [sled, memory];
    let names: Vec<String> = (0..8).map(|i| format!("user {i}")).collect();
    let mut ids = vec![Vec::new(), Vec::new()];
    for (store, ids) in stores.iter().zip(&mut ids) {
        for name in &names {
            ids.push(register(&**store, name).await.id);
        }
    }
    // A fixed pseudo-random sequence of operations.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % bound as u64).unwrap()
    };
    for step in 0..400 {
        let (a, b, op) = (next(8), next(8), next(10));
        let mut answers = Vec::new();
        for (store, ids) in stores.iter().zip(&ids) {
            let answer = match op {
                0..=3 => {
                    store
                        .post(ids[a], text(&format!("step {step}")), step)
                        .await
                        .unwrap();
                    String::new()
                }
                4 | 5 => store.follow(ids[a], ids[b]).await.unwrap().to_string(),
                6 => store.unfollow(ids[a], ids[b]).await.unwrap().to_string(),
                7 => {
                    let users = store.followees(ids[a], 5).await.unwrap();
                    format!(
                        "{:?}",
                        users
                            .iter()
                            .map(|u| u.username.as_str())
                            .collect::<Vec<_>>()
                    )
                }
                _ => {
                    let timeline = match b % 3 {
                        0 => Timeline::Public,
                        1 => Timeline::User(ids[a]),
                        _ => Timeline::Home(ids[a]),
                    };
                    let page = store
                        .timeline(timeline, PageRequest::first(12))
                        .await
                        .unwrap();
                    format!(
                        "{:?}",
                        page.iter()
                            .map(|m| (m.author.username.as_str(), m.text.as_str(), m.pub_date))
                            .collect::<Vec<_>>()
                    )
                }
            };
            answers.push(answer);
        }
        assert_eq!(answers[0], answers[1], "step {step}, op {op}");
    }
}
