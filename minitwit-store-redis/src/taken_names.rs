//! The names this instance has seen taken, so that a registration's name
//! check ([`Store::check_name`](minitwit_core::Store::check_name)) costs a
//! round trip only for a name that is probably taken. Only registrations
//! fill it (the names `create_user` created or found taken), so reads that
//! look names up never touch it.
//!
//! A registration of a new name (nearly every one) then makes one round
//! trip, the `create_user` script, which decides atomically whether the
//! name is free. A name seen taken is asked about before its password is
//! hashed, so a client that registers a taken name again and again costs
//! one hash per name per instance, not one per request.
//!
//! The set is a hint, never the answer: a name in it is checked in Redis
//! (it may have been freed by a `clear` or a restore since), and a name not
//! in it is left to `create_user`. It holds at most [`CAPACITY`] names and
//! starts again empty when full, so a client registering names without end
//! cannot make it grow.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The most names the set holds before it starts again empty: a few MiB at
/// most, far above the users a simulator run registers.
pub(crate) const CAPACITY: usize = 65_536;

/// Names seen taken, shared by the clones of one store.
#[derive(Debug, Default, Clone)]
pub(crate) struct TakenNames {
    names: Arc<Mutex<HashSet<Box<str>>>>,
}

impl TakenNames {
    /// Whether `name` was seen taken (and not seen free since).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.lock().contains(name)
    }

    /// Notes that `name` is taken.
    pub(crate) fn remember(&self, name: &str) {
        let mut names = self.lock();
        if names.contains(name) {
            return;
        }
        if names.len() >= CAPACITY {
            names.clear();
        }
        names.insert(name.into());
    }

    /// Notes that `name` is free.
    pub(crate) fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    /// The set; a panic while it was held leaves a valid set, so a
    /// poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Box<str>>> {
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_names() {
        let taken = TakenNames::default();
        assert!(!taken.contains("alice"));
        taken.remember("alice");
        assert!(taken.contains("alice"));
        assert!(!taken.contains("bob"));
        taken.forget("alice");
        assert!(!taken.contains("alice"));
    }

    #[test]
    fn clones_share_the_set() {
        let taken = TakenNames::default();
        taken.clone().remember("alice");
        assert!(taken.contains("alice"));
    }

    #[test]
    fn starts_again_empty_when_full() {
        let taken = TakenNames::default();
        for i in 0..CAPACITY {
            taken.remember(&format!("user{i}"));
        }
        assert!(taken.contains("user0"));
        taken.remember("one more");
        assert!(taken.contains("one more"));
        assert!(!taken.contains("user0"), "a full set starts again");
        assert_eq!(taken.lock().len(), 1);
    }
}
