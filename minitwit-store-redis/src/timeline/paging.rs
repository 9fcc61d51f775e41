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
//! replaces), and an import or a clear changes the messages' epoch. The
//! script checks both, and when either changed the store merges afresh.
//! Cursors live in the instance that merged; a page that reaches another
//! instance, or whose cursor went, is merged as before.

/// What the merge of a reader's page read, for the next older page.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// The next older page holds the messages below this id.
    pub(crate) below: u64,
    /// Each source with messages below `below`, with the newest of them.
    pub(crate) heads: Vec<(u64, u64)>,
    /// The paging mark the merge set (see the module docs).
    pub(crate) token: String,
    /// The messages' epoch when the merge began.
    pub(crate) epoch: String,
}

impl minitwit_core::home::cursors::Cursor for Cursor {
    fn below(&self) -> u64 {
        self.below
    }

    fn sources(&self) -> usize {
        self.heads.len()
    }
}

/// The cursors of one instance.
pub(crate) type Cursors = minitwit_core::home::cursors::Cursors<Cursor>;
