//! Checks of what concerns a whole store: counts, sessions, health,
//! leases, and export, import and clear.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::support::{
    Must, all_at_once, create, export_all, import_all, new_user, post, text, username,
};
use crate::{
    Counts, MessageId, MessageRecord, Record, Store, StoreError, StoredUser, User, UserId,
};

async fn counts(store: &Arc<dyn Store>) -> Counts {
    store.counts().await.must("counts")
}

/// Counts follow every write that changes something and no other: a taken
/// name, a follow already there or an unfollow of someone not followed
/// changes nothing.
pub async fn counts_follow_every_write(store: &Arc<dyn Store>) {
    assert_eq!(
        counts(store).await,
        Counts::default(),
        "store contract: a fresh store counts nothing"
    );
    let ada = create(store, "ada").await;
    let bob = create(store, "bob").await;
    let cy = create(store, "cy").await;
    let taken = store.create_user(new_user("ada")).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "{taken:?}");
    store.follow(ada.id, bob.id).await.must("follow");
    store.follow(ada.id, bob.id).await.must("follow again");
    store.follow(ada.id, cy.id).await.must("follow");
    store.follow(cy.id, ada.id).await.must("follow");
    store.unfollow(ada.id, cy.id).await.must("unfollow");
    store.unfollow(ada.id, cy.id).await.must("unfollow again");
    store
        .unfollow(bob.id, ada.id)
        .await
        .must("unfollow of nobody");
    for n in 0..5 {
        post(store, &bob, &format!("counted {n}"), 0).await;
    }
    assert_eq!(
        counts(store).await,
        Counts {
            users: 3,
            follows: 2,
            messages: 5
        },
        "store contract: counts must follow exactly the writes that changed something"
    );
}

/// Sixteen tasks at once register, follow and post: the counts then agree
/// with what the store holds.
pub async fn counts_are_exact_under_concurrent_writes(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    let hub = create(store, "hub").await;
    let users: Vec<User> = all_at_once(store, TASKS, |store, task| async move {
        let user = create(&store, &format!("writer {task}")).await;
        store.follow(user.id, hub.id).await.must("follow");
        store.follow(hub.id, user.id).await.must("follow");
        post(&store, &user, &format!("from {task}"), 0).await;
        user
    })
    .await;
    for user in users.iter().step_by(2) {
        store.unfollow(hub.id, user.id).await.must("unfollow");
    }
    let held = export_all(store).await;
    let count = |rank| held.iter().filter(|r| r.kind_rank() == rank).count() as u64;
    assert_eq!(
        counts(store).await,
        Counts {
            users: count(0),
            follows: count(1),
            messages: count(2)
        },
        "store contract: after concurrent writes the counts must match what an export holds"
    );
    assert_eq!(count(0), TASKS as u64 + 1);
}

/// A user's session generation starts where `create_user` was told, is
/// returned by both lookups, and moves on by one when their sessions end.
pub async fn sessions_end_by_moving_the_generation(store: &Arc<dyn Store>) {
    let mut first = new_user("session owner");
    first.session_generation = u64::MAX;
    let owner = store.create_user(first).await.must("create_user");
    let other = create(store, "bystander").await;
    let generation = |stored: Option<StoredUser>| stored.map(|s| s.session_generation);
    assert_eq!(
        generation(store.user_by_id(owner.id).await.must("user_by_id")),
        Some(u64::MAX),
        "store contract: the session generation must be the one create_user was given"
    );
    let before_other = generation(store.user_by_id(other.id).await.must("user_by_id"));
    let moved = store.end_sessions(owner.id).await.must("end_sessions");
    assert_eq!(
        moved, 0,
        "store contract: end_sessions must add one to the generation (wrapping)"
    );
    for (how, found) in [
        ("by id", store.user_by_id(owner.id).await.must("user_by_id")),
        (
            "by name",
            store
                .user_by_name("session owner")
                .await
                .must("user_by_name"),
        ),
    ] {
        assert_eq!(
            generation(found),
            Some(0),
            "store contract: a lookup {how} must see the generation end_sessions set"
        );
    }
    assert_eq!(store.end_sessions(owner.id).await.must("end_sessions"), 1);
    assert_eq!(
        generation(store.user_by_id(other.id).await.must("user_by_id")),
        before_other,
        "store contract: ending one user's sessions must leave the others' alone"
    );
    assert_eq!(
        store
            .end_sessions(UserId(u64::MAX))
            .await
            .must("end_sessions of nobody"),
        0,
        "store contract: end_sessions of a user id nobody has returns 0"
    );
}

