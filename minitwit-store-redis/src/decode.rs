//! Turning Redis replies into the core's types, with every malformed reply
//! reported as [`StoreError::Corrupt`] rather than a panic.

use std::fmt;

use minitwit_core::{
    Email, Message, MessageId, MessageText, PasswordHash, StoreError, StoredUser, Timestamp, User,
    UserId, Username,
};

pub(crate) fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn parse_id(raw: &str, what: &str) -> Result<u64, StoreError> {
    raw.parse()
        .map_err(|_| corrupt(format_args!("{what} {raw:?} is not an id")))
}

pub(crate) fn required(value: Option<String>, what: &str, id: u64) -> Result<String, StoreError> {
    value.ok_or_else(|| corrupt(format_args!("{what} of {id} is missing")))
}

/// A session generation as Redis keeps it: the `u64`'s bits as a signed
/// 64-bit integer, so that `HINCRBY` can move it on.
pub(crate) fn encode_generation(generation: u64) -> i64 {
    i64::from_be_bytes(generation.to_be_bytes())
}

/// The session generation Redis kept.
pub(crate) fn decode_generation(raw: &str, id: u64) -> Result<u64, StoreError> {
    raw.parse::<i64>()
        .map(|signed| u64::from_be_bytes(signed.to_be_bytes()))
        .map_err(|_| corrupt(format_args!("user {id} has a malformed session generation")))
}

/// A user from its stored name and e-mail address.
pub(crate) fn decode_user(
    id: u64,
    name: Option<String>,
    email: Option<String>,
) -> Result<User, StoreError> {
    let username = Username::from_stored(&required(name, "the name of user", id)?)
        .map_err(|err| corrupt(format_args!("user {id}: {err}")))?;
    let email = Email::parse(&required(email, "the email of user", id)?)
        .map_err(|err| corrupt(format_args!("user {id}: {err}")))?;
    Ok(User {
        id: UserId(id),
        username,
        email,
    })
}

/// `[name, email, pw_hash, sessions]` of `N:user:{id}`; all missing means
/// no user. A user written before session generations has generation 0.
pub(crate) fn decode_stored_user(
    id: u64,
    fields: Vec<Option<String>>,
) -> Result<Option<StoredUser>, StoreError> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut fields = fields.into_iter();
    let user = decode_user(id, fields.next().flatten(), fields.next().flatten())?;
    let password_hash = required(fields.next().flatten(), "the password hash of user", id)?;
    let session_generation = match fields.next().flatten() {
        Some(raw) => decode_generation(&raw, id)?,
        None => 0,
    };
    Ok(Some(StoredUser {
        user,
        password_hash: PasswordHash::from_phc(password_hash),
        session_generation,
    }))
}

/// One rendered message of the timeline scripts: id, author id, text,
/// pub_date, author name, author e-mail.
pub(crate) type MessageRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn decode_message(row: MessageRow) -> Result<Message, StoreError> {
    let (id, author, text, pub_date, name, email) = row;
    let id = parse_id(&id, "message")?;
    let author = parse_id(&required(author, "the author of message", id)?, "author")?;
    let text = decode_text(text, id)?;
    let pub_date = decode_pub_date(pub_date, id)?;
    if name.is_none() && email.is_none() {
        return Err(corrupt(format_args!("message {id} has no author")));
    }
    Ok(Message {
        id: MessageId(id),
        author: decode_user(author, name, email)?,
        text,
        pub_date,
    })
}

/// The text of message `id`.
pub(crate) fn decode_text(text: Option<String>, id: u64) -> Result<MessageText, StoreError> {
    MessageText::parse(&required(text, "the text of message", id)?)
        .map_err(|err| corrupt(format_args!("message {id}: {err}")))
}

/// The date of message `id`.
pub(crate) fn decode_pub_date(raw: Option<String>, id: u64) -> Result<Timestamp, StoreError> {
    required(raw, "the date of message", id)?
        .parse()
        .map_err(|_| corrupt(format_args!("message {id} has a malformed date")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_without_authors_are_corrupt() {
        let row: MessageRow = (
            "5".into(),
            Some("1".into()),
            Some("hello".into()),
            Some("1700000000".into()),
            None,
            None,
        );
        assert!(matches!(decode_message(row), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn stored_messages_decode() -> Result<(), StoreError> {
        let row: MessageRow = (
            "5".into(),
            Some("1".into()),
            Some("hello".into()),
            Some("1700000000".into()),
            Some("Ada Lovelace".into()),
            Some("ada@example.org".into()),
        );
        let message = decode_message(row)?;
        assert_eq!(message.id, MessageId(5));
        assert_eq!(message.author.id, UserId(1));
        assert_eq!(message.author.username.as_str(), "Ada Lovelace");
        assert_eq!(message.text.as_str(), "hello");
        assert_eq!(message.pub_date, 1_700_000_000);
        Ok(())
    }

    #[test]
    fn missing_users_are_none_and_partial_ones_corrupt() {
        assert!(matches!(
            decode_stored_user(3, vec![None, None, None, None]),
            Ok(None)
        ));
        let partial = vec![Some("x".into()), None, None, None];
        assert!(matches!(
            decode_stored_user(3, partial),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn session_generations_keep_every_bit() -> Result<(), StoreError> {
        for generation in [0, 1, u64::MAX, 1 << 63, (1 << 63) - 1] {
            let kept = encode_generation(generation).to_string();
            assert_eq!(decode_generation(&kept, 1)?, generation);
        }
        Ok(())
    }
}
