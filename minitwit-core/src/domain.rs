//! Domain types. Each one is validated when it is built, so a value of the
//! type is always valid: code that holds a [`Username`] never checks it again.

use std::fmt;

use serde::Serialize;

use crate::{Error, Username};

/// Longest accepted e-mail address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest accepted password, in bytes. Long enough for any passphrase, short
/// enough that nobody can make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest accepted message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// The most bytes one character can take once encoded in a request: a
/// character outside Unicode's basic plane written in JSON as two `\uXXXX`
/// escapes, or its four UTF-8 bytes percent-encoded in a form (`%F0%9F%A6%80`):
/// 12 bytes either way. Every other character takes fewer.
pub const MAX_ENCODED_BYTES_PER_CHAR: usize = 12;

/// The largest request body that a valid request can need: the longest
/// message with every character encoded at its longest, plus room for the
/// keys, quotes and some whitespace. A registration needs less (its fields
/// are far shorter). Frontends derive their body limits from this.
pub const MAX_REQUEST_BODY_BYTES: usize = MAX_MESSAGE_CHARS * MAX_ENCODED_BYTES_PER_CHAR + 4096;

/// A user's numeric id, assigned by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct UserId(pub u64);

/// A message's id, assigned by the store. Ids grow with time: a message posted
/// after another one (in real time, on any instance) has a larger id, which is
/// what orders timelines and what page cursors point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MessageId(pub u64);

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

/// An e-mail address: non-empty, contains `@`, at most [`MAX_EMAIL_BYTES`].
/// Nothing more is checked: only a mail that arrives proves an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates `raw` as an e-mail address.
    ///
    /// # Errors
    /// [`Error::InvalidEmail`] or [`Error::EmailTooLong`].
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() || !raw.contains('@') || raw.chars().any(char::is_control) {
            return Err(Error::InvalidEmail);
        }
        if raw.len() > MAX_EMAIL_BYTES {
            return Err(Error::EmailTooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a message: 1 to [`MAX_MESSAGE_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    /// Validates `raw` as a message text.
    ///
    /// # Errors
    /// [`Error::EmptyMessage`] or [`Error::MessageTooLong`].
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() {
            return Err(Error::EmptyMessage);
        }
        if raw.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::MessageTooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as a person typed it: 1 to [`MAX_PASSWORD_BYTES`] bytes, any
/// characters. Its `Debug` hides the value, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Validates `raw` as a password.
    ///
    /// # Errors
    /// [`Error::MissingPassword`] when empty, [`Error::PasswordTooLong`]
    /// above [`MAX_PASSWORD_BYTES`].
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() {
            return Err(Error::MissingPassword);
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(Error::PasswordTooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password, for hashing or verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$...`).
///
/// Deliberately not `Serialize`, and its `Debug` hides the value, so a hash
/// can end up neither in a response nor in a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read back from a store. The string is checked when
    /// it is used to verify a password.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for a store to persist.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A registered user as every frontend sees it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The store's id of the user.
    pub id: UserId,
    /// The unique username.
    pub username: Username,
    /// The e-mail address given at registration.
    pub email: Email,
}

/// A user as a store keeps it: the public [`User`], the password hash and
/// the session generation. Never serialized; only the service reads the
/// hash, to check a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The public part.
    pub user: User,
    /// The argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// Which of the user's sessions are valid: a session cookie carries the
    /// generation it was issued in and is honoured only while the user's
    /// generation is the same. Ending a user's sessions (signing out)
    /// moves it on. It starts at a random value, so a session of a user
    /// who no longer exists never matches a later user with the same id.
    pub session_generation: u64,
}

/// What a store needs to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The username, unique in the store.
    pub username: Username,
    /// The e-mail address.
    pub email: Email,
    /// The already computed password hash.
    pub password_hash: PasswordHash,
    /// The first session generation (see
    /// [`StoredUser::session_generation`]).
    pub session_generation: u64,
}

/// A message with its author, as timelines return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The message's id; also its place in every timeline.
    pub id: MessageId,
    /// Who wrote it.
    pub author: User,
    /// The text.
    pub text: MessageText,
    /// When it was posted, in seconds since the Unix epoch.
    pub pub_date: Timestamp,
}

/// Which timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeline {
    /// Every message.
    Public,
    /// The messages of one user.
    User(UserId),
    /// A user's own messages and those of everyone they follow.
    Home(UserId),
}

/// Which page of a timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Only messages older than this one (ids below it); `None` starts at the
    /// newest message.
    pub before: Option<MessageId>,
    /// How many messages at most.
    pub limit: usize,
}

impl PageRequest {
    /// The newest `limit` messages.
    pub fn first(limit: usize) -> Self {
        Self {
            before: None,
            limit,
        }
    }

