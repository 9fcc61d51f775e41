//! The newest message id of each author, kept in memory, so that a home
//! timeline's merge opens only the followees whose messages can reach the
//! page.
//!
//! A merge without it reads the newest entry of every followee's index (one
//! tree descent each, about 4 µs): a reader following 2,000 users costs
//! 2,000 descents for a page of 30. With the newest id of each followee
//! known, the merge orders the followees by it and opens a followee's index
//! only when its newest id is the highest still unread, so a page costs
//! about one descent per message shown, whatever the number of followees
//! (beside reading the list of followees itself, which any merge needs).
//!
//! What is known comes from posts (every post raises its author's head) and
//! from merges (a followee not known is read as before, and what was read is
//! kept). A head is only ever raised, and a post raises it as soon as the
//! message is committed, before the post is answered: a merge that trusts
//! it misses only messages whose posts have not been answered yet, which a
//! read may or may not see. A post raises its author's head before it tells
//! the home cache, so a cache fill that began after that sees the new head,
//! and one that began before gets the post from the cache itself. What a
//! merge learned is kept only if the map was not emptied since the merge
//! read it: otherwise a head read before a post could replace the post's
//! own, forgotten by the emptying.
//!
//! The map is bounded ([`AuthorHeads::DEFAULT_LIMIT`] authors, about
//! 4.3 MiB: 16 bytes per slot in a table of 2^18 slots): when it is full it
//! starts afresh, and authors not known are read from their index again. It is emptied when the store's contents are replaced
//! (import, clear).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use minitwit_core::{MessageId, UserId};

/// What is known of one author's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Head {
    /// The author has posted nothing (as of the merge that read it).
    Nothing,
    /// The author's newest message.
    Newest(MessageId),
}

impl Head {
    /// As stored: 0 for nothing, the id plus one otherwise (`None` for the
    /// one id that has no room, which is then not kept).
    fn encode(self) -> Option<u64> {
        match self {
            Self::Nothing => Some(0),
            Self::Newest(id) => id.0.checked_add(1),
        }
    }

    fn decode(stored: u64) -> Self {
        match stored.checked_sub(1) {
            None => Self::Nothing,
            Some(id) => Self::Newest(MessageId(id)),
        }
    }
}

/// Which emptying of the map a merge read it after: what a merge learned
/// is kept only if the map was not emptied since (a head read before a
/// post, learned after the post's own head was forgotten, would be low).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

/// The map and how many times it was emptied.
#[derive(Debug, Default)]
struct State {
    /// Author id → [`Head::encode`]d head: two `u64`, the smallest slot.
    heads: HashMap<u64, u64>,
    generation: u64,
}

impl State {
    fn empty(&mut self) {
        self.heads.clear();
        self.generation += 1;
    }
}

/// The newest message id of recently seen authors (see the module docs).
#[derive(Debug)]
pub(crate) struct AuthorHeads {
    state: Mutex<State>,
    limit: usize,
}

impl AuthorHeads {
    /// Authors kept at most: 200,000, which fits a table of 2^18 slots
    /// (it holds up to seven eighths of them), about 4.3 MiB.
    pub(crate) const DEFAULT_LIMIT: usize = 200_000;

    /// Lookups made under one hold of the lock.
    const LOOKUPS_PER_LOCK: usize = 1_024;

    /// An empty map that keeps at most `limit` authors (none when 0).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: Mutex::default(),
            limit,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `author` posted message `id` (committed).
    pub(crate) fn posted(&self, author: UserId, id: MessageId) {
        if self.limit > 0 {
            self.raise(&mut self.state(), author, Head::Newest(id));
        }
    }

    /// A merge read `head` as `author`'s newest, from the top of its index,
    /// after [`get`](Self::get) returned `seen`.
    pub(crate) fn learned(&self, author: UserId, head: Head, seen: Generation) {
        if self.limit == 0 {
            return;
        }
        let mut state = self.state();
        if state.generation == seen.0 {
            self.raise(&mut state, author, head);
        }
    }

    fn raise(&self, state: &mut State, author: UserId, head: Head) {
        let Some(stored) = head.encode() else {
            // Not known is always safe: merges read the index.
            state.empty();
            return;
        };
        if let Some(known) = state.heads.get_mut(&author.0) {
            *known = (*known).max(stored);
            return;
        }
        if state.heads.len() >= self.limit {
            // Start afresh: what is forgotten is read from the index again.
            state.empty();
        }
        state.heads.insert(author.0, stored);
    }

