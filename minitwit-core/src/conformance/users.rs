//! Checks of users: creation, lookup, unique names.

use std::collections::HashSet;
use std::sync::Arc;

use super::support::{Must, all_at_once, create, hash_for, new_user_with_email};
use crate::{PageRequest, PasswordHash, Store, StoreError, Timeline, UserId};

/// A fresh store has no users, no messages, no follows and no `latest`.
pub async fn a_fresh_store_is_empty(store: &Arc<dyn Store>) {
    assert_eq!(
        store.user_by_name("anyone").await.must("user_by_name"),
        None,
        "store contract: a fresh store must have no users (is the factory handing out a used store?)"
    );
    for id in [0, 1, 2, u64::MAX] {
        assert_eq!(
            store.user_by_id(UserId(id)).await.must("user_by_id"),
            None,
            "store contract: a fresh store has a user with id {id}"
        );
    }
    for timeline in [
        Timeline::Public,
        Timeline::User(UserId(1)),
        Timeline::Home(UserId(1)),
    ] {
        let page = store
            .timeline(timeline, PageRequest::first(10))
            .await
            .must(format_args!("timeline({timeline:?})"));
        assert!(
            page.is_empty(),
            "store contract: a fresh store's {timeline:?} timeline has {} messages",
            page.len()
        );
    }
    assert!(
        store
            .followees(UserId(1), 10)
            .await
            .must("followees")
            .is_empty(),
        "store contract: a fresh store has follows"
    );
    assert!(
        !store
            .is_following(UserId(1), UserId(2))
            .await
            .must("is_following"),
        "store contract: a fresh store has follows"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        None,
        "store contract: `latest` must be None until it is set"
    );
}

/// Users are created with what was given, get unique ids, and are found by
/// their exact name (spaces and any Unicode included) and by id; names that
/// differ in case, Unicode form or whitespace are different names.
pub async fn users_are_found_by_exact_name_and_id(store: &Arc<dyn Store>) {
    let names = [
        "Roger Histand",
        "Zoë Ångström",
        "李小龍",
        "🦀 crab",
        "a",
        "O'Brien \"quoted\" <b>&amp;</b> %s {}",
        "trailing space ",
        "x:y/z*?[]",
    ];
    let mut ids = HashSet::new();
    let mut created = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let email = format!("user{n}+tag@example.org");
        let user = store
            .create_user(new_user_with_email(name, &email))
            .await
            .must(format_args!("create_user({name:?})"));
        assert_eq!(
            user.username.as_str(),
            *name,
            "store contract: create_user changed the username"
        );
        assert_eq!(
            user.email.as_str(),
            email,
            "store contract: create_user changed the e-mail"
        );
        assert!(
            ids.insert(user.id),
            "store contract: user ids must be unique, {:?} was handed out twice",
            user.id
        );
        created.push(user);
    }

    for user in &created {
        let name = user.username.as_str();
        let by_name = store
            .user_by_name(name)
            .await
            .must(format_args!("user_by_name({name:?})"))
            .unwrap_or_else(|| {
                panic!("store contract: user_by_name({name:?}) found nothing after create_user")
            });
        assert_eq!(
            &by_name.user, user,
            "store contract: user_by_name({name:?}) returned another user"
        );
        assert_eq!(
            by_name.password_hash,
            hash_for(name),
            "store contract: user_by_name({name:?}) returned another password hash"
        );
        let by_id = store
            .user_by_id(user.id)
            .await
            .must(format_args!("user_by_id({:?})", user.id))
            .unwrap_or_else(|| {
                panic!(
                    "store contract: user_by_id({:?}) found nothing after create_user",
                    user.id
                )
            });
        assert_eq!(
            by_id, by_name,
            "store contract: user_by_id and user_by_name disagree for {name:?}"
        );
    }

    let unknown_names = [
        "roger histand",
        "Roger",
        "Roger Histand ",
        " Roger Histand",
        "Zoe Angstrom",
        "Zoe\u{308} Ångström",
        "trailing space",
        "A",
        "",
        "%",
        "*",
    ];
    for name in unknown_names {
        assert_eq!(
            store
                .user_by_name(name)
                .await
                .must(format_args!("user_by_name({name:?})")),
            None,
            "store contract: user_by_name must match the exact name, but {name:?} found someone"
        );
    }

    let max_id = ids.iter().map(|id| id.0).max().unwrap_or(0);
    for id in [max_id + 1, max_id + 1000, u64::MAX] {
        if !ids.contains(&UserId(id)) {
            assert_eq!(
                store.user_by_id(UserId(id)).await.must("user_by_id"),
                None,
                "store contract: user_by_id({id}) found a user nobody created"
            );
        }
    }
}

