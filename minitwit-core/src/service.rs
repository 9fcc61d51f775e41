//! [`MiniTwit`]: the service every frontend calls.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore as _};

use crate::password::{Caller, HashCost, HashLimits, HashLoad, HashObserver, PasswordHasher};
use crate::{
    Counts, Error, MessageId, MessageText, Page, PageRequest, RecordStream, Store, StoredUser,
    Timeline, Timestamp, User, UserId, Username, normalize,
};

/// A user named by id (a signed-in session) or by name (a URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef<'a> {
    /// By store id.
    Id(UserId),
    /// By username, exactly as given.
    Name(&'a str),
}

impl From<UserId> for UserRef<'_> {
    fn from(id: UserId) -> Self {
        Self::Id(id)
    }
}

impl<'a> From<&'a str> for UserRef<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

impl<'a> From<&'a User> for UserRef<'a> {
    fn from(user: &'a User) -> Self {
        Self::Id(user.id)
    }
}

/// The rule of following: nobody follows themselves. Names are unique, so
/// two equal names are one user.
///
/// # Errors
/// [`Error::SelfFollow`].
pub fn check_follow(follower: &Username, followee: &Username) -> Result<(), Error> {
    if follower == followee {
        return Err(Error::SelfFollow);
    }
    Ok(())
}

/// The name under which the key of the site's session cookies is kept in
/// the store (see [`MiniTwit::session_key`]).
pub const SESSION_KEY_SECRET: &str = "session-key";

/// Length of a generated session key, in bytes (what Rocket's private
/// cookies want).
const SESSION_KEY_BYTES: usize = 64;

/// The name under which the store's identity is kept (see
/// [`MiniTwit::store_identity`]).
pub const STORE_IDENTITY_SECRET: &str = "store-id";

/// Length of a store identity, in bytes.
const STORE_IDENTITY_BYTES: usize = 16;

/// A user who proved who they are, with the session generation to put in
/// their session (see
/// [`StoredUser::session_generation`](crate::StoredUser::session_generation)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The user's current session generation.
    pub session_generation: u64,
}

/// What a store holds, as operators want to see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Users, follows and messages.
    pub counts: Counts,
    /// The simulator's last `latest`, `-1` when none was ever recorded.
    pub latest: i64,
}

/// A secret shared through the store by every server instance.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret {
    /// The secret's bytes.
    pub value: Vec<u8>,
    /// Whether this call created it (the store had none yet).
    pub created: bool,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("created", &self.created)
            .finish()
    }
}

/// Where the service reads the time from.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Seconds since the Unix epoch by the system clock (0 before 1970).
pub fn system_clock() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Builds a [`MiniTwit`].
pub struct MiniTwitBuilder {
    store: Arc<dyn Store>,
    cost: HashCost,
    limits: HashLimits,
    observer: Option<HashObserver>,
    clock: Clock,
    reserved: Vec<String>,
}

impl MiniTwitBuilder {
    /// The argon2id cost (default [`HashCost::OWASP`]).
    #[must_use]
    pub fn hash_cost(mut self, cost: HashCost) -> Self {
        self.cost = cost;
        self
    }

    /// How many password hashes may run at once (default: the number of
    /// CPUs, at least 2), with the default sharing between the API and the
    /// site ([`HashLimits::for_slots`]). Each slot keeps one buffer of the
    /// cost's memory.
    #[must_use]
    pub fn max_concurrent_hashes(mut self, max: usize) -> Self {
        self.limits = HashLimits::for_slots(max);
        self
    }

