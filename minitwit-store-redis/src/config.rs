//! [`RedisConfig`]: where the Redis server is, which part of it is ours, and
//! how long to wait for it.

use std::time::Duration;

use minitwit_core::home::HomeCacheLimits;

use crate::RedisStoreError;
use crate::layout::WRITE_TOKEN_TTL;

/// How to reach Redis and how to behave when it is slow or gone.
///
/// Build it with [`RedisConfig::new`] and adjust the public fields. The
/// defaults are chosen for the simulator, which gives every HTTP request
/// 0.3 s: a store call either answers well inside that or fails soon enough
/// for the frontend to still answer with an error.
///
/// * When Redis is down (connection refused), a call fails at once with
///   [`StoreError::Unavailable`](minitwit_core::StoreError::Unavailable):
///   the refusal arrives in well under a millisecond on a LAN.
/// * When Redis is unreachable (a host that does not answer), a reconnection
///   attempt gives up after [`connect_timeout`](Self::connect_timeout).
/// * When Redis is alive but stalled, a call gives up after
///   [`response_timeout`](Self::response_timeout). A healthy Redis answers
///   every command of this crate in about a millisecond (a page of 10,000
///   messages in a few), so the deadline leaves ample room for hiccups
///   (a fork for a snapshot, a busy neighbour) without letting one request
///   hang past the simulator's timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The server: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`
    /// (`redis+unix:///path/to/socket` also works).
    pub url: String,
    /// The prefix of every key this store reads or writes (see
    /// [`layout`](crate::layout)): several MiniTwits, or test runs, share one
    /// server without seeing each other's data. ASCII letters, digits, `-`,
    /// `_` and `.` only, 1 to 64 characters; default `minitwit`.
    pub namespace: String,
    /// How long one attempt to open a connection may take (TCP connect plus
    /// the Redis handshake). Default 100 ms.
    pub connect_timeout: Duration,
    /// The deadline of a whole store call: waiting for a connection being
    /// re-established, the command or script, the script reload that
    /// follows a Redis restart, and the single re-send after a broken
    /// connection (see the crate docs). Default 250 ms; at most
    /// [`MAX_RESPONSE_TIMEOUT`], so that a re-sent write always finds the
    /// write token of its first run (see [`layout`](crate::layout)).
    pub response_timeout: Duration,
    /// How many times a broken connection is re-dialled, with exponential
    /// backoff starting at [`reconnect_delay`](Self::reconnect_delay), before
    /// the reconnection counts as failed. Default 0: one attempt, started as
    /// soon as the connection is found broken. Calls made while an attempt
    /// runs wait for it; once it has failed, calls fail at once and the next
    /// call starts a new attempt, so a restarted Redis is picked up by the
    /// first call after it is back. Larger values make calls during an outage
    /// wait (up to [`response_timeout`](Self::response_timeout)) instead of
    /// failing at once.
    pub reconnect_retries: usize,
    /// The first backoff delay between re-dials when
    /// [`reconnect_retries`](Self::reconnect_retries) is above 0; it doubles
    /// on each retry, capped at [`response_timeout`](Self::response_timeout).
    /// Default 10 ms.
    pub reconnect_delay: Duration,
    /// How much the home-timeline cache holds (see [`minitwit_core::home`]).
    /// Entries expire after their `lifetime`; `readers` is the most readers
    /// one author's posts are added to (1,024 by default), so that a post
    /// costs at most that many entry updates: a reader who would be one
    /// more reads that author's newest posts at page time instead
    /// (`N:home_pulled`, at most
    /// [`HOME_PULLED_MAX`](crate::layout::HOME_PULLED_MAX) authors per
    /// reader, beyond which the reader keeps no entry and their pages are
    /// merged).
    /// The default suits every deployment; tests use a tiny one to run every
    /// path with little data. Instances that share a namespace should use
    /// the same.
    pub home_cache: HomeCacheLimits,
    /// The most followees one Lua script of a home timeline merge reads
    /// (default [`DEFAULT_MERGE_CHUNK`], at least 1): a reader who follows
    /// more is merged in several scripts, so that Redis, which runs one
    /// script at a time for every instance, serves other requests between
    /// them instead of waiting for one reader's merge. Tests use a tiny
    /// one to run the chunked merge with little data.
    pub merge_chunk: usize,
}

