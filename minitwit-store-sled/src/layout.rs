//! The key layout: which sled trees hold what, and how keys and values are
//! encoded.
//!
//! Every id is a `u64` written **big-endian**, so the byte order sled sorts
//! keys by is the numeric order of the ids, and a composite key
//! `a ‖ b` sorts by `a`, then by `b`. Range scans over these keys are
//! therefore scans in id order, forwards or backwards.
//!
//! | tree            | key                                   | value                                     |
//! | --------------- | ------------------------------------- | ----------------------------------------- |
//! | `users`         | user id (8 bytes)                     | user record (below)                       |
//! | `user_names`    | username, UTF-8 bytes as given        | user id (8 bytes)                         |
//! | `follows`       | follower id ‖ followee id (16 bytes)  | empty                                     |
//! | `messages`      | message id (8 bytes)                  | author id (8) ‖ pub_date (8, i64) ‖ text  |
//! | `user_messages` | author id ‖ message id (16 bytes)     | empty                                     |
//! | `meta`          | `format`, `latest`, `secret/<name>`   | format version (1 byte), i64 (8), bytes   |
//!
//! A **user record** is a format byte (`1`) followed by three strings, each a
//! 4-byte big-endian length and that many UTF-8 bytes: username, e-mail
//! address, password hash (PHC string).
//!
//! ## Atomic writes without transactions
//!
//! A registration and a post each touch two trees, yet use no sled
//! transaction: in sled 0.34 a transaction (or a `Batch`) takes a global lock
//! that waits for every running `flush` (fsync) to finish and, while it
//! waits, holds up every reader of every tree. Instead each of these writes
//! has a **commit point**, one single-key atomic write that makes it exist,
//! done last:
//!
//! * a registration inserts the user record under its fresh id (which nobody
//!   knows yet), then claims the name with a compare-and-swap on
//!   `user_names` (absent → id). The claim is the commit point: exactly one of
//!   many concurrent registrations of a name wins; a loser removes its record.
//!   A user exists exactly when its name points at its id; a record without
//!   that (a registration in flight, or one cut short by a crash) is not a
//!   user, and `user_by_id` checks the name to hide it.
//! * a post inserts the message, then its `user_messages` entry, the commit
//!   point. User and home timelines read the index, so they only find
//!   committed messages; the public timeline scans `messages` and skips a
//!   message whose index entry does not exist (one point read per message).
//!
//! sled recovers a prefix of its log after a crash, so a commit point is
//! never durable without the writes before it; a crash between the two
//! writes leaves an invisible record, never half a user or half a message.
//! Writes are acknowledged only after the group commit has synced them.
//!
//! ## How reads use it
//!
//! * the public timeline is a reverse scan of `messages` below the cursor;
//! * a user timeline is a reverse scan of `user_messages` between
//!   `author ‖ 0` and `author ‖ cursor`;
//! * a home timeline is a k-way merge of those reverse scans for the user and
//!   for every followee (found by a prefix scan of `follows`).
//!
//! Ids come from sled's `generate_id`, the database's atomic counter, which is
//! persisted so that it never goes back, even after a crash; [`FORMAT`] is
//! stored in `meta` so that a later, incompatible layout refuses to open old
//! data instead of misreading it.

use minitwit_core::{
    Email, MessageId, MessageText, PasswordHash, StoreError, StoredUser, Timestamp, User, UserId,
    Username,
};

/// Version of this layout, stored under [`META_FORMAT`].
pub(crate) const FORMAT: u8 = 1;

/// Tree of user records by id.
pub(crate) const USERS: &str = "users";
/// Tree of user ids by username.
pub(crate) const USER_NAMES: &str = "user_names";
/// Tree of follow pairs.
pub(crate) const FOLLOWS: &str = "follows";
/// Tree of messages by id.
pub(crate) const MESSAGES: &str = "messages";
/// Index of message ids by author.
pub(crate) const USER_MESSAGES: &str = "user_messages";
/// Tree of single values: the format, `latest`, secrets.
pub(crate) const META: &str = "meta";

