//! The [`Store`] trait: what a storage backend must do, and the contract it
//! must keep.

use std::time::Duration;

use async_trait::async_trait;

use crate::named::{
    NameCheck, NamedOutcome, NamedWrite, check_name_in_steps, named_write_in_steps,
};
use crate::{
    Counts, Message, MessageId, MessageText, NewUser, PageRequest, Record, RecordStream,
    StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};

/// Persistent state of a MiniTwit: users, follows, messages, `latest`, and a
/// few named secrets.
///
/// The trait is object-safe: the application holds an `Arc<dyn Store>`. Every
/// method may be called concurrently, from many tasks and, for a shared
/// backend such as Redis, from many server processes at once. Validation is
/// the service's job: a store trusts its typed arguments and never checks
/// that a [`UserId`] it is given exists.
///
/// # Contract
///
/// * **Durability.** When a write method returns `Ok`, the write survives the
///   process being killed (for a persistent backend). The in-memory store is
///   the one exception, and says so. A write that changed nothing (a
///   follow already there, a name already taken) returns only once the state
///   it observed is durable too.
/// * **Atomicity.** Each method is atomic: a concurrent reader sees all of a
///   write or none of it. Two concurrent [`create_user`](Store::create_user)
///   calls with one name: exactly one succeeds, the other gets
///   [`StoreError::UsernameTaken`].
/// * **Follows are a set.** Following twice or unfollowing a user not
///   followed changes nothing. Under any interleaving of concurrent
///   follow/unfollow calls the final state is one that some serial order of
///   those calls produces.
/// * **Ids.** User ids and message ids are unique and never reused. Message
///   ids grow in the order posts complete: a message whose
///   [`post`](Store::post) returned before another one's began has the
///   smaller id.
/// * **Timelines** are ordered newest first, by message id (which is unique,
///   so the order is total and stable). A page holds the messages with ids
///   below [`PageRequest::before`] (all of them when `None`), at most
///   [`PageRequest::limit`] of them. Walking pages by passing the last id of
///   each page as the next `before` visits every message that existed when
///   the walk began exactly once, whatever is posted meanwhile.
/// * **Cost.** Reading a page costs in proportion to the page size, not to
///   how many messages are stored: backends keep indexes on write. A home
///   timeline may also cost in proportion to the number of followees (a
///   merge at read time, as [`MemoryStore`](crate::MemoryStore) does); the
///   persistent backends avoid that with the cache of [`crate::home`].
/// * **Counts.** [`counts`](Store::counts) reads counters kept on every
///   write: its cost does not grow with the store, and its figures are
///   exact once the writes that changed them have returned.
/// * **Export and import.** [`export`](Store::export) streams every record
///   in the order [`Record`] gives, holding a bounded number of them in
///   memory whatever the store's size. Taken while writes continue, it
///   holds every user, follow and message whose write returned before the
///   export began (and not undone since), every message's author and every
///   follow's two users (it is closed under references: it restores), and
///   no record that never existed; writes that overlap the export may or
///   may not be in it. Taken while nothing writes, it is exactly the
///   store's state. [`import`](Store::import) recreates exported records
///   exactly, ids included, in a store that was empty (or
///   [`clear`](Store::clear)ed) before the first batch; an export of the
///   result is the same sequence of records.
/// * **Errors.** [`StoreError::Unavailable`] when the backend cannot be
///   reached (a retry may succeed), other variants for everything else.
// The service's unit tests use the generated `MockStore`; it exists only in
// this crate's test build.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a user with a fresh id and returns it.
    ///
    /// # Errors
    /// [`StoreError::UsernameTaken`] when a user with this name exists,
    /// including one being created concurrently.
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError>;

    /// The user with exactly this name (case and Unicode form as given).
    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError>;

    /// Ends every session of `user` by moving their session generation on
    /// (see [`StoredUser::session_generation`]); returns the new one. A user
    /// id nobody has is a no-op that returns 0.
    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError>;

    /// Makes `follower` follow `followee`. Returns whether anything changed
    /// (`false` when already following).
    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError>;

    /// Makes `follower` stop following `followee`. Returns whether anything
    /// changed (`false` when not following).
    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError>;

    /// Whether `follower` follows `followee`.
    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError>;

    /// Up to `limit` users that `follower` follows, in ascending id order.
    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError>;

    /// Stores a message by `author` and returns its new id.
    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError>;

    /// One page of a timeline, newest first (see the contract above).
    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError>;

    /// Records the simulator's `latest` action id (last write wins).
    async fn set_latest(&self, latest: i64) -> Result<(), StoreError>;

    /// Records `latest` when given, then creates the user as
    /// [`create_user`](Self::create_user) does (`latest` stays recorded
    /// when the name turns out to be taken): a registration of the
    /// simulator API in one call, so that a backend can do it in one round
    /// trip or under one durable commit. A concurrent reader may see
    /// `latest` before the user. The default runs the two one after the
    /// other.
    async fn create_user_with_latest(
        &self,
        new_user: NewUser,
        latest: Option<i64>,
    ) -> Result<User, StoreError> {
        if let Some(latest) = latest {
            self.set_latest(latest).await?;
        }
        self.create_user(new_user).await
    }

    /// Whether `username` is taken, asked before a registration spends a
    /// password hash on it; when it is, records `latest` (when given) in the
    /// same call, so that a refused registration of the simulator API costs
    /// one call. A backend whose lookups are round trips may answer
    /// [`NameCheck::NotChecked`] for a name it knows of nobody having, and
    /// leave the decision to [`create_user_with_latest`](Self::create_user_with_latest),
    /// which is atomic either way: the check only spares hashes. The
    /// default looks the name up ([`check_name_in_steps`]).
    async fn check_name(
        &self,
        username: &str,
        latest: Option<i64>,
    ) -> Result<NameCheck, StoreError> {
        check_name_in_steps(self, username, latest).await
    }

    /// Records `latest` when given (even when a name then finds nobody),
    /// looks up the users `write` names and applies it: a write of the
    /// simulator API in one call, so that a backend can do it all in one
    /// round trip or under one durable commit. Each part keeps its own
    /// method's contract; a concurrent reader may see `latest` before the
    /// write. The default runs the parts one after another
    /// ([`named_write_in_steps`]).
    async fn named_write(
        &self,
        write: NamedWrite,
        latest: Option<i64>,
    ) -> Result<NamedOutcome, StoreError> {
        named_write_in_steps(self, write, latest).await
    }

    /// The last recorded `latest`, `None` when none was ever recorded.
    async fn latest(&self) -> Result<Option<i64>, StoreError>;

    /// The secret stored under `name`; when there is none yet, stores
    /// `candidate` and returns it. Atomic: concurrent callers with different
    /// candidates all get the same stored value. Used for keys that every
    /// server instance on one store must share, such as the session key.
    async fn get_or_init_secret(&self, name: &str, candidate: &[u8])
    -> Result<Vec<u8>, StoreError>;

    /// How many users, follows and messages the store holds (see the
    /// contract: read from counters, in constant time).
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Whether the store can serve now: `Ok` when it answers, the reason
    /// otherwise. Cheap enough to call every second.
    async fn health(&self) -> Result<(), StoreError>;

    /// Every record of the store, as a stream in the order [`Record`]
    /// gives (see the contract for what it holds while writes continue).
    fn export(&self) -> RecordStream;

    /// Recreates `records`, a batch of an export, exactly (ids included).
    /// Call it with consecutive batches of one export, in order, on a store
    /// that was empty before the first one; each batch is durable when the
    /// call returns. Ids handed out afterwards are above every imported id.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a record collides with what the store
    /// holds (a user id or name already there); other variants as usual.
    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError>;

    /// Removes every record: users, follows, messages, `latest` and
    /// secrets. For restoring a backup over a store that is not empty.
    async fn clear(&self) -> Result<(), StoreError>;

    /// Waits until everything a caller may have observed in this store is
    /// durable: for an answer that reports state without changing it. A
    /// no-op for backends whose readers only see durable writes.
    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Tries to take the lease `name` for `ttl`: `true` for exactly one of
    /// the callers (on any instance sharing the store) until the lease
    /// expires, `false` for everyone else meanwhile. For work that one
    /// instance of many must do, such as a scheduled backup.
    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Makes every write acknowledged so far durable; called on shutdown.
    /// A no-op for backends whose writes are durable when acknowledged.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
