//! The key layout: which sled trees hold what, and how keys are built (the
//! values' encodings are in the `decode` module).
//!
//! Every id is a `u64` written **big-endian**, so the byte order sled sorts
//! keys by is the numeric order of the ids, and a composite key
//! `a ‖ b` sorts by `a`, then by `b`. Range scans over these keys are
//! therefore scans in id order, forwards or backwards.
//!
//! | tree            | key                                   | value                                     |
//! | --------------- | ------------------------------------- | ----------------------------------------- |
//! | `users`         | user id (8 bytes)                     | user record (below)                       |
//! | `user_names`    | username, UTF-8 bytes as given        | user id (8 bytes)                         |
//! | `follows`       | follower id ‖ followee id (16 bytes)  | empty                                     |
//! | `messages`      | message id (8 bytes)                  | author id (8) ‖ pub_date (8, i64) ‖ text  |
//! | `user_messages` | author id ‖ message id (16 bytes)     | empty                                     |
//! | `meta`          | see below                             |                                           |
//!
//! `meta` holds single values: `format` (the layout version, one byte),
//! `latest` (an `i64`), `secret/<name>` (a secret's bytes), `id_floor` (a
//! `u64` added to sled's id generator, set by an import so that new ids are
//! above imported ones), and, only while the store is closed cleanly,
//! `counts` (users, follows and messages, three `u64`).
//!
//! A **user record** is a format byte followed by three strings, each a
//! 4-byte big-endian length and that many UTF-8 bytes: username, e-mail
//! address, password hash (PHC string); format `2` then has the session
//! generation (8 bytes). Format `1` records (layout 1) have no generation
//! and read as generation 0.
//!
//! Beside the trees, the directory holds `minitwit.lock`, which the store
//! locks while it is open, so that two stores never share a directory.
//!
//! ## Atomic writes without transactions
//!
//! A registration and a post each touch two trees, yet use no sled
//! transaction: in sled 0.34 a transaction (or a `Batch`) takes a global lock
//! that waits for every running `flush` (fsync) to finish and, while it
//! waits, holds up every reader of every tree. Instead each of these writes
//! has a **commit point**, one single-key atomic write that makes it exist,
//! done last:
//!
//! * a registration inserts the user record under its fresh id (which nobody
//!   knows yet), then claims the name with a compare-and-swap on
//!   `user_names` (absent → id). The claim is the commit point. Registrations
//!   of one store take their id, write the record and claim the name under
//!   one in-process lock (microseconds, no disk wait inside), so users
//!   commit in id order and a loser removes its record before anyone sees
//!   it. A user exists exactly when its name points at its id; a record
//!   without that (a registration cut short by a crash) is not a user, and
//!   `user_by_id` and exports check the name to hide it.
//! * a post inserts the message, then its `user_messages` entry, the commit
//!   point. User and home timelines read the index, so they only find
//!   committed messages; the public timeline scans `messages` and skips a
//!   message whose index entry does not exist (one point read per message).
//!
//! sled recovers a prefix of its log after a crash, so a commit point is
//! never durable without the writes before it; a crash between the two
//! writes leaves an invisible record, never half a user or half a message.
//! Writes are acknowledged only after the group commit has synced them.
//!
//! ## Counts
//!
//! The numbers of users, follows and messages live in memory, counted at
//! every commit point, and are written to `meta` when the store closes. An
//! open that finds them takes them and removes them (so that a crash later
//! cannot leave stale ones behind); an open that does not (after a crash, or
//! on a layout 1 store) counts the commit points once: the `user_names`,
//! `follows` and `user_messages` trees.
//!
//! ## How reads use it
//!
//! * the public timeline is a reverse scan of `messages` below the cursor;
//! * a user timeline is a reverse scan of `user_messages` between
//!   `author ‖ 0` and `author ‖ cursor`;
//! * a home timeline is a k-way merge of those reverse scans for the user and
//!   for every followee (found by a prefix scan of `follows`); the `home`
//!   module keeps what the merge found for recent readers in memory, fed by
//!   posts, so that only a reader's first page (and pages deeper than what
//!   it keeps) merges, and the `heads` module keeps each author's newest id
//!   in memory, so that a merge reads only the followees whose messages
//!   reach the page.
//!
//! Ids come from sled's `generate_id`, the database's atomic counter, which is
//! persisted so that it never goes back, even after a crash, plus
//! `id_floor`. [`FORMAT`] is stored in `meta` so that a later, incompatible
//! layout refuses to open old data instead of misreading it.

/// Version of this layout, stored under [`META_FORMAT`]. Layout 1 stores
/// open too, and are upgraded on open (their user records stay as they are).
pub const FORMAT: u8 = 2;

/// Tree of user records by id.
pub(crate) const USERS: &str = "users";
/// Tree of user ids by username.
pub(crate) const USER_NAMES: &str = "user_names";
/// Tree of follow pairs.
pub(crate) const FOLLOWS: &str = "follows";
/// Tree of messages by id.
pub(crate) const MESSAGES: &str = "messages";
/// Index of message ids by author.
pub(crate) const USER_MESSAGES: &str = "user_messages";
/// Tree of single values (see the module docs).
pub(crate) const META: &str = "meta";

/// The lock file in the store's directory.
pub(crate) const LOCK_FILE: &str = "minitwit.lock";

/// Key of the layout version in `meta`.
pub(crate) const META_FORMAT: &[u8] = b"format";
/// Key of `latest` in `meta`.
pub(crate) const META_LATEST: &[u8] = b"latest";
/// Key of the id floor in `meta`.
pub(crate) const META_ID_FLOOR: &[u8] = b"id_floor";
/// Key of the counts of a cleanly closed store in `meta`.
pub(crate) const META_COUNTS: &[u8] = b"counts";
/// Prefix of secrets' keys in `meta`.
pub(crate) const META_SECRET_PREFIX: &[u8] = b"secret/";

/// An id as a key: 8 bytes, big-endian.
pub(crate) fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Two ids as one key: `a ‖ b`, 16 bytes.
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

/// The `meta` key of the secret called `name`.
pub(crate) fn secret_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(META_SECRET_PREFIX.len() + name.len());
    key.extend_from_slice(META_SECRET_PREFIX);
    key.extend_from_slice(name.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_keys_sort_numerically() {
        let ids = [0_u64, 1, 255, 256, 65_535, 1 << 40, u64::MAX];
        for pair in ids.windows(2) {
            assert!(id_key(pair[0]) < id_key(pair[1]));
            assert!(pair_key(7, pair[0]) < pair_key(7, pair[1]));
            assert!(pair_key(pair[0], u64::MAX) < pair_key(pair[1], 0));
        }
    }

    #[test]
    fn secret_keys_have_a_prefix() {
        assert_eq!(secret_key("session"), b"secret/session".to_vec());
    }
}
