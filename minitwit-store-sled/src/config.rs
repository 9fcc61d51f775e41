//! [`SledConfig`]: where the store lives and how much memory it may use.

use std::path::{Path, PathBuf};

use minitwit_core::home::HomeCacheLimits;

/// How to open a [`SledStore`](crate::SledStore).
///
/// ```
/// use minitwit_store_sled::SledConfig;
///
/// let config = SledConfig::new("./minitwit-data").cache_capacity(16 * 1024 * 1024);
/// assert_eq!(config.cache_capacity_bytes(), 16 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledConfig {
    path: Option<PathBuf>,
    cache_capacity: u64,
    temporary: bool,
    home_cache: HomeCacheLimits,
}

impl SledConfig {
    /// The default bound of sled's page cache: 16 MiB. sled's memory is a
    /// multiple of this bound; 16 MiB keeps a server holding a million
    /// messages under 200 MiB with no loss of throughput (see
    /// `BENCHMARKS.md`, Memory).
    pub const DEFAULT_CACHE_CAPACITY: u64 = 16 * 1024 * 1024;

    /// The smallest accepted cache bound: 1 MiB.
    pub const MIN_CACHE_CAPACITY: u64 = 1024 * 1024;

    /// A store kept in the directory `path` (created when missing), with the
    /// default cache bound.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            cache_capacity: Self::DEFAULT_CACHE_CAPACITY,
            temporary: false,
            home_cache: HomeCacheLimits::DEFAULT,
        }
    }

    /// A store in a fresh directory of its own that is deleted when the
    /// store is dropped: for tests and throwaway runs.
    pub fn temporary() -> Self {
        Self {
            path: None,
            cache_capacity: Self::DEFAULT_CACHE_CAPACITY,
            temporary: true,
            home_cache: HomeCacheLimits::DEFAULT,
        }
    }

    /// Bounds the memory sled's page cache may use, in bytes (at least
    /// [`MIN_CACHE_CAPACITY`](Self::MIN_CACHE_CAPACITY)). sled further caps it
    /// to what the machine (or its cgroup) has.
    #[must_use]
    pub fn cache_capacity(mut self, bytes: u64) -> Self {
        self.cache_capacity = bytes;
        self
    }

    /// How much the in-memory home-timeline cache holds (see the `home`
    /// module; its `lifetime` is not used: entries live until evicted);
    /// [`HomeCacheLimits::OFF`] merges every home page over every followee
    /// (it also keeps no author's newest id in memory), tests use
    /// [`HomeCacheLimits::TINY`].
    #[must_use]
    pub fn home_cache(mut self, limits: HomeCacheLimits) -> Self {
        self.home_cache = limits;
        self
    }

    /// Whether to delete the directory when the store is dropped. A
    /// [`temporary`](Self::temporary) configuration always does.
    #[must_use]
    pub fn delete_on_drop(mut self, temporary: bool) -> Self {
        self.temporary = temporary || self.path.is_none();
        self
    }

    /// The directory, `None` for a [`temporary`](Self::temporary) store that
    /// picks its own.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How much the home-timeline cache holds.
    pub fn home_cache_limits(&self) -> HomeCacheLimits {
        self.home_cache
    }

    /// The cache bound in bytes.
    pub fn cache_capacity_bytes(&self) -> u64 {
        self.cache_capacity
    }

    /// Whether the directory is deleted when the store is dropped.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The sled configuration this stands for.
    pub(crate) fn to_sled(&self) -> sled::Config {
        let config = sled::Config::new()
            .cache_capacity(self.cache_capacity)
            .temporary(self.temporary);
        match &self.path {
            Some(path) => config.path(path),
            None => config,
        }
    }

    /// How to name the directory in messages.
    pub(crate) fn describe_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("<temporary directory>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_bounded() {
        let config = SledConfig::new("data");
        assert_eq!(config.path(), Some(Path::new("data")));
        assert_eq!(
            config.cache_capacity_bytes(),
            SledConfig::DEFAULT_CACHE_CAPACITY
        );
        assert!(!config.is_temporary());
    }

    #[test]
    fn temporary_stays_temporary() {
        let config = SledConfig::temporary().delete_on_drop(false);
        assert!(config.is_temporary());
        assert_eq!(config.path(), None);
        assert!(SledConfig::new("x").delete_on_drop(true).is_temporary());
    }
}
