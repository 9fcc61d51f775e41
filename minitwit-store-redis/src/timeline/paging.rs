//! Older home pages from what the merge of the previous page read (see
//! [`minitwit_core::home::cursors`]).
//!
//! On Redis a merge reads the newest id below the page of each source in
//! chunks, one call per source, then the page from the few sources whose
//! newest id reaches it. The instance that merged keeps those ids as the
//! reader's [`Cursor`] and answers the next older page with one script
//! (`HOME_MERGE_PAGE`) over the sources that reach it, which also reads
//! their next newest ids.
//!
//! A cursor holds while the reader's sources and the messages below its
//! page stay as they were. Posts only add newer ids; a follow change of the
//! reader removes their paging mark (`N:home_paging:{id}`, which the merge
//! set to the cursor's token, and which a merge by another instance
//! replaces, and which a clear removes), and every import moves the
//! imports' epoch (`N:imports`) on. The script checks both, and when either
//! changed the store merges afresh.
//! Cursors live in the instance that merged: a page that reaches another
//! instance (behind a load balancer without affinity), or whose cursor
//! went, is merged as before, and that merge's mark replaces the first
//! instance's, so that readers paging through several instances at once
//! mostly get merges, as before this existed.

use minitwit_core::home::cursors::starts_below;

/// What the merge of a reader's page read, for the next older page.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// The page's messages, newest first, each with its author.
    pub(crate) page: Vec<(u64, u64)>,
    /// Each source with messages below the page's last, with the newest of
    /// them.
    pub(crate) heads: Vec<(u64, u64)>,
    /// The paging mark the merge set (see the module docs).
    pub(crate) token: String,
    /// The imports' epoch when the merge began.
    pub(crate) epoch: String,
}

impl Cursor {
    /// Each source with messages below `before` (one of the page's ids),
    /// with the newest of them: the page's own messages below `before`
    /// come first.
    pub(crate) fn heads_below(self, before: u64) -> Vec<(u64, u64)> {
        starts_below(self.page, self.heads, before, |id| id)
    }
}

impl minitwit_core::home::cursors::Cursor for Cursor {
    fn below(&self) -> u64 {
        self.page.last().map_or(0, |(id, _)| *id)
    }

    fn answers(&self, before: u64) -> bool {
        self.page.iter().any(|(id, _)| *id == before)
    }

    fn sources(&self) -> usize {
        self.heads.len()
    }
}

/// The cursors of one instance.
pub(crate) type Cursors = minitwit_core::home::cursors::Cursors<Cursor>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_below_one_of_its_messages_starts_from_them() {
        let cursor = Cursor {
            page: vec![(90, 1), (80, 2), (70, 1), (60, 3), (55, 1)],
            heads: vec![(1, 50), (2, 40), (4, 30)],
            token: String::new(),
            epoch: String::new(),
        };
        let mut heads = cursor.heads_below(80);
        heads.sort_unstable();
        // Author 1's newest below 80 is 70 (then 55); author 3's is 60;
        // author 2 has only 40 below it.
        assert_eq!(heads, [(1, 70), (2, 40), (3, 60), (4, 30)]);
    }
}