    /// How password hashing is shared out and bounded (see
    /// [`HashLimits`]).
    #[must_use]
    pub fn hash_limits(mut self, limits: HashLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Called for every request for a password hash (for metrics).
    #[must_use]
    pub fn hash_observer(mut self, observer: HashObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Names that registrations may not take, beyond
    /// [`RESERVED_USERNAMES`](crate::RESERVED_USERNAMES): the first path
    /// segments of whatever else the application serves (such as a
    /// simulator API mounted under another prefix). Compared ignoring case.
    #[must_use]
    pub fn reserve_usernames(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.reserved.extend(names);
        self
    }

    /// Where `pub_date` comes from (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the service. Computes one decoy password hash, so call it at
    /// start-up, not per request.
    ///
    /// # Errors
    /// [`Error::Internal`] when the hash cost is not accepted by argon2.
    pub fn build(self) -> Result<MiniTwit, Error> {
        Ok(MiniTwit {
            store: self.store,
            hasher: PasswordHasher::new(self.cost, self.limits, self.observer)?,
            clock: self.clock,
            reserved: Arc::new(self.reserved),
        })
    }
}

/// The MiniTwit service: every rule of the domain, over any [`Store`].
///
/// Frontends parse a request, make one call here and render the answer; the
/// texts of the errors they show come from [`Error`]. Cheap to clone.
#[derive(Clone)]
pub struct MiniTwit {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    clock: Clock,
    reserved: Arc<Vec<String>>,
}

impl std::fmt::Debug for MiniTwit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniTwit")
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

impl MiniTwit {
    /// Starts building a service over `store`.
    pub fn builder(store: Arc<dyn Store>) -> MiniTwitBuilder {
        MiniTwitBuilder {
            store,
            cost: HashCost::OWASP,
            limits: HashLimits::default(),
            observer: None,
            reserved: Vec::new(),
            clock: Arc::new(system_clock),
        }
    }

    /// The time now, by the service's clock, in seconds since the Unix
    /// epoch.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The key that signs and encrypts the site's session cookies, shared
    /// by every instance on the store: the one kept in the store, or a new
    /// random one that this call keeps there when the store has none.
    ///
    /// # Errors
    /// Store failures, and [`Error::Internal`] when the system has no
    /// randomness.
    pub async fn session_key(&self) -> Result<SharedSecret, Error> {
        self.shared_secret(SESSION_KEY_SECRET, SESSION_KEY_BYTES)
            .await
    }

    /// The store's identity: random bytes made once for a store and kept in
    /// it (and in its backups). Sessions carry it, so that a session issued
    /// by another store (before a reset, say) is never honoured.
    ///
    /// # Errors
    /// As [`session_key`](Self::session_key).
    pub async fn store_identity(&self) -> Result<SharedSecret, Error> {
        self.shared_secret(STORE_IDENTITY_SECRET, STORE_IDENTITY_BYTES)
            .await
    }

    /// The secret `name` kept in the store, made now (`bytes` random bytes)
    /// when the store has none: a key every instance on the store shares
    /// (and a backup carries).
    ///
    /// # Errors
    /// As [`session_key`](Self::session_key).
    pub async fn shared_secret(&self, name: &str, bytes: usize) -> Result<SharedSecret, Error> {
        let mut candidate = vec![0u8; bytes];
        OsRng
            .try_fill_bytes(&mut candidate)
            .map_err(|err| Error::Internal(Box::new(err)))?;
        let value = self.store.get_or_init_secret(name, &candidate).await?;
        let created = value == candidate;
        Ok(SharedSecret { value, created })
    }

    /// What password hashing is doing now for `caller`.
    pub fn hash_load(&self, caller: Caller) -> HashLoad {
        self.hasher.load(caller)
    }

    /// What the store holds: counts and `latest`, read in constant time.
    ///
    /// # Errors
    /// Store failures.
    pub async fn stats(&self) -> Result<Stats, Error> {
        Ok(Stats {
            counts: self.store.counts().await?,
            latest: self.latest().await?,
        })
    }

    /// Whether the store answers now.
    ///
    /// # Errors
    /// The store's failure, as [`Error::Unavailable`] or
    /// [`Error::Internal`].
    pub async fn health(&self) -> Result<(), Error> {
        Ok(self.store.health().await?)
    }

    /// Every record of the store, for a backup (see
    /// [`Store::export`](crate::Store::export) for what an export taken
    /// while writes continue holds).
    pub fn export(&self) -> RecordStream {
        self.store.export()
    }

    /// Whether this call may run the periodic job `name` now: `true` for one
    /// of the instances sharing the store, until `ttl` has passed.
    ///
    /// # Errors
    /// Store failures.
    pub async fn acquire_lease(&self, name: &str, ttl: std::time::Duration) -> Result<bool, Error> {
        Ok(self.store.acquire_lease(name, ttl).await?)
    }

    /// Makes every write acknowledged so far durable (for a shutdown).
    ///
    /// # Errors
    /// Store failures.
    pub async fn flush(&self) -> Result<(), Error> {
        Ok(self.store.flush().await?)
    }

    /// The user named by `user`.
    ///
    /// # Errors
    /// [`Error::UserNotFound`].
    pub async fn user(&self, user: impl Into<UserRef<'_>>) -> Result<User, Error> {
        self.find(user.into()).await?.ok_or(Error::UserNotFound)
    }

    async fn find(&self, user: UserRef<'_>) -> Result<Option<User>, Error> {
        let stored = match user {
            UserRef::Id(id) => self.store.user_by_id(id).await?,
            UserRef::Name(name) => self.stored_by_name(name).await?,
        };
        Ok(stored.map(|stored| stored.user))
    }

    /// The user named `name` in either Unicode spelling: names are stored
    /// in normalization form C; one stored before names were normalized is
    /// found by its exact spelling.
    async fn stored_by_name(&self, name: &str) -> Result<Option<StoredUser>, Error> {
        let normalized = normalize(name);
        let found = self.store.user_by_name(&normalized).await?;
        if found.is_none() && normalized != name {
            return Ok(self.store.user_by_name(name).await?);
        }
        Ok(found)
    }

    /// Posts a message by `author`, dated now.
    ///
    /// # Errors
    /// [`Error::EmptyMessage`], [`Error::MessageTooLong`],
    /// [`Error::UserNotFound`].
    pub async fn post(
        &self,
        author: impl Into<UserRef<'_>>,
        text: &str,
    ) -> Result<MessageId, Error> {
        let author = self.user(author).await?;
        let text = MessageText::parse(text)?;
        Ok(self.store.post(author.id, text, (self.clock)()).await?)
    }

    /// Makes `follower` follow the user named `followee`; following twice
    /// changes nothing. Returns the followee.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for the follower, [`Error::TargetNotFound`]
    /// for the followee, [`Error::SelfFollow`].
    pub async fn follow(
        &self,
        follower: impl Into<UserRef<'_>>,
        followee: &str,
    ) -> Result<User, Error> {
        let (follower, followee) = self.pair(follower.into(), followee).await?;
        check_follow(&follower.username, &followee.username)?;
        self.store.follow(follower.id, followee.id).await?;
        Ok(followee)
    }

    /// Makes `follower` stop following the user named `followee`; a user not
    /// followed (oneself included) is a no-op. Returns the followee.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for the follower, [`Error::TargetNotFound`]
    /// for the followee.
    pub async fn unfollow(
        &self,
        follower: impl Into<UserRef<'_>>,
        followee: &str,
    ) -> Result<User, Error> {
        let (follower, followee) = self.pair(follower.into(), followee).await?;
        if follower.id != followee.id {
            self.store.unfollow(follower.id, followee.id).await?;
        }
        Ok(followee)
    }

    async fn pair(&self, follower: UserRef<'_>, followee: &str) -> Result<(User, User), Error> {
        let follower = self.user(follower).await?;
        let followee = self
            .find(UserRef::Name(followee))
            .await?
            .ok_or(Error::TargetNotFound)?;
        Ok((follower, followee))
    }

    /// Whether `follower` follows `followee`.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, Error> {
        Ok(self.store.is_following(follower, followee).await?)
    }

    /// Up to `limit` users that `follower` follows, oldest account first.
    ///
    /// # Errors
    /// [`Error::UserNotFound`].
    pub async fn followees(
        &self,
        follower: impl Into<UserRef<'_>>,
        limit: usize,
    ) -> Result<Vec<User>, Error> {
        let follower = self.user(follower).await?;
        Ok(self.store.followees(follower.id, limit).await?)
    }

    /// A page of everyone's messages.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn public_timeline(&self, page: PageRequest) -> Result<Page, Error> {
        self.page(Timeline::Public, page).await
    }

