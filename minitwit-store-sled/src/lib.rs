//! # minitwit-store-sled
//!
//! [`SledStore`]: MiniTwit's default [`Store`], embedded in the process and
//! kept in one directory on disk with [sled](https://docs.rs/sled/0.34). It
//! needs no server: give it a directory and it is ready.
//!
//! ```
//! use std::sync::Arc;
//! use minitwit_core::{MiniTwit, PageRequest, Registration, Store};
//! use minitwit_store_sled::{SledConfig, SledStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = SledStore::open(SledConfig::new(dir.path()).cache_capacity(16 << 20))?;
//! let service = MiniTwit::builder(Arc::new(store)).build()?;
//! service
//!     .register(Registration {
//!         username: "Grace Hopper",
//!         email: "grace@example.org",
//!         password: "a long passphrase",
//!         password_confirmation: None,
//!     })
//!     .await?;
//! service.post("Grace Hopper", "It's easier to ask forgiveness.").await?;
//! // Acknowledged, so already on disk: it survives even `kill -9`.
//! let (_grace, page) = service.user_timeline("Grace Hopper", PageRequest::first(30)).await?;
//! assert_eq!(page.messages.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Opening
//!
//! [`SledStore::open`] takes a [`SledConfig`]: a directory (created when
//! missing) or [`SledConfig::temporary`] for tests, and a bound on the page
//! cache ([`SledConfig::cache_capacity`], 64 MiB by default; sled also caps it
//! to the memory the machine or its cgroup has). Opening replays sled's log
//! and reads no data of ours, so it is fast. A directory can be open in one
//! store at a time: a second open, from this process or another, fails with
//! [`SledStoreError::Locked`].
//!
//! ## Durability
//!
//! Every write method returns `Ok` only once its write is on disk, so an
//! acknowledged write survives the process being killed (`kill -9`, a
//! panic-abort, an OOM kill). Writes do not sync one by one: a background
//! flusher runs one sync for all writes applied since its last one (group
//! commit, see the `commit` module), so concurrent writers share syncs and the
//! cost per write falls as load rises. A failed sync fails the writes it
//! covered. Dropping the store flushes what is left and stops the flusher.
//!
//! ## Layout and cost
//!
//! The trees and key encodings are described in the `layout` module: ids are
//! big-endian `u64` from sled's persistent id generator, so key order is id
//! order and message ids grow in the order posts complete, across restarts.
//!
//! | operation | cost |
//! | --- | --- |
//! | `create_user` | two inserts and a compare-and-swap, one shared sync |
//! | `user_by_name`, `user_by_id` | two point reads |
//! | `follow`, `unfollow` | one atomic key update, one shared sync |
//! | `is_following`, `latest` | one point read |
//! | `followees(limit)` | a prefix scan of `limit` keys plus one read per user |
//! | `post` | two inserts, one shared sync |
//! | public or user timeline page | a reverse range scan of the page size, a point read per message and per distinct author |
//! | home timeline page | a prefix scan of the followees, then a k-way merge of their reverse scans: the page size times log(followees) plus the followees |
//! | `set_latest`, `get_or_init_secret` | one atomic key update, one shared sync |
//!
//! No read costs in proportion to the number of messages stored. Timelines
//! and followee lists run on tokio's blocking pool (when called inside a tokio
//! runtime) so a long home timeline never stalls the async executor; the
//! point operations take microseconds and run inline.

mod commit;
mod config;
mod layout;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::ops::Bound;
use std::path::PathBuf;

use async_trait::async_trait;
use minitwit_core::{
    Message, MessageId, MessageText, NewUser, PageRequest, Store, StoreError, StoredUser, Timeline,
    Timestamp, User, UserId,
};

use crate::commit::GroupCommit;
pub use crate::config::SledConfig;
use crate::layout::{
    MessageRecord, decode_id, decode_latest, decode_message, decode_pair_second, decode_user,
    encode_latest, encode_message, encode_user, id_key, pair_key, secret_key,
};

