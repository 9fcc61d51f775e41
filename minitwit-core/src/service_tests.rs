//! Unit tests of the service's own logic, over a `mockall` mock of
//! [`Store`]: the order of checks, what reaches the store and what does
//! not, and how store answers become [`Error`]s. The behaviour of real
//! stores is the conformance suite's business.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mockall::predicate::eq;

use super::{Authenticated, MiniTwit, Registration};
use crate::named::NameCheck;
use crate::store::MockStore;
use crate::{
    Caller, Email, Error, ErrorKind, HashCost, HashLimits, Message, MessageId, MessageText,
    NewUser, PageRequest, Password, PasswordHash, PasswordHasher, StoreError, StoredUser, Timeline,
    Timestamp, User, UserId, Username,
};

const NOW: Timestamp = 1_700_000_000;

fn service(store: MockStore) -> MiniTwit {
    MiniTwit::builder(Arc::new(store))
        .hash_cost(HashCost::INSECURE_MINIMUM)
        .max_concurrent_hashes(2)
        .clock(Arc::new(|| NOW))
        .build()
        .unwrap()
}

fn user(id: u64, name: &str) -> User {
    User {
        id: UserId(id),
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{id}@example.org")).unwrap(),
    }
}

fn stored(user: &User, hash: PasswordHash) -> StoredUser {
    StoredUser {
        user: user.clone(),
        password_hash: hash,
        session_generation: 7,
    }
}

fn stored_without_password(user: &User) -> StoredUser {
    stored(user, PasswordHash::from_phc("$argon2id$unused".into()))
}

fn message(id: u64, author: &User) -> Message {
    Message {
        id: MessageId(id),
        author: author.clone(),
        text: MessageText::parse(&format!("message {id}")).unwrap(),
        pub_date: NOW,
    }
}

fn unavailable() -> StoreError {
    StoreError::unavailable("connection refused")
}

fn registration<'a>(
    username: &'a str,
    email: &'a str,
    password: &'a str,
    password_confirmation: Option<&'a str>,
) -> Registration<'a> {
    Registration {
        username,
        email,
        password,
        password_confirmation,
        caller: Caller::SimulatorApi,
    }
}

/// Runs `work` on a fresh single-threaded runtime and counts the threads
/// its blocking pool started. Password hashing is the only thing the
/// service runs there, so zero threads means no password was hashed.
fn counting_hashes<F: Future>(work: impl FnOnce() -> F) -> (F::Output, usize) {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&started);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let output = runtime.block_on(work());
    (output, started.load(Ordering::SeqCst))
}

/// A store that must not be touched at all.
fn untouchable_store() -> MockStore {
    let mut store = MockStore::new();
    store.expect_user_by_name().never();
    store.expect_create_user().never();
    store
}

