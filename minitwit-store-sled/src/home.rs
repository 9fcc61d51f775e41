//! Home timelines: the home cache of [`minitwit_core::home`] in memory,
//! over the merge at read time of the `timeline` module.
//!
//! One process owns a sled directory, so the cache lives in its memory: for
//! each of the last [`HomeCacheLimits::readers`] readers, the ids (and
//! authors) of their newest [`HomeCacheLimits::entries`] home messages. A
//! post adds its id to the cached readers who see its author (a few
//! nanoseconds each, nothing on disk, nothing at all for authors no recent
//! reader follows). A follow or an unfollow **patches** the reader's entry
//! instead of dropping it, so that the next page still costs the page, not
//! a merge over every followee: an unfollow removes the author's ids, a
//! follow adds the new followee's newest `entries` ids (one short scan of
//! one author's index). The cache is derived data: nothing in it needs to
//! survive a crash, and a restart starts it empty.
//!
//! Races are ruled out by order: a post adds its id after its commit point,
//! under the cache's lock; a reader's entry is registered (with its
//! followees as watched authors) before the merge that fills it reads sled,
//! so a post either finds the entry or commits before the merge reads. A
//! follow registers the new author as watched and takes the entry out of
//! service (pages are merged meanwhile) before it scans the author's
//! index, for the same reason. Every follow or unfollow moves the reader's
//! epoch on, so a merge that overlapped it is not kept (a fill that read
//! the followees before the change may register after it), and one that
//! finds the entry being filled or patched drops the entry.

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
    /// Message ids with their authors, ascending by id (newest last).
    ids: Vec<(u64, UserId)>,
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

/// A follow being patched into a cached entry: what [`HomeCache::followed`]
/// returns and [`HomeCache::finish_patch`] takes.
#[derive(Debug)]
pub(crate) struct Patch {
    reader: UserId,
    fill: u64,
    /// The new followee, whose newest ids the patch needs.
    pub(crate) author: UserId,
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
            .map(|(id, _)| *id)
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

    /// Ends a fill with the newest home ids the merge found, with their
    /// authors (newest first, at most [`HomeCacheLimits::entries`], all of
    /// them when fewer): kept unless a follow or an unfollow of the reader
    /// overlapped the merge.
    pub(crate) fn finish_fill(&self, fill: Fill, newest_first: &[(MessageId, UserId)]) {
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
        cached
            .ids
            .extend(newest_first.iter().map(|(id, author)| (id.0, *author)));
        sort_and_dedup(&mut cached.ids);
        // Posts trimmed during the merge raised `complete_from` already.
        if merged {
            let oldest = newest_first.last().map_or(0, |(id, _)| id.0);
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
                if let Err(at) = cached.ids.binary_search_by_key(&id.0, |(id, _)| *id) {
                    cached.ids.insert(at, (id.0, author));
                }
                trim(cached, self.limits.entries);
            }
        }
    }

    /// `reader` now follows `author` (the edge is written). A filled entry
    /// starts watching `author` and is taken out of service until
    /// [`finish_patch`](Self::finish_patch) adds the author's newest ids
    /// (the caller reads them after this returns); any other entry goes, as
    /// does a merge that overlapped the change. `None` when there is
    /// nothing to patch.
    pub(crate) fn followed(&self, reader: UserId, author: UserId) -> Option<Patch> {
        // A fill that read the followees before the change and registers
        // after it (replacing this entry) must not be kept.
        self.epoch(reader).fetch_add(1, Ordering::SeqCst);
        let mut state = self.state();
        let Some(cached) = state
            .readers
            .get_mut(&reader)
            .filter(|cached| cached.ready && reader != author)
        else {
            state.forget(reader);
            return None;
        };
        if cached.authors.contains(&author) {
            // Already watched: the entry holds the author's ids already.
            return None;
        }
        cached.ready = false;
        cached.authors.push(author);
        let fill = cached.fill;
        state.watchers.entry(author).or_default().push(reader);
        Some(Patch {
            reader,
            fill,
            author,
        })
    }

    /// Ends a follow's patch with the new author's newest ids (newest
    /// first, at most [`HomeCacheLimits::entries`]), or drops the entry
    /// when they could not be read (`None`).
    pub(crate) fn finish_patch(&self, patch: Patch, newest_first: Option<&[MessageId]>) {
        let mut state = self.state();
        let Some(cached) = state
            .readers
            .get_mut(&patch.reader)
            .filter(|cached| cached.fill == patch.fill && !cached.ready)
        else {
            return;
        };
        let Some(newest_first) = newest_first else {
            state.forget(patch.reader);
            return;
        };
        // With a full read, the author may have older ids that it missed:
        // the entry is complete only from the oldest it read.
        if newest_first.len() == self.limits.entries {
            let oldest = newest_first.last().map_or(0, |id| id.0);
            cached.complete_from = cached.complete_from.max(oldest);
        }
        let from = cached.complete_from;
        cached.ids.extend(
            newest_first
                .iter()
                .filter(|id| id.0 >= from)
                .map(|id| (id.0, patch.author)),
        );
        sort_and_dedup(&mut cached.ids);
        cached.ready = true;
        trim(cached, self.limits.entries);
    }

    /// `reader` no longer follows `author` (the edge is removed): a filled
    /// entry loses the author's ids and stops watching them; any other
    /// entry goes, as does a merge that overlapped the change.
    pub(crate) fn unfollowed(&self, reader: UserId, author: UserId) {
        // As in `followed`.
        self.epoch(reader).fetch_add(1, Ordering::SeqCst);
        let mut state = self.state();
        let patched = match state.readers.get_mut(&reader) {
            Some(cached) if cached.ready && reader != author => {
                cached.ids.retain(|(_, by)| *by != author);
                cached.authors.retain(|watched| *watched != author);
                true
            }
            _ => false,
        };
        if patched {
            state.unwatch(author, reader);
        } else {
            state.forget(reader);
        }
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
            self.unwatch(author, reader);
        }
    }

    fn unwatch(&mut self, author: UserId, reader: UserId) {
        if let Some(watching) = self.watchers.get_mut(&author) {
            watching.retain(|watcher| *watcher != reader);
            if watching.is_empty() {
                self.watchers.remove(&author);
            }
        }
    }
}

