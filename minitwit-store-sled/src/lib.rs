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
//!         caller: minitwit_core::Caller::SimulatorApi,
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
//! cache ([`SledConfig::cache_capacity`], 16 MiB by default; sled also caps it
//! to the memory the machine or its cgroup has). Opening replays sled's log
//! and reads no data of ours, so it is fast (after a crash it counts the
//! users, follows and messages once; see the `layout` module). A directory
//! can be open in one store at a time: a second open, from this process or
//! another, fails with [`SledStoreError::Locked`]. A path that is a file, or
//! a non-empty directory without a store in it, is refused; a new
//! directory is created readable by its owner only.
//!
//! ## Durability
//!
//! Every write method returns `Ok` only once its write is on disk, so an
//! acknowledged write survives the process being killed (`kill -9`, a
//! panic-abort, an OOM kill). Writes do not sync one by one: a background
//! flusher runs one sync for all writes applied since its last one (group
//! commit, see the `commit` module), so concurrent writers share syncs and the
//! cost per write falls as load rises. A call that changed nothing (a
//! follow already there) answers only once what it observed is durable. A
//! failed sync fails the writes it covered and makes
//! [`health`](Store::health) report it until a sync succeeds. The sync is
//! sled's `flush`, which writes its log with `sync_file_range`: the disk's
//! write cache and a grown file's length are made durable only by sled's
//! own `fsync`, every 500 ms, so a power cut or a kernel crash (unlike a
//! crash of the process) can lose about the last half second. Dropping the
//! store writes its counts, flushes what is left and stops the flusher.
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
//! | `follow`, `unfollow` | one atomic key update, one shared sync; for a reader in the home cache, an unfollow also removes the author's ids from the entry in memory, a follow adds the new followee's newest ids (a reverse scan of at most an entry's worth of that one author's index) |
//! | `is_following` | one point read |
//! | `latest` | none: held in memory, written by the flusher (see the `latest` module) |
//! | `followees(limit)` | a prefix scan of `limit` keys plus one read per user |
//! | `post` | two inserts, one shared sync (and, in memory, its author's newest id raised and the id added to each cached reader who follows the author) |
//! | public or user timeline page | a reverse range scan of the page size, a point read per message and per distinct author |
//! | home timeline page | from the home cache (see the `home` module): a point read per message and per distinct author, the same for 10 followees as for 10,000; for a reader not cached (the first page, or after eviction), a page deeper than the cache, or during a follow's patch of the entry, a prefix scan of the followees, then a k-way merge of their reverse scans that opens a followee's scan only once its newest id, known in memory (see the `heads` module), is the highest left: about one index descent per message of the page, plus the followees sorted in memory; a followee whose newest id is not known (after a restart, until they post or a merge reads them) costs one descent; the next older page after a merged one starts where that merge left off (see the `paging` module): about one index descent per message, without the followees |
//! | `set_latest` | a value set in memory, one shared sync (the flusher writes the newest value into sled once per sync, see the `latest` module) |
//! | `get_or_init_secret`, `end_sessions` | one atomic key update, one shared sync |
//! | a write naming its users (the simulator's) | a point read of the name index per name, then the write's own cost |
//! | `counts` | three atomic loads (counters kept in memory) |
//! | `export` | one scan of every tree, a point read per user and per message |
//!
//! No read costs in proportion to the number of messages stored. Timelines
//! and followee lists run on tokio's blocking pool (when called inside a tokio
//! runtime) so a long home timeline never stalls the async executor; the
//! point operations take microseconds and run inline. Home timeline merges
//! over more than 128 authors (a reader who follows thousands, on a first
//! page or far back in time) run one at a time, so that they take one core
//! at most, whoever asks for how many of them; the older pages read after
//! one of them, from where it left off, do not wait.

mod commit;
pub mod config;
mod decode;
mod error;
mod export;
mod heads;
mod home;
mod latest;
pub mod layout;
mod open;
mod paging;
mod timeline;
mod write;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use minitwit_core::named::{NamedOutcome, NamedWrite, Pair};
use minitwit_core::{
    Counts, Message, MessageId, MessageText, NewUser, PageRequest, Record, RecordStream, Store,
    StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};

