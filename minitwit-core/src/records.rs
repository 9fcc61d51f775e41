//! What a whole store holds, as records: the unit of
//! [`Store::export`](crate::Store::export) and
//! [`Store::import`](crate::Store::import), and of the
//! [backup format](crate::backup); and the counts a store keeps on write.

use std::pin::Pin;

use futures::Stream;

use crate::{MessageId, MessageText, StoreError, StoredUser, Timestamp, UserId};

/// One thing a store holds. An export is a sequence of records in this
/// order: every user by ascending id, every follow by ascending
/// (follower, followee), every message by ascending id, `latest` when it
/// was ever recorded, and every secret by ascending name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A user, password hash and session generation included.
    User(StoredUser),
    /// `follower` follows `followee`.
    Follow {
        /// Who follows.
        follower: UserId,
        /// Whom.
        followee: UserId,
    },
    /// A message.
    Message(MessageRecord),
    /// The simulator's last `latest`.
    Latest(i64),
    /// A named secret (the session key, the store's identity, ...).
    Secret {
        /// Its name.
        name: String,
        /// Its bytes.
        value: Vec<u8>,
    },
}

impl Record {
    /// The rank of the record's kind in an export's order: users (0),
    /// follows, messages, `latest`, secrets (4).
    pub fn kind_rank(&self) -> u8 {
        match self {
            Self::User(_) => 0,
            Self::Follow { .. } => 1,
            Self::Message(_) => 2,
            Self::Latest(_) => 3,
            Self::Secret { .. } => 4,
        }
    }
}

/// A message as a store keeps it: its author by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The message's id.
    pub id: MessageId,
    /// The author's id.
    pub author: UserId,
    /// The text.
    pub text: MessageText,
    /// When it was posted, in seconds since the Unix epoch.
    pub pub_date: Timestamp,
}

/// A stream of records, as [`Store::export`](crate::Store::export) returns
/// it.
pub type RecordStream = Pin<Box<dyn Stream<Item = Result<Record, StoreError>> + Send>>;

/// How much a store holds, from counters the store keeps on every write:
/// reading them costs the same whatever the store's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Registered users.
    pub users: u64,
    /// Follow edges (pairs of follower and followee).
    pub follows: u64,
    /// Messages.
    pub messages: u64,
}
