//! [`FaultyStore`]: a store that misbehaves on demand.
//!
//! It wraps a working store and, while a [`Fault`] is set, either fails
//! every call (for testing how a frontend copes with a store that is down
//! or broken) or breaks one clause of the contract (for testing that the
//! conformance suite notices). One wrapper serves both, so there is one
//! hand-written forwarding store to keep in step with the trait.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::named::NameCheck;
use crate::{
    Counts, Message, MessageId, MessageText, NewUser, PageRequest, Record, RecordStream, Store,
    StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};

/// One way for a [`FaultyStore`] to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Every call fails with [`StoreError::Unavailable`], whose detail
    /// ([`FaultyStore::UNAVAILABLE_DETAIL`]) must never reach a client.
    Unavailable,
    /// Every call fails with [`StoreError::Backend`], whose detail
    /// ([`FaultyStore::FAILURE_DETAIL`]) must never reach a client.
    Failing,
    /// A taken name is silently accepted (no unique index).
    NoUniqueNames,
    /// Lookups by name ignore case.
    CaseInsensitiveNames,
    /// `follow` always says it changed something.
    FollowAlwaysChanges,
    /// `followees` in descending id order.
    FolloweesDescending,
    /// `followees` ignores its limit.
    FolloweesUnlimited,
    /// `timeline` ignores `before`.
    IgnoresBefore,
    /// `timeline` treats `before` as inclusive.
    BeforeInclusive,
    /// `timeline` returns one message more than the limit.
    LimitOffByOne,
    /// Home timelines hold only the user's own messages.
    HomeIgnoresFollows,
    /// Timelines oldest first.
    OldestFirst,
    /// `pub_date` lost (always 0).
    DropsPubDate,
    /// `latest` starts at 0 instead of `None`.
    LatestStartsAtZero,
    /// `get_or_init_secret` returns the candidate every time.
    SecretOverwritten,
    /// `end_sessions` changes nothing.
    SessionsNeverEnd,
    /// `counts` misses the last follow.
    CountsOffByOne,
    /// `export` leaves out every message.
    ExportWithoutMessages,
    /// `check_name` answers `Taken` for every name ever created through
    /// the store, `clear` or not, without looking.
    NameChecksRemember,
    /// `check_name` never records `latest`.
    NameChecksSkipLatest,
}