pub use crate::commit::CommitStats;
use crate::commit::GroupCommit;
pub use crate::config::SledConfig;
use crate::decode::encode_counts;
pub use crate::error::SledStoreError;
use crate::error::sled_error;
use crate::home::HomeCache;
use crate::latest::LatestCell;
use crate::layout::{id_key, pair_key, secret_key};
use crate::open::{Opened, Trees, next_id};
use crate::paging::Paging;
use crate::timeline::blocking;

/// The counts a store keeps in memory (see the `layout` module).
#[derive(Debug, Default)]
struct Counters {
    users: AtomicU64,
    follows: AtomicU64,
    messages: AtomicU64,
}

impl Counters {
    fn new(counts: Counts) -> Self {
        Self {
            users: AtomicU64::new(counts.users),
            follows: AtomicU64::new(counts.follows),
            messages: AtomicU64::new(counts.messages),
        }
    }

    fn get(&self) -> Counts {
        Counts {
            users: self.users.load(Ordering::SeqCst),
            follows: self.follows.load(Ordering::SeqCst),
            messages: self.messages.load(Ordering::SeqCst),
        }
    }

    fn add(&self, counts: Counts) {
        self.users.fetch_add(counts.users, Ordering::SeqCst);
        self.follows.fetch_add(counts.follows, Ordering::SeqCst);
        self.messages.fetch_add(counts.messages, Ordering::SeqCst);
    }

    fn reset(&self) {
        for counter in [&self.users, &self.follows, &self.messages] {
            counter.store(0, Ordering::SeqCst);
        }
    }
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
    counters: Counters,
    /// Added to sled's id generator (see the `layout` module).
    id_floor: AtomicU64,
    /// Held while a registration takes its id and commits, so that users
    /// commit in id order (see the `layout` module).
    registrations: Mutex<()>,
    /// Lease name → when it expires.
    leases: Mutex<std::collections::HashMap<String, Instant>>,
    /// The newest home entries of recent readers (see the `home` module).
    home: Arc<HomeCache>,
    /// Held by a home timeline merge over more than [`LARGE_MERGE`]
    /// authors, so that such merges run one at a time (see [`home_page`]).
    large_merges: Arc<Mutex<()>>,
    /// Where readers' next older home pages start, and the posts under way
    /// (see the `paging` module).
    paging: Arc<Paging>,
    /// `latest`, written to sled by the flusher (see the `latest` module).
    latest: Arc<LatestCell>,
    created: bool,
    recounted: bool,
    /// The directory's lock, released last.
    _lock: Option<std::fs::File>,
}

