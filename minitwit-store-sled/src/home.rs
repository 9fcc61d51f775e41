//! Home timelines: the home cache of [`minitwit_core::home`] in memory,
//! over the merge at read time of the `timeline` module.
//!
//! One process owns a sled directory, so the cache lives in its memory: for
//! each of the last [`HomeCacheLimits::readers`] readers, the ids of their
//! newest [`HomeCacheLimits::entries`] home messages. A post adds its id to
//! the cached readers who see its author (a few nanoseconds each, nothing on
//! disk, nothing at all for authors no recent reader follows); a follow or
//! an unfollow drops the reader's entry. The cache is derived data: nothing
//! in it needs to survive a crash, and a restart starts it empty.
//!
//! Races are ruled out by order: a post adds its id after its commit point,
//! under the cache's lock; a reader's entry is registered (with its
//! followees as watched authors) before the merge that fills it reads sled,
//! so a post either finds the entry or commits before the merge reads; and
//! a follow or unfollow moves the reader's epoch on before it drops the
//! entry, so a merge that overlapped it is not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use minitwit_core::home::HomeCacheLimits;
use minitwit_core::{MessageId, PageRequest, UserId};

/// Readers' epochs are striped over this many counters: a follow by one
/// reader makes an overlapping merge of another reader on its stripe start
/// over, which costs a merge, never a wrong page.
const EPOCH_STRIPES: usize = 1_024;

/// The cache (see the module docs).
#[derive(Debug)]
pub(crate) struct HomeCache {
    limits: HomeCacheLimits,
    state: Mutex<State>,
    epochs: Vec<AtomicU64>,
}

#[derive(Debug, Default)]
struct State {
    readers: HashMap<UserId, Reader>,
    /// Author → the cached readers who see the author's posts (followers
    /// and the author).
    watchers: HashMap<UserId, Vec<UserId>>,
    /// Moves on at every use, for least-recently-used eviction.
    clock: u64,
}

#[derive(Debug)]
struct Reader {
    /// Which fill this entry belongs to.
    fill: u64,
    /// Whether the merge that fills it has finished.
    ready: bool,
    /// Message ids, ascending (newest last).
    ids: Vec<u64>,
    /// Every home message with an id of at least this is in `ids`.
    complete_from: u64,
    /// The authors this reader watches.
    authors: Vec<UserId>,
    last_used: u64,
}

/// A fill in progress: what [`HomeCache::begin_fill`] returns and
/// [`HomeCache::finish_fill`] takes.
#[derive(Debug)]
pub(crate) struct Fill {
    reader: UserId,
    fill: u64,
    epoch: u64,
}