/// The password hash given to `create_user` comes back byte for byte from
/// both lookups.
pub async fn password_hashes_round_trip(store: &Arc<dyn Store>) {
    let hashes = [
        "$argon2id$v=19$m=19456,t=2,p=1$gZiV/M1gPc22ElAH/Jh1Hw$CWOrkoo7oJBQ/iyh7uJ0LO2aLEfrHwTWllSAxT0zRno",
        "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8",
        "not a PHC string at all, but a store never parses it: ünïcødé \\ \" '",
    ];
    for (n, phc) in hashes.iter().enumerate() {
        let name = format!("hash owner {n}");
        let mut new_user = new_user_with_email(&name, "h@example.org");
        new_user.password_hash = PasswordHash::from_phc((*phc).to_owned());
        assert_eq!(new_user.password_hash.as_phc(), *phc);
        let user = store
            .create_user(new_user)
            .await
            .must(format_args!("create_user({name:?})"));
        let by_name = store
            .user_by_name(&name)
            .await
            .must("user_by_name")
            .unwrap_or_else(|| panic!("store contract: user_by_name({name:?}) found nothing"));
        assert_eq!(
            by_name.password_hash.as_phc(),
            *phc,
            "store contract: the password hash read by name differs from the one stored"
        );
        let by_id = store
            .user_by_id(user.id)
            .await
            .must("user_by_id")
            .unwrap_or_else(|| panic!("store contract: user_by_id({:?}) found nothing", user.id));
        assert_eq!(
            by_id.password_hash.as_phc(),
            *phc,
            "store contract: the password hash read by id differs from the one stored"
        );
    }
}

/// A second `create_user` with an existing name fails with
/// [`StoreError::UsernameTaken`] and leaves the first user as it was.
pub async fn duplicate_usernames_are_rejected(store: &Arc<dyn Store>) {
    let first = store
        .create_user(new_user_with_email("Ada Lovelace", "first@example.org"))
        .await
        .must("create_user(\"Ada Lovelace\")");
    for attempt in 0..2 {
        let again = store
            .create_user(new_user_with_email("Ada Lovelace", "second@example.org"))
            .await;
        assert!(
            matches!(again, Err(StoreError::UsernameTaken)),
            "store contract: creating an existing name (attempt {attempt}) must fail with \
             UsernameTaken, got {again:?}"
        );
    }
    let stored = store
        .user_by_name("Ada Lovelace")
        .await
        .must("user_by_name")
        .unwrap_or_else(|| panic!("store contract: the first user vanished"));
    assert_eq!(
        stored.user, first,
        "store contract: a refused duplicate changed the existing user"
    );
    assert_eq!(stored.password_hash, hash_for("Ada Lovelace"));

    // Names that merely look alike are different names.
    let lookalikes = ["ada lovelace", "Ada  Lovelace", "Ada Lovelace "];
    for name in lookalikes {
        let user = create(store, name).await;
        assert_ne!(
            user.id, first.id,
            "store contract: {name:?} got an existing id"
        );
    }
    // "é" precomposed and decomposed are distinct byte strings, so distinct names.
    create(store, "Ren\u{e9}").await;
    create(store, "Rene\u{301}").await;
    let second = store
        .create_user(new_user_with_email("Rene\u{301}", "x@example.org"))
        .await;
    assert!(
        matches!(second, Err(StoreError::UsernameTaken)),
        "store contract: a decomposed name registered twice must be taken, got {second:?}"
    );
}

/// Sixteen tasks register one name at the same moment: exactly one succeeds,
/// the other fifteen get [`StoreError::UsernameTaken`], and the name belongs
/// to the winner.
pub async fn concurrent_registrations_of_one_name_admit_exactly_one(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    for round in 0..3 {
        let name = format!("contested name {round}");
        let answers = all_at_once(store, TASKS, |store, task| {
            let name = name.clone();
            let email = format!("task{task}@example.org");
            async move {
                let result = store.create_user(new_user_with_email(&name, &email)).await;
                (email, result)
            }
        })
        .await;
        let mut winners = Vec::new();
        let mut taken = 0;
        for (email, result) in answers {
            match result {
                Ok(user) => winners.push((email, user)),
                Err(StoreError::UsernameTaken) => taken += 1,
                Err(err) => panic!("store contract: create_user failed with {err}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "store contract: {TASKS} concurrent registrations of {name:?} must admit exactly \
             one, {} succeeded",
            winners.len()
        );
        assert_eq!(
            taken,
            TASKS - 1,
            "store contract: the losers must get UsernameTaken"
        );
        let (email, winner) = &winners[0];
        let stored = store
            .user_by_name(&name)
            .await
            .must("user_by_name")
            .unwrap_or_else(|| panic!("store contract: the winner of {name:?} is not stored"));
        assert_eq!(
            &stored.user, winner,
            "store contract: the stored user is not the one create_user returned"
        );
        assert_eq!(
            stored.user.email.as_str(),
            email,
            "store contract: the stored e-mail is not the winner's"
        );
    }
}