#[test]
fn register_validates_username_email_password_confirmation_in_that_order() {
    let too_long_name = "n".repeat(crate::MAX_USERNAME_CHARS + 1);
    let too_long_email = format!("{}@example.org", "e".repeat(250));
    let too_long_password = "p".repeat(1025);
    let cases = [
        // Every field wrong: the username is reported.
        (
            registration("", "nobody", "", Some("x")),
            Error::MissingUsername,
        ),
        (
            registration(&too_long_name, "nobody", "", Some("x")),
            Error::UsernameTooLong,
        ),
        (
            registration("tab\there", "", "", None),
            Error::UsernameInvalid,
        ),
        // A good username: the e-mail comes next.
        (
            registration("ada", "nobody", "", Some("x")),
            Error::InvalidEmail,
        ),
        (registration("ada", "", "pw", None), Error::InvalidEmail),
        (
            registration("ada", &too_long_email, "", Some("x")),
            Error::EmailTooLong,
        ),
        // Then the password.
        (
            registration("ada", "ada@example.org", "", Some("x")),
            Error::MissingPassword,
        ),
        (
            registration("ada", "ada@example.org", &too_long_password, Some("x")),
            Error::PasswordTooLong,
        ),
        // Then the confirmation, when the form has one.
        (
            registration("ada", "ada@example.org", "secret", Some("secreT")),
            Error::PasswordMismatch,
        ),
        (
            registration("ada", "ada@example.org", "secret", Some("")),
            Error::PasswordMismatch,
        ),
    ];
    for (form, expected) in cases {
        let service = service(untouchable_store());
        let (result, hashes) = counting_hashes(|| async { service.register(form).await });
        let err = result.expect_err("an invalid registration must fail");
        assert_eq!(
            std::mem::discriminant(&err),
            std::mem::discriminant(&expected),
            "{form:?} gave {err:?}, not {expected:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(err.status_code(), 400);
        assert_eq!(
            hashes, 0,
            "{form:?} hashed a password although it is invalid"
        );
    }
}

#[test]
fn register_refuses_a_taken_name_before_hashing() {
    let mut store = MockStore::new();
    store
        .expect_check_name()
        .with(eq("ada"), eq(None))
        .times(1)
        .returning(|_, _| Ok(NameCheck::Taken));
    store.expect_create_user().never();
    // The answer waits until the name's owner is durable.
    store.expect_sync().times(1).returning(|| Ok(()));
    let service = service(store);
    let (result, hashes) = counting_hashes(|| async {
        service
            .register(registration(
                "ada",
                "ada@example.org",
                "secret",
                Some("secret"),
            ))
            .await
    });
    assert!(matches!(result, Err(Error::UsernameTaken)), "{result:?}");
    assert_eq!(hashes, 0, "a taken name must not cost a password hash");
}

#[test]
fn register_hashes_the_password_and_creates_the_user() {
    let created: Arc<Mutex<Option<NewUser>>> = Arc::default();
    let mut store = MockStore::new();
    store
        .expect_check_name()
        .with(eq("Zoë Ångström"), eq(None))
        .times(1)
        .returning(|_, _| Ok(NameCheck::Free));
    let slot = Arc::clone(&created);
    store
        .expect_create_user()
        .times(1)
        .returning(move |new_user: NewUser| {
            let user = User {
                id: UserId(7),
                username: new_user.username.clone(),
                email: new_user.email.clone(),
            };
            *slot.lock().unwrap() = Some(new_user);
            Ok(user)
        });
    let service = service(store);
    let (result, hashes) = counting_hashes(|| async {
        service
            .register(registration(
                "Zoë Ångström",
                "zoe@example.org",
                "a long passphrase",
                None,
            ))
            .await
    });
    let user = result.unwrap();
    assert_eq!(user.id, UserId(7));
    assert!(
        hashes >= 1,
        "the password was never hashed off the executor"
    );

    let new_user = created.lock().unwrap().take().unwrap();
    assert_eq!(new_user.username.as_str(), "Zoë Ångström");
    assert_eq!(new_user.email.as_str(), "zoe@example.org");
    let phc = new_user.password_hash.as_phc().to_owned();
    assert!(phc.starts_with("$argon2id$"), "not an argon2id PHC string");
    assert!(!phc.contains("a long passphrase"));
    let hasher =
        PasswordHasher::new(HashCost::INSECURE_MINIMUM, HashLimits::for_slots(1), None).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        runtime
            .block_on(hasher.verify(
                "a long passphrase",
                Some(&new_user.password_hash),
                Caller::Site
            ))
            .unwrap()
    );
    assert!(
        !runtime
            .block_on(hasher.verify(
                "another passphrase",
                Some(&new_user.password_hash),
                Caller::Site
            ))
            .unwrap()
    );
}

#[tokio::test]
async fn register_accepts_a_matching_confirmation() {
    let mut store = MockStore::new();
    store
        .expect_check_name()
        .times(1)
        .returning(|_, _| Ok(NameCheck::Free));
    store.expect_create_user().times(1).returning(|new_user| {
        Ok(User {
            id: UserId(3),
            username: new_user.username,
            email: new_user.email,
        })
    });
    let user = service(store)
        .register(registration("ada", "ada@example.org", "pw", Some("pw")))
        .await
        .unwrap();
    assert_eq!(user.username.as_str(), "ada");
}

#[tokio::test]
async fn register_reports_a_lost_race_for_the_name_as_taken() {
    let mut store = MockStore::new();
    // A store that did not look: the creation finds the name taken.
    store
        .expect_check_name()
        .times(1)
        .returning(|_, _| Ok(NameCheck::NotChecked));
    store
        .expect_create_user()
        .times(1)
        .returning(|_| Err(StoreError::UsernameTaken));
    let err = service(store)
        .register(registration("ada", "ada@example.org", "pw", None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UsernameTaken), "{err:?}");
    assert_eq!(err.to_string(), "The username is already taken");
    assert_eq!(err.status_code(), 400);
}

