//! The lines of a backup's text, their JSON shape, and the order rules that
//! the writer and the reader both enforce.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::{
    Email, MessageId, MessageRecord, MessageText, PasswordHash, Record, StoredUser, User, UserId,
    Username,
};

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Header {
    pub(super) format: String,
    pub(super) version: u64,
}

/// A user line's body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserLine {
    id: u64,
    name: String,
    email: String,
    password_hash: String,
    session_generation: u64,
}

/// A message line's body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageLine {
    id: u64,
    author: u64,
    pub_date: i64,
    text: String,
}

/// A secret line's body; the value in standard base64.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretLine {
    name: String,
    value: String,
}

/// The summary line's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct End {
    pub(super) users: u64,
    pub(super) follows: u64,
    pub(super) messages: u64,
    pub(super) records: u64,
}

/// Every line after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Line {
    User(UserLine),
    Follow([u64; 2]),
    Message(MessageLine),
    Latest(i64),
    Secret(SecretLine),
    End(End),
}

impl From<&Record> for Line {
    fn from(record: &Record) -> Self {
        match record {
            Record::User(stored) => Self::User(UserLine {
                id: stored.user.id.0,
                name: stored.user.username.as_str().to_owned(),
                email: stored.user.email.as_str().to_owned(),
                password_hash: stored.password_hash.as_phc().to_owned(),
                session_generation: stored.session_generation,
            }),
            Record::Follow { follower, followee } => Self::Follow([follower.0, followee.0]),
            Record::Message(message) => Self::Message(MessageLine {
                id: message.id.0,
                author: message.author.0,
                pub_date: message.pub_date,
                text: message.text.as_str().to_owned(),
            }),
            Record::Latest(latest) => Self::Latest(*latest),
            Record::Secret { name, value } => Self::Secret(SecretLine {
                name: name.clone(),
                value: STANDARD.encode(value),
            }),
        }
    }
}

impl Line {
    /// The record of this line; `Ok(None)` for the summary. `Err` says what
    /// is invalid.
    pub(super) fn into_record(self) -> Result<Option<Record>, String> {
        Ok(Some(match self {
            Self::User(user) => {
                let username = Username::from_stored(&user.name)
                    .map_err(|err| format!("user {}: {err}", user.id))?;
                let email =
                    Email::parse(&user.email).map_err(|err| format!("user {}: {err}", user.id))?;
                Record::User(StoredUser {
                    user: User {
                        id: UserId(user.id),
                        username,
                        email,
                    },
                    password_hash: PasswordHash::from_phc(user.password_hash),
                    session_generation: user.session_generation,
                })
            }
            Self::Follow([follower, followee]) => Record::Follow {
                follower: UserId(follower),
                followee: UserId(followee),
            },
            Self::Message(message) => Record::Message(MessageRecord {
                id: MessageId(message.id),
                author: UserId(message.author),
                text: MessageText::parse(&message.text)
                    .map_err(|err| format!("message {}: {err}", message.id))?,
                pub_date: message.pub_date,
            }),
            Self::Latest(latest) => Record::Latest(latest),
            Self::Secret(secret) => Record::Secret {
                value: STANDARD
                    .decode(&secret.value)
                    .map_err(|err| format!("secret {:?}: {err}", secret.name))?,
                name: secret.name,
            },
            Self::End(_) => return Ok(None),
        }))
    }
}

/// The position of a record in the export order: its kind's rank, then its
/// key within the kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Id(u64),
    Pair(u64, u64),
    Unit,
    Name(String),
}

fn key(record: &Record) -> (u8, Key) {
    let key = match record {
        Record::User(stored) => Key::Id(stored.user.id.0),
        Record::Follow { follower, followee } => Key::Pair(follower.0, followee.0),
        Record::Message(message) => Key::Id(message.id.0),
        Record::Latest(_) => Key::Unit,
        Record::Secret { name, .. } => Key::Name(name.clone()),
    };
    (record.kind_rank(), key)
}

/// Follows a sequence of records, checking the export order (strictly
/// increasing keys), and counts them.
#[derive(Debug, Default)]
pub(super) struct Tally {
    last: Option<(u8, Key)>,
    pub(super) end: End,
}

impl Tally {
    /// Takes the next record; `Err` says how it breaks the order.
    pub(super) fn add(&mut self, record: &Record) -> Result<(), String> {
        let next = key(record);
        if let Some(last) = &self.last
            && *last >= next
        {
            return Err(format!(
                "it comes after {last:?} but must come before it (or is a duplicate)"
            ));
        }
        self.last = Some(next);
        match record {
            Record::User(_) => self.end.users += 1,
            Record::Follow { .. } => self.end.follows += 1,
            Record::Message(_) => self.end.messages += 1,
            Record::Latest(_) | Record::Secret { .. } => {}
        }
        self.end.records += 1;
        Ok(())
    }
}

/// The footer's prefix; a space and 64 hex digits and a newline follow.
pub(super) const FOOTER_PREFIX: &str = "minitwit-backup-sha256";

/// The footer's length in bytes.
pub(super) const FOOTER_LEN: usize = FOOTER_PREFIX.len() + 1 + 64 + 1;

/// Lower-case hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
