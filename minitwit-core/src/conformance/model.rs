//! The model-based property test: random operation sequences applied to a
//! backend and to [`MemoryStore`], the reference model, answer by answer.
//!
//! Ids are the backends' own business, so answers are compared modulo ids:
//! a user is known by the order of creation (and its name), a message by the
//! order of posting (its text is unique). Within one store the ids must be
//! consistent: a timeline must carry the id its `post` returned, a lookup
//! the id its `create_user` returned.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::model_ops::{Kind, NAMES, Op, op};
use super::support::{new_user_with_email, text};
use crate::{
    Counts, MemoryStore, Message, MessageId, PageRequest, Record, Store, StoreError, StoredUser,
    Timeline, Timestamp, User, UserId,
};

/// How many random sequences [`check_against_model`] tries, unless the
/// `PROPTEST_CASES` environment variable says otherwise.
pub const DEFAULT_CASES: u32 = 64;

/// The longest operation sequence [`check_against_model`] generates.
pub const MAX_OPERATIONS: usize = 40;

/// A user as compared across stores: its place in creation order instead
/// of its id.
#[derive(Debug, PartialEq, Eq)]
struct UserView {
    nth: usize,
    name: String,
    email: String,
}

/// A message as compared across stores: its place in posting order
/// instead of its id.
#[derive(Debug, PartialEq, Eq)]
struct MessageView {
    nth: usize,
    author: UserView,
    text: String,
    pub_date: Timestamp,
}

/// An answer as compared across stores.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Created(Option<UserView>),
    Taken,
    Found(Option<(UserView, String)>),
    Changed(bool),
    Following(bool),
    Users(Vec<UserView>),
    Posted(usize),
    Messages(Vec<MessageView>),
    Latest(Option<i64>),
    Generation(u64),
    Counts(Counts),
    Records(Vec<RecordView>),
    Done,
    Skipped,
}

/// A record of an export as compared across stores: users and messages by
/// their place in creation order instead of their ids.
#[derive(Debug, PartialEq, Eq)]
enum RecordView {
    User(UserView, String, u64),
    Follow(usize, usize),
    Message(usize, usize, String, Timestamp),
    Latest(i64),
    Secret(String, Vec<u8>),
}

/// One store with what it handed out so far: its user ids in creation
/// order and its message ids in posting order.
struct Side<'a> {
    label: &'a str,
    store: &'a Arc<dyn Store>,
    users: Vec<UserId>,
    messages: Vec<MessageId>,
}

