//! # minitwit-store-redis
//!
//! [`RedisStore`]: a [`Store`] on Redis, for running several MiniTwit server
//! instances against one shared state. Every instance connects to the same
//! Redis server and namespace; users, follows, messages, `latest` and the
//! shared secrets (the session key) are then the same for all of them, and a
//! load balancer can send any request to any instance.
//!
//! ```no_run
//! use std::sync::Arc;
//! use minitwit_core::{MiniTwit, Store};
//! use minitwit_store_redis::{RedisConfig, RedisStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = RedisConfig::new("redis://127.0.0.1:6379/0").with_namespace("minitwit");
//! let store: Arc<dyn Store> = Arc::new(RedisStore::connect(config).await?);
//! let service = MiniTwit::builder(store).build()?;
//! # Ok(()) }
//! ```
//!
//! ## How it keeps the contract
//!
//! * **Atomic, one round trip per write.** Every update that touches more
//!   than one key is a Lua script (see [`scripts`]), which Redis runs
//!   atomically: two registrations of one name on two instances at once
//!   cannot both pass the name check. Updates of a single key (follow,
//!   unfollow, `latest`) are single commands. Each is one network round trip.
//! * **Reads in one round trip.** Looking a user up by name, a page of a
//!   timeline with its messages and their authors, a list of followees with
//!   their records: each is one script, so one round trip.
//! * **Indexed timelines.** Timelines are sorted sets scored by message id
//!   (see [`layout`]); a page costs O(log N + page size), and a home page
//!   (followees + 1) times that, whatever the number of stored messages.
//! * **Ids.** User and message ids come from `INCR` counters inside the
//!   write scripts, shared by every instance: unique, never reused, and a
//!   post that completed before another began has the smaller id.
//! * **Durability** is the Redis server's: a write is acknowledged once
//!   Redis has applied it, so it survives the MiniTwit process being killed;
//!   to survive Redis itself being killed, run Redis with `appendonly yes`
//!   (`appendfsync always` for every acknowledged write, `everysec` for at
//!   most a second of loss on a power cut). [`Store::flush`] has nothing
//!   to do.
//!
//! ## Failures, reconnection and retries
//!
//! The store holds one [`redis::aio::ConnectionManager`]: a single
//! multiplexed connection that every task of the process shares, and that
//! replaces itself when it breaks (see [`RedisConfig`] for the timing).
//!
//! * While Redis is down, calls fail at once with
//!   [`StoreError::Unavailable`] (the frontends answer 503); none waits
//!   longer than [`RedisConfig::response_timeout`].
//! * When Redis is back, the store recovers by itself: the first call that
//!   finds the old connection dead starts a new one.
//!
//! ### What is sent again
//!
//! A call whose connection fails is sent **once more**, on the connection
//! the manager opens in its place, when the failure is a refused, reset,
//! aborted or closed connection (an I/O error that is not a timeout). The
//! second send shares the first one's deadline: the whole call, both sends
//! and the reconnection between them, still ends within
//! [`RedisConfig::response_timeout`], and a call that runs out of time
//! (including one that failed because the manager's own response timeout
//! fired) is not sent again. Every other failure (a server error, a reply
//! of the wrong shape) is reported at once. Besides this, a script that
//! Redis answers with `NOSCRIPT` (it forgot the scripts in a restart) is
//! loaded and sent again inside the same send; `NOSCRIPT` means it did not
//! run.
//!
//! When a connection breaks after the command left the process, nobody can
//! tell whether Redis ran it. Sending it again is safe because every call
//! gives the same result whether it runs once or twice:
//!
//! * **`post` and `create_user`** draw a random 128-bit write token per
//!   call and pass it to their script, which records the id it creates
//!   under `N:write:{token}` in the same atomic run (see [`layout`]). The
//!   re-send carries the same token, so if the first send did run, the
//!   second finds the token and returns the same message or user id
//!   without writing: never a second message, and never `UsernameTaken`
//!   for the caller's own new user. The record outlives the re-send by
//!   far: it expires after ten minutes
//!   ([`layout::WRITE_TOKEN_TTL`]), and a call lasts at most
//!   [`config::MAX_RESPONSE_TIMEOUT`].
//! * **`follow`, `unfollow`, `set_latest` and `get_or_init_secret`** are
//!   idempotent by nature (`ZADD NX`, `ZREM`, `SET`, `HSETNX`): running
//!   them twice leaves the same state as once. Only the "changed" answer
//!   of `follow` and `unfollow` can differ: when the first send ran, the
//!   re-send reports `false` (nothing changed) although the call did change
//!   something. The service ignores that answer (following twice is not an
//!   error), so nothing depends on it.
//! * **Reads** change nothing.
//!
//! A call that still fails reports [`StoreError::Unavailable`] and may or
//! may not have been applied, as when a client's HTTP request times out. A
//! caller that then retries a `post` itself makes a new call with a new
//! token, which may post twice; the store's own re-send cannot.
//!
//! ## Round trips per simulator request
//!
//! What each endpoint of the simulator API costs in round trips to Redis,
//! counting the store calls the core service makes for it (plus one `SET`
//! for recording `latest` when the request carries it). After a Redis
//! restart, the first use of each script on the new connection costs two
//! round trips more (`NOSCRIPT`, `SCRIPT LOAD`).
//!
//! | endpoint | store calls | round trips (+ `latest`) |
//! | --- | --- | --- |
//! | `POST /register` | `user_by_name` (script), `create_user` (script) | 2 (+1) |
//! | `POST /msgs/{user}` (tweet) | `user_by_name` (script), `post` (script) | 2 (+1) |
//! | `POST /fllws/{user}` follow | `user_by_name` ×2 (scripts), `follow` (`ZADD NX`) | 3 (+1) |
//! | `POST /fllws/{user}` unfollow | `user_by_name` ×2 (scripts), `unfollow` (`ZREM`) | 3 (+1) |
//! | `GET /msgs` | `timeline` (script) | 1 (+1) |
//! | `GET /msgs/{user}` | `user_by_name` (script), `timeline` (script) | 2 (+1) |
//! | `GET /fllws/{user}` | `user_by_name` (script), `followees` (script) | 2 (+1) |
//! | `GET /latest` | `latest` (`GET`) | 1 |
//!
//! A register whose name is taken stops after `user_by_name`: 1 (+1).
//!
//! ## Key layout
//!
//! Every key starts with `{namespace}:` (default `minitwit:`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `N:next_user_id` | string | user id counter |
//! | `N:user_ids` | hash | username → user id |
//! | `N:user:{id}` | hash | `name`, `email`, `pw_hash` |
//! | `N:follows:{id}` | sorted set | followee ids, score = followee id |
//! | `N:next_message_id` | string | message id counter |
//! | `N:message:{id}` | hash | `author`, `text`, `pub_date` |
//! | `N:timeline:public` | sorted set | every message id, score = id |
//! | `N:timeline:user:{id}` | sorted set | the user's message ids, score = id |
//! | `N:latest` | string | the simulator's `latest` |
//! | `N:secrets` | hash | secret name → bytes |
//! | `N:write:{token}` | string | id made by a `create_user` or `post` call, for 10 min |
//!
//! The [`layout`] module explains each choice. The scripts derive key names
//! from the namespace, so the store needs a standalone Redis (with replicas
//! if wanted), not Redis Cluster.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use minitwit_core::{
    Email, Message, MessageId, MessageText, NewUser, PageRequest, PasswordHash, Store, StoreError,
    StoredUser, Timeline, Timestamp, User, UserId, Username,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, ScriptInvocation, ServerErrorKind};