impl SledStore {
    /// Opens (or creates) the store described by `config`.
    ///
    /// # Errors
    /// [`SledStoreError::Locked`] when the directory is in use,
    /// [`SledStoreError::NotADirectory`] or [`SledStoreError::NotAStore`]
    /// for a path that is not ours to use, [`SledStoreError::Open`] when
    /// sled cannot open it, [`SledStoreError::IncompatibleLayout`],
    /// [`SledStoreError::Damaged`] or [`SledStoreError::IdsBehind`] when its
    /// contents cannot be used, [`SledStoreError::InvalidConfig`] for a cache
    /// bound below [`SledConfig::MIN_CACHE_CAPACITY`].
    pub fn open(config: SledConfig) -> Result<Self, SledStoreError> {
        let Opened {
            db,
            trees,
            lock,
            created,
            counts,
            recounted,
            id_floor,
            latest,
        } = open::open(&config)?;
        let latest = Arc::new(LatestCell::new(latest));
        let commit = GroupCommit::with_flush({
            let (db, meta, latest) = (db.clone(), trees.meta.clone(), Arc::clone(&latest));
            move || {
                latest.save(&meta)?;
                db.flush().map(drop)
            }
        })
        .map_err(SledStoreError::Flusher)?;
        let home_cache = config.home_cache_limits();
        tracing::debug!(path = %config.describe_path().display(), created, "opened the sled store");
        Ok(Self {
            commit,
            trees,
            db,
            config,
            counters: Counters::new(counts),
            id_floor: AtomicU64::new(id_floor),
            registrations: Mutex::new(()),
            leases: Mutex::default(),
            home: Arc::new(HomeCache::new(home_cache)),
            large_merges: Arc::default(),
            paging: Arc::default(),
            latest,
            created,
            recounted,
            _lock: lock,
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &SledConfig {
        &self.config
    }

    /// Whether this open created the store (the directory was new or
    /// empty).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Whether the open had to count the store's contents, because it had
    /// not been closed cleanly.
    pub fn was_recounted(&self) -> bool {
        self.recounted
    }

    /// How many disk syncs the group commit ran and how many writes they
    /// covered, since the store was opened.
    pub fn commit_stats(&self) -> CommitStats {
        self.commit.stats()
    }

    /// A fresh id: unique, larger than every id handed out before, never 0.
    fn next_id(&self) -> Result<u64, StoreError> {
        next_id(&self.db, self.id_floor.load(Ordering::SeqCst))
    }

    /// The horizon of an export: an id above every committed user, drawn
    /// while no registration is half done.
    fn export_horizon(&self) -> Result<u64, StoreError> {
        let _registering = self
            .registrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.next_id()
    }

    /// Raises the id floor so that new ids are above `max_id`.
    fn raise_id_floor(&self, max_id: u64) -> Result<(), StoreError> {
        if max_id <= self.id_floor.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.trees
            .meta
            .insert(layout::META_ID_FLOOR, &id_key(max_id)[..])
            .map_err(sled_error)?;
        self.id_floor.fetch_max(max_id, Ordering::SeqCst);
        Ok(())
    }
}

/// A home timeline merge over more authors than this (the reader and
/// their followees) waits for any other such merge to end first.
const LARGE_MERGE: usize = 128;

/// What the home timeline reads of a store besides its trees.
struct HomeShared<'a> {
    home: &'a HomeCache,
    paging: &'a Paging,
    large_merges: &'a Mutex<()>,
}

/// A page of `reader`'s home timeline: from the cache when it holds the
/// page; otherwise, for a reader not cached, the cache is filled with one
/// merge first; a page deeper than the cache is merged, or read from the
/// cursor the merge of the page above it left (see the `paging` module).
/// The followees are read once, for the fill and the merge alike.
///
/// A merge over more than [`LARGE_MERGE`] authors holds `large_merges`:
/// such merges (about 100 ms of a core for a reader of 10,000 far back in
/// time) run one at a time, so that one client asking for many deep pages
/// at once, or many readers who follow thousands, take one core at most
/// and leave the other to everyone else. Pages the cache answers, smaller
/// merges and pages read from a cursor never wait.
fn home_page(
    trees: &Trees,
    shared: &HomeShared<'_>,
    reader: UserId,
    page: PageRequest,
) -> Result<Vec<Message>, StoreError> {
    let HomeShared {
        home,
        paging,
        large_merges,
    } = *shared;
    if let Some(ids) = home.page(reader, page) {
        return trees.render(&ids);
    }
    if let Some(ids) = older_page(trees, home, paging, reader, page)? {
        return trees.render(&ids);
    }
    let committed_below = paging.committed_below();
    // Read before the followees, for the fill and the cursor (see
    // `HomeCache::begin_fill` and the `paging` module).
    let epoch = home.epoch_now(reader);
    let authors = trees.home_authors(reader)?;
    let _turn = (authors.len() > LARGE_MERGE)
        .then(|| large_merges.lock().unwrap_or_else(PoisonError::into_inner));
    if !home.holds(reader)
        && let Some(fill) = home.begin_fill(reader, authors.clone(), epoch)
    {
        let newest = trees.merged_home_ids(&authors, PageRequest::first(home.entries()))?;
        home.finish_fill(fill, &newest);
        if let Some(ids) = home.page(reader, page) {
            return trees.render(&ids);
        }
    }
    let (merged, starts) = trees.merge_home(&authors, page)?;
    let ids: Vec<MessageId> = merged.iter().map(|(id, _)| *id).collect();
    let cursor = paging::Cursor {
        page: merged,
        starts,
        epoch,
    };
    keep_cursor(paging, reader, page.limit, cursor, committed_below);
    trees.render(&ids)
}

/// The page below `page.before` from `reader`'s cursor, when there is one
/// for it and the reader's epoch is still the one it was made in.
fn older_page(
    trees: &Trees,
    home: &HomeCache,
    paging: &Paging,
    reader: UserId,
    page: PageRequest,
) -> Result<Option<Vec<MessageId>>, StoreError> {
    let Some(before) = page.before else {
        return Ok(None);
    };
    let Some(cursor) = paging.cursors.take(reader, before.0) else {
        return Ok(None);
    };
    let epoch = cursor.epoch;
    if epoch != home.epoch_now(reader) {
        return Ok(None);
    }
    let (merged, starts) = trees.merge_home_from(cursor.starts_below(before.0), page.limit)?;
    let ids: Vec<MessageId> = merged.iter().map(|(id, _)| *id).collect();
    let cursor = paging::Cursor {
        page: merged,
        starts,
        epoch,
    };
    // Every id below the page it started from was committed already.
    keep_cursor(paging, reader, page.limit, cursor, u64::MAX);
    Ok(Some(ids))
}

/// Keeps `cursor` for `reader` when its page is full (`limit` messages)
/// and at or below `committed_below` (see the `paging` module).
fn keep_cursor(
    paging: &Paging,
    reader: UserId,
    limit: usize,
    cursor: paging::Cursor,
    committed_below: u64,
) {
    let newest = cursor.page.first().map(|(id, _)| id.0);
    if cursor.page.len() == limit && newest.is_some_and(|newest| newest <= committed_below) {
        paging.cursors.keep(reader, cursor);
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // A clean close keeps the counts, so the next open need not count.
        let counts = encode_counts(self.counters.get());
        let saved = self
            .trees
            .meta
            .insert(layout::META_COUNTS, &counts[..])
            .and_then(|_| self.db.flush());
        if let Err(err) = saved {
            tracing::warn!(error = %err, "cannot keep the counts; the next open counts again");
        }
    }
}

#[async_trait]
impl Store for SledStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.create_user_with_latest(new_user, None).await
    }