impl Side<'_> {
    fn fail(&self, call: impl fmt::Display, err: impl fmt::Display) -> String {
        format!("{} store: {call} failed: {err}", self.label)
    }

    fn user_view(&self, user: &User) -> Result<UserView, String> {
        let nth = self.nth(
            self.users.iter().map(|user| user.0),
            user.id.0,
            "returned user",
            "create_user",
        )?;
        Ok(UserView {
            nth,
            name: user.username.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
        })
    }

    fn stored_view(&self, stored: Option<StoredUser>) -> Result<Answer, String> {
        stored
            .map(|stored| {
                Ok((
                    self.user_view(&stored.user)?,
                    format!(
                        "{} / sessions {}",
                        stored.password_hash.as_phc(),
                        stored.session_generation
                    ),
                ))
            })
            .transpose()
            .map(Answer::Found)
    }

    fn nth_user(&self, id: UserId) -> Result<usize, String> {
        self.nth(
            self.users.iter().map(|user| user.0),
            id.0,
            "exported user",
            "create_user",
        )
    }

    /// Where `id` stands among the ids `made_by` returned, in order.
    fn nth(
        &self,
        mut known: impl Iterator<Item = u64>,
        id: u64,
        what: &str,
        made_by: &str,
    ) -> Result<usize, String> {
        known.position(|known| known == id).ok_or_else(|| {
            format!(
                "{} store {what} id {id} that {made_by} never returned",
                self.label
            )
        })
    }

    fn record_view(&self, record: &Record) -> Result<RecordView, String> {
        Ok(match record {
            Record::User(stored) => RecordView::User(
                self.user_view(&stored.user)?,
                stored.password_hash.as_phc().to_owned(),
                stored.session_generation,
            ),
            Record::Follow { follower, followee } => {
                RecordView::Follow(self.nth_user(*follower)?, self.nth_user(*followee)?)
            }
            Record::Message(message) => {
                let nth = self.nth(
                    self.messages.iter().map(|message| message.0),
                    message.id.0,
                    "exported message",
                    "post",
                )?;
                RecordView::Message(
                    nth,
                    self.nth_user(message.author)?,
                    message.text.as_str().to_owned(),
                    message.pub_date,
                )
            }
            Record::Latest(latest) => RecordView::Latest(*latest),
            Record::Secret { name, value } => RecordView::Secret(name.clone(), value.clone()),
        })
    }

    async fn export(&self) -> Result<Vec<Record>, String> {
        futures::TryStreamExt::try_collect(self.store.export())
            .await
            .map_err(|err| self.fail("export", err))
    }

    fn message_view(&self, message: &Message) -> Result<MessageView, String> {
        let nth = self.nth(
            self.messages.iter().map(|message| message.0),
            message.id.0,
            "returned message",
            "post",
        )?;
        Ok(MessageView {
            nth,
            author: self.user_view(&message.author)?,
            text: message.text.as_str().to_owned(),
            pub_date: message.pub_date,
        })
    }

    /// The other user a pair of indexes picks: never the follower itself,
    /// since the service never lets anyone follow themselves.
    fn pair(&self, follower: &Index, followee: &Index) -> Option<(UserId, UserId)> {
        let count = self.users.len();
        if count < 2 {
            return None;
        }
        let first = follower.index(count);
        let second = (first + 1 + followee.index(count - 1)) % count;
        Some((self.users[first], self.users[second]))
    }

    async fn apply(&mut self, op: &Op, step: usize) -> Result<Answer, String> {
        let store = Arc::clone(self.store);
        let answer = match op {
            Op::CreateUser { name } => {
                let name = NAMES[*name];
                let email = format!("step{step}@example.org");
                match store.create_user(new_user_with_email(name, &email)).await {
                    Ok(user) => {
                        if self.users.contains(&user.id) {
                            return Err(format!(
                                "{} store reused user id {}",
                                self.label, user.id.0
                            ));
                        }
                        self.users.push(user.id);
                        Answer::Created(Some(self.user_view(&user)?))
                    }
                    Err(StoreError::UsernameTaken) => Answer::Taken,
                    Err(err) => return Err(self.fail(format_args!("create_user({name:?})"), err)),
                }
            }
            Op::UserByName { name } => {
                let stored = store
                    .user_by_name(NAMES[*name])
                    .await
                    .map_err(|err| self.fail("user_by_name", err))?;
                self.stored_view(stored)?
            }
            Op::UserById { user } => {
                if self.users.is_empty() {
                    return Ok(Answer::Skipped);
                }
                let id = *user.get(&self.users);
                let stored = store
                    .user_by_id(id)
                    .await
                    .map_err(|err| self.fail("user_by_id", err))?;
                self.stored_view(stored)?
            }
            Op::Follow { follower, followee } => match self.pair(follower, followee) {
                None => Answer::Skipped,
                Some((a, b)) => Answer::Changed(
                    store
                        .follow(a, b)
                        .await
                        .map_err(|err| self.fail("follow", err))?,
                ),
            },
            Op::Unfollow { follower, followee } => match self.pair(follower, followee) {
                None => Answer::Skipped,
                Some((a, b)) => Answer::Changed(
                    store
                        .unfollow(a, b)
                        .await
                        .map_err(|err| self.fail("unfollow", err))?,
                ),
            },
            Op::IsFollowing { follower, followee } => {
                if self.users.is_empty() {
                    return Ok(Answer::Skipped);
                }
                let (a, b) = (*follower.get(&self.users), *followee.get(&self.users));
                Answer::Following(
                    store
                        .is_following(a, b)
                        .await
                        .map_err(|err| self.fail("is_following", err))?,
                )
            }
            Op::Followees { follower, limit } => {
                if self.users.is_empty() {
                    return Ok(Answer::Skipped);
                }
                let users = store
                    .followees(*follower.get(&self.users), *limit)
                    .await
                    .map_err(|err| self.fail("followees", err))?;
                Answer::Users(
                    users
                        .iter()
                        .map(|user| self.user_view(user))
                        .collect::<Result<_, _>>()?,
                )
            }
            Op::Post { author, pub_date } => {
                if self.users.is_empty() {
                    return Ok(Answer::Skipped);
                }
                let nth = self.messages.len();
                let body = text(&format!("message {nth} at step {step} ✓"));
                let id = store
                    .post(*author.get(&self.users), body, *pub_date)
                    .await
                    .map_err(|err| self.fail("post", err))?;
                if self.messages.iter().any(|earlier| *earlier >= id) {
                    return Err(format!(
                        "{} store: post returned id {} which is not larger than every earlier \
                         message id",
                        self.label, id.0
                    ));
                }
                self.messages.push(id);
                Answer::Posted(nth)
            }
            Op::Timeline {
                kind,
                before,
                limit,
            } => {
                let timeline = match kind {
                    Kind::Public => Timeline::Public,
                    Kind::User(_) | Kind::Home(_) if self.users.is_empty() => {
                        return Ok(Answer::Skipped);
                    }
                    Kind::User(user) => Timeline::User(*user.get(&self.users)),
                    Kind::Home(user) => Timeline::Home(*user.get(&self.users)),
                };
                let before = match before {
                    Some(message) if !self.messages.is_empty() => {
                        Some(*message.get(&self.messages))
                    }
                    _ => None,
                };
                let page = PageRequest {
                    before,
                    limit: *limit,
                };
                let messages = store.timeline(timeline, page).await.map_err(|err| {
                    self.fail(format_args!("timeline({timeline:?}, {page:?})"), err)
                })?;
                Answer::Messages(
                    messages
                        .iter()
                        .map(|message| self.message_view(message))
                        .collect::<Result<_, _>>()?,
                )
            }
            Op::SetLatest { value } => {
                store
                    .set_latest(*value)
                    .await
                    .map_err(|err| self.fail("set_latest", err))?;
                Answer::Done
            }
            Op::Latest => Answer::Latest(
                store
                    .latest()
                    .await
                    .map_err(|err| self.fail("latest", err))?,
            ),
            Op::EndSessions { user } => {
                if self.users.is_empty() {
                    return Ok(Answer::Skipped);
                }
                Answer::Generation(
                    store
                        .end_sessions(*user.get(&self.users))
                        .await
                        .map_err(|err| self.fail("end_sessions", err))?,
                )
            }
            Op::Counts => Answer::Counts(
                store
                    .counts()
                    .await
                    .map_err(|err| self.fail("counts", err))?,
            ),
        };
        Ok(answer)
    }

    /// Everything readable at the end: every user by id, their followees,
    /// and every timeline in full.
    async fn snapshot(&self) -> Result<Vec<Answer>, String> {
        let all = 1_000;
        let mut answers = Vec::new();
        for id in &self.users {
            let stored = self
                .store
                .user_by_id(*id)
                .await
                .map_err(|err| self.fail("user_by_id", err))?;
            answers.push(self.stored_view(stored)?);
            let followees = self
                .store
                .followees(*id, all)
                .await
                .map_err(|err| self.fail("followees", err))?;
            answers.push(Answer::Users(
                followees
                    .iter()
                    .map(|user| self.user_view(user))
                    .collect::<Result<_, _>>()?,
            ));
        }
        let mut timelines = vec![Timeline::Public];
        for id in &self.users {
            timelines.push(Timeline::User(*id));
            timelines.push(Timeline::Home(*id));
        }
        for timeline in timelines {
            let messages = self
                .store
                .timeline(timeline, PageRequest::first(all))
                .await
                .map_err(|err| self.fail("timeline", err))?;
            answers.push(Answer::Messages(
                messages
                    .iter()
                    .map(|message| self.message_view(message))
                    .collect::<Result<_, _>>()?,
            ));
        }
        answers.push(Answer::Latest(
            self.store
                .latest()
                .await
                .map_err(|err| self.fail("latest", err))?,
        ));
        answers.push(Answer::Counts(
            self.store
                .counts()
                .await
                .map_err(|err| self.fail("counts", err))?,
        ));
        let records = self.export().await?;
        answers.push(Answer::Records(
            records
                .iter()
                .map(|record| self.record_view(record))
                .collect::<Result<_, _>>()?,
        ));
        Ok(answers)
    }
}