/// Key of the layout version in `meta`.
pub(crate) const META_FORMAT: &[u8] = b"format";
/// Key of `latest` in `meta`.
pub(crate) const META_LATEST: &[u8] = b"latest";
/// Prefix of secrets' keys in `meta`.
const META_SECRET_PREFIX: &[u8] = b"secret/";

/// Format byte at the start of a user record.
const USER_RECORD_V1: u8 = 1;

/// An id as a key: 8 bytes, big-endian.
pub(crate) fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Two ids as one key: `a ‖ b`, 16 bytes.
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

/// The id in an 8-byte key or value.
pub(crate) fn decode_id(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("an id has {} bytes, not 8", bytes.len())))
}

/// The second id of a 16-byte pair key.
pub(crate) fn decode_pair_second(key: &[u8]) -> Result<u64, StoreError> {
    if key.len() != 16 {
        return Err(StoreError::Corrupt(format!(
            "a pair key has {} bytes, not 16",
            key.len()
        )));
    }
    decode_id(&key[8..])
}

/// The `meta` key of the secret called `name`.
pub(crate) fn secret_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(META_SECRET_PREFIX.len() + name.len());
    key.extend_from_slice(META_SECRET_PREFIX);
    key.extend_from_slice(name.as_bytes());
    key
}

/// Encodes `latest`.
pub(crate) fn encode_latest(latest: i64) -> [u8; 8] {
    latest.to_be_bytes()
}

/// Decodes `latest`.
pub(crate) fn decode_latest(bytes: &[u8]) -> Result<i64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(i64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("latest has {} bytes, not 8", bytes.len())))
}

fn put_str(buf: &mut Vec<u8>, text: &str) {
    // Every string we store is bounded far below 4 GiB by the core's types;
    // saturating keeps this total, and the decoder would report the mismatch.
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(text.as_bytes());
}

/// Reads what [`put_str`] wrote from the front of `input`, advancing it.
fn take_str<'a>(input: &mut &'a [u8], what: &str) -> Result<&'a str, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("user record: truncated {what}"));
    let (len, rest) = input.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| corrupt())?;
    if rest.len() < len {
        return Err(corrupt());
    }
    let (text, rest) = rest.split_at(len);
    *input = rest;
    std::str::from_utf8(text)
        .map_err(|_| StoreError::Corrupt(format!("user record: {what} is not UTF-8")))
}

/// Encodes a user record (everything but the id, which is the key).
pub(crate) fn encode_user(username: &Username, email: &Email, hash: &PasswordHash) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        1 + 12 + username.as_str().len() + email.as_str().len() + hash.as_phc().len(),
    );
    buf.push(USER_RECORD_V1);
    put_str(&mut buf, username.as_str());
    put_str(&mut buf, email.as_str());
    put_str(&mut buf, hash.as_phc());
    buf
}

/// Decodes the user record of user `id`.
pub(crate) fn decode_user(id: UserId, bytes: &[u8]) -> Result<StoredUser, StoreError> {
    let Some((&USER_RECORD_V1, mut rest)) = bytes.split_first() else {
        return Err(StoreError::Corrupt(format!(
            "user {}: unknown record format",
            id.0
        )));
    };
    let username = take_str(&mut rest, "username")?;
    let email = take_str(&mut rest, "email")?;
    let hash = take_str(&mut rest, "password hash")?;
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "user {}: {} trailing bytes",
            id.0,
            rest.len()
        )));
    }
    let invalid = |what: &str| StoreError::Corrupt(format!("user {}: invalid {what}", id.0));
    Ok(StoredUser {
        user: User {
            id,
            username: Username::parse(username).map_err(|_| invalid("username"))?,
            email: Email::parse(email).map_err(|_| invalid("email"))?,
        },
        password_hash: PasswordHash::from_phc(hash.to_owned()),
    })
}

