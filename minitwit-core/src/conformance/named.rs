//! Checks of writes that name their users ([`Store::named_write`]) and of
//! registrations with `latest` ([`Store::create_user_with_latest`]): names
//! resolved in both spellings, `latest` recorded whatever the outcome, and
//! each outcome as the separate calls would give it.

use std::sync::Arc;

use super::support::{Must, create, new_user, text};
use crate::named::{NameCheck, NameQuery, NamedOutcome, NamedWrite};
use crate::{PageRequest, Store, StoreError, Timeline};

fn name(raw: &str) -> NameQuery {
    NameQuery::new(raw)
}

fn post_by(author: &str) -> NamedWrite {
    NamedWrite::Post {
        author: name(author),
        text: text(&format!("posted by {author}")),
        pub_date: 1_700_000_000,
    }
}

fn follow(follower: &str, followee: &str) -> NamedWrite {
    NamedWrite::Follow {
        follower: name(follower),
        followee: name(followee),
    }
}

fn unfollow(follower: &str, followee: &str) -> NamedWrite {
    NamedWrite::Unfollow {
        follower: name(follower),
        followee: name(followee),
    }
}

/// Posts, follows and unfollows by name: each outcome is what the separate
/// calls give, and `latest` is recorded with every one of them, also when a
/// name finds nobody, and left alone when the write carries none.
pub async fn named_writes_resolve_names_and_record_latest(store: &Arc<dyn Store>) {
    let ada = create(store, "Ada").await;
    let grace = create(store, "Grace").await;
    let mut latest = 0;
    let mut write = |write: NamedWrite, expect: NamedOutcome| {
        latest += 1;
        let (store, what) = (Arc::clone(store), format!("{write:?}"));
        async move {
            let outcome = store
                .named_write(write, Some(latest))
                .await
                .must(format_args!("named_write({what})"));
            assert_eq!(
                std::mem::discriminant(&outcome),
                std::mem::discriminant(&expect),
                "store contract: named_write({what}) answered {outcome:?}"
            );
            if !matches!(expect, NamedOutcome::Posted(_)) {
                assert_eq!(
                    outcome, expect,
                    "store contract: named_write({what}) answered {outcome:?}"
                );
            }
            assert_eq!(
                store.latest().await.must("latest"),
                Some(latest),
                "store contract: named_write({what}) must record its latest whatever it answers"
            );
            outcome
        }
    };

    let posted = write(post_by("Ada"), NamedOutcome::Posted(crate::MessageId(0))).await;
    write(post_by("Nobody"), NamedOutcome::UnknownUser).await;
    let page = store
        .timeline(Timeline::User(ada.id), PageRequest::first(10))
        .await
        .must("timeline");
    assert_eq!(
        page.iter()
            .map(|message| NamedOutcome::Posted(message.id))
            .collect::<Vec<_>>(),
        [posted],
        "store contract: a named post must post exactly one message, by its author"
    );

    let applied = |changed| NamedOutcome::Applied { changed };
    write(follow("Ada", "Grace"), applied(true)).await;
    write(follow("Ada", "Grace"), applied(false)).await;
    write(follow("Ada", "Ada"), NamedOutcome::SelfFollow).await;
    write(follow("Nobody", "Grace"), NamedOutcome::UnknownUser).await;
    write(follow("Nobody", "Nobody else"), NamedOutcome::UnknownUser).await;
    write(follow("Grace", "Nobody"), NamedOutcome::UnknownTarget).await;
    assert!(
        store
            .is_following(ada.id, grace.id)
            .await
            .must("is_following")
    );
    assert!(
        !store
            .is_following(ada.id, ada.id)
            .await
            .must("is_following"),
        "store contract: a named follow of oneself must write nothing"
    );
    write(unfollow("Ada", "Ada"), applied(false)).await;
    write(unfollow("Grace", "Nobody"), NamedOutcome::UnknownTarget).await;
    write(unfollow("Ada", "Grace"), applied(true)).await;
    write(unfollow("Ada", "Grace"), applied(false)).await;
    assert!(
        !store
            .is_following(ada.id, grace.id)
            .await
            .must("is_following")
    );

    store
        .named_write(follow("Grace", "Ada"), None)
        .await
        .must("named_write without latest");
    assert_eq!(
        store.latest().await.must("latest"),
        Some(latest),
        "store contract: a named write without latest must leave latest alone"
    );
    let counts = store.counts().await.must("counts");
    assert_eq!(
        (counts.users, counts.follows, counts.messages),
        (2, 1, 1),
        "store contract: named writes must keep the counts"
    );
}

