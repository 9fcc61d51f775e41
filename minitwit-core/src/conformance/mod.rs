//! The conformance suite: what every [`Store`](crate::Store) must pass.
//!
//! The [`Store`](crate::Store) documentation is a contract; this module turns
//! it into executable checks. There are three parts:
//!
//! * **Check functions**, one per clause of the contract, such as
//!   [`concurrent_registrations_of_one_name_admit_exactly_one`] or
//!   [`paging_is_stable_while_messages_are_posted`]. Each is a plain
//!   `pub async fn check(store: &Arc<dyn Store>)` that expects a fresh,
//!   empty store and panics, with a message naming the broken rule, when the
//!   store does not keep the contract. Some checks spawn tasks with
//!   [`tokio::spawn`] to make the store serve truly concurrent calls, so they
//!   must run inside a tokio runtime, ideally a multi-threaded one.
//! * **A model-based property test**, [`check_against_model`]: random
//!   sequences of operations applied both to the store under test and to a
//!   fresh [`MemoryStore`](crate::MemoryStore), the reference model; every
//!   answer must agree.
//! * **The [`store_conformance_tests!`](crate::store_conformance_tests)
//!   macro**, which turns all of the above into `#[test]`s with one line.
//!
//! # Running the suite on a new backend
//!
//! In the backend crate's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! minitwit-core = { workspace = true, features = ["conformance"] }
//! tokio = { workspace = true }   # needs the "macros" and "rt-multi-thread" features
//! ```
//!
//! and in `tests/conformance.rs`:
//!
//! ```ignore
//! use std::sync::Arc;
//! use minitwit_core::Store;
//! use my_store::MyStore;
//!
//! /// A fresh, empty store: called once per test (and once per property
//! /// test case), so it must never hand out a store with data in it.
//! async fn fresh_store() -> Arc<dyn Store> {
//!     Arc::new(MyStore::open_temporary().await.unwrap())
//! }
//!
//! minitwit_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! The macro expands to one `#[tokio::test(flavor = "multi_thread",
//! worker_threads = 4)]` per check function, named after it, plus one plain
//! `#[test]` named `agrees_with_the_reference_model` that runs
//! [`check_against_model`]. The backend crate must therefore have `tokio`
//! (with `macros` and `rt-multi-thread`) as a dev-dependency.
//!
//! A backend is done when the whole suite is green. When a check fails, its
//! panic message says which clause of the contract was broken; when the
//! property test fails, it prints the shortest operation sequence it found
//! that makes the store disagree with the model.

mod faulty;
mod follows;
mod home;
mod latest;
mod model;
mod model_ops;
mod named;
#[cfg(test)]
mod self_test;
mod support;
mod timelines;
mod users;
mod whole;

pub use faulty::{Fault, FaultyStore};
pub use follows::*;
pub use home::*;
pub use latest::*;
pub use model::{DEFAULT_CASES, MAX_OPERATIONS, check_against_model};
pub use named::*;
pub use timelines::*;
pub use users::*;
pub use whole::*;