/// Exports `from`, imports the records into `into` (fresh) in batches of
/// three, and requires an export of `into` to give the same records.
async fn round_trip(from: &Side<'_>, into: &Arc<dyn Store>, label: &str) -> Result<(), String> {
    let records = from.export().await?;
    for batch in records.chunks(3) {
        into.import(batch.to_vec())
            .await
            .map_err(|err| format!("import into {label} failed: {err}"))?;
    }
    let again: Vec<Record> = futures::TryStreamExt::try_collect(into.export())
        .await
        .map_err(|err| format!("export of {label} failed: {err}"))?;
    if again != records {
        return Err(format!(
            "the backend's export, imported into {label}, exports differently:\n{again:#?}\n\
             instead of\n{records:#?}"
        ));
    }
    Ok(())
}

/// Applies `ops` to both stores and compares every answer, then everything
/// readable at the end.
async fn compare(
    ops: &[Op],
    backend: &Arc<dyn Store>,
    model: &Arc<dyn Store>,
    fresh_backend: &Arc<dyn Store>,
) -> Result<(), String> {
    let mut backend = Side {
        label: "backend",
        store: backend,
        users: Vec::new(),
        messages: Vec::new(),
    };
    let mut model = Side {
        label: "model (MemoryStore)",
        store: model,
        users: Vec::new(),
        messages: Vec::new(),
    };
    for (step, op) in ops.iter().enumerate() {
        let expected = model.apply(op, step).await?;
        let got = backend.apply(op, step).await?;
        if got != expected {
            return Err(format!(
                "step {step}: {op:?}: the backend answered\n{got:#?}\nbut the reference model \
                 answered\n{expected:#?}"
            ));
        }
    }
    let expected = model.snapshot().await?;
    let got = backend.snapshot().await?;
    for (n, (got, expected)) in got.iter().zip(&expected).enumerate() {
        if got != expected {
            return Err(format!(
                "after all steps, read {n} of the final state differs: the backend has\n{got:#?}\n\
                 but the reference model has\n{expected:#?}"
            ));
        }
    }
    round_trip(&backend, fresh_backend, "a fresh store of the backend").await?;
    let fresh_model: Arc<dyn Store> = Arc::new(MemoryStore::new());
    round_trip(&backend, &fresh_model, "a fresh MemoryStore").await
}

