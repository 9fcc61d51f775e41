//! Tests of the suite itself: each check must catch the kind of broken
//! store it was written against, not only pass on a good one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::conformance;
use crate::{
    MemoryStore, Message, MessageId, MessageText, NewUser, PageRequest, Store, StoreError,
    StoredUser, Timeline, Timestamp, User, UserId,
};

/// One way for a store to break the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
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
}

/// [`MemoryStore`] with one [`Fault`].
struct Faulty {
    inner: MemoryStore,
    fault: Fault,
    fake_ids: AtomicU64,
}

impl Faulty {
    fn store(fault: Fault) -> Arc<dyn Store> {
        Arc::new(Self {
            inner: MemoryStore::new(),
            fault,
            fake_ids: AtomicU64::new(1_000_000),
        })
    }
}

#[async_trait]
impl Store for Faulty {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        let user = User {
            id: UserId(self.fake_ids.fetch_add(1, Ordering::SeqCst)),
            username: new_user.username.clone(),
            email: new_user.email.clone(),
        };
        match self.inner.create_user(new_user).await {
            Err(StoreError::UsernameTaken) if self.fault == Fault::NoUniqueNames => Ok(user),
            other => other,
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        if self.fault == Fault::CaseInsensitiveNames {
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
        self.inner.user_by_id(id).await
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let changed = self.inner.follow(follower, followee).await?;
        Ok(changed || self.fault == Fault::FollowAlwaysChanges)
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.inner.unfollow(follower, followee).await
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.inner.is_following(follower, followee).await
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        match self.fault {
            Fault::FolloweesDescending => {
                let mut all = self.inner.followees(follower, usize::MAX).await?;
                all.reverse();
                all.truncate(limit);
                Ok(all)
            }
            Fault::FolloweesUnlimited => self.inner.followees(follower, usize::MAX).await,
            _ => self.inner.followees(follower, limit).await,
        }
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        let pub_date = if self.fault == Fault::DropsPubDate {
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
        let (timeline, page) = match self.fault {
            Fault::IgnoresBefore => (
                timeline,
                PageRequest {
                    before: None,
                    ..page
                },
            ),
            Fault::BeforeInclusive => (
                timeline,
                PageRequest {
                    before: page.before.map(|id| MessageId(id.0.saturating_add(1))),
                    ..page
                },
            ),
            Fault::LimitOffByOne => (
                timeline,
                PageRequest {
                    limit: page.limit + 1,
                    ..page
                },
            ),
            Fault::HomeIgnoresFollows => match timeline {
                Timeline::Home(user) => (Timeline::User(user), page),
                other => (other, page),
            },
            _ => (timeline, page),
        };
        let mut messages = self.inner.timeline(timeline, page).await?;
        if self.fault == Fault::OldestFirst {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.inner.set_latest(latest).await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        let latest = self.inner.latest().await?;
        if self.fault == Fault::LatestStartsAtZero {
            return Ok(latest.or(Some(0)));
        }
        Ok(latest)
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let stored = self.inner.get_or_init_secret(name, candidate).await?;
        if self.fault == Fault::SecretOverwritten {
            return Ok(candidate.to_vec());
        }
        Ok(stored)
    }
}

/// Runs `$check` on a store with `$fault` and requires it to panic.
macro_rules! catches {
    ($fault:expr => $($check:ident),+ $(,)?) => {
        $(
            let store = Faulty::store($fault);
            let outcome = tokio::spawn(async move { conformance::$check(&store).await }).await;
            assert!(
                outcome.as_ref().is_err_and(|err| err.is_panic()),
                "conformance::{} passed on a store with {:?}",
                stringify!($check),
                $fault
            );
        )+
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_users() {
    catches!(Fault::NoUniqueNames =>
        duplicate_usernames_are_rejected,
        concurrent_registrations_of_one_name_admit_exactly_one,
    );
    catches!(Fault::CaseInsensitiveNames => users_are_found_by_exact_name_and_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_follows() {
    catches!(Fault::FollowAlwaysChanges =>
        follows_are_a_set,
        concurrent_follow_and_unfollow_of_one_pair_serialize,
    );
    catches!(Fault::FolloweesDescending => followees_are_listed_in_ascending_id_order_up_to_the_limit);
    catches!(Fault::FolloweesUnlimited => followees_are_listed_in_ascending_id_order_up_to_the_limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_timelines() {
    catches!(Fault::IgnoresBefore =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
        paging_is_stable_while_messages_are_posted,
    );
    catches!(Fault::BeforeInclusive =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
    );
    catches!(Fault::LimitOffByOne =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
    );
    catches!(Fault::HomeIgnoresFollows => home_timelines_hold_own_and_followed_messages);
    catches!(Fault::OldestFirst =>
        messages_are_stored_exactly,
        user_timelines_hold_only_that_users_messages,
        concurrent_posts_get_unique_growing_ids,
    );
    catches!(Fault::DropsPubDate => messages_are_stored_exactly);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_latest_and_secrets() {
    catches!(Fault::LatestStartsAtZero =>
        a_fresh_store_is_empty,
        latest_is_none_until_set_then_last_write_wins,
    );
    catches!(Fault::SecretOverwritten =>
        secrets_are_initialized_once,
        concurrent_secret_inits_agree,
    );
}

#[test]
fn the_model_test_catches_broken_stores() {
    for fault in [
        Fault::NoUniqueNames,
        Fault::FollowAlwaysChanges,
        Fault::IgnoresBefore,
        Fault::HomeIgnoresFollows,
        Fault::DropsPubDate,
        Fault::LatestStartsAtZero,
    ] {
        let outcome = std::panic::catch_unwind(|| {
            conformance::check_against_model(|| async move { Faulty::store(fault) });
        });
        assert!(
            outcome.is_err(),
            "check_against_model passed on a store with {fault:?}"
        );
    }
}

#[test]
fn the_model_test_passes_the_model_itself() {
    conformance::check_against_model(|| async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        store
    });
}