/// Sorts an entry's ids and drops repeats (a post seen both by a merge and
/// by the post itself).
fn sort_and_dedup(ids: &mut Vec<(u64, UserId)>) {
    ids.sort_unstable_by_key(|(id, _)| *id);
    ids.dedup_by_key(|(id, _)| *id);
}

/// Keeps the newest `entries` ids; what goes raises the completeness bound.
fn trim(cached: &mut Reader, entries: usize) {
    if let Some(excess) = cached.ids.len().checked_sub(entries)
        && excess > 0
    {
        cached.ids.drain(..excess);
        let oldest = cached.ids.first().map_or(0, |(id, _)| *id);
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

    /// Ids with their authors, from `(id, author)` pairs.
    fn by(raw: &[(u64, u64)]) -> Vec<(MessageId, UserId)> {
        raw.iter()
            .map(|(id, author)| (MessageId(*id), UserId(*author)))
            .collect()
    }

    fn filled(cache: &HomeCache, reader: u64, authors: &[u64], newest_first: &[(u64, u64)]) {
        let reader = UserId(reader);
        let authors = authors.iter().copied().map(UserId).collect();
        let epoch = cache.epoch_now(reader);
        if let Some(fill) = cache.begin_fill(reader, authors, epoch) {
            cache.finish_fill(fill, &by(newest_first));
        }
    }

    /// A follow of `author` by `reader`, patched with the author's newest
    /// ids.
    fn follow(cache: &HomeCache, reader: u64, author: u64, newest_first: &[u64]) {
        if let Some(patch) = cache.followed(UserId(reader), UserId(author)) {
            cache.finish_patch(patch, Some(&ids(newest_first)));
        }
    }

    #[test]
    fn a_filled_reader_gets_pages_and_new_posts() {
        let cache = HomeCache::new(limits(4, 4));
        filled(&cache, 1, &[1, 2], &[(9, 2), (7, 1), (5, 2)]);
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
        filled(&cache, 1, &[1], &[(9, 1), (7, 1)]);
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(2)),
            Some(ids(&[9, 7]))
        );
        assert_eq!(cache.page(UserId(1), PageRequest::first(3)), None);
    }

    #[test]
    fn an_unfollow_removes_the_authors_ids_and_keeps_the_entry() {
        let cache = HomeCache::new(limits(4, 5));
        filled(&cache, 1, &[1, 2, 3], &[(9, 2), (8, 3), (7, 1), (6, 2)]);
        cache.unfollowed(UserId(1), UserId(2));
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(4)),
            Some(ids(&[8, 7])),
            "the entry held every home message, so it still does"
        );
        cache.posted(UserId(2), MessageId(10));
        cache.posted(UserId(3), MessageId(11));
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(4)),
            Some(ids(&[11, 8, 7])),
            "the unfollowed author is no longer watched"
        );
        // A full entry, once shrunk, answers only the pages it still holds.
        filled(
            &cache,
            4,
            &[4, 5],
            &[(9, 5), (8, 4), (7, 5), (6, 4), (5, 5)],
        );
        cache.unfollowed(UserId(4), UserId(5));
        assert_eq!(
            cache.page(UserId(4), PageRequest::first(2)),
            Some(ids(&[8, 6]))
        );
        assert_eq!(cache.page(UserId(4), PageRequest::first(3)), None);
    }

    #[test]
    fn a_follow_adds_the_new_authors_newest_ids() {
        let cache = HomeCache::new(limits(4, 4));
        filled(&cache, 1, &[1], &[(9, 1), (5, 1)]);
        follow(&cache, 1, 2, &[8, 6, 2]);
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(4)),
            Some(ids(&[9, 8, 6, 5]))
        );
        // Trimmed to four: 2 went, so a deeper page is not known.
        assert_eq!(
            cache.page(UserId(1), PageRequest::before(MessageId(5), 2)),
            None
        );
        cache.posted(UserId(2), MessageId(12));
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(1)),
            Some(ids(&[12])),
            "the new author is watched"
        );
    }

    #[test]
    fn a_full_read_of_a_new_author_marks_what_may_be_missing() {
        let cache = HomeCache::new(limits(4, 2));
        filled(&cache, 1, &[1], &[(3, 1)]);
        // Two ids read, as many as an entry holds: the author may have more
        // between 3 and 7.
        follow(&cache, 1, 2, &[9, 7]);
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(2)),
            Some(ids(&[9, 7]))
        );
        assert_eq!(cache.page(UserId(1), PageRequest::first(3)), None);
    }

    #[test]
    fn an_entry_being_patched_answers_no_page() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        filled(&cache, 1, &[1], &[(3, 1)]);
        let patch = cache.followed(UserId(1), UserId(2));
        assert!(patch.is_some());
        assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
        assert!(cache.holds(UserId(1)), "pages are merged meanwhile");
        // A post of the new author while its ids are read is kept once.
        cache.posted(UserId(2), MessageId(4));
        if let Some(patch) = patch {
            cache.finish_patch(patch, Some(&ids(&[4, 2])));
        }
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(5)),
            Some(ids(&[4, 3, 2]))
        );
    }

    #[test]
    fn a_change_during_a_patch_drops_the_entry() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        filled(&cache, 1, &[1], &[(3, 1)]);
        let patch = cache.followed(UserId(1), UserId(2));
        cache.unfollowed(UserId(1), UserId(3));
        if let Some(patch) = patch {
            cache.finish_patch(patch, Some(&ids(&[2])));
        }
        assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
        assert_eq!(cache.readers(), 0);
    }

    #[test]
    fn a_patch_whose_read_failed_drops_the_entry() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        filled(&cache, 1, &[1], &[(3, 1)]);
        if let Some(patch) = cache.followed(UserId(1), UserId(2)) {
            cache.finish_patch(patch, None);
        }
        assert_eq!(cache.readers(), 0);
    }

    #[test]
    fn a_follow_change_during_a_fill_drops_the_merge() {
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        for change in [true, false] {
            let epoch = cache.epoch_now(UserId(1));
            let fill = cache.begin_fill(UserId(1), vec![UserId(1)], epoch);
            if change {
                assert!(cache.followed(UserId(1), UserId(2)).is_none());
            } else {
                cache.unfollowed(UserId(1), UserId(2));
            }
            if let Some(fill) = fill {
                cache.finish_fill(fill, &by(&[(3, 1)]));
            }
            assert_eq!(cache.page(UserId(1), PageRequest::first(1)), None);
            assert_eq!(cache.readers(), 0);
        }
    }

    #[test]
    fn a_follow_change_before_a_fill_begins_drops_the_merge() {
        // The fill read the reader's followees before the change, and
        // registers after it: with no entry, and replacing an entry that
        // another fill finished meanwhile and the change is patching.
        let cache = HomeCache::new(HomeCacheLimits::DEFAULT);
        for entry_meanwhile in [false, true] {
            let epoch = cache.epoch_now(UserId(1));
            if entry_meanwhile {
                filled(&cache, 1, &[1], &[(3, 1)]);
            }
            let patch = cache.followed(UserId(1), UserId(2));
            assert_eq!(patch.is_some(), entry_meanwhile);
            let fill = cache.begin_fill(UserId(1), vec![UserId(1)], epoch);
            if let Some(fill) = fill {
                cache.finish_fill(fill, &by(&[(3, 1)]));
            }
            if let Some(patch) = patch {
                cache.finish_patch(patch, Some(&ids(&[4])));
            }
            assert_eq!(cache.readers(), 0);
        }
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
            cache.finish_fill(fill, &by(&[(20, 2), (4, 1)]));
        }
        assert_eq!(
            cache.page(UserId(1), PageRequest::first(10)),
            Some(ids(&[20, 4]))
        );
    }

    #[test]
    fn the_least_recently_read_reader_goes_first() {
        let cache = HomeCache::new(limits(2, 8));
        filled(&cache, 1, &[1], &[(1, 1)]);
        filled(&cache, 2, &[2], &[(2, 2)]);
        assert!(cache.page(UserId(1), PageRequest::first(1)).is_some());
        filled(&cache, 3, &[3], &[(3, 3)]);
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
