//! Helpers shared by the check functions: building inputs, turning a store
//! failure into a panic that names the call, and running tasks at once.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use futures::TryStreamExt as _;
use tokio::sync::Barrier;

use crate::{
    Email, MessageId, MessageText, NewUser, PasswordHash, Record, Store, StoreError, Timestamp,
    User, Username,
};

/// Unwraps a store answer; panics with the call and the error otherwise.
pub(crate) trait Must<T> {
    /// The value, or a panic saying that `call` failed.
    fn must(self, call: impl Display) -> T;
}

impl<T> Must<T> for Result<T, StoreError> {
    #[track_caller]
    fn must(self, call: impl Display) -> T {
        match self {
            Ok(value) => value,
            Err(err) => panic!("store contract: {call} failed: {err}"),
        }
    }
}

/// A username exactly as given (stores compare names byte for byte; the
/// service is the one that normalizes them); panics (a bug in the suite)
/// when `raw` is not one.
#[track_caller]
pub(crate) fn username(raw: &str) -> Username {
    Username::from_stored(raw)
        .unwrap_or_else(|err| panic!("suite bug: bad username {raw:?}: {err}"))
}

/// A valid message text; panics (a bug in the suite) when `raw` is not one.
#[track_caller]
pub(crate) fn text(raw: &str) -> MessageText {
    MessageText::parse(raw).unwrap_or_else(|err| panic!("suite bug: bad message {raw:?}: {err}"))
}

/// A PHC-looking hash unique to `name`. Stores never parse it.
pub(crate) fn hash_for(name: &str) -> PasswordHash {
    let digest: String = name.bytes().map(|byte| format!("{byte:02x}")).collect();
    PasswordHash::from_phc(format!(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0${digest}"
    ))
}

/// What a store needs to create `name` with a derived e-mail and hash.
#[track_caller]
pub(crate) fn new_user(name: &str) -> NewUser {
    new_user_with_email(name, &format!("{}@example.org", name.len()))
}

/// A session generation derived from `name` (FNV-1a): looks random, and
/// is the same for the same name in every store.
pub(crate) fn generation_for(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a store needs to create `name` with `email`.
#[track_caller]
pub(crate) fn new_user_with_email(name: &str, email: &str) -> NewUser {
    NewUser {
        username: username(name),
        email: Email::parse(email)
            .unwrap_or_else(|err| panic!("suite bug: bad email {email:?}: {err}")),
        password_hash: hash_for(name),
        session_generation: generation_for(name),
    }
}

/// Every record of `store`'s export; panics when the export fails.
pub(crate) async fn export_all(store: &Arc<dyn Store>) -> Vec<Record> {
    store.export().try_collect().await.must("export")
}

/// Imports `records` in batches of `batch`; panics when the store refuses.
pub(crate) async fn import_all(store: &Arc<dyn Store>, records: &[Record], batch: usize) {
    for chunk in records.chunks(batch.max(1)) {
        store
            .import(chunk.to_vec())
            .await
            .must(format_args!("import of {} records", chunk.len()));
    }
}

/// Creates `name`; panics when the store refuses.
pub(crate) async fn create(store: &Arc<dyn Store>, name: &str) -> User {
    let user = store
        .create_user(new_user(name))
        .await
        .must(format_args!("create_user({name:?})"));
    assert_eq!(
        user.username.as_str(),
        name,
        "store contract: create_user({name:?}) returned a user with another name"
    );
    user
}

/// Posts `raw` by `author`; panics when the store refuses.
pub(crate) async fn post(
    store: &Arc<dyn Store>,
    author: &User,
    raw: &str,
    pub_date: Timestamp,
) -> MessageId {
    store
        .post(author.id, text(raw), pub_date)
        .await
        .must(format_args!(
            "post({raw:?}) by {:?}",
            author.username.as_str()
        ))
}

/// Asserts that `ids` are strictly decreasing (newest first, no repeats).
#[track_caller]
pub(crate) fn assert_newest_first(ids: &[MessageId], what: impl Display) {
    for pair in ids.windows(2) {
        assert!(
            pair[0] > pair[1],
            "store contract: {what} is not newest first with unique ids: {} comes before {} in {:?}",
            pair[0].0,
            pair[1].0,
            ids.iter().map(|id| id.0).collect::<Vec<_>>()
        );
    }
}

/// Runs `work(store, task)` for every task in `0..tasks`, each on a tokio
/// task of its own, all released at the same moment by a barrier so that
/// they really race; returns their answers in task order. Whatever `work`
/// does before its future is first polled (building inputs) happens before
/// the barrier.
pub(crate) async fn all_at_once<T, F, Fut>(store: &Arc<dyn Store>, tasks: usize, work: F) -> Vec<T>
where
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let barrier = Arc::clone(&barrier);
            let racing = work(Arc::clone(store), task);
            tokio::spawn(async move {
                barrier.wait().await;
                racing.await
            })
        })
        .collect();
    futures::future::join_all(handles)
        .await
        .into_iter()
        .map(|joined| joined.unwrap_or_else(|err| panic!("a task panicked: {err}")))
        .collect()
}