    /// What is known of each of `authors`, in their order (`None`: not
    /// known, read the index), and the generation to learn under.
    pub(crate) fn get(&self, authors: &[UserId]) -> (Vec<Option<Head>>, Generation) {
        let mut found = Vec::with_capacity(authors.len());
        let generation = Generation(self.state().generation);
        // In chunks, so that a reader following many never holds up posts
        // for long.
        for chunk in authors.chunks(Self::LOOKUPS_PER_LOCK) {
            let state = self.state();
            found.extend(
                chunk
                    .iter()
                    .map(|author| state.heads.get(&author.0).copied().map(Head::decode)),
            );
        }
        (found, generation)
    }

    /// Forgets every author (the store's contents were replaced).
    pub(crate) fn clear(&self) {
        self.state().empty();
    }

    /// How many authors are known.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state().heads.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const A: UserId = UserId(1);
    const B: UserId = UserId(2);

    fn known(heads: &AuthorHeads, authors: &[UserId]) -> Vec<Option<Head>> {
        heads.get(authors).0
    }

    #[test]
    fn heads_only_rise() {
        let heads = AuthorHeads::new(8);
        heads.posted(A, MessageId(10));
        let (_, seen) = heads.get(&[A, B]);
        heads.learned(A, Head::Newest(MessageId(7)), seen);
        heads.learned(A, Head::Nothing, seen);
        assert_eq!(
            known(&heads, &[A, B]),
            [Some(Head::Newest(MessageId(10))), None]
        );
        heads.learned(B, Head::Nothing, seen);
        heads.posted(B, MessageId(11));
        assert_eq!(known(&heads, &[B]), [Some(Head::Newest(MessageId(11)))]);
    }

    #[test]
    fn what_a_merge_learned_before_an_emptying_is_dropped() {
        let heads = AuthorHeads::new(8);
        // A merge reads A's index and finds 5; A posts 6; the map is
        // emptied (full, or the store replaced); the merge's 5 must not
        // come back as A's newest.
        let (_, seen) = heads.get(&[A]);
        heads.posted(A, MessageId(6));
        heads.clear();
        heads.learned(A, Head::Newest(MessageId(5)), seen);
        assert_eq!(known(&heads, &[A]), [None]);
        let (_, seen) = heads.get(&[A]);
        heads.learned(A, Head::Newest(MessageId(6)), seen);
        assert_eq!(known(&heads, &[A]), [Some(Head::Newest(MessageId(6)))]);
    }

    #[test]
    fn a_full_map_starts_afresh() {
        let heads = AuthorHeads::new(2);
        let (_, seen) = heads.get(&[]);
        heads.posted(A, MessageId(1));
        heads.posted(B, MessageId(2));
        heads.posted(A, MessageId(3));
        assert_eq!(heads.len(), 2);
        heads.posted(UserId(3), MessageId(4));
        assert_eq!(heads.len(), 1);
        assert_eq!(
            known(&heads, &[A, UserId(3)]),
            [None, Some(Head::Newest(MessageId(4)))]
        );
        // Starting afresh is an emptying too.
        heads.learned(A, Head::Newest(MessageId(1)), seen);
        assert_eq!(known(&heads, &[A]), [None]);
    }

    #[test]
    fn many_authors_come_back_in_their_order() {
        let heads = AuthorHeads::new(8_192);
        let authors: Vec<UserId> = (0..3_000).map(UserId).collect();
        for author in authors.iter().filter(|author| author.0 % 3 == 0) {
            heads.posted(*author, MessageId(author.0 + 100));
        }
        let found = known(&heads, &authors);
        assert_eq!(found.len(), authors.len());
        for (author, head) in authors.iter().zip(found) {
            let expected = (author.0 % 3 == 0).then_some(Head::Newest(MessageId(author.0 + 100)));
            assert_eq!(head, expected, "{author:?}");
        }
    }

    #[test]
    fn the_last_id_is_not_kept() {
        let heads = AuthorHeads::new(8);
        heads.posted(A, MessageId(5));
        heads.posted(A, MessageId(u64::MAX));
        assert_eq!(known(&heads, &[A]), [None]);
        assert_eq!(
            Head::decode(Head::Newest(MessageId(0)).encode().unwrap()),
            Head::Newest(MessageId(0))
        );
        assert_eq!(Head::decode(Head::Nothing.encode().unwrap()), Head::Nothing);
    }

    #[test]
    fn the_default_limit_fits_its_table() {
        let heads = AuthorHeads::new(AuthorHeads::DEFAULT_LIMIT);
        for author in 0..AuthorHeads::DEFAULT_LIMIT as u64 {
            heads.posted(UserId(author), MessageId(author));
        }
        assert_eq!(heads.len(), AuthorHeads::DEFAULT_LIMIT);
        let capacity = heads.state().heads.capacity();
        assert!(capacity <= (1 << 18), "{capacity}");
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let heads = AuthorHeads::new(0);
        heads.posted(A, MessageId(1));
        assert_eq!(known(&heads, &[A]), [None]);
    }
}
