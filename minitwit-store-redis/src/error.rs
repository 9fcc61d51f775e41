//! [`RedisStoreError`]: why a store could not connect; and how Redis'
//! errors become the core's [`StoreError`].

use std::time::Duration;

use minitwit_core::StoreError;
use redis::{RedisError, ServerErrorKind};

use crate::config;

/// Why [`RedisStore::connect`](crate::RedisStore::connect) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url}: {source}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What the Redis client objected to.
        #[source]
        source: RedisError,
    },
    /// The namespace contains something other than ASCII letters, digits,
    /// `-`, `_` and `.`, or is empty or too long.
    #[error("invalid Redis namespace {0:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.'")]
    InvalidNamespace(String),
    /// A timeout of zero, or a response timeout above
    /// [`config::MAX_RESPONSE_TIMEOUT`].
    #[error(
        "the Redis connect and response timeouts must be above zero, and the response timeout at most {:?}",
        config::MAX_RESPONSE_TIMEOUT
    )]
    InvalidTimeout,
    /// A [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk) of
    /// zero.
    #[error("the Redis home timeline merge chunk must be at least one followee")]
    InvalidMergeChunk,
    /// The server did not answer, refused the connection or the handshake
    /// (wrong password, no such database), or did not accept the scripts.
    /// The message names the server; the source says what went wrong.
    #[error("cannot connect to Redis at {url}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// What went wrong.
        #[source]
        source: RedisError,
    },
    /// The namespace could not be brought to this version's layout.
    #[error("cannot prepare the Redis namespace {namespace:?}")]
    Layout {
        /// The namespace.
        namespace: String,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
}

/// A store call that ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("Redis did not answer within {0:?}")]
pub(crate) struct DeadlineExceeded(pub(crate) Duration);

/// Sorts a Redis failure into the store's error classes.
pub(crate) fn store_error(err: RedisError) -> StoreError {
    if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() {
        return StoreError::unavailable(err);
    }
    match err.kind() {
        redis::ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::ReadOnly,
        ) => StoreError::unavailable(err),
        _ if err.code() == Some("BUSY") => StoreError::unavailable(err),
        _ if err.code() == Some("CONFLICT") => {
            StoreError::Conflict(err.detail().unwrap_or("a record exists").to_owned())
        }
        redis::ErrorKind::UnexpectedReturnType => StoreError::Corrupt(err.to_string()),
        _ => StoreError::backend(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_and_dropped_connections_are_unavailable() {
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::TimedOut,
        ] {
            let err = store_error(RedisError::from(std::io::Error::from(kind)));
            assert!(
                matches!(err, StoreError::Unavailable(_)),
                "{kind:?}: {err:?}"
            );
        }
    }
}
