//! [`ApiConfig`]: where the API is mounted, whom it lets in, and its limits.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minitwit_core::MAX_REQUEST_BODY_BYTES;

/// The username the simulator authenticates with.
pub const DEFAULT_USERNAME: &str = "simulator";
/// The password the simulator authenticates with.
pub const DEFAULT_PASSWORD: &str = "super_safe!";

/// The value of an `Authorization` header for HTTP Basic authentication with
/// `username` and `password`: `Basic base64(username:password)`.
///
/// ```
/// assert_eq!(
///     minitwit_sim_api::basic_authorization("simulator", "super_safe!"),
///     "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh",
/// );
/// ```
pub fn basic_authorization(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

/// How the simulator API is mounted and what it accepts.
///
/// Every field has a default that matches the simulator (see
/// [`ApiConfig::default`]); change the ones you need:
///
/// ```
/// use minitwit_sim_api::ApiConfig;
///
/// let config = ApiConfig {
///     prefix: "/v2".into(),
///     max_no: 500,
///     ..ApiConfig::default()
/// }
/// .with_credential("replayer", "another secret");
/// assert_eq!(config.prefix, "/v2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the API is mounted: `"/api"` by default, `"/"` to serve it at
    /// the root (of a port of its own, since the HTML site owns `/`).
    /// A trailing slash is ignored; a query or an empty segment is refused.
    pub prefix: String,
    /// The exact `Authorization` header value every request but
    /// `GET /latest` must carry. Build it with
    /// [`ApiConfig::with_credential`] or [`basic_authorization`].
    pub authorization: String,
    /// The largest `no` honoured; a larger one counts as this (default
    /// 10 000).
    pub max_no: usize,
    /// The `no` used when a request has none (default 100).
    pub default_no: usize,
    /// The largest request body accepted, in bytes; a larger one is answered
    /// `413`. The default,
    /// [`MAX_REQUEST_BODY_BYTES`](minitwit_core::MAX_REQUEST_BODY_BYTES), fits
    /// the longest valid message however it is encoded.
    pub max_body_bytes: u64,
}

impl Default for ApiConfig {
    /// Mounted at `/api`, the simulator's credential
    /// (`simulator` / `super_safe!`), `no` 100 by default and at most 10 000,
    /// bodies up to what the longest valid message needs.
    fn default() -> Self {
        Self {
            prefix: "/api".to_owned(),
            authorization: basic_authorization(DEFAULT_USERNAME, DEFAULT_PASSWORD),
            max_no: 10_000,
            default_no: 100,
            max_body_bytes: MAX_REQUEST_BODY_BYTES as u64,
        }
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("prefix", &self.prefix)
            .field("authorization", &"<redacted>")
            .field("max_no", &self.max_no)
            .field("default_no", &self.default_no)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl ApiConfig {
    /// Accepts HTTP Basic authentication with `username` and `password`
    /// instead of the simulator's.
    #[must_use]
    pub fn with_credential(mut self, username: &str, password: &str) -> Self {
        self.authorization = basic_authorization(username, password);
        self
    }

    /// Mounts the API at `prefix`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix in the form Rocket mounts: a leading slash, no trailing
    /// slash (except for the root, `"/"`).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPrefix`] when the prefix has a query, a
    /// fragment, an empty or dot segment, or is not a valid URI path.
    pub fn normalized_prefix(&self) -> Result<String, ConfigError> {
        normalize_prefix(&self.prefix)
    }

    /// The `no` to use for a request that asked for `requested` (a parsed
    /// integer, `None` when absent): negative counts as 0, above
    /// [`max_no`](Self::max_no) as the maximum.
    pub(crate) fn clamp_no(&self, requested: Option<i128>) -> usize {
        let Some(requested) = requested else {
            return self.default_no.min(self.max_no);
        };
        if requested <= 0 {
            return 0;
        }
        usize::try_from(requested).map_or(self.max_no, |no| no.min(self.max_no))
    }
}

/// A configuration the API cannot be mounted with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The prefix is not a plain absolute path.
    #[error("invalid API prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The prefix as configured.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn normalize_prefix(raw: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::InvalidPrefix {
        prefix: raw.to_owned(),
        reason,
    };
    if !raw.starts_with('/') {
        return Err(invalid("it must start with '/'"));
    }
    if raw.contains(['?', '#']) {
        return Err(invalid("it may not contain a query or a fragment"));
    }
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok("/".to_owned());
    }
    if trimmed[1..]
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(invalid("it may not contain empty, '.' or '..' segments"));
    }
    match rocket::http::uri::Origin::parse(trimmed) {
        Ok(origin) if origin.query().is_none() => Ok(trimmed.to_owned()),
        _ => Err(invalid("it is not a valid URI path")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_credential_is_the_simulators() {
        assert_eq!(
            ApiConfig::default().authorization,
            "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"
        );
    }

    #[test]
    fn debug_hides_the_credential() {
        assert!(!format!("{:?}", ApiConfig::default()).contains("c2ltdWxhdG9y"));
    }

    #[test]
    fn prefixes_are_normalized() {
        for (raw, normalized) in [
            ("/api", "/api"),
            ("/api/", "/api"),
            ("/", "/"),
            ("//", "/"),
            ("/v2/sim", "/v2/sim"),
        ] {
            assert_eq!(normalize_prefix(raw).as_deref(), Ok(normalized), "{raw}");
        }
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for raw in [
            "", "api", "/api?x=1", "/a#b", "/a//b", "/a/../b", "/a b", "/<x>",
        ] {
            assert!(normalize_prefix(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn no_is_clamped() {
        let config = ApiConfig {
            max_no: 50,
            default_no: 100,
            ..ApiConfig::default()
        };
        assert_eq!(config.clamp_no(None), 50);
        assert_eq!(config.clamp_no(Some(-5)), 0);
        assert_eq!(config.clamp_no(Some(0)), 0);
        assert_eq!(config.clamp_no(Some(7)), 7);
        assert_eq!(config.clamp_no(Some(51)), 50);
        assert_eq!(config.clamp_no(Some(i128::MAX)), 50);
        assert_eq!(ApiConfig::default().clamp_no(None), 100);
    }
}