/// A name is found by its normalized spelling first, then, for an account
/// stored before names were normalized, by the spelling as written.
pub async fn named_writes_find_both_spellings(store: &Arc<dyn Store>) {
    let decomposed = "A\u{30a}sa";
    let composed = "\u{c5}sa";
    let old = create(store, decomposed).await;
    let friend = create(store, "friend").await;
    let outcome = store
        .named_write(follow("friend", decomposed), None)
        .await
        .must("named_write");
    assert_eq!(
        outcome,
        NamedOutcome::Applied { changed: true },
        "store contract: a name stored in another Unicode form must be found as written"
    );
    assert!(
        store
            .is_following(friend.id, old.id)
            .await
            .must("is_following")
    );
    let composed_user = create(store, composed).await;
    store
        .named_write(follow("friend", decomposed), None)
        .await
        .must("named_write");
    assert!(
        store
            .is_following(friend.id, composed_user.id)
            .await
            .must("is_following"),
        "store contract: the normalized spelling must be found first"
    );
}

/// A registration with `latest` creates the user as `create_user` does and
/// records `latest`, also when the name is taken; without `latest` it
/// leaves the recorded one alone.
pub async fn registrations_with_latest_record_it_whatever_they_answer(store: &Arc<dyn Store>) {
    let created = store
        .create_user_with_latest(new_user("registrant"), Some(31))
        .await
        .must("create_user_with_latest");
    assert_eq!(
        store
            .user_by_name("registrant")
            .await
            .must("user_by_name")
            .map(|stored| stored.user),
        Some(created.clone()),
        "store contract: create_user_with_latest must create the user it returns"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        Some(31),
        "store contract: create_user_with_latest must record its latest"
    );
    let taken = store
        .create_user_with_latest(new_user("registrant"), Some(32))
        .await;
    assert!(
        matches!(taken, Err(StoreError::UsernameTaken)),
        "store contract: create_user_with_latest of a taken name must fail with UsernameTaken, \
         got {taken:?}"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        Some(32),
        "store contract: create_user_with_latest must record its latest when the name is taken"
    );
    let other = store
        .create_user_with_latest(new_user("no latest"), None)
        .await
        .must("create_user_with_latest without latest");
    assert_ne!(other.id, created.id, "store contract: two users got one id");
    assert_eq!(
        store.latest().await.must("latest"),
        Some(32),
        "store contract: create_user_with_latest without latest must leave latest alone"
    );
}

/// [`Store::check_name`]: a name created through the store is `Taken` and
/// the check records `latest`; a name nobody has (never, or no longer after
/// a [`clear`](Store::clear)) is never `Taken`, and its check leaves
/// `latest` alone.
pub async fn name_checks_tell_taken_names_and_record_latest(store: &Arc<dyn Store>) {
    let nobody = store
        .check_name("nobody yet", Some(7))
        .await
        .must("check_name");
    assert_ne!(
        nobody,
        NameCheck::Taken,
        "store contract: check_name of a name nobody has must not answer Taken"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        None,
        "store contract: check_name of a free name must not record latest"
    );
    create(store, "checked").await;
    assert_eq!(
        store
            .check_name("checked", Some(8))
            .await
            .must("check_name"),
        NameCheck::Taken,
        "store contract: check_name of a name created through the store must answer Taken"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        Some(8),
        "store contract: check_name of a taken name must record its latest"
    );
    assert_eq!(
        store.check_name("checked", None).await.must("check_name"),
        NameCheck::Taken,
        "store contract: check_name without latest must still tell a taken name"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        Some(8),
        "store contract: check_name without latest must leave latest alone"
    );
    store.clear().await.must("clear");
    let freed = store
        .check_name("checked", Some(9))
        .await
        .must("check_name");
    assert_ne!(
        freed,
        NameCheck::Taken,
        "store contract: check_name of a name freed by clear must not answer Taken"
    );
    store
        .create_user_with_latest(new_user("checked"), None)
        .await
        .must("create_user_with_latest of a freed name");
}
