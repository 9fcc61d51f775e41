//! How the persistent backends keep home timelines cheap: a cache of the
//! newest home entries of the readers who read lately, kept current by
//! posts, over a merge at read time.
//!
//! A home timeline is the reader's own messages and those of everyone they
//! follow. Merging the followees' timelines at read time costs one index
//! seek per followee: a reader following 2,000 people pays 2,000 seeks for
//! every page. Copying every post into every follower's home index (fan-out
//! on write) makes pages cheap but makes every post pay for every follower,
//! also for the many followers who never read: under the simulator, whose
//! users never read a home page, that halves the throughput.
//!
//! The backends shipped with MiniTwit do what large social networks do for
//! inactive users: they fan out only to **readers who read lately**. The
//! first home page a reader asks for is merged once, and its newest
//! [`HomeCacheLimits::entries`] ids are kept, with the reader registered as
//! a watcher of each author they see; every later post by one of those
//! authors adds its id to the reader's entry. A page within the entry costs
//! the page; a page that reaches below what the entry holds is merged as
//! before. A follow or an unfollow by the reader patches the entry instead
//! of dropping it: an unfollow removes the author's ids, a follow adds the
//! new author's newest ids (one short read of one author's timeline), so
//! the page after a follow change costs the page too, and a reader who
//! follows thousands and keeps changing them never costs a merge per
//! change. Entries of readers who stop reading go: the sled
//! store keeps the [`HomeCacheLimits::readers`] most recent readers, Redis
//! lets an entry expire [`HomeCacheLimits::lifetime`] after it was filled
//! (refreshing it on every read would make every read a write). What is
//! merged is merged cheaply where the backend can: the sled store keeps each
//! author's newest id in memory and opens only the followees whose messages
//! reach the page; Redis reads each followee's newest id first, then pages
//! only from those that reach it.
//!
//! The entry is derived data: a backend may lose it at any time (a restart,
//! an eviction) and rebuild it with one merge. What it must never do is
//! answer a page from an entry that misses a message: a post must reach
//! every entry that sees its author, including one being filled while it is
//! posted. Each backend says how it orders the two (`minitwit_store_sled::home`,
//! and the scripts of `minitwit_store_redis`).

use std::time::Duration;

pub mod cursors;

/// How much a backend's home cache holds (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomeCacheLimits {
    /// Newest home ids kept per reader: pages within them cost the page
    /// alone. 0 turns the cache off: every page is merged.
    pub entries: usize,
    /// Readers kept (sled: the least recently read goes first; Redis: the
    /// most readers one author's posts reach, beyond which a reader's
    /// pages read that author's newest posts when they are read). Either
    /// way, a post updates at most this many entries.
    pub readers: usize,
    /// How long an entry lives before the next read fills it again
    /// (Redis).
    pub lifetime: Duration,
}

impl HomeCacheLimits {
    /// 128 ids per reader (four pages of the site), 1,024 readers on sled
    /// (at most 2 MiB of ids with their authors, plus each reader's list of
    /// authors), an hour on Redis.
    pub const DEFAULT: Self = Self {
        entries: 128,
        readers: 1_024,
        lifetime: Duration::from_secs(60 * 60),
    };

    /// No cache: every home page is merged (the baseline of benchmarks).
    pub const OFF: Self = Self {
        entries: 0,
        readers: 0,
        lifetime: Duration::ZERO,
    };

    /// Three ids for two readers: every path of a cache (eviction,
    /// trimming, pages deeper than an entry) runs with a handful of
    /// messages. For tests.
    pub const TINY: Self = Self {
        entries: 3,
        readers: 2,
        lifetime: Duration::from_secs(60),
    };

    /// Whether the cache is on.
    pub fn is_on(&self) -> bool {
        self.entries > 0 && self.readers > 0 && !self.lifetime.is_zero()
    }
}

impl Default for HomeCacheLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cache_with_room_is_on() {
        assert!(HomeCacheLimits::DEFAULT.is_on());
        assert!(HomeCacheLimits::TINY.is_on());
        assert!(!HomeCacheLimits::OFF.is_on());
        let no_entries = HomeCacheLimits {
            entries: 0,
            ..HomeCacheLimits::DEFAULT
        };
        assert!(!no_entries.is_on());
    }
}