/// Why a [`SledStore`] could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SledStoreError {
    /// Another store (in this or another process) has the directory open.
    #[error(
        "the sled store at {} is already in use by another process (or another store in this \
         process); stop it or choose another directory",
        path.display()
    )]
    Locked {
        /// The directory.
        path: PathBuf,
        /// sled's report.
        #[source]
        source: sled::Error,
    },
    /// sled failed to open or read the directory.
    #[error("cannot open the sled store at {}: {source}", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// sled's report.
        #[source]
        source: sled::Error,
    },
    /// The directory holds data in a layout this version does not know.
    #[error(
        "the sled store at {} holds data in layout {found}, but this version reads layout \
         {expected}; use a matching version of minitwit or another directory",
        path.display()
    )]
    IncompatibleLayout {
        /// The directory.
        path: PathBuf,
        /// The layout found, as stored.
        found: String,
        /// The layout this version reads.
        expected: u8,
    },
    /// Stored ids are ahead of sled's id generator, so new ids could repeat
    /// old ones: the directory was damaged or edited.
    #[error(
        "the sled store at {} is damaged: it holds id {stored}, but new ids would start at \
         {next}; restore it from a backup",
        path.display()
    )]
    IdsBehind {
        /// The directory.
        path: PathBuf,
        /// The largest id stored.
        stored: u64,
        /// The next id sled would hand out.
        next: u64,
    },
    /// The configuration cannot work.
    #[error("invalid sled store configuration: {0}")]
    InvalidConfig(String),
    /// The group-commit thread could not be started.
    #[error("cannot start the sled flusher thread: {0}")]
    Flusher(#[source] std::io::Error),
}

/// The trees of one store (see the `layout` module). Cheap to clone.
#[derive(Debug, Clone)]
struct Trees {
    users: sled::Tree,
    user_names: sled::Tree,
    follows: sled::Tree,
    messages: sled::Tree,
    user_messages: sled::Tree,
    meta: sled::Tree,
}

/// MiniTwit's [`Store`] on sled: durable, indexed, embedded.
///
/// See the [crate documentation](crate) for how to open one, what it
/// guarantees and what each operation costs.
#[derive(Debug)]
pub struct SledStore {
    commit: GroupCommit,
    trees: Trees,
    db: sled::Db,
    config: SledConfig,
}

impl SledStore {
    /// Opens (or creates) the store described by `config`.
    ///
    /// # Errors
    /// [`SledStoreError::Locked`] when the directory is in use,
    /// [`SledStoreError::Open`] when sled cannot open it,
    /// [`SledStoreError::IncompatibleLayout`] or
    /// [`SledStoreError::IdsBehind`] when its contents cannot be used,
    /// [`SledStoreError::InvalidConfig`] for a cache bound below
    /// [`SledConfig::MIN_CACHE_CAPACITY`].
    pub fn open(config: SledConfig) -> Result<Self, SledStoreError> {
        if config.cache_capacity_bytes() < SledConfig::MIN_CACHE_CAPACITY {
            return Err(SledStoreError::InvalidConfig(format!(
                "the cache capacity is {} bytes; it must be at least {} (1 MiB)",
                config.cache_capacity_bytes(),
                SledConfig::MIN_CACHE_CAPACITY
            )));
        }
        let path = config.describe_path();
        let open_error = |source: sled::Error| {
            let locked = matches!(&source, sled::Error::Io(io)
                if io.to_string().contains("could not acquire lock"));
            if locked {
                SledStoreError::Locked {
                    path: path.clone(),
                    source,
                }
            } else {
                SledStoreError::Open {
                    path: path.clone(),
                    source,
                }
            }
        };
        let db = open_waiting_for_lock(&config.to_sled()).map_err(open_error)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_error);
        let trees = Trees {
            users: tree(layout::USERS)?,
            user_names: tree(layout::USER_NAMES)?,
            follows: tree(layout::FOLLOWS)?,
            messages: tree(layout::MESSAGES)?,
            user_messages: tree(layout::USER_MESSAGES)?,
            meta: tree(layout::META)?,
        };
        check_layout(&trees.meta, &path).map_err(open_error)??;
        check_ids(&db, &trees, &path)?;
        let commit = GroupCommit::start(db.clone()).map_err(SledStoreError::Flusher)?;
        tracing::debug!(path = %path.display(), "opened the sled store");
        Ok(Self {
            commit,
            trees,
            db,
            config,
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &SledConfig {
        &self.config
    }

    /// A fresh id: unique, larger than every id handed out before, never 0.
    fn next_id(&self) -> Result<u64, StoreError> {
        next_id(&self.db)
    }
}

fn next_id(db: &sled::Db) -> Result<u64, StoreError> {
    db.generate_id()
        .map_err(sled_error)?
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt("the id generator is exhausted".into()))
}

/// Records the layout version in a new store, refuses another one.
fn check_layout(
    meta: &sled::Tree,
    path: &std::path::Path,
) -> sled::Result<Result<(), SledStoreError>> {
    let current = [layout::FORMAT];
    match meta.compare_and_swap(layout::META_FORMAT, None::<&[u8]>, Some(&current[..]))? {
        Ok(()) => Ok(Ok(())),
        Err(existing) if existing.current.as_deref() == Some(&current[..]) => Ok(Ok(())),
        Err(existing) => Ok(Err(SledStoreError::IncompatibleLayout {
            path: path.to_owned(),
            found: format!("{:?}", existing.current.as_deref().unwrap_or_default()),
            expected: layout::FORMAT,
        })),
    }
}

/// Refuses a store whose ids are ahead of the id generator: new rows would
/// overwrite old ones.
fn check_ids(db: &sled::Db, trees: &Trees, path: &std::path::Path) -> Result<(), SledStoreError> {
    let last = |tree: &sled::Tree| -> Result<u64, StoreError> {
        match tree.last().map_err(sled_error)? {
            Some((key, _)) => decode_id(&key),
            None => Ok(0),
        }
    };
    let damaged = |err: StoreError| SledStoreError::Open {
        path: path.to_owned(),
        source: sled::Error::Unsupported(err.to_string()),
    };
    let stored = last(&trees.messages)
        .and_then(|messages| Ok(messages.max(last(&trees.users)?)))
        .map_err(damaged)?;
    let next = next_id(db).map_err(damaged)?;
    if next <= stored {
        return Err(SledStoreError::IdsBehind {
            path: path.to_owned(),
            stored,
            next,
        });
    }
    Ok(())
}

/// A sled error as the core's [`StoreError`].
fn sled_error(err: sled::Error) -> StoreError {
    match err {
        sled::Error::Corruption { .. } => StoreError::Corrupt(err.to_string()),
        other => StoreError::backend(other),
    }
}

/// How long [`SledStore::open`] waits for a directory lock held by a store
/// that is still shutting down.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the database, retrying while its lock is taken for up to
/// [`LOCK_WAIT`]: a store dropped a moment ago may still be releasing the
/// lock from sled's background threads. A directory held by a running
/// process stays locked, and gives the lock error after the wait.
fn open_waiting_for_lock(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(io))
                if io.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Runs `read` on tokio's blocking pool when inside a tokio runtime, inline
/// otherwise.
async fn blocking<T, F>(read: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(read)
            .await
            .map_err(|err| StoreError::backend(format!("a sled read did not finish: {err}")))?,
        Err(_) => read(),
    }
}

