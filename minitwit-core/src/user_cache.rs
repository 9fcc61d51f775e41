//! [`UserCache`]: users the service has already looked up.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{User, UserId};

/// Users by name and by id, remembered after a store lookup so that a
/// request naming a known user costs no store round trip for the name.
///
/// Keeping this in a process is sound even with many server instances on
/// one store: a user never changes and is never deleted once created, so a
/// remembered user can never be stale. Only users that were found are
/// remembered; a name not found now may be registered a moment later, on
/// any instance. When full, the cache starts over empty, which bounds its
/// memory without any bookkeeping per hit.
#[derive(Debug)]
pub(crate) struct UserCache {
    maps: Mutex<Maps>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Maps {
    by_name: HashMap<String, User>,
    by_id: HashMap<UserId, User>,
}

impl UserCache {
    /// A cache of at most `capacity` users; 0 remembers nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            maps: Mutex::new(Maps::default()),
            capacity,
        }
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        // The maps are only ever replaced or extended whole; a panic while
        // holding the lock cannot leave them inconsistent.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<User> {
        self.maps().by_name.get(name).cloned()
    }

    pub(crate) fn by_id(&self, id: UserId) -> Option<User> {
        self.maps().by_id.get(&id).cloned()
    }

    pub(crate) fn remember(&self, user: &User) {
        if self.capacity == 0 {
            return;
        }
        let mut maps = self.maps();
        if maps.by_id.len() >= self.capacity {
            *maps = Maps::default();
        }
        maps.by_name
            .insert(user.username.as_str().to_owned(), user.clone());
        maps.by_id.insert(user.id, user.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Email, Username};

    fn user(id: u64) -> User {
        User {
            id: UserId(id),
            username: Username::parse(&format!("user {id}")).unwrap_or_else(|_| unreachable!()),
            email: Email::parse("u@example.org").unwrap_or_else(|_| unreachable!()),
        }
    }

    #[test]
    fn remembers_by_name_and_id_up_to_its_capacity() {
        let cache = UserCache::new(2);
        cache.remember(&user(1));
        cache.remember(&user(2));
        assert_eq!(cache.by_name("user 1"), Some(user(1)));
        assert_eq!(cache.by_id(UserId(2)), Some(user(2)));
        cache.remember(&user(3));
        assert_eq!(cache.by_id(UserId(1)), None, "a full cache starts over");
        assert_eq!(cache.by_name("user 3"), Some(user(3)));
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let cache = UserCache::new(0);
        cache.remember(&user(1));
        assert_eq!(cache.by_name("user 1"), None);
    }
}