pub mod config;
pub mod layout;
pub mod scripts;
#[cfg(feature = "test-server")]
pub mod test_server;

pub use config::RedisConfig;

use layout::{FIELD_EMAIL, FIELD_NAME, FIELD_PW_HASH, Layout};
use scripts::Scripts;

/// Pages are capped at this many messages (and followee lists at this many
/// users): far beyond any page anybody asks for, and small enough that Redis
/// takes the number as an integer.
const MAX_LIMIT: usize = 1 << 31;

/// Why [`RedisStore::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url}: {source}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What the Redis client objected to.
        #[source]
        source: RedisError,
    },
    /// The namespace contains something other than ASCII letters, digits,
    /// `-`, `_` and `.`, or is empty or too long.
    #[error("invalid Redis namespace {0:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.'")]
    InvalidNamespace(String),
    /// A timeout of zero, or a response timeout above
    /// [`config::MAX_RESPONSE_TIMEOUT`].
    #[error(
        "the Redis connect and response timeouts must be above zero, and the response timeout at most {:?}",
        config::MAX_RESPONSE_TIMEOUT
    )]
    InvalidTimeout,
    /// The server did not answer, refused the connection or the handshake
    /// (wrong password, no such database), or did not accept the scripts.
    #[error("cannot connect to Redis at {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// What went wrong.
        #[source]
        source: RedisError,
    },
}