    async fn create_user_with_latest(
        &self,
        new_user: NewUser,
        latest: Option<i64>,
    ) -> Result<User, StoreError> {
        let pending = self.begin_with_latest(latest);
        let id = self.register(&new_user)?;
        // A taken name: the winner's claim may not be durable yet, so the
        // answer waits for it too.
        pending.finish(id.is_some() || latest.is_some()).await?;
        let id = id.ok_or(StoreError::UsernameTaken)?;
        Ok(User {
            id,
            username: new_user.username,
            email: new_user.email,
        })
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        self.trees.user_by_name(username)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.trees.user(id)
    }

    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        let pending = self.commit.begin();
        let mut moved: Result<(), StoreError> = Ok(());
        let updated = self
            .trees
            .users
            .update_and_fetch(id_key(user.0), |record| {
                let record = record?;
                match decode::next_session_generation(user, record) {
                    Ok(next) => Some(next),
                    Err(err) => {
                        moved = Err(err);
                        Some(record.to_vec())
                    }
                }
            })
            .map_err(sled_error)?;
        moved?;
        let Some(updated) = updated else {
            pending.unchanged().await?;
            return Ok(0);
        };
        pending.written().await?;
        Ok(decode::decode_user(user, &updated)?.session_generation)
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let pending = self.commit.begin();
        let inserted = self.apply_follow(follower, followee)?;
        if inserted {
            pending.written().await?;
        } else {
            pending.unchanged().await?;
        }
        Ok(inserted)
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let pending = self.commit.begin();
        let removed = self.apply_unfollow(follower, followee)?;
        if removed {
            pending.written().await?;
        } else {
            pending.unchanged().await?;
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
        let pending = self.commit.begin();
        let id = self.apply_post(author, &text, pub_date)?;
        pending.written().await?;
        Ok(id)
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        let trees = self.trees.clone();
        match timeline {
            Timeline::Home(reader) if page.limit > 0 => {
                let home = Arc::clone(&self.home);
                let large_merges = Arc::clone(&self.large_merges);
                let paging = Arc::clone(&self.paging);
                blocking(move || {
                    let shared = HomeShared {
                        home: &home,
                        paging: &paging,
                        large_merges: &large_merges,
                    };
                    home_page(&trees, &shared, reader, page)
                })
                .await
            }
            _ => blocking(move || trees.timeline(timeline, page)).await,
        }
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.begin_with_latest(Some(latest)).written().await
    }