impl Trees {
    fn user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.users
            .get(id_key(id.0))
            .map_err(sled_error)?
            .map(|record| decode_user(id, &record))
            .transpose()
    }

    fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.follows
            .scan_prefix(id_key(follower.0))
            .keys()
            .take(limit)
            .map(|key| {
                let followee = UserId(decode_pair_second(&key.map_err(sled_error)?)?);
                self.user(followee)?
                    .map(|stored| stored.user)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "user {} follows user {}, who does not exist",
                            follower.0, followee.0
                        ))
                    })
            })
            .collect()
    }

    /// The reverse scan of `author`'s messages below `before`.
    fn authored(&self, author: UserId, before: Option<MessageId>) -> sled::Iter {
        let start = Bound::Included(pair_key(author.0, 0));
        let end = match before {
            Some(before) => Bound::Excluded(pair_key(author.0, before.0)),
            None => Bound::Included(pair_key(author.0, u64::MAX)),
        };
        self.user_messages.range((start, end))
    }

    fn timeline(&self, timeline: Timeline, page: PageRequest) -> Result<Vec<Message>, StoreError> {
        if page.limit == 0 || page.before == Some(MessageId(0)) {
            return Ok(Vec::new());
        }
        let mut page_builder = PageBuilder::new(self, page.limit);
        match timeline {
            Timeline::Public => {
                let end = page
                    .before
                    .map_or(Bound::Unbounded, |before| Bound::Excluded(id_key(before.0)));
                for entry in self.messages.range((Bound::Unbounded, end)).rev() {
                    if page_builder.messages.len() == page.limit {
                        break;
                    }
                    let (key, value) = entry.map_err(sled_error)?;
                    page_builder.push_committed(MessageId(decode_id(&key)?), &value)?;
                }
            }
            Timeline::User(author) => {
                for key in self
                    .authored(author, page.before)
                    .keys()
                    .rev()
                    .take(page.limit)
                {
                    let id = MessageId(decode_pair_second(&key.map_err(sled_error)?)?);
                    page_builder.push_id(id)?;
                }
            }
            Timeline::Home(user) => {
                for id in self.home_ids(user, page)? {
                    page_builder.push_id(id)?;
                }
            }
        }
        Ok(page_builder.messages)
    }

    /// The ids of one page of `user`'s home timeline: a k-way merge of the
    /// reverse scans of the user's and each followee's messages.
    fn home_ids(&self, user: UserId, page: PageRequest) -> Result<Vec<MessageId>, StoreError> {
        let mut authors = BTreeSet::from([user]);
        for key in self.follows.scan_prefix(id_key(user.0)).keys() {
            authors.insert(UserId(decode_pair_second(&key.map_err(sled_error)?)?));
        }
        let mut scans: Vec<_> = authors
            .into_iter()
            .map(|author| self.authored(author, page.before).keys().rev())
            .collect();
        // The newest unread message of each scan, newest first.
        let mut heads = BinaryHeap::with_capacity(scans.len());
        for (index, scan) in scans.iter_mut().enumerate() {
            if let Some(key) = scan.next() {
                heads.push((
                    decode_pair_second(&key.map_err(sled_error)?)?,
                    Reverse(index),
                ));
            }
        }
        let mut ids = Vec::with_capacity(page.limit.min(heads.len().max(1) * 16));
        while ids.len() < page.limit {
            let Some((id, Reverse(index))) = heads.pop() else {
                break;
            };
            ids.push(MessageId(id));
            if let Some(key) = scans.get_mut(index).and_then(Iterator::next) {
                heads.push((
                    decode_pair_second(&key.map_err(sled_error)?)?,
                    Reverse(index),
                ));
            }
        }
        Ok(ids)
    }
}