/// A store call that ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("Redis did not answer within {0:?}")]
struct DeadlineExceeded(Duration);

/// A [`Store`] on Redis, shared by every server instance that connects to the
/// same server and namespace. Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    layout: Layout,
    scripts: Arc<Scripts>,
    deadline: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.layout.namespace())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to Redis and loads the scripts.
    ///
    /// Fails rather than starting without a reachable server, so a
    /// misconfigured instance does not start; once connected, the store
    /// survives Redis going away and coming back.
    ///
    /// # Errors
    /// [`RedisStoreError`]: an invalid configuration, or a server that cannot
    /// be reached or does not accept the handshake or the scripts.
    pub async fn connect(config: RedisConfig) -> Result<Self, RedisStoreError> {
        config.validate()?;
        let url = config.redacted_url();
        let client = redis::Client::open(config.url.as_str()).map_err(|source| {
            RedisStoreError::InvalidUrl {
                url: url.clone(),
                source,
            }
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(config.reconnect_delay)
            .set_max_delay(config.response_timeout);
        let connect_error = |source| RedisStoreError::Connect {
            url: url.clone(),
            source,
        };
        let mut conn = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(connect_error)?;

        let scripts = Scripts::new();
        let mut load = redis::pipe();
        for source in scripts.sources() {
            load.cmd("SCRIPT").arg("LOAD").arg(source);
        }
        let loaded: Result<RedisResult<Vec<String>>, _> =
            tokio::time::timeout(config.response_timeout, load.query_async(&mut conn)).await;
        match loaded {
            Ok(Ok(_)) => {}
            Ok(Err(source)) => return Err(connect_error(source)),
            Err(_) => {
                return Err(connect_error(RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                ))));
            }
        }
        tracing::info!(url, namespace = config.namespace, "connected to Redis");
        Ok(Self {
            conn,
            layout: Layout::new(&config.namespace),
            scripts: Arc::new(scripts),
            deadline: config.response_timeout,
        })
    }

    /// The namespace this store reads and writes.
    pub fn namespace(&self) -> &str {
        self.layout.namespace()
    }

    /// Runs a script: one `EVALSHA` (plus a load on `NOSCRIPT`), sent once
    /// more when the connection fails (see the crate docs).
    async fn eval<T: FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        let call = async {
            match invocation.invoke_async(&mut conn).await {
                Err(err) if worth_resending(&err) => {
                    tracing::debug!(op, error = %err, "sending again after a connection failure");
                    invocation.invoke_async(&mut conn).await
                }
                other => other,
            }
        };
        self.within_deadline(op, call).await
    }

    /// Sends one command, once more when the connection fails.
    async fn query<T: FromRedisValue>(&self, op: &'static str, cmd: &Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        let call = async {
            match cmd.query_async(&mut conn).await {
                Err(err) if worth_resending(&err) => {
                    tracing::debug!(op, error = %err, "sending again after a connection failure");
                    cmd.query_async(&mut conn).await
                }
                other => other,
            }
        };
        self.within_deadline(op, call).await
    }

    async fn within_deadline<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let err = match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => store_error(err),
            Err(_) => StoreError::unavailable(DeadlineExceeded(self.deadline)),
        };
        tracing::warn!(op, error = %err, "Redis store call failed");
        Err(err)
    }

    /// [`Store::create_user`] with a given write token instead of a fresh
    /// one: a second call with the same token returns the user the first
    /// one created. For tests of the re-send guarantee.
    #[doc(hidden)]
    pub async fn create_user_with_write_token(
        &self,
        new_user: NewUser,
        token: &str,
    ) -> Result<User, StoreError> {
        let mut invocation = self.invoke(&self.scripts.create_user);
        invocation
            .arg(new_user.username.as_str())
            .arg(new_user.email.as_str())
            .arg(new_user.password_hash.as_phc())
            .arg(token);
        let id: Option<u64> = self.eval("create_user", &invocation).await?;
        let id = id.ok_or(StoreError::UsernameTaken)?;
        Ok(User {
            id: UserId(id),
            username: new_user.username,
            email: new_user.email,
        })
    }

    /// [`Store::post`] with a given write token instead of a fresh one: a
    /// second call with the same token returns the id of the message the
    /// first one posted. For tests of the re-send guarantee.
    #[doc(hidden)]
    pub async fn post_with_write_token(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
        token: &str,
    ) -> Result<MessageId, StoreError> {
        let mut invocation = self.invoke(&self.scripts.post);
        invocation
            .arg(author.0)
            .arg(text.as_str())
            .arg(pub_date)
            .arg(token);
        let id: u64 = self.eval("post", &invocation).await?;
        Ok(MessageId(id))
    }

    /// Starts an invocation of `script` with the namespace as `ARGV[1]`.
    fn invoke<'a>(&self, script: &'a redis::Script) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(self.layout.namespace());
        invocation
    }
}