/// The simulator's registrations record `latest` exactly once whatever the
/// outcome: with the name check when the name is taken, with the creation
/// when it gets that far, on their own when the form is refused.
#[test]
fn register_with_latest_records_latest_once_in_the_call_that_ends_it() {
    // A taken name: the check recorded it.
    let mut store = MockStore::new();
    store
        .expect_check_name()
        .with(eq("ada"), eq(Some(42)))
        .times(1)
        .returning(|_, _| Ok(NameCheck::Taken));
    store.expect_sync().times(1).returning(|| Ok(()));
    store.expect_set_latest().never();
    store.expect_create_user_with_latest().never();
    let minitwit = service(store);
    let (result, hashes) = counting_hashes(|| async {
        minitwit
            .register_with_latest(registration("ada", "a@example.org", "pw", None), Some(42))
            .await
    });
    assert!(matches!(result, Err(Error::UsernameTaken)), "{result:?}");
    assert_eq!(hashes, 0, "a taken name must not cost a password hash");

    // A name the store did not check: the creation records it.
    let mut store = MockStore::new();
    store
        .expect_check_name()
        .with(eq("bob"), eq(Some(43)))
        .times(1)
        .returning(|_, _| Ok(NameCheck::NotChecked));
    store.expect_set_latest().never();
    store
        .expect_create_user_with_latest()
        .withf(|new_user, latest| new_user.username.as_str() == "bob" && *latest == Some(43))
        .times(1)
        .returning(|_, _| Err(StoreError::UsernameTaken));
    let minitwit = service(store);
    let (result, _) = counting_hashes(|| async {
        minitwit
            .register_with_latest(registration("bob", "b@example.org", "pw", None), Some(43))
            .await
    });
    assert!(matches!(result, Err(Error::UsernameTaken)), "{result:?}");

    // A refused form: recorded on its own, and the name never checked.
    let mut store = MockStore::new();
    store.expect_check_name().never();
    store
        .expect_set_latest()
        .with(eq(44))
        .times(1)
        .returning(|_| Ok(()));
    let minitwit = service(store);
    let (result, _) = counting_hashes(|| async {
        minitwit
            .register_with_latest(registration("carl", "not an address", "pw", None), Some(44))
            .await
    });
    assert!(matches!(result, Err(Error::InvalidEmail)), "{result:?}");
}

#[tokio::test]
async fn authenticate_tells_unknown_users_wrong_and_right_passwords_apart() {
    let hasher =
        PasswordHasher::new(HashCost::INSECURE_MINIMUM, HashLimits::for_slots(1), None).unwrap();
    let hash = hasher
        .hash(&Password::parse("right password").unwrap(), Caller::Site)
        .await
        .unwrap();
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .returning(|_| Ok(None));
    let found = stored(&ada, hash);
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(found.clone())));
    let service = service(store);

    let err = service.authenticate("ghost", "anything").await.unwrap_err();
    assert!(matches!(err, Error::UnknownUsername), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Credentials);

    let err = service
        .authenticate("ada", "wrong password")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Credentials);

    let err = service.authenticate("ada", "").await.unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err:?}");

    assert_eq!(
        service.authenticate("ada", "right password").await.unwrap(),
        Authenticated {
            user: ada,
            session_generation: 7
        }
    );
}

#[tokio::test]
async fn following_oneself_is_refused_without_a_store_write() {
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    let by_id = ada.clone();
    store
        .expect_user_by_id()
        .with(eq(UserId(1)))
        .returning(move |_| Ok(Some(stored_without_password(&by_id))));
    let by_name = ada.clone();
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&by_name))));
    store.expect_follow().never();
    let err = service(store).follow(ada.id, "ada").await.unwrap_err();
    assert!(matches!(err, Error::SelfFollow), "{err:?}");
    assert_eq!(err.status_code(), 400);
}

#[tokio::test]
async fn following_an_unknown_user_is_target_not_found() {
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    store
        .expect_user_by_id()
        .with(eq(UserId(1)))
        .returning(move |_| Ok(Some(stored_without_password(&ada))));
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .times(2)
        .returning(|_| Ok(None));
    store.expect_follow().never();
    store.expect_unfollow().never();
    let service = service(store);
    let err = service.follow(UserId(1), "ghost").await.unwrap_err();
    assert!(matches!(err, Error::TargetNotFound), "{err:?}");
    assert_eq!(err.status_code(), 404);
    let err = service.unfollow(UserId(1), "ghost").await.unwrap_err();
    assert!(matches!(err, Error::TargetNotFound), "{err:?}");
}

#[tokio::test]
async fn an_unknown_follower_is_user_not_found_before_the_target_is_looked_up() {
    let mut store = MockStore::new();
    // Only the follower is looked up; a lookup of "bob" would find no
    // matching expectation and fail the test.
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .times(2)
        .returning(|_| Ok(None));
    store.expect_follow().never();
    store.expect_unfollow().never();
    let service = service(store);
    let err = service.follow("ghost", "bob").await.unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
    assert_eq!(err.status_code(), 404);
    let err = service.unfollow("ghost", "bob").await.unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
}