/// A store that works says so.
pub async fn a_working_store_is_healthy(store: &Arc<dyn Store>) {
    store.health().await.must("health");
    create(store, "someone").await;
    store.health().await.must("health");
}

/// Of sixteen tasks asking for one lease at once, exactly one gets it; it
/// is free again once it expired; other names are independent.
pub async fn a_lease_has_one_holder_until_it_expires(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    let ttl = Duration::from_millis(300);
    let granted = all_at_once(store, TASKS, |store, _| async move {
        store
            .acquire_lease("nightly job", ttl)
            .await
            .must("acquire_lease")
    })
    .await;
    assert_eq!(
        granted.iter().filter(|granted| **granted).count(),
        1,
        "store contract: exactly one caller gets a free lease"
    );
    assert!(
        store
            .acquire_lease("another job", ttl)
            .await
            .must("acquire_lease"),
        "store contract: leases with other names are independent"
    );
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(
        store
            .acquire_lease("nightly job", ttl)
            .await
            .must("acquire_lease"),
        "store contract: an expired lease can be taken again"
    );
}

/// Fills a store with a bit of everything; returns the users and the ids of
/// the messages.
async fn fill(store: &Arc<dyn Store>) -> (Vec<User>, Vec<MessageId>) {
    let mut users = Vec::new();
    for name in ["Zoë Ångström", "ada", "李小龍", "O'Brien \"q\" <b>"] {
        users.push(create(store, name).await);
    }
    for (a, b) in [(0, 1), (0, 2), (3, 0), (1, 0)] {
        store.follow(users[a].id, users[b].id).await.must("follow");
    }
    store
        .unfollow(users[1].id, users[0].id)
        .await
        .must("unfollow");
    let mut messages = Vec::new();
    for n in 0..12 {
        let author = &users[n % 3];
        let body = format!("message {n}\twith\ttabs\nand ✓");
        messages.push(post(store, author, &body, 1_000 + n as i64).await);
    }
    store.set_latest(-7).await.must("set_latest");
    store
        .get_or_init_secret("b secret", b"\x00\xffbytes")
        .await
        .must("get_or_init_secret");
    store
        .get_or_init_secret("a secret", b"first")
        .await
        .must("get_or_init_secret");
    (users, messages)
}

