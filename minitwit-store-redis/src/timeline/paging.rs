//! Older home pages from what the merge of the previous page read.
//!
//! A home page deeper than the reader's cache entry is a merge: the newest
//! id below the page of each source (read in chunks, one call per source),
//! then the page from the few sources whose newest id reaches it. The next
//! older page (the site's "Older messages") needs each source's newest id
//! below *that* page. For every source that did not reach the page, that is
//! the id already read: it lies below the page's last message. Only the
//! sources that reached the page need reading again, and the script that
//! reads the page reads them too. So the store keeps, for a few readers,
//! the newest ids below their last merged page (a [`Cursor`]), and answers
//! the next older page with that one script over the sources that reach it:
//! such a page costs about the page, not the followees.
//!
//! What a cursor says holds while the reader's sources and the messages
//! below its page stay as they were. Posts only add newer ids; a follow
//! change of the reader removes their paging mark (`N:home_paging:{id}`),
//! and an import or a clear changes the messages' epoch. The script checks
//! both, and when either changed the store merges afresh. Cursors live in
//! the instance that merged: at most [`MAX_CURSORS`] readers and
//! [`MAX_HEADS`] ids in all, the least recently kept going first. A page
//! that reaches another instance, or whose cursor went, is merged as before.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use minitwit_core::UserId;

/// The most readers whose cursors an instance keeps.
pub(crate) const MAX_CURSORS: usize = 64;

/// The most newest ids all kept cursors hold together (16 bytes each with
/// their source: 2 MiB).
pub(crate) const MAX_HEADS: usize = 1 << 17;

/// What the merge of a reader's page read, for the next older page.
#[derive(Debug)]
pub(super) struct Cursor {
    /// The next older page holds the messages below this id.
    pub(super) below: u64,
    /// Each source with messages below `below`, with the newest of them.
    pub(super) heads: Vec<(u64, u64)>,
    /// The paging mark the merge set (see the module docs).
    pub(super) token: String,
    /// The messages' epoch when the merge began.
    pub(super) epoch: String,
}

/// The cursors of one instance (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each reader's cursor, with when it was kept.
    by_reader: HashMap<UserId, (u64, Cursor)>,
    /// The ids all of them hold.
    heads: usize,
    /// Counts the cursors kept so far.
    clock: u64,
}

impl Kept {
    fn remove(&mut self, reader: UserId) -> Option<Cursor> {
        let (_, cursor) = self.by_reader.remove(&reader)?;
        self.heads -= cursor.heads.len();
        Some(cursor)
    }
}

impl Cursors {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes out `reader`'s cursor when it is for the page below `below`.
    pub(super) fn take(&self, reader: UserId, below: u64) -> Option<Cursor> {
        let mut kept = self.kept();
        match kept.by_reader.get(&reader) {
            Some((_, cursor)) if cursor.below == below => kept.remove(reader),
            _ => None,
        }
    }

    /// Keeps `cursor` as `reader`'s, in place of any other, dropping the
    /// least recently kept cursors beyond the bounds.
    pub(super) fn keep(&self, reader: UserId, cursor: Cursor) {
        if cursor.heads.len() > MAX_HEADS {
            return;
        }
        let mut kept = self.kept();
        kept.remove(reader);
        while kept.by_reader.len() >= MAX_CURSORS || kept.heads + cursor.heads.len() > MAX_HEADS {
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
        kept.heads += cursor.heads.len();
        let stamp = kept.clock;
        kept.by_reader.insert(reader, (stamp, cursor));
    }

    /// How many readers have a cursor, and how many ids they hold.
    #[cfg(test)]
    pub(super) fn size(&self) -> (usize, usize) {
        let kept = self.kept();
        (kept.by_reader.len(), kept.heads)
    }
}

/// The `limit`-th newest of `heads` (0 when there are fewer): the newest
/// `limit` messages of all the sources are at least that, so only sources
/// whose newest reaches it can be on the page.
pub(super) fn nth_newest(heads: impl Iterator<Item = u64>, limit: usize) -> u64 {
    let mut newest: Vec<u64> = heads.collect();
    match limit.checked_sub(1) {
        Some(nth) if nth < newest.len() => *newest.select_nth_unstable_by(nth, |a, b| b.cmp(a)).1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(below: u64, heads: usize) -> Cursor {
        Cursor {
            below,
            heads: (0..heads as u64).map(|n| (n, n)).collect(),
            token: String::new(),
            epoch: String::new(),
        }
    }

    #[test]
    fn a_cursor_answers_only_the_page_below_it_once() {
        let cursors = Cursors::default();
        cursors.keep(UserId(1), cursor(50, 3));
        assert!(cursors.take(UserId(1), 49).is_none());
        assert!(cursors.take(UserId(2), 50).is_none());
        assert_eq!(cursors.take(UserId(1), 50).map(|c| c.heads.len()), Some(3));
        assert!(cursors.take(UserId(1), 50).is_none());
        assert_eq!(cursors.size(), (0, 0));
    }

    #[test]
    fn the_least_recently_kept_cursors_go_first() {
        let cursors = Cursors::default();
        for reader in 0..MAX_CURSORS as u64 + 2 {
            cursors.keep(UserId(reader), cursor(10, 1));
        }
        assert_eq!(cursors.size(), (MAX_CURSORS, MAX_CURSORS));
        assert!(cursors.take(UserId(1), 10).is_none());
        assert!(cursors.take(UserId(2), 10).is_some());
        // Ids, too: a large cursor pushes out as many as it needs.
        cursors.keep(UserId(1_000), cursor(10, MAX_HEADS - 10));
        let (readers, heads) = cursors.size();
        assert!(heads <= MAX_HEADS);
        assert_eq!(readers, 11);
        assert!(cursors.take(UserId(3), 10).is_none());
        assert!(cursors.take(UserId(MAX_CURSORS as u64 + 1), 10).is_some());
        // A cursor larger than all of them is not kept.
        cursors.keep(UserId(2_000), cursor(10, MAX_HEADS + 1));
        assert!(cursors.take(UserId(2_000), 10).is_none());
    }

    #[test]
    fn the_threshold_is_the_limit_th_newest() {
        assert_eq!(nth_newest([50, 10, 40, 30].into_iter(), 2), 40);
        assert_eq!(nth_newest([50, 10, 40, 30].into_iter(), 4), 10);
        assert_eq!(nth_newest([5, 7].into_iter(), 3), 0);
        assert_eq!(nth_newest([5, 7].into_iter(), 0), 0);
    }
}