#[tokio::test]
async fn follow_and_unfollow_write_the_pair_of_ids() {
    let (ada, bob) = (user(1, "ada"), user(2, "bob"));
    let mut store = MockStore::new();
    let found = ada.clone();
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&found))));
    let found = bob.clone();
    store
        .expect_user_by_name()
        .with(eq("bob"))
        .returning(move |_| Ok(Some(stored_without_password(&found))));
    store
        .expect_follow()
        .with(eq(UserId(1)), eq(UserId(2)))
        .times(2)
        .returning(|_, _| Ok(false));
    store
        .expect_unfollow()
        .with(eq(UserId(1)), eq(UserId(2)))
        .times(1)
        .returning(|_, _| Ok(true));
    let service = service(store);
    // Following twice is no error: the store's "nothing changed" is fine.
    assert_eq!(service.follow("ada", "bob").await.unwrap(), bob);
    assert_eq!(service.follow("ada", "bob").await.unwrap(), bob);
    assert_eq!(service.unfollow("ada", "bob").await.unwrap(), bob);
}

#[tokio::test]
async fn unfollowing_oneself_is_a_no_op() {
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    let found = ada.clone();
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&found))));
    store.expect_unfollow().never();
    store.expect_follow().never();
    assert_eq!(service(store).unfollow("ada", "ada").await.unwrap(), ada);
}

#[tokio::test]
async fn a_page_asks_for_one_more_message_to_know_whether_an_older_page_exists() {
    let ada = user(1, "ada");
    // (messages the store has below the cursor, expected page ids, expected next)
    let cases: [(Vec<u64>, Vec<u64>, Option<u64>); 4] = [
        (vec![49, 40, 31, 22], vec![49, 40, 31], Some(31)),
        (vec![49, 40, 31], vec![49, 40, 31], None),
        (vec![49], vec![49], None),
        (vec![], vec![], None),
    ];
    for (stored_ids, page_ids, next) in cases {
        let mut store = MockStore::new();
        let author = ada.clone();
        store
            .expect_timeline()
            .withf(|timeline, page| {
                *timeline == Timeline::Public && *page == PageRequest::before(MessageId(50), 4)
            })
            .times(1)
            .returning(move |_, page| {
                Ok(stored_ids
                    .iter()
                    .take(page.limit)
                    .map(|id| message(*id, &author))
                    .collect())
            });
        let page = service(store)
            .public_timeline(PageRequest::before(MessageId(50), 3))
            .await
            .unwrap();
        let ids: Vec<u64> = page.messages.iter().map(|message| message.id.0).collect();
        assert_eq!(ids, page_ids);
        assert_eq!(page.next, next.map(MessageId));
    }
}

#[tokio::test]
async fn each_timeline_reads_its_own_kind() {
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    let found = ada.clone();
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&found))));
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .returning(|_| Ok(None));
    let author = ada.clone();
    store
        .expect_timeline()
        .withf(|timeline, page| *timeline == Timeline::User(UserId(1)) && page.before.is_none())
        .times(1)
        .returning(move |_, _| Ok(vec![message(5, &author)]));
    store
        .expect_timeline()
        .withf(|timeline, page| *timeline == Timeline::Home(UserId(9)) && page.limit == 11)
        .times(1)
        .returning(|_, _| Ok(vec![]));
    let service = service(store);

    let (owner, page) = service
        .user_timeline("ada", PageRequest::first(30))
        .await
        .unwrap();
    assert_eq!(owner, ada);
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.next, None);

    let page = service
        .home_timeline(UserId(9), PageRequest::first(10))
        .await
        .unwrap();
    assert!(page.messages.is_empty());

    // An unknown user's timeline is never read.
    let err = service
        .user_timeline("ghost", PageRequest::first(30))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
}

#[tokio::test]
async fn posting_validates_the_text_and_dates_it_with_the_clock() {
    let ada = user(1, "ada");
    let mut store = MockStore::new();
    let found = ada.clone();
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&found))));
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .returning(|_| Ok(None));
    store
        .expect_post()
        .withf(|author, text, pub_date| {
            *author == UserId(1) && text.as_str() == "Hello, world!" && *pub_date == NOW
        })
        .times(1)
        .returning(|_, _, _| Ok(MessageId(77)));
    let service = service(store);

    assert_eq!(
        service.post("ada", "Hello, world!").await.unwrap(),
        MessageId(77)
    );
    let err = service.post("ada", "").await.unwrap_err();
    assert!(matches!(err, Error::EmptyMessage), "{err:?}");
    let err = service.post("ada", &"x".repeat(10_001)).await.unwrap_err();
    assert!(matches!(err, Error::MessageTooLong), "{err:?}");
    let err = service.post("ghost", "Hello").await.unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
}

