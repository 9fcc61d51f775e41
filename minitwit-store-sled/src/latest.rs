//! `latest`, held in memory and written to sled once per sync instead of
//! once per request.
//!
//! Nearly every simulator request carries `latest`, and a sled insert is a
//! measurable share of such a request's CPU time (a tree update, its log
//! entry, its garbage). What must hold is only that a request that recorded
//! `latest` answers after that value, or a newer one, is durable. So a
//! request sets the value here and waits for the group commit like any
//! write; the flusher writes the value here into the `meta` tree just
//! before each flush ([`LatestCell::save`]), and the flush makes it durable
//! with everything else. The flusher reads how far the writes have come
//! before it saves, and every write sets its value before it takes its
//! number, so the value saved is the one of the newest write the flush
//! covers, or a newer one. Only the flusher thread writes the key, so the
//! values reach sled in the order they were set.

use std::sync::{Mutex, PoisonError};

use crate::decode::encode_latest;
use crate::layout;

/// The value and whether sled has it yet.
#[derive(Debug, Default)]
struct State {
    value: Option<i64>,
    unsaved: bool,
}

/// `latest` as the store answers it (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct LatestCell {
    state: Mutex<State>,
}

impl LatestCell {
    /// The cell of a store whose `meta` tree holds `stored`.
    pub(crate) fn new(stored: Option<i64>) -> Self {
        Self {
            state: Mutex::new(State {
                value: stored,
                unsaved: false,
            }),
        }
    }

    /// The value recorded last.
    pub(crate) fn get(&self) -> Option<i64> {
        self.lock().value
    }

    /// Records `value`; the next [`save`](Self::save) writes it.
    pub(crate) fn set(&self, value: i64) {
        *self.lock() = State {
            value: Some(value),
            unsaved: true,
        };
    }

    /// Forgets the value; the next [`save`](Self::save) removes it.
    pub(crate) fn clear(&self) {
        *self.lock() = State {
            value: None,
            unsaved: true,
        };
    }

    /// Writes the value to `meta` if it changed since the last save (not
    /// yet durable: the caller flushes next). Called by the flusher only.
    ///
    /// # Errors
    /// sled's; the value then stays unsaved, for the next flush.
    pub(crate) fn save(&self, meta: &sled::Tree) -> sled::Result<()> {
        let value = {
            let mut state = self.lock();
            if !state.unsaved {
                return Ok(());
            }
            state.unsaved = false;
            state.value
        };
        let written = match value {
            Some(value) => meta
                .insert(layout::META_LATEST, &encode_latest(value)[..])
                .map(drop),
            None => meta.remove(layout::META_LATEST).map(drop),
        };
        if written.is_err() {
            self.lock().unsaved = true;
        }
        written
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::decode::decode_latest;

    fn stored(meta: &sled::Tree) -> Option<i64> {
        meta.get(layout::META_LATEST)
            .unwrap()
            .map(|bytes| decode_latest(&bytes).unwrap())
    }

    #[test]
    fn a_value_reaches_the_tree_at_the_next_save_only() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = &db.open_tree("meta").unwrap();
        let cell = LatestCell::new(None);
        cell.set(7);
        cell.set(-3);
        assert_eq!(cell.get(), Some(-3));
        assert_eq!(stored(meta), None, "set writes nothing by itself");
        cell.save(meta).unwrap();
        assert_eq!(stored(meta), Some(-3), "the last value set wins");
        // Nothing new: a save leaves the tree alone.
        meta.insert(layout::META_LATEST, &encode_latest(99)[..])
            .unwrap();
        cell.save(meta).unwrap();
        assert_eq!(stored(meta), Some(99));
        cell.clear();
        assert_eq!(cell.get(), None);
        cell.save(meta).unwrap();
        assert_eq!(stored(meta), None, "a cleared value is removed");
    }

    #[test]
    fn a_store_opens_with_its_stored_value_and_nothing_to_save() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let cell = LatestCell::new(Some(12));
        assert_eq!(cell.get(), Some(12));
        cell.save(&meta).unwrap();
        assert_eq!(stored(&meta), None);
    }
}