impl HomeCache {
    pub(crate) fn new(limits: HomeCacheLimits) -> Self {
        Self {
            limits,
            state: Mutex::default(),
            epochs: (0..EPOCH_STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn epoch(&self, reader: UserId) -> &AtomicU64 {
        let stripe = usize::try_from(reader.0 % EPOCH_STRIPES as u64).unwrap_or_default();
        &self.epochs[stripe]
    }

    /// The reader's epoch now: read it before reading their followees.
    pub(crate) fn epoch_now(&self, reader: UserId) -> u64 {
        self.epoch(reader).load(Ordering::SeqCst)
    }

    /// One page of `reader`'s home timeline from the cache, when the cache
    /// holds all of it.
    pub(crate) fn page(&self, reader: UserId, page: PageRequest) -> Option<Vec<MessageId>> {
        let mut state = self.state();
        state.clock += 1;
        let clock = state.clock;
        let cached = state
            .readers
            .get_mut(&reader)
            .filter(|cached| cached.ready)?;
        cached.last_used = clock;
        let below = page.before.map_or(u64::MAX, |before| before.0);
        // Only the complete part of the entry can answer a page.
        let from = cached.complete_from;
        let ids: Vec<MessageId> = cached
            .ids
            .iter()
            .rev()
            .copied()
            .filter(|id| *id < below && *id >= from)
            .take(page.limit)
            .map(MessageId)
            .collect();
        (ids.len() == page.limit || cached.complete_from == 0).then_some(ids)
    }

    /// Starts filling `reader`'s entry, who sees `authors` (their followees
    /// and themselves), with the epoch read before those were read; `None`
    /// when the cache is off.
    pub(crate) fn begin_fill(
        &self,
        reader: UserId,
        authors: Vec<UserId>,
        epoch: u64,
    ) -> Option<Fill> {
        if !self.limits.is_on() {
            return None;
        }
        let mut state = self.state();
        state.forget(reader);
        while state.readers.len() >= self.limits.readers {
            let Some(oldest) = state
                .readers
                .iter()
                .min_by_key(|(_, cached)| cached.last_used)
                .map(|(reader, _)| *reader)
            else {
                break;
            };
            state.forget(oldest);
        }
        state.clock += 1;
        let fill = state.clock;
        for author in &authors {
            state.watchers.entry(*author).or_default().push(reader);
        }
        state.readers.insert(
            reader,
            Reader {
                fill,
                ready: false,
                ids: Vec::new(),
                complete_from: 0,
                authors,
                last_used: fill,
            },
        );
        Some(Fill {
            reader,
            fill,
            epoch,
        })
    }

    /// Ends a fill with the newest home ids the merge found (newest first,
    /// at most [`HomeCacheLimits::entries`], all of them when fewer): kept
    /// unless a follow or an unfollow of the reader overlapped the merge.
    pub(crate) fn finish_fill(&self, fill: Fill, newest_first: &[MessageId]) {
        let mut state = self.state();
        let current = self.epoch_now(fill.reader) == fill.epoch;
        let Some(cached) = state
            .readers
            .get_mut(&fill.reader)
            .filter(|cached| cached.fill == fill.fill)
        else {
            return;
        };
        if !current {
            state.forget(fill.reader);
            return;
        }
        let merged = newest_first.len() == self.limits.entries;
        // Posts that arrived during the merge are in `ids` already.
        cached.ids.extend(newest_first.iter().map(|id| id.0));
        cached.ids.sort_unstable();
        cached.ids.dedup();
        // Posts trimmed during the merge raised `complete_from` already.
        if merged {
            let oldest = newest_first.last().map_or(0, |id| id.0);
            cached.complete_from = cached.complete_from.max(oldest);
        }
        cached.ready = true;
        trim(cached, self.limits.entries);
    }

    /// A post committed: its id joins the entries of the cached readers
    /// who see its author.
    pub(crate) fn posted(&self, author: UserId, id: MessageId) {
        let mut state = self.state();
        let State {
            readers, watchers, ..
        } = &mut *state;
        let Some(watching) = watchers.get(&author) else {
            return;
        };
        for reader in watching {
            if let Some(cached) = readers.get_mut(reader) {
                if let Err(at) = cached.ids.binary_search(&id.0) {
                    cached.ids.insert(at, id.0);
                }
                trim(cached, self.limits.entries);
            }
        }
    }

    /// `reader` followed or unfollowed someone (the change is written):
    /// their entry goes, and a merge that overlapped the change is not kept.
    pub(crate) fn follows_changed(&self, reader: UserId) {
        self.epoch(reader).fetch_add(1, Ordering::SeqCst);
        self.state().forget(reader);
    }

    /// Everything goes (after an import or a clear).
    pub(crate) fn clear(&self) {
        for epoch in &self.epochs {
            epoch.fetch_add(1, Ordering::SeqCst);
        }
        let mut state = self.state();
        state.readers.clear();
        state.watchers.clear();
    }

    /// Whether `reader` has an entry (filled or being filled).
    pub(crate) fn holds(&self, reader: UserId) -> bool {
        self.state().readers.contains_key(&reader)
    }

    /// How many entries a reader's fill asks for.
    pub(crate) fn entries(&self) -> usize {
        self.limits.entries
    }

    /// How many readers are cached.
    #[cfg(test)]
    fn readers(&self) -> usize {
        self.state().readers.len()
    }
}

impl State {
    fn forget(&mut self, reader: UserId) {
        let Some(cached) = self.readers.remove(&reader) else {
            return;
        };
        for author in cached.authors {
            if let Some(watching) = self.watchers.get_mut(&author) {
                watching.retain(|watcher| *watcher != reader);
                if watching.is_empty() {
                    self.watchers.remove(&author);
                }
            }
        }
    }
}

/// Keeps the newest `entries` ids; what goes raises the completeness bound.
fn trim(cached: &mut Reader, entries: usize) {
    if let Some(excess) = cached.ids.len().checked_sub(entries)
        && excess > 0
    {
        cached.ids.drain(..excess);
        let oldest = cached.ids.first().copied().unwrap_or(0);
        cached.complete_from = cached.complete_from.max(oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(readers: usize, entries: usize) -> HomeCacheLimits {
        HomeCacheLimits {
            readers,
            entries,
            ..HomeCacheLimits::DEFAULT
        }
    }

    fn ids(raw: &[u64]) -> Vec<MessageId> {
        raw.iter().copied().map(MessageId).collect()
    }

    fn filled(cache: &HomeCache, reader: u64, authors: &[u64], newest_first: &[u64]) {
        let reader = UserId(reader);
        let authors = authors.iter().copied().map(UserId).collect();
        let epoch = cache.epoch_now(reader);
        if let Some(fill) = cache.begin_fill(reader, authors, epoch) {
            cache.finish_fill(fill, &ids(newest_first));
        }
    }

    #[test]
    fn a_filled_reader_gets_pages_and_new_posts() {
        let cache = HomeCache::new(limits(4, 4));
        filled(&cache, 1, &[1, 2], &[9, 7, 5]);
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(2)),
            Some(ids(&[9, 7]))
        );
        cache.posted(UserId(2), MessageId(11));
        cache.posted(UserId(3), MessageId(12));
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(10)),
            Some(ids(&[11, 9, 7, 5])),
            "fewer than the limit were merged, so the cache holds them all"
        );
        cache.posted(UserId(1), MessageId(13));
        // Trimmed to four: 5 went, so a page reaching below 7 is not known.
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(4)),
            Some(ids(&[13, 11, 9, 7]))
        );
        assert_eq!(
            cache.page(UserId(1), PageRequest::before(MessageId(9), 2)),
            None
        );
    }

    #[test]
    fn a_full_merge_marks_what_may_be_missing() {
        let cache = HomeCache::new(limits(4, 2));
        filled(&cache, 1, &[1], &[9, 7]);
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(2)),
            Some(ids(&[9, 7]))
        );
        assert_eq!(cache.page(UserId(1), PageRequest::first(3)), None);
    }

    #[test]
    fn a_follow_change_drops_the_reader_and_a_merge_that_overlapped_it() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        filled(&cache, 1, &[1], &[3]);
        cache.follows_changed(UserId(1));
        assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
        let epoch = cache.epoch_now(UserId(1));
        let fill = cache.begin_fill(UserId(1), vec![UserId(1)], epoch);
        cache.follows_changed(UserId(1));
        if let Some(fill) = fill {
            cache.finish_fill(fill, &ids(&[3]));
        }
        assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
        assert_eq!(cache.readers(), 0);
    }

    #[test]
    fn posts_trimmed_during_a_merge_are_not_taken_for_complete() {
        let cache = HomeCache::new(limits(4, 2));
        let epoch = cache.epoch_now(UserId(1));
        let fill = cache.begin_fill(UserId(1), vec![UserId(2)], epoch);
        for id in [20, 21, 22] {
            cache.posted(UserId(2), MessageId(id));
        }
        if let Some(fill) = fill {
            // The merge ran before those posts and found nothing.
            cache.finish_fill(fill, &[]);
        }
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(2)),
            Some(ids(&[22, 21]))
        );
        assert_eq!(cache.page(UserId(1), PageRequest::first(3)), None);
    }

    #[test]
    fn posts_during_a_merge_are_kept() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        let epoch = cache.epoch_now(UserId(1));
        let fill = cache.begin_fill(UserId(1), vec![UserId(1), UserId(2)], epoch);
        cache.posted(UserId(2), MessageId(20));
        if let Some(fill) = fill {
            // The merge may or may not have seen it: once either way.
            cache.finish_fill(fill, &ids(&[20, 4]));
        }
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(10)),
            Some(ids(&[20, 4]))
        );
    }

    #[test]
    fn the_least_recently_read_reader_goes_first() {
        let cache = HomeCache::new(limits(2, 8));
        filled(&cache, 1, &[1], &[1]);
        filled(&cache, 2, &[2], &[2]);
        assert!(cache.page(UserId(1), PageRequest::first(1)).is_some());
        filled(&cache, 3, &[3], &[3]);
        assert_eq!(cache.readers(), 2);
        assert!(cache.page(UserId(2), PageRequest::first(1)).is_none());
        assert!(cache.page(UserId(1), PageRequest::first(1)).is_some());
        // A post by an evicted reader's author touches nobody.
        cache.posted(UserId(2), MessageId(9));
        assert_eq!(
            cache.page(UserId(3), PageRequest::first(5)),
            Some(ids(&[3]))
        );
    }

    #[test]
    fn a_cache_that_is_off_holds_nothing() {
        let cache = HomeCache::new(HomeCacheLimits::OFF);
        assert!(cache.begin_fill(UserId(1), vec![UserId(1)], 0).is_none());
        assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
    }
}