#[tokio::test]
async fn latest_is_minus_one_until_recorded() {
    let mut store = MockStore::new();
    let mut calls = 0;
    store.expect_latest().times(2).returning(move || {
        calls += 1;
        Ok(if calls == 1 { None } else { Some(42) })
    });
    store
        .expect_set_latest()
        .with(eq(42))
        .times(1)
        .returning(|_| Ok(()));
    let service = service(store);
    assert_eq!(service.latest().await.unwrap(), -1);
    service.record_latest(42).await.unwrap();
    assert_eq!(service.latest().await.unwrap(), 42);
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable_503() {
    let mut store = MockStore::new();
    store
        .expect_user_by_name()
        .returning(|_| Err(unavailable()));
    store
        .expect_check_name()
        .returning(|_, _| Err(unavailable()));
    store.expect_create_user().never();
    store.expect_timeline().returning(|_, _| Err(unavailable()));
    store.expect_latest().returning(|| Err(unavailable()));
    store.expect_set_latest().returning(|_| Err(unavailable()));
    let service = service(store);

    let errors = [
        service
            .register(registration("ada", "ada@example.org", "pw", None))
            .await
            .unwrap_err(),
        service.authenticate("ada", "pw").await.unwrap_err(),
        service.follow("ada", "bob").await.unwrap_err(),
        service
            .public_timeline(PageRequest::first(30))
            .await
            .unwrap_err(),
        service.latest().await.unwrap_err(),
        service.record_latest(1).await.unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(err.status_code(), 503);
        assert!(
            !err.to_string().contains("refused"),
            "store details must not reach the text: {err}"
        );
    }
}

#[tokio::test]
async fn other_store_failures_are_internal_500() {
    let mut store = MockStore::new();
    store
        .expect_user_by_id()
        .returning(|_| Err(StoreError::Corrupt("bad record".into())));
    store
        .expect_is_following()
        .returning(|_, _| Err(StoreError::backend("disk full")));
    let service = service(store);
    for err in [
        service.user(UserId(1)).await.unwrap_err(),
        service
            .is_following(UserId(1), UserId(2))
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
        assert_eq!(err.status_code(), 500);
    }
}

/// The named writes of the simulator API go to the store in one call and
/// map its outcomes to the same errors as the separate methods.
#[tokio::test]
async fn named_writes_are_one_store_call_with_the_same_errors() {
    use crate::named::{NamedOutcome, NamedWrite};
    let mut store = MockStore::new();
    store
        .expect_named_write()
        .withf(|write, latest| {
            matches!(write, NamedWrite::Follow { follower, .. } if follower.normalized == "ada")
                && *latest == Some(3)
        })
        .times(1)
        .returning(|_, _| Ok(NamedOutcome::SelfFollow));
    store
        .expect_named_write()
        .withf(|write, _| matches!(write, NamedWrite::Unfollow { .. }))
        .times(1)
        .returning(|_, _| Ok(NamedOutcome::UnknownTarget));
    store
        .expect_named_write()
        .withf(|write, _| matches!(write, NamedWrite::Post { .. }))
        .times(1)
        .returning(|_, _| Ok(NamedOutcome::UnknownUser));
    store.expect_user_by_name().never();
    store.expect_set_latest().never();
    let service = service(store);
    let err = service
        .follow_named("ada", "ada", Some(3))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SelfFollow), "{err:?}");
    let err = service
        .unfollow_named("ada", "ghost", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TargetNotFound), "{err:?}");
    let err = service
        .post_named("ghost", "hello", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
}

/// A named post with an empty text still reports an unknown author first,
/// and records `latest` before answering.
#[tokio::test]
async fn a_bad_named_post_reports_an_unknown_author_first_and_records_latest() {
    let mut store = MockStore::new();
    store
        .expect_set_latest()
        .with(eq(9))
        .times(2)
        .returning(|_| Ok(()));
    store
        .expect_user_by_name()
        .with(eq("ghost"))
        .returning(|_| Ok(None));
    let ada = user(1, "ada");
    store
        .expect_user_by_name()
        .with(eq("ada"))
        .returning(move |_| Ok(Some(stored_without_password(&ada))));
    store.expect_named_write().never();
    let service = service(store);
    let err = service.post_named("ghost", "", Some(9)).await.unwrap_err();
    assert!(matches!(err, Error::UserNotFound), "{err:?}");
    let err = service.post_named("ada", "", Some(9)).await.unwrap_err();
    assert!(matches!(err, Error::EmptyMessage), "{err:?}");
}