/// Collects a page of messages, reading each author once.
struct PageBuilder<'a> {
    trees: &'a Trees,
    authors: HashMap<UserId, User>,
    messages: Vec<Message>,
}

impl<'a> PageBuilder<'a> {
    fn new(trees: &'a Trees, limit: usize) -> Self {
        Self {
            trees,
            authors: HashMap::new(),
            messages: Vec::with_capacity(limit.min(1024)),
        }
    }

    /// Adds message `id`, read from `messages`.
    fn push_id(&mut self, id: MessageId) -> Result<(), StoreError> {
        let value = self
            .trees
            .messages
            .get(id_key(id.0))
            .map_err(sled_error)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("message {} is indexed but not stored", id.0))
            })?;
        self.push(id, &value)
    }

    /// Adds message `id` with the stored `value` if its index entry, the
    /// commit point of a post, exists; skips it otherwise.
    fn push_committed(&mut self, id: MessageId, value: &[u8]) -> Result<(), StoreError> {
        let record = decode_message(id, value)?;
        let committed = self
            .trees
            .user_messages
            .contains_key(pair_key(record.author.0, id.0))
            .map_err(sled_error)?;
        if committed {
            self.push_record(id, record)?;
        }
        Ok(())
    }

    /// Adds message `id` with the stored `value`.
    fn push(&mut self, id: MessageId, value: &[u8]) -> Result<(), StoreError> {
        let record = decode_message(id, value)?;
        self.push_record(id, record)
    }

    fn push_record(&mut self, id: MessageId, record: MessageRecord) -> Result<(), StoreError> {
        let author = match self.authors.get(&record.author) {
            Some(author) => author.clone(),
            None => {
                let author = self
                    .trees
                    .user(record.author)?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "message {} has no author (user {} does not exist)",
                            id.0, record.author.0
                        ))
                    })?
                    .user;
                self.authors.insert(record.author, author.clone());
                author
            }
        };
        self.messages.push(Message {
            id,
            author,
            text: record.text,
            pub_date: record.pub_date,
        });
        Ok(())
    }
}