/// An export holds exactly the store's records, in the order of
/// [`Record`]: users, follows, messages by id, `latest`, secrets by name.
pub async fn export_holds_every_record_in_order(store: &Arc<dyn Store>) {
    let (users, _) = fill(store).await;
    let records = export_all(store).await;
    let ranks: Vec<u8> = records.iter().map(Record::kind_rank).collect();
    assert!(
        ranks.windows(2).all(|pair| pair[0] <= pair[1]),
        "store contract: an export must list users, follows, messages, latest, secrets in \
         that order: {ranks:?}"
    );
    let user_ids: Vec<UserId> = records
        .iter()
        .filter_map(|record| match record {
            Record::User(stored) => Some(stored.user.id),
            _ => None,
        })
        .collect();
    let mut sorted_ids: Vec<UserId> = users.iter().map(|user| user.id).collect();
    sorted_ids.sort();
    assert_eq!(
        user_ids, sorted_ids,
        "store contract: an export holds every user once, by ascending id"
    );
    let follows: Vec<(UserId, UserId)> = records
        .iter()
        .filter_map(|record| match record {
            Record::Follow { follower, followee } => Some((*follower, *followee)),
            _ => None,
        })
        .collect();
    let mut expected_follows = vec![
        (users[0].id, users[1].id),
        (users[0].id, users[2].id),
        (users[3].id, users[0].id),
    ];
    expected_follows.sort();
    assert_eq!(
        follows, expected_follows,
        "store contract: an export holds every follow once, by ascending (follower, followee)"
    );
    let messages: Vec<&MessageRecord> = records
        .iter()
        .filter_map(|record| match record {
            Record::Message(message) => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), 12);
    assert!(
        messages.windows(2).all(|pair| pair[0].id < pair[1].id),
        "store contract: an export lists messages by ascending id"
    );
    for (n, message) in messages.iter().enumerate() {
        assert_eq!(message.author, users[n % 3].id);
        assert_eq!(
            message.text,
            text(&format!("message {n}\twith\ttabs\nand ✓"))
        );
        assert_eq!(message.pub_date, 1_000 + n as i64);
    }
    let tail: Vec<&Record> = records.iter().filter(|r| r.kind_rank() >= 3).collect();
    assert_eq!(
        tail,
        [
            &Record::Latest(-7),
            &Record::Secret {
                name: "a secret".into(),
                value: b"first".to_vec()
            },
            &Record::Secret {
                name: "b secret".into(),
                value: b"\x00\xffbytes".to_vec()
            },
        ],
        "store contract: an export ends with latest and the secrets by name"
    );
}

/// Exported, cleared and imported (in batches of 1 and of 5), a store holds
/// the same records, ids included; every read agrees; new ids are above the
/// imported ones.
pub async fn import_recreates_an_export_exactly(store: &Arc<dyn Store>) {
    let (users, _) = fill(store).await;
    let exported = export_all(store).await;
    let before = counts(store).await;
    let home = store
        .timeline(
            crate::Timeline::Home(users[0].id),
            crate::PageRequest::first(100),
        )
        .await
        .must("timeline");
    for batch in [1, 5] {
        store.clear().await.must("clear");
        assert!(
            export_all(store).await.is_empty(),
            "store contract: a cleared store exports nothing"
        );
        assert_eq!(counts(store).await, Counts::default());
        import_all(store, &exported, batch).await;
        assert_eq!(
            export_all(store).await,
            exported,
            "store contract: an import must recreate the exported records exactly \
             (batches of {batch})"
        );
        assert_eq!(counts(store).await, before, "counts after an import");
        let again = store
            .timeline(
                crate::Timeline::Home(users[0].id),
                crate::PageRequest::first(100),
            )
            .await
            .must("timeline");
        assert_eq!(again, home, "store contract: timelines after an import");
        let found = store
            .user_by_name(users[2].username.as_str())
            .await
            .must("user_by_name");
        assert_eq!(found.map(|stored| stored.user), Some(users[2].clone()));
    }
    let newcomer = create(store, "newcomer").await;
    let newest = post(store, &newcomer, "after the import", 0).await;
    let max_user = users.iter().map(|user| user.id).max();
    assert!(
        Some(newcomer.id) > max_user,
        "store contract: user ids after an import must be above the imported ones"
    );
    let max_message = exported.iter().filter_map(|record| match record {
        Record::Message(message) => Some(message.id),
        _ => None,
    });
    assert!(
        max_message.max().is_some_and(|max| newest > max),
        "store contract: message ids after an import must be above the imported ones"
    );
    let taken = store.create_user(new_user("ada")).await;
    assert!(
        matches!(taken, Err(StoreError::UsernameTaken)),
        "store contract: imported names are taken: {taken:?}"
    );
}

