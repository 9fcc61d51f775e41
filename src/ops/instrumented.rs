//! [`InstrumentedStore`]: times every store call for the metrics
//! (`minitwit_store_operation_duration_seconds` and
//! `minitwit_store_errors_total`, by operation and backend) and passes it on
//! unchanged.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::{Histogram, counter, histogram};
use minitwit_core::named::{NameCheck, NamedOutcome, NamedWrite};
use minitwit_core::{
    Counts, Message, MessageId, MessageText, NewUser, PageRequest, Record, RecordStream, Store,
    StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};

/// The operations timed, as they appear in the `operation` label.
pub const OPERATIONS: [&str; 25] = [
    "create_user",
    "create_user_with_latest",
    "check_name",
    "user_by_name",
    "user_by_id",
    "end_sessions",
    "follow",
    "unfollow",
    "is_following",
    "followees",
    "post",
    "public_timeline",
    "user_timeline",
    "home_timeline",
    "set_latest",
    "named_write",
    "latest",
    "get_or_init_secret",
    "counts",
    "health",
    "import",
    "clear",
    "sync",
    "acquire_lease",
    "flush",
];

/// A store whose calls are timed (see the module docs).
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    backend: &'static str,
    /// The duration histogram of each of [`OPERATIONS`], registered once:
    /// registering it per call (building its labels, hashing them, finding
    /// them in the registry) was a measurable share of a request's CPU.
    durations: HashMap<&'static str, Histogram>,
}

impl InstrumentedStore {
    /// Times the calls to `inner`, a store of kind `backend`, in the
    /// metrics recorder installed now.
    pub fn new(inner: Arc<dyn Store>, backend: &'static str) -> Self {
        let durations = OPERATIONS
            .into_iter()
            .map(|operation| (operation, duration_histogram(operation, backend)))
            .collect();
        Self {
            inner,
            backend,
            durations,
        }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed().as_secs_f64();
        match self.durations.get(operation) {
            Some(histogram) => histogram.record(elapsed),
            None => duration_histogram(operation, self.backend).record(elapsed),
        }
        if result.is_err() {
            counter!(
                "minitwit_store_errors_total",
                "operation" => operation,
                "backend" => self.backend
            )
            .increment(1);
        }
        result
    }
}

/// The duration histogram of `operation` on `backend`.
fn duration_histogram(operation: &'static str, backend: &'static str) -> Histogram {
    histogram!(
        "minitwit_store_operation_duration_seconds",
        "operation" => operation,
        "backend" => backend
    )
}

#[async_trait]
impl Store for InstrumentedStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.timed("create_user", self.inner.create_user(new_user))
            .await
    }

    async fn create_user_with_latest(
        &self,
        new_user: NewUser,
        latest: Option<i64>,
    ) -> Result<User, StoreError> {
        self.timed(
            "create_user_with_latest",
            self.inner.create_user_with_latest(new_user, latest),
        )
        .await
    }

    async fn check_name(
        &self,
        username: &str,
        latest: Option<i64>,
    ) -> Result<NameCheck, StoreError> {
        self.timed("check_name", self.inner.check_name(username, latest))
            .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        self.timed("user_by_name", self.inner.user_by_name(username))
            .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.timed("user_by_id", self.inner.user_by_id(id)).await
    }

    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        self.timed("end_sessions", self.inner.end_sessions(user))
            .await
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.timed("follow", self.inner.follow(follower, followee))
            .await
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.timed("unfollow", self.inner.unfollow(follower, followee))
            .await
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.timed("is_following", self.inner.is_following(follower, followee))
            .await
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.timed("followees", self.inner.followees(follower, limit))
            .await
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        self.timed("post", self.inner.post(author, text, pub_date))
            .await
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        let operation = match timeline {
            Timeline::Public => "public_timeline",
            Timeline::User(_) => "user_timeline",
            Timeline::Home(_) => "home_timeline",
        };
        self.timed(operation, self.inner.timeline(timeline, page))
            .await
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.timed("set_latest", self.inner.set_latest(latest))
            .await
    }

    async fn named_write(
        &self,
        write: NamedWrite,
        latest: Option<i64>,
    ) -> Result<NamedOutcome, StoreError> {
        self.timed("named_write", self.inner.named_write(write, latest))
            .await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        self.timed("latest", self.inner.latest()).await
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.timed(
            "get_or_init_secret",
            self.inner.get_or_init_secret(name, candidate),
        )
        .await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.timed("counts", self.inner.counts()).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.timed("health", self.inner.health()).await
    }

    fn export(&self) -> RecordStream {
        // A stream that lives as long as its reader: not a call to time.
        self.inner.export()
    }

    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.timed("import", self.inner.import(records)).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.timed("clear", self.inner.clear()).await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.timed("sync", self.inner.sync()).await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.timed("acquire_lease", self.inner.acquire_lease(name, ttl))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.timed("flush", self.inner.flush()).await
    }
}