/// Whether a call that failed with `err` is sent once more: its connection
/// was refused, reset, aborted or closed (before or after the command was
/// sent), which the manager answers by opening a new one. Not a timeout: a
/// call that timed out has used its time.
fn worth_resending(err: &RedisError) -> bool {
    err.is_connection_dropped() && !err.is_timeout()
}

/// A fresh write token: 128 random bits as 32 hex digits, so two calls never
/// share one.
fn write_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Sorts a Redis failure into the store's error classes.
fn store_error(err: RedisError) -> StoreError {
    if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() {
        return StoreError::unavailable(err);
    }
    match err.kind() {
        redis::ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::ReadOnly,
        ) => StoreError::unavailable(err),
        _ if err.code() == Some("BUSY") => StoreError::unavailable(err),
        redis::ErrorKind::UnexpectedReturnType => StoreError::Corrupt(err.to_string()),
        _ => StoreError::backend(err),
    }
}

fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn parse_id(raw: &str, what: &str) -> Result<u64, StoreError> {
    raw.parse()
        .map_err(|_| corrupt(format_args!("{what} {raw:?} is not an id")))
}

fn required(value: Option<String>, what: &str, id: u64) -> Result<String, StoreError> {
    value.ok_or_else(|| corrupt(format_args!("{what} of {id} is missing")))
}

/// A user from its stored name and e-mail address.
fn decode_user(id: u64, name: Option<String>, email: Option<String>) -> Result<User, StoreError> {
    let username = Username::parse(&required(name, "the name of user", id)?)
        .map_err(|err| corrupt(format_args!("user {id}: {err}")))?;
    let email = Email::parse(&required(email, "the email of user", id)?)
        .map_err(|err| corrupt(format_args!("user {id}: {err}")))?;
    Ok(User {
        id: UserId(id),
        username,
        email,
    })
}

/// `[name, email, pw_hash]` of `N:user:{id}`; all missing means no user.
fn decode_stored_user(
    id: u64,
    fields: Vec<Option<String>>,
) -> Result<Option<StoredUser>, StoreError> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut fields = fields.into_iter();
    let user = decode_user(id, fields.next().flatten(), fields.next().flatten())?;
    let password_hash = required(fields.next().flatten(), "the password hash of user", id)?;
    Ok(Some(StoredUser {
        user,
        password_hash: PasswordHash::from_phc(password_hash),
    }))
}

/// One rendered message of the timeline scripts.
type MessageRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn decode_message(row: MessageRow) -> Result<Message, StoreError> {
    let (id, author, text, pub_date, name, email) = row;
    let id = parse_id(&id, "message")?;
    let author = parse_id(&required(author, "the author of message", id)?, "author")?;
    let text = MessageText::parse(&required(text, "the text of message", id)?)
        .map_err(|err| corrupt(format_args!("message {id}: {err}")))?;
    let pub_date: Timestamp = required(pub_date, "the date of message", id)?
        .parse()
        .map_err(|_| corrupt(format_args!("message {id} has a malformed date")))?;
    if name.is_none() && email.is_none() {
        return Err(corrupt(format_args!("message {id} has no author")));
    }
    Ok(Message {
        id: MessageId(id),
        author: decode_user(author, name, email)?,
        text,
        pub_date,
    })
}

/// A page size as Redis takes it.
fn limit_arg(limit: usize) -> usize {
    limit.min(MAX_LIMIT)
}

