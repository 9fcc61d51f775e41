//! Cursors: what the merge of one home page found, kept for the next older
//! page.
//!
//! A home page older than a reader's cache entry is a merge: each source's
//! (the reader's and each followee's) newest message below the page, then
//! the newest of them. The next older page needs each source's newest
//! message below *that* page, which, for every source that did not reach
//! the page, is the one already found: it lies below the page's last
//! message. Only the few sources that reached the page must be read again.
//! So a store keeps, for a few readers, what the merge of their last page
//! found (a cursor, its shape the store's own) and answers the next older
//! page from it: such a page costs about the page, not the followees. A
//! store keeps a cursor only while nothing it says can have changed (a
//! follow change of the reader, messages arriving other than by posts),
//! which each store checks its own way.
//!
//! A cursor keeps the page's own messages too, so that it answers the page
//! below any of them, not only below the last: a caller that reads one
//! message more than it shows (to know whether there is an older page, as
//! the site does) asks next for the page below the one before the last.
//!
//! [`Cursors`] holds them: one per reader, taken out when used, at most a
//! number of readers and of sources in all, the least recently kept going
//! first.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::UserId;

/// What a store keeps of a merge for the next older page.
pub trait Cursor {
    /// The deepest page it answers is below this id (its page's last).
    fn below(&self) -> u64;
    /// Whether it answers the page below `before`: one of its page's ids.
    fn answers(&self, before: u64) -> bool;
    /// How many sources it holds: what the bound on all cursors counts.
    fn sources(&self) -> usize;
}

/// The cursors of one store (see the module docs).
#[derive(Debug)]
pub struct Cursors<C> {
    max_readers: usize,
    max_sources: usize,
    kept: Mutex<Kept<C>>,
}

#[derive(Debug)]
struct Kept<C> {
    /// Each reader's cursor, with when it was kept.
    by_reader: HashMap<UserId, (u64, C)>,
    /// The sources all of them hold.
    sources: usize,
    /// Counts the cursors kept so far.
    clock: u64,
}

impl<C: Cursor> Kept<C> {
    fn remove(&mut self, reader: UserId) -> Option<C> {
        let (_, cursor) = self.by_reader.remove(&reader)?;
        self.sources -= cursor.sources();
        Some(cursor)
    }
}

impl<C: Cursor> Default for Cursors<C> {
    /// At most [`Cursors::READERS`] readers and [`Cursors::SOURCES`]
    /// sources.
    fn default() -> Self {
        Self::new(Self::READERS, Self::SOURCES)
    }
}

impl<C: Cursor> Cursors<C> {
    /// The readers kept by default.
    pub const READERS: usize = 64;

    /// The sources kept by default, over all readers: 131,072, a few MiB
    /// (a reader following 10,000 takes 10,001 of them).
    pub const SOURCES: usize = 1 << 17;