/// The model-based property test: random sequences of up to
/// [`MAX_OPERATIONS`] operations (create users from a small pool of names
/// with duplicates, look them up, follow, unfollow, list followees, post,
/// read every kind of timeline with cursors and small limits, set and read
/// `latest`, end sessions, count) are applied to a fresh store from
/// `factory` and to a fresh [`MemoryStore`]; every answer must agree,
/// modulo ids, and so must everything readable at the end, the export
/// included. Then the backend's export is imported into a second fresh
/// store from `factory` and into a fresh `MemoryStore`, and each must export
/// the very same records.
///
/// Runs [`DEFAULT_CASES`] sequences, or as many as the `PROPTEST_CASES`
/// environment variable says. `factory` is called once per sequence (and
/// per shrinking step) and must return a fresh, empty store each time. This
/// is a plain synchronous function: it builds its own single-threaded tokio
/// runtime and calls `factory` inside it, so call it from a `#[test]`, not
/// from within a runtime.
///
/// # Panics
/// When the backend disagrees with the model or fails, with the shortest
/// operation sequence found that shows it.
pub fn check_against_model<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("cannot build a tokio runtime: {err}"));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        // The failing sequence is printed; a regressions file would land
        // wherever the calling crate happens to be.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = proptest::collection::vec(op(), 1..=MAX_OPERATIONS);
    let result = runner.run(&strategy, |ops| {
        runtime
            .block_on(async {
                let backend = factory().await;
                let model: Arc<dyn Store> = Arc::new(MemoryStore::new());
                let fresh_backend = factory().await;
                compare(&ops, &backend, &model, &fresh_backend).await
            })
            .map_err(TestCaseError::fail)
    });
    if let Err(err) = result {
        panic!("the store disagrees with the reference model (MemoryStore).\n{err}");
    }
}
