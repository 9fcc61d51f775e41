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

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::support::{new_user_with_email, text};
use crate::{
    MemoryStore, Message, MessageId, PageRequest, Store, StoreError, StoredUser, Timeline,
    Timestamp, User, UserId,
};

/// How many random sequences [`check_against_model`] tries, unless the
/// `PROPTEST_CASES` environment variable says otherwise.
pub const DEFAULT_CASES: u32 = 64;

/// The longest operation sequence [`check_against_model`] generates.
pub const MAX_OPERATIONS: usize = 40;

/// Names users are created from. Few, so that duplicates are common; some
/// differ only in case, whitespace or Unicode form.
const NAMES: [&str; 7] = [
    "ada",
    "Ada",
    "ada ",
    "Zoë Ångström",
    "Zoe\u{308} Ångström",
    "李小龍",
    "grace hopper",
];

/// One random operation. Users and messages are named by index into what
/// has been created or posted so far, so every operation is meaningful
/// whatever came before it.
#[derive(Clone)]
enum Op {
    CreateUser {
        name: usize,
    },
    UserByName {
        name: usize,
    },
    UserById {
        user: Index,
    },
    Follow {
        follower: Index,
        followee: Index,
    },
    Unfollow {
        follower: Index,
        followee: Index,
    },
    IsFollowing {
        follower: Index,
        followee: Index,
    },
    Followees {
        follower: Index,
        limit: usize,
    },
    Post {
        author: Index,
        pub_date: Timestamp,
    },
    Timeline {
        kind: Kind,
        before: Option<Index>,
        limit: usize,
    },
    SetLatest {
        value: i64,
    },
    Latest,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Public,
    User(Index),
    Home(Index),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Indexes printed as fractions of the pool they pick from.
        let ix = |index: &Index| format!("#{:.2}", index.index(100) as f64 / 100.0);
        match self {
            Self::CreateUser { name } => write!(f, "create_user({:?})", NAMES[*name]),
            Self::UserByName { name } => write!(f, "user_by_name({:?})", NAMES[*name]),
            Self::UserById { user } => write!(f, "user_by_id(user {})", ix(user)),
            Self::Follow { follower, followee } => {
                write!(
                    f,
                    "follow(user {}, other user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::Unfollow { follower, followee } => {
                write!(
                    f,
                    "unfollow(user {}, other user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::IsFollowing { follower, followee } => {
                write!(
                    f,
                    "is_following(user {}, user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::Followees { follower, limit } => {
                write!(f, "followees(user {}, {limit})", ix(follower))
            }
            Self::Post { author, pub_date } => write!(f, "post(user {}, {pub_date})", ix(author)),
            Self::Timeline {
                kind,
                before,
                limit,
            } => {
                let kind = match kind {
                    Kind::Public => "Public".to_owned(),
                    Kind::User(user) => format!("User(user {})", ix(user)),
                    Kind::Home(user) => format!("Home(user {})", ix(user)),
                };
                let before = before
                    .as_ref()
                    .map_or("None".to_owned(), |m| format!("message {}", ix(m)));
                write!(f, "timeline({kind}, before {before}, limit {limit})")
            }
            Self::SetLatest { value } => write!(f, "set_latest({value})"),
            Self::Latest => write!(f, "latest()"),
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let limit = 0..6usize;
    let kind = prop_oneof![
        Just(Kind::Public),
        any::<Index>().prop_map(Kind::User),
        any::<Index>().prop_map(Kind::Home),
    ];
    let latest = prop_oneof![-5..2_000i64, Just(-1i64), Just(i64::MIN), Just(i64::MAX)];
    prop_oneof![
        4 => name.clone().prop_map(|name| Op::CreateUser { name }),
        1 => name.prop_map(|name| Op::UserByName { name }),
        1 => any::<Index>().prop_map(|user| Op::UserById { user }),
        3 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::Follow { follower, followee }),
        2 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::Unfollow { follower, followee }),
        1 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::IsFollowing { follower, followee }),
        1 => (any::<Index>(), limit.clone())
            .prop_map(|(follower, limit)| Op::Followees { follower, limit }),
        5 => (any::<Index>(), -10..2_000_000_000i64)
            .prop_map(|(author, pub_date)| Op::Post { author, pub_date }),
        4 => (kind, proptest::option::of(any::<Index>()), limit)
            .prop_map(|(kind, before, limit)| Op::Timeline { kind, before, limit }),
        1 => latest.prop_map(|value| Op::SetLatest { value }),
        1 => Just(Op::Latest),
    ]
}

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
    Done,
    Skipped,
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
        let nth = self
            .users
            .iter()
            .position(|id| *id == user.id)
            .ok_or_else(|| {
                format!(
                    "{} store returned user id {} that create_user never returned",
                    self.label, user.id.0
                )
            })?;
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
                    stored.password_hash.as_phc().to_owned(),
                ))
            })
            .transpose()
            .map(Answer::Found)
    }

    fn message_view(&self, message: &Message) -> Result<MessageView, String> {
        let nth = self
            .messages
            .iter()
            .position(|id| *id == message.id)
            .ok_or_else(|| {
                format!(
                    "{} store returned message id {} that post never returned",
                    self.label, message.id.0
                )
            })?;
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
        Ok(answers)
    }
}

/// Applies `ops` to both stores and compares every answer, then everything
/// readable at the end.
async fn compare(
    ops: &[Op],
    backend: &Arc<dyn Store>,
    model: &Arc<dyn Store>,
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
    Ok(())
}

/// The model-based property test: random sequences of up to
/// [`MAX_OPERATIONS`] operations (create users from a small pool of names
/// with duplicates, look them up, follow, unfollow, list followees, post,
/// read every kind of timeline with cursors and small limits, set and read
/// `latest`) are applied to a fresh store from `factory` and to a fresh
/// [`MemoryStore`]; every answer must agree, modulo ids.
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
                compare(&ops, &backend, &model).await
            })
            .map_err(TestCaseError::fail)
    });
    if let Err(err) = result {
        panic!("the store disagrees with the reference model (MemoryStore).\n{err}");
    }
}
