//! The one error type of the core, and the error a [`Store`](crate::Store)
//! reports.
//!
//! The `Display` text of every [`Error`] is what a person reads: the web site
//! shows it as a form error or page, the simulator API puts it in
//! `error_msg`. Texts the external tests assert are written here once, so both
//! frontends say the same thing for the same mistake. Store failures never
//! show their details to a client; they keep them as a `source` for the logs.

use std::error::Error as StdError;

/// The texts of the errors that are not about one field: what a person reads
/// when the service cannot answer. Frontends use these for their own generic
/// pages and JSON bodies, so the site and the API say the same thing.
pub mod texts {
    /// The text of [`Error::Unavailable`](super::Error::Unavailable) and of
    /// every "try again later" answer (HTTP 503).
    pub const UNAVAILABLE: &str = "The service is temporarily unavailable, please try again";
    /// The text of [`Error::Internal`](super::Error::Internal) and of every
    /// answer to a fault of ours (HTTP 500).
    pub const INTERNAL: &str = "Something went wrong on our side";
    /// The text of [`Error::Busy`](super::Error::Busy): too much to do right
    /// now (HTTP 503).
    pub const BUSY: &str = "The service is busy, please try again in a moment";
}

/// A boxed error from a backend's own client library.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything the service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Registration without a username.
    #[error("You have to enter a username")]
    MissingUsername,
    /// A username longer than [`MAX_USERNAME_CHARS`](crate::MAX_USERNAME_CHARS).
    #[error(
        "The username is too long (at most {} characters)",
        crate::MAX_USERNAME_CHARS
    )]
    UsernameTooLong,
    /// A username with a control character (tab, newline, ...).
    #[error("The username may not contain control characters")]
    UsernameInvalid,
    /// A username with an invisible formatting character (Unicode category
    /// Cf: a bidirectional override, a zero-width character, ...).
    #[error("The username may not contain invisible formatting characters")]
    UsernameInvisible,
    /// A username that is a page of the site, or only dots.
    #[error("This name belongs to a page of the site; choose another username")]
    UsernameReserved,
    /// An empty e-mail address, or one without `@`.
    #[error("You have to enter a valid email address")]
    InvalidEmail,
    /// An e-mail address longer than [`MAX_EMAIL_BYTES`](crate::MAX_EMAIL_BYTES).
    #[error(
        "The email address is too long (at most {} bytes)",
        crate::MAX_EMAIL_BYTES
    )]
    EmailTooLong,
    /// Registration without a password.
    #[error("You have to enter a password")]
    MissingPassword,
    /// A password longer than [`MAX_PASSWORD_BYTES`](crate::MAX_PASSWORD_BYTES).
    #[error(
        "The password is too long (at most {} bytes)",
        crate::MAX_PASSWORD_BYTES
    )]
    PasswordTooLong,
    /// The password and its confirmation differ (web registration).
    #[error("The two passwords do not match")]
    PasswordMismatch,
    /// Another user has this name.
    #[error("The username is already taken")]
    UsernameTaken,
    /// Login with a name nobody has.
    #[error("Invalid username")]
    UnknownUsername,
    /// Login with the wrong password.
    #[error("Invalid password")]
    WrongPassword,
    /// The user named in the request does not exist.
    #[error("The user does not exist")]
    UserNotFound,
    /// The user to follow or unfollow does not exist.
    #[error("The user to follow or unfollow does not exist")]
    TargetNotFound,
    /// A user tried to follow themselves.
    #[error("You cannot follow yourself")]
    SelfFollow,
    /// A message without text.
    #[error("You have to enter a message")]
    EmptyMessage,
    /// A message longer than [`MAX_MESSAGE_CHARS`](crate::MAX_MESSAGE_CHARS).
    #[error(
        "The message is too long (at most {} characters)",
        crate::MAX_MESSAGE_CHARS
    )]
    MessageTooLong,
    /// The store cannot be reached right now; trying again later may work.
    #[error("{}", texts::UNAVAILABLE)]
    Unavailable(#[source] StoreError),
    /// Too many requests wait for the same scarce resource (password
    /// hashing); this one was refused at once rather than queued.
    #[error("{}", texts::BUSY)]
    Busy,
    /// Anything else that went wrong inside; details are in the source.
    #[error("{}", texts::INTERNAL)]
    Internal(#[source] BoxError),
}

/// The class of an [`Error`], which a frontend maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not acceptable (HTTP 400).
    Invalid,
    /// The name and password do not match a user (HTTP 403 or a form error).
    Credentials,
    /// What the request names does not exist (HTTP 404).
    NotFound,
    /// The store is down; retrying later may succeed (HTTP 503).
    Unavailable,
    /// Too busy right now; retrying in a moment may succeed (HTTP 503).
    Busy,
    /// A fault of ours (HTTP 500).
    Internal,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingUsername
            | Self::UsernameTooLong
            | Self::UsernameInvalid
            | Self::UsernameInvisible
            | Self::UsernameReserved
            | Self::InvalidEmail
            | Self::EmailTooLong
            | Self::MissingPassword
            | Self::PasswordTooLong
            | Self::PasswordMismatch
            | Self::UsernameTaken
            | Self::SelfFollow
            | Self::EmptyMessage
            | Self::MessageTooLong => ErrorKind::Invalid,
            Self::UnknownUsername | Self::WrongPassword => ErrorKind::Credentials,
            Self::UserNotFound | Self::TargetNotFound => ErrorKind::NotFound,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Busy => ErrorKind::Busy,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The HTTP status code that fits this error.
    pub fn status_code(&self) -> u16 {
        match self.kind() {
            ErrorKind::Invalid => 400,
            ErrorKind::Credentials => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Unavailable | ErrorKind::Busy => 503,
            ErrorKind::Internal => 500,
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => Self::UsernameTaken,
            StoreError::Unavailable(_) => Self::Unavailable(err),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// What a [`Store`](crate::Store) method can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// [`Store::create_user`](crate::Store::create_user) with a name that
    /// exists.
    #[error("the username is already taken")]
    UsernameTaken,
    /// The backend cannot be reached (connection refused, timed out); the
    /// same call may succeed later.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The backend answered with an error.
    #[error("the store failed: {0}")]
    Backend(#[source] BoxError),
    /// Data read back from the backend does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// An import collides with what the store holds.
    #[error("the import collides with the store's data: {0}")]
    Conflict(String),
}

impl StoreError {
    /// Wraps a backend error as [`StoreError::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        Self::Backend(err.into())
    }

    /// Wraps a connection error as [`StoreError::Unavailable`].
    pub fn unavailable(err: impl Into<BoxError>) -> Self {
        Self::Unavailable(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_details_never_reach_the_text() {
        let err = Error::from(StoreError::backend("disk /var/secret full"));
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(!err.to_string().contains("secret"));
        let err = Error::from(StoreError::unavailable("connection refused 10.0.0.1"));
        assert_eq!(err.status_code(), 503);
        assert!(!err.to_string().contains("10.0.0.1"));
    }

    #[test]
    fn taken_name_from_the_store_is_the_validation_error() {
        let err = Error::from(StoreError::UsernameTaken);
        assert_eq!(err.to_string(), "The username is already taken");
        assert_eq!(err.status_code(), 400);
    }
}