/// A [`Store`] that forwards to another one, except while a [`Fault`] is
/// set.
///
/// ```
/// use std::sync::Arc;
/// use minitwit_core::conformance::{Fault, FaultyStore};
/// use minitwit_core::{MemoryStore, Store, StoreError};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = FaultyStore::new(Arc::new(MemoryStore::new()));
/// assert_eq!(store.latest().await?, None);
/// store.set_fault(Some(Fault::Unavailable));
/// assert!(matches!(store.latest().await, Err(StoreError::Unavailable(_))));
/// store.set_fault(None);
/// assert_eq!(store.latest().await?, None);
/// # Ok::<(), StoreError>(())
/// # }).unwrap();
/// ```
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    fault: RwLock<Option<Fault>>,
    fake_ids: AtomicU64,
    /// Every name created through this wrapper, for
    /// [`Fault::NameChecksRemember`].
    created_names: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("fault", &self.fault())
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    /// The detail of the error of [`Fault::Unavailable`]: an address that a
    /// client must never see.
    pub const UNAVAILABLE_DETAIL: &'static str = "connection refused by 10.9.8.7:6379";
    /// The detail of the error of [`Fault::Failing`]: a path that a client
    /// must never see.
    pub const FAILURE_DETAIL: &'static str = "IO error: /var/lib/minitwit/secret.db is corrupt";

    /// Wraps `inner`, with no fault set.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            fault: RwLock::new(None),
            fake_ids: AtomicU64::new(1_000_000),
            created_names: Mutex::default(),
        }
    }

    /// Wraps `inner` with `fault` set from the start.
    pub fn with_fault(inner: Arc<dyn Store>, fault: Fault) -> Self {
        let store = Self::new(inner);
        store.set_fault(Some(fault));
        store
    }

    /// Sets the fault (`None`: behave).
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.fault.write().unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// The fault set now.
    pub fn fault(&self) -> Option<Fault> {
        *self.fault.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn is(&self, fault: Fault) -> bool {
        self.fault() == Some(fault)
    }

    /// The error of a failing call, if calls fail now.
    fn failure(&self) -> Result<(), StoreError> {
        match self.fault() {
            Some(Fault::Unavailable) => Err(StoreError::unavailable(Self::UNAVAILABLE_DETAIL)),
            Some(Fault::Failing) => Err(StoreError::backend(Self::FAILURE_DETAIL)),
            _ => Ok(()),
        }
    }

    /// The page a faulty timeline reads instead of `page`.
    fn distorted(&self, timeline: Timeline, page: PageRequest) -> (Timeline, PageRequest) {
        match self.fault() {
            Some(Fault::IgnoresBefore) => (
                timeline,
                PageRequest {
                    before: None,
                    ..page
                },
            ),
            Some(Fault::BeforeInclusive) => (
                timeline,
                PageRequest {
                    before: page.before.map(|id| MessageId(id.0.saturating_add(1))),
                    ..page
                },
            ),
            Some(Fault::LimitOffByOne) => (
                timeline,
                PageRequest {
                    limit: page.limit + 1,
                    ..page
                },
            ),
            Some(Fault::HomeIgnoresFollows) => match timeline {
                Timeline::Home(user) => (Timeline::User(user), page),
                other => (other, page),
            },
            _ => (timeline, page),
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.failure()?;
        let fake = User {
            id: UserId(self.fake_ids.fetch_add(1, Ordering::SeqCst)),
            username: new_user.username.clone(),
            email: new_user.email.clone(),
        };
        let name = new_user.username.as_str().to_owned();
        let created = match self.inner.create_user(new_user).await {
            Err(StoreError::UsernameTaken) if self.is(Fault::NoUniqueNames) => Ok(fake),
            other => other,
        };
        if created.is_ok() {
            self.created_names
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name);
        }
        created
    }

    async fn check_name(
        &self,
        username: &str,
        latest: Option<i64>,
    ) -> Result<NameCheck, StoreError> {
        self.failure()?;
        match self.fault() {
            Some(Fault::NameChecksRemember)
                if self
                    .created_names
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(username) =>
            {
                Ok(NameCheck::Taken)
            }
            Some(Fault::NameChecksSkipLatest) => self.inner.check_name(username, None).await,
            _ => self.inner.check_name(username, latest).await,
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        self.failure()?;
        if self.is(Fault::CaseInsensitiveNames) {
            for variant in [
                username.to_owned(),
                username.to_lowercase(),
                username.to_uppercase(),
            ] {
                if let Some(found) = self.inner.user_by_name(&variant).await? {
                    return Ok(Some(found));
                }
            }
            return Ok(None);
        }
        self.inner.user_by_name(username).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.failure()?;
        self.inner.user_by_id(id).await
    }

    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        self.failure()?;
        if self.is(Fault::SessionsNeverEnd) {
            return Ok(self
                .inner
                .user_by_id(user)
                .await?
                .map_or(0, |stored| stored.session_generation));
        }
        self.inner.end_sessions(user).await
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.failure()?;
        let changed = self.inner.follow(follower, followee).await?;
        Ok(changed || self.is(Fault::FollowAlwaysChanges))
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.failure()?;
        self.inner.unfollow(follower, followee).await
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.failure()?;
        self.inner.is_following(follower, followee).await
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.failure()?;
        match self.fault() {
            Some(Fault::FolloweesDescending) => {
                let mut all = self.inner.followees(follower, usize::MAX).await?;
                all.reverse();
                all.truncate(limit);
                Ok(all)
            }
            Some(Fault::FolloweesUnlimited) => self.inner.followees(follower, usize::MAX).await,
            _ => self.inner.followees(follower, limit).await,
        }
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        self.failure()?;
        let pub_date = if self.is(Fault::DropsPubDate) {
            0
        } else {
            pub_date
        };
        self.inner.post(author, text, pub_date).await
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        self.failure()?;
        let (timeline, page) = self.distorted(timeline, page);
        let mut messages = self.inner.timeline(timeline, page).await?;
        if self.is(Fault::OldestFirst) {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.set_latest(latest).await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        self.failure()?;
        let latest = self.inner.latest().await?;
        if self.is(Fault::LatestStartsAtZero) {
            return Ok(latest.or(Some(0)));
        }
        Ok(latest)
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.failure()?;
        let stored = self.inner.get_or_init_secret(name, candidate).await?;
        if self.is(Fault::SecretOverwritten) {
            return Ok(candidate.to_vec());
        }
        Ok(stored)
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.failure()?;
        let mut counts = self.inner.counts().await?;
        if self.is(Fault::CountsOffByOne) {
            counts.follows = counts.follows.saturating_sub(1);
        }
        Ok(counts)
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.health().await
    }

    fn export(&self) -> RecordStream {
        if let Err(err) = self.failure() {
            return Box::pin(futures::stream::iter([Err(err)]));
        }
        let records = self.inner.export();
        if self.is(Fault::ExportWithoutMessages) {
            return Box::pin(futures::StreamExt::filter(records, |record| {
                std::future::ready(!matches!(record, Ok(Record::Message(_))))
            }));
        }
        records
    }

    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.import(records).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.clear().await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.sync().await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.failure()?;
        self.inner.acquire_lease(name, ttl).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.failure()?;
        self.inner.flush().await
    }
}
