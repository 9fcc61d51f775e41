//! Unit tests of opening: what the store refuses, what it creates, and
//! what it remembers across a close.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::heads::Head;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: minitwit_core::Username::parse(name).unwrap(),
        email: minitwit_core::Email::parse("a@b").unwrap(),
        password_hash: minitwit_core::PasswordHash::from_phc(format!("$argon2id${name}")),
        session_generation: 1,
    }
}

#[test]
fn a_locked_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::open(SledConfig::new(dir.path())).unwrap();
    let err = SledStore::open(SledConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, SledStoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("already in use"), "{err}");
    drop(first);
    SledStore::open(SledConfig::new(dir.path())).unwrap();
}

#[test]
fn a_tiny_cache_is_refused() {
    let err = SledStore::open(SledConfig::temporary().cache_capacity(10)).unwrap_err();
    assert!(matches!(err, SledStoreError::InvalidConfig(_)), "{err:?}");
}

#[test]
fn another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree(layout::META)
            .unwrap()
            .insert(layout::META_FORMAT, &[99][..])
            .unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(SledConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(err, SledStoreError::IncompatibleLayout { .. }),
        "{err:?}"
    );
}

#[test]
fn a_file_or_someone_elses_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    let err = SledStore::open(SledConfig::new(&file)).unwrap_err();
    assert!(
        matches!(err, SledStoreError::NotADirectory { .. }),
        "{err:?}"
    );
    let err = SledStore::open(SledConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, SledStoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("holds no sled store"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_new_directory_is_private_and_reported_as_created() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = SledStore::open(SledConfig::new(&dir)).unwrap();
    assert!(store.was_created());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    drop(store);
    let again = SledStore::open(SledConfig::new(&dir)).unwrap();
    assert!(!again.was_created());
    // An empty directory that exists is a new store too.
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(
        SledStore::open(SledConfig::new(&empty))
            .unwrap()
            .was_created()
    );
}

#[tokio::test]
async fn counts_survive_a_clean_close_and_are_recounted_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
        let ada = store.create_user(new_user("ada")).await.unwrap();
        let bob = store.create_user(new_user("bob")).await.unwrap();
        store.follow(ada.id, bob.id).await.unwrap();
        for n in 0..3 {
            let text = MessageText::parse(&format!("m{n}")).unwrap();
            store.post(bob.id, text, 0).await.unwrap();
        }
        store.counts().await.unwrap()
    };
    assert_eq!(
        expected,
        Counts {
            users: 2,
            follows: 1,
            messages: 3
        }
    );
    let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
    assert!(!store.was_recounted());
    assert_eq!(store.counts().await.unwrap(), expected);
    drop(store);
    // A crash leaves no counts behind: remove them as a crash would.
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree(layout::META)
            .unwrap()
            .remove(layout::META_COUNTS)
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
    assert!(store.was_recounted());
    assert_eq!(store.counts().await.unwrap(), expected);
}

#[tokio::test]
async fn a_layout_1_store_opens_and_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree(layout::META)
            .unwrap()
            .insert(layout::META_FORMAT, &[1][..])
            .unwrap();
        let id = db.generate_id().unwrap() + 1;
        let mut record = vec![1u8];
        for field in ["ada", "a@b", "$argon2id$old"] {
            record.extend_from_slice(&(field.len() as u32).to_be_bytes());
            record.extend_from_slice(field.as_bytes());
        }
        db.open_tree(layout::USERS)
            .unwrap()
            .insert(id_key(id), record)
            .unwrap();
        db.open_tree(layout::USER_NAMES)
            .unwrap()
            .insert("ada", &id_key(id)[..])
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
    assert!(store.was_recounted());
    let ada = store.user_by_name("ada").await.unwrap().unwrap();
    assert_eq!(ada.session_generation, 0);
    assert_eq!(store.end_sessions(ada.user.id).await.unwrap(), 1);
    assert_eq!(store.counts().await.unwrap().users, 1);
    let format = store.trees.meta.get(layout::META_FORMAT).unwrap().unwrap();
    assert_eq!(&format[..], &[layout::FORMAT]);
}

#[test]
fn ids_are_never_zero_and_grow() {
    let store = SledStore::open(SledConfig::temporary()).unwrap();
    let first = store.next_id().unwrap();
    let second = store.next_id().unwrap();
    assert!(first > 0);
    assert!(second > first);
}

#[tokio::test]
async fn home_merges_after_a_reopen_learn_only_newest_ids_read_from_the_top() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob, posted) = {
        let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
        let ada = store.create_user(new_user("ada")).await.unwrap();
        let bob = store.create_user(new_user("bob")).await.unwrap();
        store.follow(ada.id, bob.id).await.unwrap();
        let mut posted = Vec::new();
        for n in 0..5 {
            let text = MessageText::parse(&format!("m{n}")).unwrap();
            posted.push(store.post(bob.id, text, 0).await.unwrap());
        }
        (ada.id, bob.id, posted)
    };
    // A new process knows no author's newest id: a merge below a cursor
    // reads bob's index without taking what it found for bob's newest.
    let store = SledStore::open(SledConfig::new(dir.path())).unwrap();
    let authors = [ada, bob];
    let deep = store
        .trees
        .merged_home_ids(&authors, PageRequest::before(posted[2], 1))
        .unwrap();
    assert_eq!(deep, [(posted[1], bob)]);
    let first = store
        .trees
        .merged_home_ids(&authors, PageRequest::first(2))
        .unwrap();
    assert_eq!(first, [(posted[4], bob), (posted[3], bob)]);
    // From the top it learns; a later post raises what it learned.
    let text = MessageText::parse("m5").unwrap();
    let newest = store.post(bob, text, 0).await.unwrap();
    let first = store
        .trees
        .merged_home_ids(&authors, PageRequest::first(2))
        .unwrap();
    assert_eq!(first, [(newest, bob), (posted[4], bob)]);
    assert_eq!(
        store.trees.heads.get(&authors).0,
        [Some(Head::Nothing), Some(Head::Newest(newest))]
    );
}

/// A merge over many followees waits while another one runs; a merge over
/// few, and a page from the cache, do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::await_holding_lock,
    reason = "the test holds the large merges' turn while reads run"
)]
async fn merges_over_many_followees_run_one_at_a_time() {
    let store = Arc::new(SledStore::open(SledConfig::temporary()).unwrap());
    let many = store.create_user(new_user("many")).await.unwrap().id;
    let few = store.create_user(new_user("few")).await.unwrap().id;
    for n in 0..LARGE_MERGE {
        let author = store
            .create_user(new_user(&format!("author{n}")))
            .await
            .unwrap()
            .id;
        let text = minitwit_core::MessageText::parse("hello").unwrap();
        store.post(author, text, 0).await.unwrap();
        store.follow(many, author).await.unwrap();
        if n < 2 {
            store.follow(few, author).await.unwrap();
        }
    }
    let read = |reader: UserId| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .timeline(Timeline::Home(reader), PageRequest::first(10))
                .await
                .unwrap()
                .len()
        })
    };
    // Cached before the large merges are held.
    assert_eq!(read(few).await.unwrap(), 2);
    let held = store.large_merges.lock().unwrap();
    assert_eq!(read(few).await.unwrap(), 2, "a cached page never waits");
    store.home.clear();
    assert_eq!(read(few).await.unwrap(), 2, "a small merge never waits");
    let waiting = read(many);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a large merge waits for its turn");
    drop(held);
    assert_eq!(waiting.await.unwrap(), 10);
}
