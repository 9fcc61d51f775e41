//! The simulator API's writes: each names its users and carries `latest`,
//! and goes to the store in one call ([`Store::named_write`]), with the
//! errors of the separate methods, in their order.
//!
//! [`Store::named_write`]: crate::Store::named_write

use super::MiniTwit;
use crate::named::{NameQuery, NamedOutcome, NamedWrite};
use crate::{Error, MessageId, MessageText, StoreError};

impl MiniTwit {
    /// Posts as the user named `author`, recording `latest` first: the
    /// simulator API's post, in one store call ([`Store::named_write`]).
    /// Errors as [`post`](Self::post), in the same order.
    ///
    /// # Errors
    /// [`Error::UserNotFound`], [`Error::EmptyMessage`],
    /// [`Error::MessageTooLong`].
    pub async fn post_named(
        &self,
        author: &str,
        text: &str,
        latest: Option<i64>,
    ) -> Result<MessageId, Error> {
        let text = match MessageText::parse(text) {
            Ok(text) => text,
            Err(err) => {
                // An unknown author is reported before a bad text.
                self.record(latest).await?;
                self.user(author).await?;
                return Err(err);
            }
        };
        let write = NamedWrite::Post {
            author: NameQuery::new(author),
            text,
            pub_date: (self.clock)(),
        };
        match self.store.named_write(write, latest).await? {
            NamedOutcome::Posted(id) => Ok(id),
            other => Err(outcome_error(other)),
        }
    }

    /// Makes the user named `follower` follow the one named `followee`,
    /// recording `latest` first: the simulator API's follow, in one store
    /// call. Errors as [`follow`](Self::follow).
    ///
    /// # Errors
    /// [`Error::UserNotFound`], [`Error::TargetNotFound`],
    /// [`Error::SelfFollow`].
    pub async fn follow_named(
        &self,
        follower: &str,
        followee: &str,
        latest: Option<i64>,
    ) -> Result<(), Error> {
        let write = NamedWrite::Follow {
            follower: NameQuery::new(follower),
            followee: NameQuery::new(followee),
        };
        self.change_follows(write, latest).await
    }

    /// Makes the user named `follower` stop following the one named
    /// `followee`, recording `latest` first: the simulator API's unfollow,
    /// in one store call. Errors as [`unfollow`](Self::unfollow).
    ///
    /// # Errors
    /// [`Error::UserNotFound`], [`Error::TargetNotFound`].
    pub async fn unfollow_named(
        &self,
        follower: &str,
        followee: &str,
        latest: Option<i64>,
    ) -> Result<(), Error> {
        let write = NamedWrite::Unfollow {
            follower: NameQuery::new(follower),
            followee: NameQuery::new(followee),
        };
        self.change_follows(write, latest).await
    }

    /// Sends a follow or unfollow to the store and maps its outcome.
    async fn change_follows(&self, write: NamedWrite, latest: Option<i64>) -> Result<(), Error> {
        match self.store.named_write(write, latest).await? {
            NamedOutcome::Applied { .. } => Ok(()),
            other => Err(outcome_error(other)),
        }
    }

    /// Records `latest` when given.
    pub(super) async fn record(&self, latest: Option<i64>) -> Result<(), Error> {
        match latest {
            Some(latest) => self.record_latest(latest).await,
            None => Ok(()),
        }
    }
}

/// The error a [`NamedOutcome`] that is not a success stands for.
fn outcome_error(outcome: NamedOutcome) -> Error {
    match outcome {
        NamedOutcome::UnknownUser => Error::UserNotFound,
        NamedOutcome::UnknownTarget => Error::TargetNotFound,
        NamedOutcome::SelfFollow => Error::SelfFollow,
        NamedOutcome::Posted(_) | NamedOutcome::Applied { .. } => Error::from(StoreError::backend(
            format!("the store answered {outcome:?} to another write"),
        )),
    }
}