/// A message as `messages` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageRecord {
    /// The author's id.
    pub(crate) author: UserId,
    /// Seconds since the Unix epoch.
    pub(crate) pub_date: Timestamp,
    /// The text.
    pub(crate) text: MessageText,
}

/// Encodes a message value.
pub(crate) fn encode_message(author: UserId, pub_date: Timestamp, text: &MessageText) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16 + text.as_str().len());
    buf.extend_from_slice(&author.0.to_be_bytes());
    buf.extend_from_slice(&pub_date.to_be_bytes());
    buf.extend_from_slice(text.as_str().as_bytes());
    buf
}

/// Decodes the value of message `id`.
pub(crate) fn decode_message(id: MessageId, bytes: &[u8]) -> Result<MessageRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("message {}: {what}", id.0));
    let (author, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("truncated"))?;
    let (pub_date, text) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("truncated"))?;
    let text = std::str::from_utf8(text).map_err(|_| corrupt("text is not UTF-8"))?;
    Ok(MessageRecord {
        author: UserId(u64::from_be_bytes(*author)),
        pub_date: i64::from_be_bytes(*pub_date),
        text: MessageText::parse(text).map_err(|_| corrupt("invalid text"))?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn big_endian_keys_sort_numerically() {
        let ids = [0_u64, 1, 255, 256, 65_535, 1 << 40, u64::MAX];
        for pair in ids.windows(2) {
            assert!(id_key(pair[0]) < id_key(pair[1]));
            assert!(pair_key(7, pair[0]) < pair_key(7, pair[1]));
            assert!(pair_key(pair[0], u64::MAX) < pair_key(pair[1], 0));
        }
        assert_eq!(decode_id(&id_key(1 << 40)).unwrap(), 1 << 40);
        assert_eq!(decode_pair_second(&pair_key(3, 9)).unwrap(), 9);
        assert!(decode_id(&[1, 2, 3]).is_err());
        assert!(decode_pair_second(&[0; 8]).is_err());
    }

    #[test]
    fn user_records_round_trip() {
        let username = Username::parse("Zoë Ångström 🦀").unwrap();
        let email = Email::parse("zoe@example.org").unwrap();
        let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$abc$def".into());
        let bytes = encode_user(&username, &email, &hash);
        let stored = decode_user(UserId(42), &bytes).unwrap();
        assert_eq!(stored.user.id, UserId(42));
        assert_eq!(stored.user.username, username);
        assert_eq!(stored.user.email, email);
        assert_eq!(stored.password_hash, hash);
    }

    #[test]
    fn damaged_user_records_are_corrupt_not_panics() {
        let username = Username::parse("ada").unwrap();
        let email = Email::parse("a@b").unwrap();
        let hash = PasswordHash::from_phc("x".into());
        let bytes = encode_user(&username, &email, &hash);
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_user(UserId(1), &bytes[..cut]),
                Err(StoreError::Corrupt(_))
            ));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode_user(UserId(1), &longer),
            Err(StoreError::Corrupt(_))
        ));
        let mut wrong_format = bytes;
        wrong_format[0] = 9;
        assert!(matches!(
            decode_user(UserId(1), &wrong_format),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn message_records_round_trip() {
        let text = MessageText::parse("hello, wörld").unwrap();
        let bytes = encode_message(UserId(5), -17, &text);
        let record = decode_message(MessageId(1), &bytes).unwrap();
        assert_eq!(
            record,
            MessageRecord {
                author: UserId(5),
                pub_date: -17,
                text
            }
        );
        assert!(matches!(
            decode_message(MessageId(1), &bytes[..15]),
            Err(StoreError::Corrupt(_))
        ));
        // An empty text is not a valid message.
        assert!(matches!(
            decode_message(MessageId(1), &bytes[..16]),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn latest_and_secret_keys() {
        assert_eq!(decode_latest(&encode_latest(-1)).unwrap(), -1);
        assert!(decode_latest(&[0; 4]).is_err());
        assert_eq!(secret_key("session"), b"secret/session".to_vec());
    }
}