    async fn named_write(
        &self,
        write: NamedWrite,
        latest: Option<i64>,
    ) -> Result<NamedOutcome, StoreError> {
        let pending = self.begin_with_latest(latest);
        let outcome = match write {
            NamedWrite::Post {
                author,
                text,
                pub_date,
            } => match self.resolve(&author)? {
                Some(author) => NamedOutcome::Posted(self.apply_post(author, &text, pub_date)?),
                None => NamedOutcome::UnknownUser,
            },
            NamedWrite::Follow { follower, followee } => match self.pair(&follower, &followee)? {
                Pair::Found { follower, followee } if follower == followee => {
                    NamedOutcome::SelfFollow
                }
                Pair::Found { follower, followee } => NamedOutcome::Applied {
                    changed: self.apply_follow(follower, followee)?,
                },
                Pair::Missing(outcome) => outcome,
            },
            NamedWrite::Unfollow { follower, followee } => {
                match self.pair(&follower, &followee)? {
                    Pair::Found { follower, followee } if follower == followee => {
                        NamedOutcome::Applied { changed: false }
                    }
                    Pair::Found { follower, followee } => NamedOutcome::Applied {
                        changed: self.apply_unfollow(follower, followee)?,
                    },
                    Pair::Missing(outcome) => outcome,
                }
            }
        };
        let wrote = latest.is_some()
            || matches!(
                outcome,
                NamedOutcome::Posted(_) | NamedOutcome::Applied { changed: true }
            );
        pending.finish(wrote).await?;
        Ok(outcome)
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.latest.get())
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let pending = self.commit.begin();
        let stored = self
            .trees
            .meta
            .compare_and_swap(secret_key(name), None::<&[u8]>, Some(candidate))
            .map_err(sled_error)?;
        match stored {
            Ok(()) => {
                pending.written().await?;
                Ok(candidate.to_vec())
            }
            Err(existing) => {
                // Someone else stored it, maybe a moment ago: answer only once
                // their write is durable too.
                pending.unchanged().await?;
                existing.current.map(|value| value.to_vec()).ok_or_else(|| {
                    StoreError::backend("sled refused to store a secret that does not exist")
                })
            }
        }
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        Ok(self.counters.get())
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.commit.health()?;
        // A point read: sled still answers.
        self.trees
            .meta
            .get(layout::META_LATEST)
            .map(drop)
            .map_err(sled_error)
    }

    fn export(&self) -> RecordStream {
        match self.export_horizon() {
            Ok(horizon) => export::export(self.trees.clone(), horizon, self.latest.get()),
            Err(err) => Box::pin(futures::stream::iter([Err(err)])),
        }
    }

    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let pending = self.commit.begin();
        let trees = self.trees.clone();
        let imported = blocking(move || export::import(&trees, records)).await;
        let imported = match imported {
            Ok(imported) => imported,
            Err(err) => {
                pending.unchanged().await?;
                return Err(err);
            }
        };
        self.counters.add(imported.added);
        if let Some(latest) = imported.latest {
            self.latest.set(latest);
        }
        self.trees.heads.clear();
        self.home.clear();
        self.paging.cursors.clear();
        self.raise_id_floor(imported.max_id)?;
        pending.written().await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let pending = self.commit.begin();
        let trees = self.trees.clone();
        blocking(move || export::clear(&trees)).await?;
        self.latest.clear();
        self.counters.reset();
        self.trees.heads.clear();
        self.home.clear();
        self.paging.cursors.clear();
        pending.written().await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.commit.barrier().await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        // One process owns a sled directory, so its leases live in memory.
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if leases.get(name).is_some_and(|expiry| *expiry > now) {
            return Ok(false);
        }
        leases.insert(name.to_owned(), now + ttl);
        Ok(true)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await.map_err(sled_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod paging_tests;
