//! Tests of the suite itself: each check must catch the kind of broken
//! store it was written against, not only pass on a good one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use crate::conformance::{self, Fault, FaultyStore};
use crate::{MemoryStore, Store};

/// A [`MemoryStore`] with one [`Fault`].
fn faulty(fault: Fault) -> Arc<dyn Store> {
    Arc::new(FaultyStore::with_fault(Arc::new(MemoryStore::new()), fault))
}

/// Runs `$check` on a store with `$fault` and requires it to panic.
macro_rules! catches {
    ($fault:expr => $($check:ident),+ $(,)?) => {
        $(
            let store = faulty($fault);
            let outcome = tokio::spawn(async move { conformance::$check(&store).await }).await;
            assert!(
                outcome.as_ref().is_err_and(|err| err.is_panic()),
                "conformance::{} passed on a store with {:?}",
                stringify!($check),
                $fault
            );
        )+
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_users() {
    catches!(Fault::NoUniqueNames =>
        duplicate_usernames_are_rejected,
        concurrent_registrations_of_one_name_admit_exactly_one,
    );
    catches!(Fault::CaseInsensitiveNames => users_are_found_by_exact_name_and_id);
    catches!(Fault::NameChecksRemember => name_checks_tell_taken_names_and_record_latest);
    catches!(Fault::NameChecksSkipLatest => name_checks_tell_taken_names_and_record_latest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_follows() {
    catches!(Fault::FollowAlwaysChanges =>
        follows_are_a_set,
        concurrent_follow_and_unfollow_of_one_pair_serialize,
    );
    catches!(Fault::FolloweesDescending => followees_are_listed_in_ascending_id_order_up_to_the_limit);
    catches!(Fault::FolloweesUnlimited => followees_are_listed_in_ascending_id_order_up_to_the_limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_timelines() {
    catches!(Fault::IgnoresBefore =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
        paging_is_stable_while_messages_are_posted,
    );
    catches!(Fault::BeforeInclusive =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
    );
    catches!(Fault::LimitOffByOne =>
        timelines_respect_limit_and_before,
        paging_visits_every_message_once,
    );
    catches!(Fault::HomeIgnoresFollows =>
        home_timelines_hold_own_and_followed_messages,
        home_timelines_page_through_many_followees,
    );
    catches!(Fault::OldestFirst =>
        messages_are_stored_exactly,
        user_timelines_hold_only_that_users_messages,
        concurrent_posts_get_unique_growing_ids,
    );
    catches!(Fault::DropsPubDate => messages_are_stored_exactly);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_latest_and_secrets() {
    catches!(Fault::LatestStartsAtZero =>
        a_fresh_store_is_empty,
        latest_is_none_until_set_then_last_write_wins,
    );
    catches!(Fault::SecretOverwritten =>
        secrets_are_initialized_once,
        concurrent_secret_inits_agree,
    );
}

#[test]
fn the_model_test_catches_broken_stores() {
    for fault in [
        Fault::NoUniqueNames,
        Fault::FollowAlwaysChanges,
        Fault::IgnoresBefore,
        Fault::HomeIgnoresFollows,
        Fault::DropsPubDate,
        Fault::LatestStartsAtZero,
        Fault::SessionsNeverEnd,
        Fault::CountsOffByOne,
        Fault::ExportWithoutMessages,
    ] {
        let outcome = std::panic::catch_unwind(|| {
            conformance::check_against_model(|| async move { faulty(fault) });
        });
        assert!(
            outcome.is_err(),
            "check_against_model passed on a store with {fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_broken_whole_store_operations() {
    catches!(Fault::SessionsNeverEnd => sessions_end_by_moving_the_generation);
    catches!(Fault::CountsOffByOne =>
        counts_follow_every_write,
        counts_are_exact_under_concurrent_writes,
    );
    catches!(Fault::ExportWithoutMessages =>
        export_holds_every_record_in_order,
        import_recreates_an_export_exactly,
        an_export_during_writes_is_complete_and_closed,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_catch_failing_stores() {
    catches!(Fault::Unavailable =>
        a_fresh_store_is_empty,
        users_are_found_by_exact_name_and_id,
        messages_are_stored_exactly,
        flush_succeeds_and_keeps_data,
    );
    catches!(Fault::Failing =>
        follows_are_a_set,
        latest_is_none_until_set_then_last_write_wins,
    );
}

#[test]
fn the_model_test_passes_the_model_itself() {
    conformance::check_against_model(|| async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        store
    });
}
