//! How values are encoded in the trees (see the `layout` module for which
//! tree holds what), and decoded back, with every malformed value reported
//! as [`StoreError::Corrupt`] rather than a panic.

use minitwit_core::{
    Counts, Email, MessageId, MessageRecord, MessageText, PasswordHash, StoreError, StoredUser,
    Timestamp, User, UserId, Username,
};

/// Format byte of a user record without a session generation (layout 1).
const USER_RECORD_V1: u8 = 1;
/// Format byte of a user record with a session generation.
const USER_RECORD_V2: u8 = 2;

/// The id in an 8-byte key or value.
pub(crate) fn decode_id(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("an id has {} bytes, not 8", bytes.len())))
}

/// The two ids of a 16-byte pair key.
pub(crate) fn decode_pair(key: &[u8]) -> Result<(u64, u64), StoreError> {
    if key.len() != 16 {
        return Err(StoreError::Corrupt(format!(
            "a pair key has {} bytes, not 16",
            key.len()
        )));
    }
    Ok((decode_id(&key[..8])?, decode_id(&key[8..])?))
}

/// The second id of a 16-byte pair key.
pub(crate) fn decode_pair_second(key: &[u8]) -> Result<u64, StoreError> {
    decode_pair(key).map(|(_, second)| second)
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

/// Encodes the counts of a cleanly closed store.
pub(crate) fn encode_counts(counts: Counts) -> [u8; 24] {
    let mut bytes = [0; 24];
    bytes[..8].copy_from_slice(&counts.users.to_be_bytes());
    bytes[8..16].copy_from_slice(&counts.follows.to_be_bytes());
    bytes[16..].copy_from_slice(&counts.messages.to_be_bytes());
    bytes
}

/// Decodes what [`encode_counts`] wrote.
pub(crate) fn decode_counts(bytes: &[u8]) -> Result<Counts, StoreError> {
    if bytes.len() != 24 {
        return Err(StoreError::Corrupt(format!(
            "the counts have {} bytes, not 24",
            bytes.len()
        )));
    }
    Ok(Counts {
        users: decode_id(&bytes[..8])?,
        follows: decode_id(&bytes[8..16])?,
        messages: decode_id(&bytes[16..])?,
    })
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
pub(crate) fn encode_user(
    username: &Username,
    email: &Email,
    hash: &PasswordHash,
    session_generation: u64,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        1 + 12 + 8 + username.as_str().len() + email.as_str().len() + hash.as_phc().len(),
    );
    buf.push(USER_RECORD_V2);
    put_str(&mut buf, username.as_str());
    put_str(&mut buf, email.as_str());
    put_str(&mut buf, hash.as_phc());
    buf.extend_from_slice(&session_generation.to_be_bytes());
    buf
}

/// Encodes `stored` as its record.
pub(crate) fn encode_stored_user(stored: &StoredUser) -> Vec<u8> {
    encode_user(
        &stored.user.username,
        &stored.user.email,
        &stored.password_hash,
        stored.session_generation,
    )
}

/// Decodes the user record of user `id`.
pub(crate) fn decode_user(id: UserId, bytes: &[u8]) -> Result<StoredUser, StoreError> {
    let (version, mut rest) = match bytes.split_first() {
        Some((&version @ (USER_RECORD_V1 | USER_RECORD_V2), rest)) => (version, rest),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "user {}: unknown record format",
                id.0
            )));
        }
    };
    let username = take_str(&mut rest, "username")?;
    let email = take_str(&mut rest, "email")?;
    let hash = take_str(&mut rest, "password hash")?;
    let session_generation = if version == USER_RECORD_V1 {
        0
    } else {
        let (generation, tail) = rest.split_first_chunk::<8>().ok_or_else(|| {
            StoreError::Corrupt(format!("user {}: truncated session generation", id.0))
        })?;
        rest = tail;
        u64::from_be_bytes(*generation)
    };
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
            username: Username::from_stored(username).map_err(|_| invalid("username"))?,
            email: Email::parse(email).map_err(|_| invalid("email"))?,
        },
        password_hash: PasswordHash::from_phc(hash.to_owned()),
        session_generation,
    })
}

/// Moves the session generation of an encoded user record on by one.
pub(crate) fn next_session_generation(id: UserId, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut stored = decode_user(id, bytes)?;
    stored.session_generation = stored.session_generation.wrapping_add(1);
    Ok(encode_stored_user(&stored))
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
        id,
        author: UserId(u64::from_be_bytes(*author)),
        pub_date: i64::from_be_bytes(*pub_date),
        text: MessageText::parse(text).map_err(|_| corrupt("invalid text"))?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::layout::{id_key, pair_key};

    #[test]
    fn ids_and_pairs_decode() {
        assert_eq!(decode_id(&id_key(1 << 40)).unwrap(), 1 << 40);
        assert_eq!(decode_pair(&pair_key(3, 9)).unwrap(), (3, 9));
        assert_eq!(decode_pair_second(&pair_key(3, 9)).unwrap(), 9);
        assert!(decode_id(&[1, 2, 3]).is_err());
        assert!(decode_pair_second(&[0; 8]).is_err());
    }

    #[test]
    fn user_records_round_trip() {
        let username = Username::parse("Zoë Ångström 🦀").unwrap();
        let email = Email::parse("zoe@example.org").unwrap();
        let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$abc$def".into());
        let bytes = encode_user(&username, &email, &hash, u64::MAX - 3);
        let stored = decode_user(UserId(42), &bytes).unwrap();
        assert_eq!(stored.user.id, UserId(42));
        assert_eq!(stored.user.username, username);
        assert_eq!(stored.user.email, email);
        assert_eq!(stored.password_hash, hash);
        assert_eq!(stored.session_generation, u64::MAX - 3);
        let moved = next_session_generation(UserId(42), &bytes).unwrap();
        assert_eq!(
            decode_user(UserId(42), &moved).unwrap().session_generation,
            u64::MAX - 2
        );
    }

    #[test]
    fn layout_1_user_records_read_with_generation_0() {
        let mut bytes = vec![USER_RECORD_V1];
        for field in ["ada", "a@b", "$argon2id$x"] {
            put_str(&mut bytes, field);
        }
        let stored = decode_user(UserId(1), &bytes).unwrap();
        assert_eq!(stored.user.username.as_str(), "ada");
        assert_eq!(stored.session_generation, 0);
    }

    #[test]
    fn damaged_user_records_are_corrupt_not_panics() {
        let username = Username::parse("ada").unwrap();
        let email = Email::parse("a@b").unwrap();
        let hash = PasswordHash::from_phc("x".into());
        let bytes = encode_user(&username, &email, &hash, 7);
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
                id: MessageId(1),
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
    fn latest_and_counts_round_trip() {
        assert_eq!(decode_latest(&encode_latest(-1)).unwrap(), -1);
        assert!(decode_latest(&[0; 4]).is_err());
        let counts = Counts {
            users: 1,
            follows: u64::MAX,
            messages: 3,
        };
        assert_eq!(decode_counts(&encode_counts(counts)).unwrap(), counts);
        assert!(decode_counts(&[0; 23]).is_err());
    }
}