/// The default [`RedisConfig::merge_chunk`]: a script over this many
/// followees costs Redis about half a millisecond.
pub const DEFAULT_MERGE_CHUNK: usize = 128;
/// The namespace used when none is configured.
pub const DEFAULT_NAMESPACE: &str = "minitwit";
/// The default [`RedisConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
/// The default [`RedisConfig::response_timeout`].
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// The longest accepted [`RedisConfig::response_timeout`]: well below
/// [`WRITE_TOKEN_TTL`], the lifetime of the record that makes a re-sent
/// write harmless.
pub const MAX_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const _: () = assert!(MAX_RESPONSE_TIMEOUT.as_secs() < WRITE_TOKEN_TTL.as_secs());
/// Longest accepted namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;

impl RedisConfig {
    /// The configuration for the server at `url`, with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            reconnect_retries: 0,
            reconnect_delay: Duration::from_millis(10),
            home_cache: HomeCacheLimits::DEFAULT,
            merge_chunk: DEFAULT_MERGE_CHUNK,
        }
    }

    /// The same configuration with another namespace.
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Checks what can be checked without a server.
    ///
    /// # Errors
    /// [`RedisStoreError::InvalidNamespace`],
    /// [`RedisStoreError::InvalidTimeout`] or
    /// [`RedisStoreError::InvalidMergeChunk`].
    pub fn validate(&self) -> Result<(), RedisStoreError> {
        validate_namespace(&self.namespace)?;
        if self.merge_chunk == 0 {
            return Err(RedisStoreError::InvalidMergeChunk);
        }
        if self.connect_timeout.is_zero()
            || self.response_timeout.is_zero()
            || self.response_timeout > MAX_RESPONSE_TIMEOUT
        {
            return Err(RedisStoreError::InvalidTimeout);
        }
        Ok(())
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// Namespaces may not contain `:` (nor anything but a few safe characters),
/// so that no key of one namespace can be a key of another: `a` and
/// `a:timeline` would otherwise both own `a:timeline:user:5`.
fn validate_namespace(namespace: &str) -> Result<(), RedisStoreError> {
    let valid = !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE_LEN
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(RedisStoreError::InvalidNamespace(namespace.to_owned()))
    }
}

fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_the_simulator() {
        let config = RedisConfig::new("redis://127.0.0.1:6379");
        assert_eq!(config.namespace, "minitwit");
        assert!(config.connect_timeout < Duration::from_millis(300));
        assert!(config.response_timeout < Duration::from_millis(300));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn namespaces_cannot_overlap() {
        for bad in ["", "a:b", "with space", "ü", &"x".repeat(65)] {
            let config = RedisConfig::new("redis://h").with_namespace(bad);
            assert!(
                matches!(config.validate(), Err(RedisStoreError::InvalidNamespace(_))),
                "{bad:?} was accepted"
            );
        }
        for good in ["minitwit", "test-1_2.3", "A"] {
            assert!(
                RedisConfig::new("redis://h")
                    .with_namespace(good)
                    .validate()
                    .is_ok()
            );
        }
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let mut config = RedisConfig::new("redis://h");
        config.response_timeout = Duration::ZERO;
        assert!(matches!(
            config.validate(),
            Err(RedisStoreError::InvalidTimeout)
        ));
    }

    #[test]
    fn a_merge_chunk_of_nothing_is_refused() {
        let mut config = RedisConfig::new("redis://h");
        config.merge_chunk = 0;
        assert!(matches!(
            config.validate(),
            Err(RedisStoreError::InvalidMergeChunk)
        ));
        config.merge_chunk = 1;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn response_timeouts_stay_below_the_write_token_lifetime() {
        let mut config = RedisConfig::new("redis://h");
        config.response_timeout = MAX_RESPONSE_TIMEOUT;
        assert!(config.validate().is_ok());
        config.response_timeout = MAX_RESPONSE_TIMEOUT + Duration::from_millis(1);
        assert!(matches!(
            config.validate(),
            Err(RedisStoreError::InvalidTimeout)
        ));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("redis://:pw@host:1/2"), "redis://***@host:1/2");
        assert_eq!(redact("redis://user:p@ss@host"), "redis://***@host");
        assert_eq!(redact("redis://host:6379/0"), "redis://host:6379/0");
        assert_eq!(redact("not a url"), "not a url");
    }
}