#[async_trait]
impl Store for SledStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        let id = UserId(self.next_id()?);
        let key = id_key(id.0);
        let record = encode_user(&new_user.username, &new_user.email, &new_user.password_hash);
        // The record first, under an id nobody knows yet; then the name, whose
        // compare-and-swap is the commit point that makes the user exist.
        self.trees.users.insert(key, record).map_err(sled_error)?;
        let claimed = self
            .trees
            .user_names
            .compare_and_swap(new_user.username.as_str(), None::<&[u8]>, Some(&key[..]))
            .map_err(sled_error)?;
        if claimed.is_err() {
            self.trees.users.remove(key).map_err(sled_error)?;
            // The winner's claim may not be durable yet: do not answer before.
            self.commit.barrier().await?;
            return Err(StoreError::UsernameTaken);
        }
        self.commit.written().await?;
        Ok(User {
            id,
            username: new_user.username,
            email: new_user.email,
        })
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        let Some(id) = self
            .trees
            .user_names
            .get(username.as_bytes())
            .map_err(sled_error)?
        else {
            return Ok(None);
        };
        let id = UserId(decode_id(&id)?);
        match self.trees.user(id)? {
            Some(user) => Ok(Some(user)),
            None => Err(StoreError::Corrupt(format!(
                "the name {username:?} belongs to user {}, who does not exist",
                id.0
            ))),
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        let Some(user) = self.trees.user(id)? else {
            return Ok(None);
        };
        // A record whose name does not point back at it is a registration
        // in flight or one that lost its name race: not a user (yet).
        let owner = self
            .trees
            .user_names
            .get(user.user.username.as_str())
            .map_err(sled_error)?;
        match owner {
            Some(owner) if decode_id(&owner)? == id.0 => Ok(Some(user)),
            _ => Ok(None),
        }
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let key = pair_key(follower.0, followee.0);
        let inserted = self
            .trees
            .follows
            .compare_and_swap(key, None::<&[u8]>, Some(&[][..]))
            .map_err(sled_error)?
            .is_ok();
        if inserted {
            self.commit.written().await?;
        } else {
            self.commit.barrier().await?;
        }
        Ok(inserted)
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let key = pair_key(follower.0, followee.0);
        let removed = self
            .trees
            .follows
            .remove(key)
            .map_err(sled_error)?
            .is_some();
        if removed {
            self.commit.written().await?;
        } else {
            self.commit.barrier().await?;
        }
        Ok(removed)
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.trees
            .follows
            .contains_key(pair_key(follower.0, followee.0))
            .map_err(sled_error)
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let trees = self.trees.clone();
        blocking(move || trees.followees(follower, limit)).await
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        let id = self.next_id()?;
        let key = id_key(id);
        // The message first, then its index entry: the entry is the commit
        // point, so no reader ever sees one without the other (see `layout`).
        self.trees
            .messages
            .insert(key, encode_message(author, pub_date, &text))
            .map_err(sled_error)?;
        if let Err(err) = self
            .trees
            .user_messages
            .insert(pair_key(author.0, id), &[][..])
        {
            // Best effort: an uncommitted message is invisible anyway.
            let _ = self.trees.messages.remove(key);
            return Err(sled_error(err));
        }
        self.commit.written().await?;
        Ok(MessageId(id))
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        let trees = self.trees.clone();
        blocking(move || trees.timeline(timeline, page)).await
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.trees
            .meta
            .insert(layout::META_LATEST, &encode_latest(latest)[..])
            .map_err(sled_error)?;
        self.commit.written().await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        self.trees
            .meta
            .get(layout::META_LATEST)
            .map_err(sled_error)?
            .map(|value| decode_latest(&value))
            .transpose()
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let stored = self
            .trees
            .meta
            .compare_and_swap(secret_key(name), None::<&[u8]>, Some(candidate))
            .map_err(sled_error)?;
        match stored {
            Ok(()) => {
                self.commit.written().await?;
                Ok(candidate.to_vec())
            }
            Err(existing) => {
                // Someone else stored it, maybe a moment ago: answer only once
                // their write is durable too.
                self.commit.barrier().await?;
                existing.current.map(|value| value.to_vec()).ok_or_else(|| {
                    StoreError::backend("sled refused to store a secret that does not exist")
                })
            }
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await.map_err(sled_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_locked_directory_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let first = SledStore::open(SledConfig::new(dir.path())).unwrap();
        let err = SledStore::open(SledConfig::new(dir.path())).unwrap_err();
        assert!(matches!(err, SledStoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("already in use"), "{err}");
        drop(first);
        SledStore::open(SledConfig::new(dir.path())).unwrap();
    }

    #[test]
    fn a_tiny_cache_is_refused() {
        let err = SledStore::open(SledConfig::temporary().cache_capacity(10)).unwrap_err();
        assert!(matches!(err, SledStoreError::InvalidConfig(_)), "{err:?}");
    }

    #[test]
    fn another_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree(layout::META)
                .unwrap()
                .insert(layout::META_FORMAT, &[99][..])
                .unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(SledConfig::new(dir.path())).unwrap_err();
        assert!(
            matches!(err, SledStoreError::IncompatibleLayout { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn ids_are_never_zero_and_grow() {
        let store = SledStore::open(SledConfig::temporary()).unwrap();
        let first = store.next_id().unwrap();
        let second = store.next_id().unwrap();
        assert!(first > 0);
        assert!(second > first);
    }
}
