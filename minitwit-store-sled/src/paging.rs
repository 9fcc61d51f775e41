//! Older home pages from what the merge of the previous page found (see
//! [`minitwit_core::home::cursors`]).
//!
//! sled's home merge keeps a heap of its authors: for each, its next
//! message, or an upper bound on it for an author whose index it has not
//! opened (see `Merge` in the `timeline` module). What is left in the heap
//! after a page is what the next older page starts from: a [`Cursor`]. The
//! next page starts there instead of from every followee, so it reads
//! about one index entry per message shown, and not the reader's list of
//! followees.
//!
//! A cursor holds while the reader's sources and the messages below its
//! page stay as they were:
//!
//! * a follow change of the reader, an import and a clear move the reader's
//!   home cache epoch on (`HomeCache::epoch_now`); the cursor records the
//!   epoch read before its merge read the followees, and is used only while
//!   it is still the same;
//! * a post takes its id before it commits, so a merge may run while a post
//!   with a smaller id than some it reads is not yet visible. Posts register
//!   their id from the moment they take it until their commit point
//!   ([`Paging::posting`]); a merge notes the smallest id registered when it
//!   begins, and leaves a cursor only when its whole page is at or below
//!   it: every id below that was committed before the merge read anything,
//!   and every post that takes an id later takes a larger one.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use minitwit_core::home::cursors::{self, Cursors};
use minitwit_core::{MessageId, UserId};

use crate::timeline::Start;

/// Where a reader's next older home page starts.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// The merged page, newest first, each message with its author.
    pub(crate) page: Vec<(MessageId, UserId)>,
    /// Each author with messages below the page's last, and where they
    /// start.
    pub(crate) starts: Vec<(UserId, Start)>,
    /// The reader's home cache epoch before the merge read the followees.
    pub(crate) epoch: u64,
}

impl Cursor {
    /// Where each author with messages below `before` (one of the page's
    /// ids) starts: the page's own messages below `before` come first.
    pub(crate) fn starts_below(self, before: u64) -> Vec<(UserId, Start)> {
        let page = self.page.into_iter().map(|(id, author)| (id.0, author));
        cursors::starts_below(page, self.starts, before, Start::At)
    }
}

impl cursors::Cursor for Cursor {
    fn below(&self) -> u64 {
        self.page.last().map_or(0, |(id, _)| id.0)
    }

    fn answers(&self, before: u64) -> bool {
        self.page.iter().any(|(id, _)| id.0 == before)
    }

    fn sources(&self) -> usize {
        self.starts.len()
    }
}

/// The cursors of a store, and the posts under way (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Paging {
    pub(crate) cursors: Cursors<Cursor>,
    /// The ids of the posts between taking their id and their commit point.
    posting: Mutex<BTreeSet<u64>>,
}

impl Paging {
    fn posting_ids(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        self.posting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes an id with `take` for a post, registered until the returned
    /// guard goes (after the post's commit point, or its failure).
    pub(crate) fn posting<E>(
        &self,
        take: impl FnOnce() -> Result<u64, E>,
    ) -> Result<Posting<'_>, E> {
        let mut posting = self.posting_ids();
        let id = take()?;
        posting.insert(id);
        Ok(Posting { paging: self, id })
    }

    /// Every message with an id below this one is committed: call it
    /// before a merge that may leave a cursor.
    pub(crate) fn committed_below(&self) -> u64 {
        self.posting_ids().first().copied().unwrap_or(u64::MAX)
    }
}

/// A post's id, registered while the post is under way.
#[derive(Debug)]
pub(crate) struct Posting<'a> {
    paging: &'a Paging,
    /// The post's id.
    pub(crate) id: u64,
}

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        self.paging.posting_ids().remove(&self.id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_page_below_one_of_its_messages_starts_from_them() {
        let cursor = Cursor {
            page: [(90, 1), (80, 2), (70, 1), (60, 3), (55, 1)]
                .map(|(id, author)| (MessageId(id), UserId(author)))
                .to_vec(),
            starts: vec![
                (UserId(1), Start::At(50)),
                (UserId(2), Start::AtMost(40)),
                (UserId(4), Start::At(30)),
            ],
            epoch: 0,
        };
        let mut starts = cursor.starts_below(80);
        starts.sort_unstable_by_key(|(author, _)| *author);
        assert_eq!(
            starts,
            [
                (UserId(1), Start::At(70)),
                (UserId(2), Start::AtMost(40)),
                (UserId(3), Start::At(60)),
                (UserId(4), Start::At(30)),
            ]
        );
    }

    #[test]
    fn ids_under_way_hold_back_what_counts_as_committed() {
        let paging = Paging::default();
        assert_eq!(paging.committed_below(), u64::MAX);
        let first = paging.posting(|| Ok::<_, ()>(7)).unwrap();
        let second = paging.posting(|| Ok::<_, ()>(9)).unwrap();
        assert_eq!(paging.committed_below(), 7);
        drop(first);
        assert_eq!(paging.committed_below(), 9);
        drop(second);
        assert_eq!(paging.committed_below(), u64::MAX);
        assert!(paging.posting(|| Err::<u64, _>("no id")).is_err());
        assert_eq!(paging.committed_below(), u64::MAX);
    }
}
