//! Writes that name their users, as the simulator API's requests do, with
//! the request's `latest`: what [`Store::named_write`] takes, so that a
//! backend can resolve the names, record `latest` and apply the write in
//! one round trip (Redis) or under one durable commit (sled).

use crate::{MessageId, MessageText, Store, StoreError, StoredUser, Timestamp, UserId};

/// How a request names a user: the name in Unicode normalization form C
/// (how names are stored), and the name as written when that differs, for
/// an account stored before names were normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameQuery {
    /// The name in normalization form C.
    pub normalized: String,
    /// The name exactly as the request wrote it, when that is another
    /// spelling; looked up only when `normalized` finds nobody.
    pub as_written: Option<String>,
}

impl NameQuery {
    /// The query for `name` as a request writes it.
    pub fn new(name: &str) -> Self {
        let normalized = crate::username::normalize(name);
        let as_written = (normalized != name).then(|| name.to_owned());
        Self {
            normalized,
            as_written,
        }
    }

    /// The user this query names in `store`, if any.
    ///
    /// # Errors
    /// The store's.
    pub async fn find<S: Store + ?Sized>(
        &self,
        store: &S,
    ) -> Result<Option<StoredUser>, StoreError> {
        let found = store.user_by_name(&self.normalized).await?;
        match (&found, &self.as_written) {
            (None, Some(as_written)) => store.user_by_name(as_written).await,
            _ => Ok(found),
        }
    }
}

/// A write that names its users (see [`Store::named_write`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedWrite {
    /// `author` posts `text`, dated `pub_date`.
    Post {
        /// Who posts.
        author: NameQuery,
        /// What (already validated).
        text: MessageText,
        /// When.
        pub_date: Timestamp,
    },
    /// `follower` follows `followee`.
    Follow {
        /// Who follows.
        follower: NameQuery,
        /// Whom.
        followee: NameQuery,
    },
    /// `follower` stops following `followee`.
    Unfollow {
        /// Who unfollows.
        follower: NameQuery,
        /// Whom.
        followee: NameQuery,
    },
}

/// What a [`NamedWrite`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedOutcome {
    /// The message was posted with this id.
    Posted(MessageId),
    /// The follow or unfollow was applied; `changed` is `false` when there
    /// was nothing to change (already following, not following, or an
    /// unfollow of oneself).
    Applied {
        /// Whether anything changed.
        changed: bool,
    },
    /// Nobody has the first name (the author, or the follower).
    UnknownUser,
    /// Nobody has the second name (the user to follow or unfollow).
    UnknownTarget,
    /// A follow of oneself: refused, nothing written.
    SelfFollow,
}

/// The two users of a follow or unfollow, or why there are none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// Both exist.
    Found {
        /// The follower's id.
        follower: UserId,
        /// The followee's id.
        followee: UserId,
    },
    /// A name found nobody.
    Missing(NamedOutcome),
}

impl Pair {
    /// Looks both users up, the follower first.
    ///
    /// # Errors
    /// The store's.
    pub async fn find<S: Store + ?Sized>(
        store: &S,
        follower: &NameQuery,
        followee: &NameQuery,
    ) -> Result<Self, StoreError> {
        let Some(follower) = follower.find(store).await? else {
            return Ok(Self::Missing(NamedOutcome::UnknownUser));
        };
        let Some(followee) = followee.find(store).await? else {
            return Ok(Self::Missing(NamedOutcome::UnknownTarget));
        };
        Ok(Self::Found {
            follower: follower.user.id,
            followee: followee.user.id,
        })
    }
}

/// [`Store::named_write`] made of the store's other methods: records
/// `latest`, looks the names up, then writes. What a backend without a
/// faster way runs.
///
/// # Errors
/// The store's.
pub async fn named_write_in_steps<S: Store + ?Sized>(
    store: &S,
    write: NamedWrite,
    latest: Option<i64>,
) -> Result<NamedOutcome, StoreError> {
    if let Some(latest) = latest {
        store.set_latest(latest).await?;
    }
    match write {
        NamedWrite::Post {
            author,
            text,
            pub_date,
        } => match author.find(store).await? {
            Some(author) => Ok(NamedOutcome::Posted(
                store.post(author.user.id, text, pub_date).await?,
            )),
            None => Ok(NamedOutcome::UnknownUser),
        },
        NamedWrite::Follow { follower, followee } => {
            match Pair::find(store, &follower, &followee).await? {
                Pair::Found { follower, followee } if follower == followee => {
                    Ok(NamedOutcome::SelfFollow)
                }
                Pair::Found { follower, followee } => Ok(NamedOutcome::Applied {
                    changed: store.follow(follower, followee).await?,
                }),
                Pair::Missing(outcome) => Ok(outcome),
            }
        }
        NamedWrite::Unfollow { follower, followee } => {
            match Pair::find(store, &follower, &followee).await? {
                Pair::Found { follower, followee } if follower == followee => {
                    Ok(NamedOutcome::Applied { changed: false })
                }
                Pair::Found { follower, followee } => Ok(NamedOutcome::Applied {
                    changed: store.unfollow(follower, followee).await?,
                }),
                Pair::Missing(outcome) => Ok(outcome),
            }
        }
    }
}

/// What a store could tell of a registration's name before the password is
/// hashed (see [`Store::check_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCheck {
    /// Somebody has the name. The `latest` given is recorded.
    Taken,
    /// Nobody has the name. `latest` is not recorded.
    Free,
    /// The store did not look (a lookup would cost it a round trip, and it
    /// knows of nobody with this name): the creation decides. `latest` is
    /// not recorded.
    NotChecked,
}

/// [`Store::check_name`] made of the store's other methods: looks the name
/// up, then records `latest` when the name is taken. What a backend whose
/// lookups are cheap runs.
///
/// # Errors
/// The store's.
pub async fn check_name_in_steps<S: Store + ?Sized>(
    store: &S,
    username: &str,
    latest: Option<i64>,
) -> Result<NameCheck, StoreError> {
    if store.user_by_name(username).await?.is_none() {
        return Ok(NameCheck::Free);
    }
    if let Some(latest) = latest {
        store.set_latest(latest).await?;
    }
    Ok(NameCheck::Taken)
}
