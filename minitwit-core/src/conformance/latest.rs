//! Checks of the small things: `latest`, named secrets, `flush`.

use std::collections::HashSet;
use std::sync::Arc;

use super::support::{Must, all_at_once, create, post};
use crate::{PageRequest, Store, Timeline};

/// `latest` is `None` until set; then the last write wins, negative values
/// and the extremes of `i64` included.
pub async fn latest_is_none_until_set_then_last_write_wins(store: &Arc<dyn Store>) {
    assert_eq!(
        store.latest().await.must("latest"),
        None,
        "store contract: latest must be None until it is set"
    );
    for value in [1337, 1, -1, -42, 0, i64::MAX, i64::MIN, 7, 7] {
        store
            .set_latest(value)
            .await
            .must(format_args!("set_latest({value})"));
        assert_eq!(
            store.latest().await.must("latest"),
            Some(value),
            "store contract: latest must return the last value set"
        );
    }
}

/// Sixteen tasks set `latest` at once: afterwards it holds one of the values
/// written, not a mix or a stale value.
pub async fn concurrent_latest_writes_leave_one_of_them(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    store.set_latest(-5).await.must("set_latest(-5)");
    let written: HashSet<i64> = all_at_once(store, TASKS, |store, task| {
        let value = 1_000_000 * (task as i64 + 1) + task as i64;
        async move {
            store.set_latest(value).await.must("set_latest");
            value
        }
    })
    .await
    .into_iter()
    .collect();
    let latest = store.latest().await.must("latest");
    assert!(
        latest.is_some_and(|value| written.contains(&value)),
        "store contract: after concurrent set_latest calls, latest must be one of the values \
         written, got {latest:?}"
    );
}

/// The first candidate for a name is stored and returned from then on;
/// later candidates are ignored; different names are independent; any
/// bytes round-trip.
pub async fn secrets_are_initialized_once(store: &Arc<dyn Store>) {
    let first: Vec<u8> = (0..=255u8).collect();
    let second = vec![0xAB; 64];
    let got = store
        .get_or_init_secret("session key", &first)
        .await
        .must("get_or_init_secret");
    assert_eq!(
        got, first,
        "store contract: the first get_or_init_secret must store and return its candidate"
    );
    for attempt in 0..2 {
        let again = store
            .get_or_init_secret("session key", &second)
            .await
            .must("get_or_init_secret");
        assert_eq!(
            again, first,
            "store contract: a later get_or_init_secret (attempt {attempt}) must return the \
             stored secret and ignore its candidate"
        );
    }

    let other = store
        .get_or_init_secret("another key", &second)
        .await
        .must("get_or_init_secret");
    assert_eq!(
        other, second,
        "store contract: secrets with different names must be independent"
    );
    let odd_name = store
        .get_or_init_secret("ключ:*?[] {}", b"\0\xff\x00\n")
        .await
        .must("get_or_init_secret");
    assert_eq!(
        odd_name, b"\0\xff\x00\n",
        "store contract: a secret's bytes must round-trip"
    );
    assert_eq!(
        store
            .get_or_init_secret("session key", b"x")
            .await
            .must("get_or_init_secret"),
        first,
        "store contract: other secrets changed the first one"
    );
}

/// Sixteen tasks initialise one secret with sixteen different candidates at
/// once: all get the same value, one of the candidates, which stays.
pub async fn concurrent_secret_inits_agree(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    let answers: HashSet<Vec<u8>> = all_at_once(store, TASKS, |store, task| {
        let candidate = vec![task as u8; 32];
        async move {
            store
                .get_or_init_secret("contested secret", &candidate)
                .await
                .must("get_or_init_secret")
        }
    })
    .await
    .into_iter()
    .collect();
    assert_eq!(
        answers.len(),
        1,
        "store contract: concurrent get_or_init_secret calls must all get the same secret, got \
         {} different ones",
        answers.len()
    );
    let agreed = answers.into_iter().next().unwrap_or_default();
    assert!(
        agreed.len() == 32
            && agreed
                .iter()
                .all(|byte| *byte == agreed[0] && usize::from(*byte) < TASKS),
        "store contract: the agreed secret must be one of the candidates, got {agreed:?}"
    );
    let later = store
        .get_or_init_secret("contested secret", b"late")
        .await
        .must("get_or_init_secret");
    assert_eq!(later, agreed, "store contract: the agreed secret must stay");
}

/// `flush` succeeds, also when repeated, and the data stays readable.
pub async fn flush_succeeds_and_keeps_data(store: &Arc<dyn Store>) {
    store.flush().await.must("flush on an empty store");
    let author = create(store, "flusher").await;
    let id = post(store, &author, "flushed message", 77).await;
    store.set_latest(99).await.must("set_latest");
    store.flush().await.must("flush");
    store.flush().await.must("a second flush");
    assert_eq!(
        store
            .user_by_name("flusher")
            .await
            .must("user_by_name")
            .map(|stored| stored.user),
        Some(author.clone()),
        "store contract: flush lost a user"
    );
    let timeline = store
        .timeline(Timeline::User(author.id), PageRequest::first(10))
        .await
        .must("timeline");
    assert_eq!(
        timeline
            .iter()
            .map(|message| message.id)
            .collect::<Vec<_>>(),
        vec![id],
        "store contract: flush lost a message"
    );
    assert_eq!(
        store.latest().await.must("latest"),
        Some(99),
        "store contract: flush lost latest"
    );
}