    /// A page of one user's messages.
    ///
    /// # Errors
    /// [`Error::UserNotFound`].
    pub async fn user_timeline(
        &self,
        user: impl Into<UserRef<'_>>,
        page: PageRequest,
    ) -> Result<(User, Page), Error> {
        let user = self.user(user).await?;
        let page = self.page(Timeline::User(user.id), page).await?;
        Ok((user, page))
    }

    /// A page of a user's own messages and those of everyone they follow.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn home_timeline(&self, user: UserId, page: PageRequest) -> Result<Page, Error> {
        self.page(Timeline::Home(user), page).await
    }

    /// Reads one message more than asked for, to know whether an older page
    /// exists without a second query.
    async fn page(&self, timeline: Timeline, page: PageRequest) -> Result<Page, Error> {
        let probe = PageRequest {
            limit: page.limit.saturating_add(1),
            ..page
        };
        let mut messages = self.store.timeline(timeline, probe).await?;
        let next = if messages.len() > page.limit {
            messages.truncate(page.limit);
            messages.last().map(|message| message.id)
        } else {
            None
        };
        Ok(Page { messages, next })
    }

    /// Records the simulator's `latest` action id.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn record_latest(&self, latest: i64) -> Result<(), Error> {
        Ok(self.store.set_latest(latest).await?)
    }

    /// The last recorded `latest`, or `-1` when none was ever recorded.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn latest(&self) -> Result<i64, Error> {
        Ok(self.store.latest().await?.unwrap_or(-1))
    }
}

mod accounts;
mod named_writes;

pub use accounts::{Registration, ValidRegistration};

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