/// Calls `$callback! { $args ; check, check, ... }` with the name of every
/// check function: the one list that both the test macro and [`CHECKS`]
/// are generated from.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_checks {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! {
            $($args)*;
            a_fresh_store_is_empty,
            users_are_found_by_exact_name_and_id,
            password_hashes_round_trip,
            duplicate_usernames_are_rejected,
            concurrent_registrations_of_one_name_admit_exactly_one,
            follows_are_a_set,
            followees_are_listed_in_ascending_id_order_up_to_the_limit,
            concurrent_follow_and_unfollow_of_one_pair_serialize,
            concurrent_follows_of_many_users_are_all_kept,
            messages_are_stored_exactly,
            user_timelines_hold_only_that_users_messages,
            timelines_of_unknown_users_are_empty,
            a_message_without_its_author_is_corrupt,
            home_timelines_hold_own_and_followed_messages,
            home_timelines_page_through_many_followees,
            home_timelines_show_each_message_once,
            home_timelines_stay_whole_through_follow_changes,
            home_pages_follow_changes_made_between_them,
            home_timelines_stay_whole_under_concurrent_posts_and_follows,
            home_timelines_stay_whole_when_readers_change_follows_after_reading,
            timelines_respect_limit_and_before,
            paging_visits_every_message_once,
            paging_is_stable_while_messages_are_posted,
            concurrent_posts_get_unique_growing_ids,
            latest_is_none_until_set_then_last_write_wins,
            concurrent_latest_writes_leave_one_of_them,
            named_writes_resolve_names_and_record_latest,
            named_writes_find_both_spellings,
            registrations_with_latest_record_it_whatever_they_answer,
            name_checks_tell_taken_names_and_record_latest,
            secrets_are_initialized_once,
            concurrent_secret_inits_agree,
            flush_succeeds_and_keeps_data,
            counts_follow_every_write,
            counts_are_exact_under_concurrent_writes,
            sessions_end_by_moving_the_generation,
            a_working_store_is_healthy,
            a_lease_has_one_holder_until_it_expires,
            export_holds_every_record_in_order,
            import_recreates_an_export_exactly,
            import_refuses_users_that_exist,
            an_export_during_writes_is_complete_and_closed,
        }
    };
}

/// Expands one `#[tokio::test]` per check function. Internal to
/// [`store_conformance_tests!`](crate::store_conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_test_fns {
    ($factory:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let store: ::std::sync::Arc<dyn $crate::Store> = $factory().await;
                $crate::conformance::$check(&store).await;
            }
        )*
    };
}

/// Runs the whole [conformance suite](crate::conformance) on a store
/// backend: one line in the backend's `tests/conformance.rs`.
///
/// `$factory` is the path of an `async fn() -> Arc<dyn Store>` that returns a
/// **fresh, empty** store on every call. The macro expands, in the module
/// where it is called, to one
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` per check
/// function of [`minitwit_core::conformance`](crate::conformance), each named
/// after its check, plus a `#[test] fn agrees_with_the_reference_model` that
/// runs [`check_against_model`](crate::conformance::check_against_model).
///
/// Requires `tokio` (features `macros` and `rt-multi-thread`) among the
/// calling crate's dev-dependencies, and `minitwit-core` with the
/// `conformance` feature.
///
/// ```
/// use std::sync::Arc;
/// use minitwit_core::{MemoryStore, Store};
///
/// async fn fresh_store() -> Arc<dyn Store> {
///     Arc::new(MemoryStore::new())
/// }
///
/// minitwit_core::store_conformance_tests!(fresh_store);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path $(,)?) => {
        $crate::__store_conformance_checks! {
            [$crate::__store_conformance_test_fns] $factory
        }

        #[test]
        fn agrees_with_the_reference_model() {
            $crate::conformance::check_against_model($factory);
        }
    };
}

macro_rules! check_names {
    ($(;)? $($check:ident),* $(,)?) => {
        &[$(stringify!($check)),*]
    };
}

/// The names of every check function, in the order the
/// [`store_conformance_tests!`](crate::store_conformance_tests) macro lists
/// them.
pub const CHECKS: &[&str] = crate::__store_conformance_checks! { [check_names] };

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every `pub async fn` in the check modules must be in the macro's
    /// list, and every name in the list must be a check (the macro would not
    /// compile otherwise, but this says which one is missing).
    #[test]
    fn every_check_function_is_in_the_list() {
        let sources = [
            include_str!("users.rs"),
            include_str!("follows.rs"),
            include_str!("timelines.rs"),
            include_str!("home.rs"),
            include_str!("latest.rs"),
            include_str!("named.rs"),
            include_str!("whole.rs"),
        ];
        let defined: BTreeSet<&str> = sources
            .iter()
            .flat_map(|source| source.lines())
            .filter_map(|line| line.trim_start().strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        let listed: BTreeSet<&str> = super::CHECKS.iter().copied().collect();
        assert_eq!(
            super::CHECKS.len(),
            listed.len(),
            "a check is listed twice in __store_conformance_checks!"
        );
        assert_eq!(
            defined, listed,
            "the check functions and the list in __store_conformance_checks! differ"
        );
    }
}