    /// Keeps at most `max_readers` cursors holding `max_sources` sources
    /// in all.
    pub fn new(max_readers: usize, max_sources: usize) -> Self {
        Self {
            max_readers,
            max_sources,
            kept: Mutex::new(Kept {
                by_reader: HashMap::new(),
                sources: 0,
                clock: 0,
            }),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept<C>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes out `reader`'s cursor when it answers the page below `before`.
    pub fn take(&self, reader: UserId, before: u64) -> Option<C> {
        let mut kept = self.kept();
        match kept.by_reader.get(&reader) {
            Some((_, cursor)) if cursor.answers(before) => kept.remove(reader),
            _ => None,
        }
    }

    /// Keeps `cursor` as `reader`'s, in place of any other, dropping the
    /// least recently kept cursors beyond the bounds; one larger than the
    /// bound alone is not kept.
    pub fn keep(&self, reader: UserId, cursor: C) {
        if cursor.sources() > self.max_sources || self.max_readers == 0 {
            return;
        }
        let mut kept = self.kept();
        kept.remove(reader);
        while kept.by_reader.len() >= self.max_readers
            || kept.sources + cursor.sources() > self.max_sources
        {
            let oldest = kept
                .by_reader
                .iter()
                .min_by_key(|(_, (stamp, _))| *stamp)
                .map(|(reader, _)| *reader);
            match oldest {
                Some(oldest) => kept.remove(oldest),
                None => break,
            };
        }
        kept.clock += 1;
        kept.sources += cursor.sources();
        let stamp = kept.clock;
        kept.by_reader.insert(reader, (stamp, cursor));
    }

    /// Whether `reader`'s cursor answers the page below `before`.
    pub fn answers(&self, reader: UserId, before: u64) -> bool {
        self.kept()
            .by_reader
            .get(&reader)
            .is_some_and(|(_, cursor)| cursor.answers(before))
    }

    /// The deepest page `reader`'s cursor answers: below this id.
    pub fn below(&self, reader: UserId) -> Option<u64> {
        self.kept()
            .by_reader
            .get(&reader)
            .map(|(_, cursor)| cursor.below())
    }

    /// How many readers have a cursor, and how many sources they hold.
    pub fn size(&self) -> (usize, usize) {
        let kept = self.kept();
        (kept.by_reader.len(), kept.sources)
    }

    /// Drops every cursor.
    pub fn clear(&self) {
        let mut kept = self.kept();
        kept.by_reader.clear();
        kept.sources = 0;
    }
}

/// Where each source starts for the page below `before`, one of the ids of
/// a cursor's page (`page`: newest first, each id with its source), given
/// where they start below the page's last id (`starts`): a source with
/// messages on the page below `before` starts at the newest of them
/// (`at`), any other where `starts` has it.
pub fn starts_below<S, T>(
    page: impl IntoIterator<Item = (u64, S)>,
    mut starts: Vec<(S, T)>,
    before: u64,
    at: impl Fn(u64) -> T,
) -> Vec<(S, T)>
where
    S: Copy + Eq + std::hash::Hash,
{
    let mut newest: HashMap<S, u64> = HashMap::new();
    for (id, source) in page.into_iter().filter(|(id, _)| *id < before) {
        newest.entry(source).or_insert(id);
    }
    starts.retain(|(source, _)| !newest.contains_key(source));
    starts.extend(newest.into_iter().map(|(source, id)| (source, at(id))));
    starts
}

/// The `limit`-th newest of `heads` (0 when there are fewer): the newest
/// `limit` messages of all the sources are at least that, so only sources
/// whose newest reaches it can be on the page.
pub fn nth_newest(heads: impl Iterator<Item = u64>, limit: usize) -> u64 {
    let mut newest: Vec<u64> = heads.collect();
    match limit.checked_sub(1) {
        Some(nth) if nth < newest.len() => *newest.select_nth_unstable_by(nth, |a, b| b.cmp(a)).1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sized(u64, usize);

    impl Cursor for Sized {
        fn below(&self) -> u64 {
            self.0
        }
        fn answers(&self, before: u64) -> bool {
            (self.0..self.0 + 2).contains(&before)
        }
        fn sources(&self) -> usize {
            self.1
        }
    }

    type Kept = Cursors<Sized>;

    #[test]
    fn a_cursor_answers_only_the_page_below_it_once() {
        let cursors = Kept::default();
        cursors.keep(UserId(1), Sized(50, 3));
        assert_eq!(cursors.below(UserId(1)), Some(50));
        assert!(cursors.answers(UserId(1), 51));
        assert!(!cursors.answers(UserId(1), 52));
        assert!(cursors.take(UserId(1), 49).is_none());
        assert!(cursors.take(UserId(2), 50).is_none());
        assert_eq!(cursors.take(UserId(1), 51).map(|c| c.1), Some(3));
        assert!(cursors.take(UserId(1), 50).is_none());
        assert_eq!(cursors.size(), (0, 0));
    }

    #[test]
    fn the_least_recently_kept_cursors_go_first() {
        let cursors = Kept::new(4, 100);
        for reader in 0..6 {
            cursors.keep(UserId(reader), Sized(10, 1));
        }
        assert_eq!(cursors.size(), (4, 4));
        assert!(cursors.take(UserId(1), 10).is_none());
        assert!(cursors.take(UserId(2), 10).is_some());
        // Sources too: a large cursor pushes out as many as it needs.
        cursors.keep(UserId(9), Sized(10, 98));
        assert_eq!(cursors.size(), (3, 100));
        assert!(cursors.take(UserId(3), 10).is_none());
        assert!(cursors.take(UserId(5), 10).is_some());
        // A cursor larger than all of them is not kept.
        cursors.keep(UserId(10), Sized(10, 101));
        assert!(cursors.take(UserId(10), 10).is_none());
        cursors.clear();
        assert_eq!(cursors.size(), (0, 0));
    }

    #[test]
    fn a_page_below_one_of_its_messages_starts_from_them() {
        let page = [(90, 1), (80, 2), (70, 1), (60, 3), (55, 1)];
        let mut starts = starts_below(page, vec![(1, 50), (2, 40), (4, 30)], 80, |id| id);
        starts.sort_unstable();
        // Source 1's newest below 80 is 70 (then 55); source 3's is 60;
        // source 2 has only 40 below it.
        assert_eq!(starts, [(1, 70), (2, 40), (3, 60), (4, 30)]);
    }

    #[test]
    fn the_threshold_is_the_limit_th_newest() {
        assert_eq!(nth_newest([50, 10, 40, 30].into_iter(), 2), 40);
        assert_eq!(nth_newest([50, 10, 40, 30].into_iter(), 4), 10);
        assert_eq!(nth_newest([5, 7].into_iter(), 3), 0);
        assert_eq!(nth_newest([5, 7].into_iter(), 0), 0);
    }
}
