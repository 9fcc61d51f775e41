//! A store that fails: the site answers with its own 503 and 500 pages, and
//! refuses to start when it cannot read the session key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use minitwit_core::{
    MemoryStore, Message, MessageId, MessageText, NewUser, PageRequest, Store, StoreError,
    StoredUser, Timeline, Timestamp, User, UserId,
};
use minitwit_web::{WebConfig, stage};
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;

use crate::common::*;

const UP: u8 = 0;
const UNAVAILABLE: u8 = 1;
const BROKEN: u8 = 2;

/// The reference store behind a switch that makes every call fail.
#[derive(Default)]
struct Switched {
    inner: MemoryStore,
    state: AtomicU8,
}

impl Switched {
    fn check(&self) -> Result<(), StoreError> {
        match self.state.load(Ordering::SeqCst) {
            UP => Ok(()),
            UNAVAILABLE => Err(StoreError::unavailable("connection refused")),
            _ => Err(StoreError::backend("disk on fire")),
        }
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Switched {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.check()?;
        self.inner.create_user(new_user).await
    }
    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        self.check()?;
        self.inner.user_by_name(username).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.check()?;
        self.inner.user_by_id(id).await
    }
    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.follow(follower, followee).await
    }
    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.unfollow(follower, followee).await
    }
    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.is_following(follower, followee).await
    }
    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.check()?;
        self.inner.followees(follower, limit).await
    }
    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        self.check()?;
        self.inner.post(author, text, pub_date).await
    }
    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        self.check()?;
        self.inner.timeline(timeline, page).await
    }
    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.check()?;
        self.inner.set_latest(latest).await
    }
    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        self.check()?;
        self.inner.latest().await
    }
    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.check()?;
        self.inner.get_or_init_secret(name, candidate).await
    }
}

#[rocket::async_test]
async fn an_unavailable_store_shows_the_try_again_page() {
    let store = Arc::new(Switched::default());
    let client = client_with(store.clone(), WebConfig::default(), figment()).await;
    register_and_login(&client, "alice").await;
    store.set(UNAVAILABLE);
    for path in ["/", "/public", "/alice"] {
        let response = client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::ServiceUnavailable, "{path}");
        assert_eq!(response.content_type(), Some(ContentType::HTML));
        let body = response.into_string().await.unwrap();
        assert!(body.contains("<h2>Temporarily unavailable</h2>"), "{body}");
        assert!(body.contains("try again"));
        assert!(!body.contains("connection refused"), "no details leak");
    }
    store.set(UP);
    let (status, body) = get(&client, "/").await;
    assert_eq!(status, Status::Ok);
    assert!(
        body.contains("sign out [alice]"),
        "the session outlived the outage"
    );

    // Signing in needs the password hash, which only the store has.
    get(&client, "/logout").await;
    store.set(UNAVAILABLE);
    let response = post(
        &client,
        "/login",
        &[("username", "alice"), ("password", "x")],
    )
    .await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
}

#[rocket::async_test]
async fn a_broken_store_shows_the_500_page() {
    let store = Arc::new(Switched::default());
    let client = client_with(store.clone(), WebConfig::default(), figment()).await;
    store.set(BROKEN);
    let response = client.get("/public").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
    let body = response.into_string().await.unwrap();
    assert!(body.contains("<h2>Something went wrong</h2>"));
    assert!(!body.contains("disk on fire"));
}

#[rocket::async_test]
async fn no_start_without_the_session_key() {
    let store = Arc::new(Switched::default());
    store.set(UNAVAILABLE);
    let rocket = rocket::custom(figment()).attach(stage(service(store), WebConfig::default()));
    match Client::tracked(rocket).await {
        // Looking at the kind marks the error as handled.
        Err(err) => assert!(matches!(
            err.kind(),
            rocket::error::ErrorKind::FailedFairings(_)
        )),
        Ok(_) => panic!("started without a session key"),
    }
}