#[async_trait]
impl Store for RedisStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.create_user_with_write_token(new_user, &write_token())
            .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        let mut invocation = self.invoke(&self.scripts.user_by_name);
        invocation.arg(username);
        let row: Option<Vec<Option<String>>> = self.eval("user_by_name", &invocation).await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut row = row.into_iter();
        let id = row
            .next()
            .flatten()
            .ok_or_else(|| corrupt("user_by_name returned no id"))?;
        let id = parse_id(&id, "user")?;
        match decode_stored_user(id, row.collect())? {
            Some(user) => Ok(Some(user)),
            None => Err(corrupt(format_args!(
                "the name index points at missing user {id}"
            ))),
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.layout.user(id))
            .arg(FIELD_NAME)
            .arg(FIELD_EMAIL)
            .arg(FIELD_PW_HASH);
        let fields: Vec<Option<String>> = self.query("user_by_id", &cmd).await?;
        decode_stored_user(id.0, fields)
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.layout.follows(follower))
            .arg("NX")
            .arg(followee.0)
            .arg(followee.0);
        let added: u64 = self.query("follow", &cmd).await?;
        Ok(added > 0)
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.layout.follows(follower)).arg(followee.0);
        let removed: u64 = self.query("unfollow", &cmd).await?;
        Ok(removed > 0)
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("ZSCORE");
        cmd.arg(self.layout.follows(follower)).arg(followee.0);
        let score: Option<String> = self.query("is_following", &cmd).await?;
        Ok(score.is_some())
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut invocation = self.invoke(&self.scripts.followees);
        invocation.arg(follower.0).arg(limit_arg(limit) - 1);
        let rows: Vec<(String, Option<String>, Option<String>)> =
            self.eval("followees", &invocation).await?;
        rows.into_iter()
            .map(|(id, name, email)| {
                let id = parse_id(&id, "followee")?;
                if name.is_none() && email.is_none() {
                    return Err(corrupt(format_args!("unknown followee {id}")));
                }
                decode_user(id, name, email)
            })
            .collect()
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        self.post_with_write_token(author, text, pub_date, &write_token())
            .await
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let max = match page.before {
            Some(before) => format!("({}", before.0),
            None => "+inf".to_owned(),
        };
        let (script, user) = match timeline {
            Timeline::Public => (&self.scripts.timeline, String::new()),
            Timeline::User(user) => (&self.scripts.timeline, user.0.to_string()),
            Timeline::Home(user) => (&self.scripts.home_timeline, user.0.to_string()),
        };
        let mut invocation = self.invoke(script);
        invocation.arg(user).arg(max).arg(limit_arg(page.limit));
        let rows: Vec<MessageRow> = self.eval("timeline", &invocation).await?;
        rows.into_iter().map(decode_message).collect()
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.layout.latest()).arg(latest);
        self.query::<()>("set_latest", &cmd).await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.layout.latest());
        self.query("latest", &cmd).await
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mut invocation = self.invoke(&self.scripts.secret);
        invocation.arg(name).arg(candidate);
        self.eval("get_or_init_secret", &invocation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_and_dropped_connections_are_unavailable() {
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::TimedOut,
        ] {
            let err = store_error(RedisError::from(std::io::Error::from(kind)));
            assert!(
                matches!(err, StoreError::Unavailable(_)),
                "{kind:?}: {err:?}"
            );
        }
    }

    #[test]
    fn broken_connections_are_sent_again_and_timeouts_are_not() {
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionAborted,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let err = RedisError::from(std::io::Error::from(kind));
            assert!(worth_resending(&err), "{kind:?} is not sent again");
        }
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(!worth_resending(&timeout));
        let server = RedisError::from((redis::ErrorKind::Client, "no"));
        assert!(!worth_resending(&server));
    }

    #[test]
    fn write_tokens_are_128_bit_hex_and_differ() {
        let (first, second) = (write_token(), write_token());
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn messages_without_authors_are_corrupt() {
        let row: MessageRow = (
            "5".into(),
            Some("1".into()),
            Some("hello".into()),
            Some("1700000000".into()),
            None,
            None,
        );
        assert!(matches!(decode_message(row), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn stored_messages_decode() -> Result<(), StoreError> {
        let row: MessageRow = (
            "5".into(),
            Some("1".into()),
            Some("hello".into()),
            Some("1700000000".into()),
            Some("Ada Lovelace".into()),
            Some("ada@example.org".into()),
        );
        let message = decode_message(row)?;
        assert_eq!(message.id, MessageId(5));
        assert_eq!(message.author.id, UserId(1));
        assert_eq!(message.author.username.as_str(), "Ada Lovelace");
        assert_eq!(message.text.as_str(), "hello");
        assert_eq!(message.pub_date, 1_700_000_000);
        Ok(())
    }

    #[test]
    fn missing_users_are_none_and_partial_ones_corrupt() {
        assert!(matches!(
            decode_stored_user(3, vec![None, None, None]),
            Ok(None)
        ));
        let partial = vec![Some("x".into()), None, None];
        assert!(matches!(
            decode_stored_user(3, partial),
            Err(StoreError::Corrupt(_))
        ));
    }
}