/// Importing a user whose name or id the store holds is a conflict.
pub async fn import_refuses_users_that_exist(store: &Arc<dyn Store>) {
    let ada = create(store, "ada").await;
    let clash = Record::User(StoredUser {
        user: User {
            id: UserId(ada.id.0 + 1_000),
            username: username("ada"),
            email: ada.email.clone(),
        },
        password_hash: super::support::hash_for("ada"),
        session_generation: 1,
    });
    let answer = store.import(vec![clash]).await;
    assert!(
        matches!(answer, Err(StoreError::Conflict(_))),
        "store contract: importing a user whose name exists must be a conflict, not {answer:?}"
    );
}

/// An export taken while sixteen tasks register, follow, unfollow and post
/// holds everything acknowledged before it began, only records that
/// existed, every message's author and every follow's two users, in order;
/// and it imports.
pub async fn an_export_during_writes_is_complete_and_closed(store: &Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 12;
    let (early, early_messages) = fill(store).await;
    let acknowledged = export_all(store).await;
    let writers = {
        let store = Arc::clone(store);
        let early = early.clone();
        tokio::spawn(async move {
            all_at_once(&store, WRITERS, |store, task| {
                let early = early.clone();
                async move {
                    for round in 0..ROUNDS {
                        let user = create(&store, &format!("late {task}/{round}")).await;
                        store.follow(user.id, early[0].id).await.must("follow");
                        store.follow(early[0].id, user.id).await.must("follow");
                        post(&store, &user, &format!("late post {task}/{round}"), 5).await;
                        if round % 2 == 0 {
                            store.unfollow(early[0].id, user.id).await.must("unfollow");
                        }
                    }
                }
            })
            .await
        })
    };
    let during = export_all(store).await;
    writers
        .await
        .unwrap_or_else(|err| panic!("a writer panicked: {err}"));

    let ranks: Vec<u8> = during.iter().map(Record::kind_rank).collect();
    assert!(ranks.windows(2).all(|pair| pair[0] <= pair[1]));
    let mut users: BTreeMap<UserId, String> = BTreeMap::new();
    for record in &during {
        if let Record::User(stored) = record {
            users.insert(stored.user.id, stored.user.username.as_str().to_owned());
        }
    }
    for record in &acknowledged {
        let kept = match record {
            Record::User(_) | Record::Message(_) | Record::Follow { .. } => during.contains(record),
            _ => true,
        };
        assert!(
            kept,
            "store contract: an export taken during writes lost {record:?}, which was \
             acknowledged before it began"
        );
    }
    let exported_messages: BTreeSet<MessageId> = during
        .iter()
        .filter_map(|record| match record {
            Record::Message(message) => Some(message.id),
            _ => None,
        })
        .collect();
    for id in &early_messages {
        assert!(
            exported_messages.contains(id),
            "store contract: an export taken during writes lost message {}, posted before it \
             began",
            id.0
        );
    }
    let names: BTreeSet<&str> = users.values().map(String::as_str).collect();
    for record in &during {
        match record {
            Record::Follow { follower, followee } => assert!(
                users.contains_key(follower) && users.contains_key(followee),
                "store contract: an export holds a follow {}→{} without both users",
                follower.0,
                followee.0
            ),
            Record::Message(message) => {
                let author = users.get(&message.author).unwrap_or_else(|| {
                    panic!(
                        "store contract: an export holds message {} without its author",
                        message.id.0
                    )
                });
                let text = message.text.as_str();
                let real = acknowledged.contains(record)
                    || text
                        .strip_prefix("late post ")
                        .is_some_and(|tag| *author == format!("late {tag}"));
                assert!(
                    real,
                    "store contract: an export holds a message that was never posted: {text:?}"
                );
            }
            Record::User(stored) => assert!(
                names.contains(stored.user.username.as_str()),
                "users are indexed above"
            ),
            _ => {}
        }
    }
    store.clear().await.must("clear");
    import_all(store, &during, 64).await;
    assert_eq!(
        export_all(store).await,
        during,
        "store contract: an export taken during writes must import exactly"
    );
}