    /// Up to `limit` messages older than `before`.
    pub fn before(before: MessageId, limit: usize) -> Self {
        Self {
            before: Some(before),
            limit,
        }
    }
}

/// One page of a timeline, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The messages of this page, newest first.
    pub messages: Vec<Message>,
    /// The cursor of the next (older) page, when there is one: pass it as
    /// [`PageRequest::before`].
    pub next: Option<MessageId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_an_at_sign() {
        assert!(Email::parse("a@b").is_ok());
        assert!(matches!(Email::parse(""), Err(Error::InvalidEmail)));
        assert!(matches!(Email::parse("nobody"), Err(Error::InvalidEmail)));
        let long = format!("{}@x", "a".repeat(MAX_EMAIL_BYTES));
        assert!(matches!(Email::parse(&long), Err(Error::EmailTooLong)));
    }

    #[test]
    fn messages_are_bounded() {
        assert!(matches!(MessageText::parse(""), Err(Error::EmptyMessage)));
        assert!(MessageText::parse(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(matches!(
            MessageText::parse(&"x".repeat(MAX_MESSAGE_CHARS + 1)),
            Err(Error::MessageTooLong)
        ));
    }

    #[test]
    fn passwords_are_bounded_and_hidden() {
        assert!(matches!(Password::parse(""), Err(Error::MissingPassword)));
        let longest = "p".repeat(MAX_PASSWORD_BYTES);
        assert_eq!(
            Password::parse(&longest).map(|p| p.expose().len()).ok(),
            Some(MAX_PASSWORD_BYTES)
        );
        assert!(matches!(
            Password::parse(&format!("{longest}p")),
            Err(Error::PasswordTooLong)
        ));
        let password = Password::parse("hunter2").map(|p| format!("{p:?}"));
        assert!(password.is_ok_and(|shown| !shown.contains("hunter2")));
    }

    #[test]
    fn password_hash_debug_is_redacted() {
        let hash = PasswordHash::from_phc("$argon2id$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}

/// Properties of the validated text types over random input: each accepts
/// exactly the values its rules allow, keeps them unchanged, and a
/// password never shows in its `Debug`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Random text, with lengths around `limit` (in characters of `unit`).
    fn text_around(limit: usize, unit: &'static [char]) -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            (
                limit.saturating_sub(3)..limit + 3,
                prop::sample::select(unit)
            )
                .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
            Just(String::new()),
        ]
    }

    proptest! {
        #[test]
        fn messages_are_1_to_the_maximum_characters_kept_as_written(
            raw in text_around(MAX_MESSAGE_CHARS, &['x', 'é', '🦀', '\0', '\u{301}'])
        ) {
            let chars = raw.chars().count();
            match MessageText::parse(&raw) {
                Ok(text) => {
                    prop_assert!((1..=MAX_MESSAGE_CHARS).contains(&chars));
                    prop_assert_eq!(text.as_str(), raw.as_str());
                    prop_assert_eq!(text.to_string(), raw);
                }
                Err(Error::EmptyMessage) => prop_assert_eq!(chars, 0),
                Err(Error::MessageTooLong) => prop_assert!(chars > MAX_MESSAGE_CHARS),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn passwords_are_1_to_the_maximum_bytes_and_never_shown(
            raw in text_around(MAX_PASSWORD_BYTES, &['p', 'é', '🦀'])
        ) {
            match Password::parse(&raw) {
                Ok(password) => {
                    prop_assert!((1..=MAX_PASSWORD_BYTES).contains(&raw.len()));
                    prop_assert_eq!(password.expose(), raw.as_str());
                    prop_assert_eq!(format!("{password:?}"), "Password(<redacted>)");
                }
                Err(Error::MissingPassword) => prop_assert!(raw.is_empty()),
                Err(Error::PasswordTooLong) => prop_assert!(raw.len() > MAX_PASSWORD_BYTES),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn emails_need_an_at_sign_and_no_control_characters(
            raw in prop_oneof![
                any::<String>(),
                "[a-z@.\\t\\x00]{0,12}",
                (250usize..260).prop_map(|n| format!("{}@x", "a".repeat(n - 2))),
            ]
        ) {
            let invalid = raw.is_empty() || !raw.contains('@') || raw.chars().any(char::is_control);
            match Email::parse(&raw) {
                Ok(email) => {
                    prop_assert!(!invalid && raw.len() <= MAX_EMAIL_BYTES);
                    prop_assert_eq!(email.as_str(), raw.as_str());
                }
                Err(Error::InvalidEmail) => prop_assert!(invalid),
                Err(Error::EmailTooLong) => prop_assert!(!invalid && raw.len() > MAX_EMAIL_BYTES),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
