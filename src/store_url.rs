//! `MINITWIT_STORE` URLs: which backend, and where.

use std::fmt;
use std::path::PathBuf;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sled:PATH`: the embedded store in a directory.
    Sled(PathBuf),
    /// `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]`: a shared Redis.
    Redis(String),
    /// `memory:`: nothing persisted; for trying things out.
    Memory,
}

/// A store URL we cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadStoreUrl {
    /// Not one of the accepted forms.
    #[error(
        "unsupported store {0:?}: use sled:PATH (e.g. sled:./minitwit-data), redis://HOST:PORT[/DB] or memory:"
    )]
    Unsupported(String),
    /// `rediss://`: this build speaks to Redis without TLS.
    #[error(
        "rediss:// (Redis over TLS) is not supported: use redis:// to a Redis on a private \
         network, or a TLS tunnel (such as stunnel) on this machine"
    )]
    Tls,
}

impl StoreUrl {
    /// Parses a store URL.
    ///
    /// # Errors
    /// [`BadStoreUrl`] naming the accepted forms.
    pub fn parse(raw: &str) -> Result<Self, BadStoreUrl> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sled:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(BadStoreUrl::Unsupported(raw.to_owned()));
            }
            return Ok(Self::Sled(PathBuf::from(path)));
        }
        if raw.starts_with("rediss://") {
            return Err(BadStoreUrl::Tls);
        }
        if raw.starts_with("redis://") {
            return Ok(Self::Redis(raw.to_owned()));
        }
        if raw == "memory:" || raw == "memory" {
            return Ok(Self::Memory);
        }
        Err(BadStoreUrl::Unsupported(raw.to_owned()))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sled(path) => write!(f, "sled:{}", path.display()),
            // The URL may carry a password: show only where it points.
            Self::Redis(url) => {
                let shown = url.rsplit_once('@').map_or(url.as_str(), |(_, host)| host);
                write!(f, "redis://{}", shown.trim_start_matches("redis://"))
            }
            Self::Memory => f.write_str("memory:"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        assert_eq!(
            StoreUrl::parse("sled:./minitwit-data"),
            Ok(StoreUrl::Sled("./minitwit-data".into()))
        );
        assert_eq!(
            StoreUrl::parse("sled:/var/lib/mt"),
            Ok(StoreUrl::Sled("/var/lib/mt".into()))
        );
        assert_eq!(
            StoreUrl::parse("redis://127.0.0.1:6379/2"),
            Ok(StoreUrl::Redis("redis://127.0.0.1:6379/2".into()))
        );
        assert_eq!(StoreUrl::parse("memory:"), Ok(StoreUrl::Memory));
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for bad in ["", "sled:", "postgres://x", "./data"] {
            let err = StoreUrl::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("sled:PATH"), "{bad}: {err}");
        }
    }

    #[test]
    fn display_hides_redis_passwords() {
        let url = StoreUrl::Redis("redis://:hunter2@db:6379/0".into());
        assert_eq!(url.to_string(), "redis://db:6379/0");
    }
}
