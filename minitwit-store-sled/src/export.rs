//! Export, import and clear: the store as a stream of records, and back.
//!
//! An export runs on a thread of its own that scans the trees in key order
//! and hands the records over a bounded channel, so it holds a few hundred
//! records at most whatever the store's size, and stops when the reader
//! goes away. It first takes a **horizon**: under the registration lock (so
//! that no registration is half done) it draws a fresh id; every user below
//! it has committed. The export then holds the committed users below the
//! horizon, the follows between them, their committed messages below the
//! horizon, `latest` and the secrets. Writes that start after the horizon
//! are left out (or, for follows and unfollows between old users, may be
//! in), which is what the `Store` contract allows.

use std::ops::Bound;

use minitwit_core::{Counts, MessageId, Record, RecordStream, StoreError, UserId};
use tokio::sync::mpsc;

use crate::decode::{decode_id, decode_message, decode_pair, encode_message, encode_stored_user};
use crate::error::sled_error;
use crate::layout::{self, META_SECRET_PREFIX, id_key, pair_key, secret_key};
use crate::open::Trees;

/// Records handed over at most before the reader takes them.
const CHANNEL_RECORDS: usize = 256;

type Sender = mpsc::Sender<Result<Record, StoreError>>;

/// Streams the store's records as of `horizon` (see the module docs), with
/// `latest` as the store holds it when the export begins.
pub(crate) fn export(trees: Trees, horizon: u64, latest: Option<i64>) -> RecordStream {
    let (sender, receiver) = mpsc::channel(CHANNEL_RECORDS);
    let spawned = std::thread::Builder::new()
        .name("minitwit-sled-export".into())
        .spawn(move || {
            if let Err(err) = produce(&trees, horizon, latest, &sender) {
                // The reader may be gone already; then nobody listens.
                let _ = sender.blocking_send(Err(err));
            }
        });
    if let Err(err) = spawned {
        let failed = StoreError::backend(format!("cannot start the export thread: {err}"));
        return Box::pin(futures::stream::iter([Err(failed)]));
    }
    Box::pin(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

/// Why an export stopped early.
enum Stop {
    /// The reader went away: not an error, the export just ends.
    Gone,
    /// The store failed; the reader is told.
    Failed(StoreError),
}

impl From<StoreError> for Stop {
    fn from(err: StoreError) -> Self {
        Self::Failed(err)
    }
}

fn send(sender: &Sender, record: Record) -> Result<(), Stop> {
    sender.blocking_send(Ok(record)).map_err(|_| Stop::Gone)
}

fn produce(
    trees: &Trees,
    horizon: u64,
    latest: Option<i64>,
    sender: &Sender,
) -> Result<(), StoreError> {
    match produce_records(trees, horizon, latest, sender) {
        Ok(()) | Err(Stop::Gone) => Ok(()),
        Err(Stop::Failed(err)) => Err(err),
    }
}

fn produce_records(
    trees: &Trees,
    horizon: u64,
    latest: Option<i64>,
    sender: &Sender,
) -> Result<(), Stop> {
    let below_horizon = (Bound::Unbounded, Bound::Excluded(id_key(horizon)));
    for entry in trees.users.range(below_horizon) {
        let (key, _) = entry.map_err(sled_error)?;
        if let Some(user) = trees.user(UserId(decode_id(&key)?))? {
            send(sender, Record::User(user))?;
        }
    }
    for key in trees.follows.iter().keys() {
        let (follower, followee) = decode_pair(&key.map_err(sled_error)?)?;
        if follower < horizon && followee < horizon {
            let record = Record::Follow {
                follower: UserId(follower),
                followee: UserId(followee),
            };
            send(sender, record)?;
        }
    }
    for entry in trees.messages.range(below_horizon) {
        let (key, value) = entry.map_err(sled_error)?;
        let message = decode_message(MessageId(decode_id(&key)?), &value)?;
        if message.author.0 < horizon && trees.is_committed(message.author, message.id)? {
            send(sender, Record::Message(message))?;
        }
    }
    if let Some(latest) = latest {
        send(sender, Record::Latest(latest))?;
    }
    for entry in trees.meta.scan_prefix(META_SECRET_PREFIX) {
        let (key, value) = entry.map_err(sled_error)?;
        let name = std::str::from_utf8(&key[META_SECRET_PREFIX.len()..])
            .map_err(|_| StoreError::Corrupt("a secret's name is not UTF-8".into()))?;
        let record = Record::Secret {
            name: name.to_owned(),
            value: value.to_vec(),
        };
        send(sender, record)?;
    }
    Ok(())
}

/// What an imported batch added.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    /// New users, follows and messages.
    pub(crate) added: Counts,
    /// The largest id imported.
    pub(crate) max_id: u64,
    /// The last `latest` of the batch: the caller records it (see the
    /// `latest` module).
    pub(crate) latest: Option<i64>,
}

/// Writes one batch of records (not yet durable).
pub(crate) fn import(trees: &Trees, records: Vec<Record>) -> Result<Imported, StoreError> {
    let mut imported = Imported::default();
    for record in records {
        match record {
            Record::User(stored) => {
                let id = stored.user.id;
                let name = stored.user.username.as_str().to_owned();
                let key = id_key(id.0);
                let conflict = || StoreError::Conflict(format!("user {} ({name:?})", id.0));
                if trees.users.contains_key(key).map_err(sled_error)? {
                    return Err(conflict());
                }
                trees
                    .users
                    .insert(key, encode_stored_user(&stored))
                    .map_err(sled_error)?;
                let claimed = trees
                    .user_names
                    .compare_and_swap(name.as_bytes(), None::<&[u8]>, Some(&key[..]))
                    .map_err(sled_error)?;
                if claimed.is_err() {
                    trees.users.remove(key).map_err(sled_error)?;
                    return Err(conflict());
                }
                imported.added.users += 1;
                imported.max_id = imported.max_id.max(id.0);
            }
            Record::Follow { follower, followee } => {
                let previous = trees
                    .follows
                    .insert(pair_key(follower.0, followee.0), &[][..])
                    .map_err(sled_error)?;
                if previous.is_none() {
                    imported.added.follows += 1;
                }
            }
            Record::Message(message) => {
                let key = id_key(message.id.0);
                let previous = trees
                    .messages
                    .insert(
                        key,
                        encode_message(message.author, message.pub_date, &message.text),
                    )
                    .map_err(sled_error)?;
                if previous.is_some() {
                    return Err(StoreError::Conflict(format!("message {}", message.id.0)));
                }
                trees
                    .user_messages
                    .insert(pair_key(message.author.0, message.id.0), &[][..])
                    .map_err(sled_error)?;
                imported.added.messages += 1;
                imported.max_id = imported.max_id.max(message.id.0);
            }
            Record::Latest(latest) => imported.latest = Some(latest),
            Record::Secret { name, value } => {
                trees
                    .meta
                    .insert(secret_key(&name), value)
                    .map_err(sled_error)?;
            }
        }
    }
    Ok(imported)
}

/// Removes every record, `latest` and the secrets (not yet durable). The
/// layout version and the id floor stay: ids are never reused.
pub(crate) fn clear(trees: &Trees) -> Result<(), StoreError> {
    for tree in trees.records() {
        tree.clear().map_err(sled_error)?;
    }
    trees.meta.remove(layout::META_LATEST).map_err(sled_error)?;
    let secrets: Vec<_> = trees
        .meta
        .scan_prefix(META_SECRET_PREFIX)
        .keys()
        .collect::<Result<_, _>>()
        .map_err(sled_error)?;
    for key in secrets {
        trees.meta.remove(key).map_err(sled_error)?;
    }
    Ok(())
}
