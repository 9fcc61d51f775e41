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
//!   cannot both pass the name check. Follow and unfollow are scripts too,
//!   since they keep the follow count with the data; `latest` is a single
//!   command. Each is one network round trip.
//! * **Reads in one round trip.** Looking a user up by name, a page of a
//!   timeline with its messages and their authors, a list of followees with
//!   their records: each is one script, so one round trip. The exception is
//!   a home page that must merge the timelines of more followees than
//!   [`RedisConfig::merge_chunk`] (128): it is read in several scripts of
//!   that many followees each, so that one reader who follows thousands
//!   never holds Redis' one thread, and with it every instance, for longer
//!   than about half a millisecond at a time (see the `timeline` module).
//! * **Indexed timelines.** Timelines are sorted sets scored by message id
//!   (see [`layout`]); a page costs O(log N + page size) whatever the
//!   number of stored messages. A home page is a merge over the reader's
//!   followees the first time, then comes from the reader's home cache
//!   entry ([`minitwit_core::home`]), kept in Redis and fed by posts, so it
//!   costs about the same for 10 followees as for 10,000; a post costs one
//!   insert per reader who follows its author and read lately, at most
//!   1,024 of them (the cache's `readers`; one more reads that author's
//!   newest posts from their timeline at page time, beside the rest of
//!   the entry), and a
//!   follow or unfollow patches the reader's entry (at most an entry's
//!   worth of ids) instead of dropping it. A page older than the entry
//!   holds is a merge again, but the next older page after it is read from
//!   what that merge found, from the few followees that reach it (see the
//!   `timeline` module), so paging back costs about a page per page.
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
//! * **`post`, `create_user` and a `named_write` that posts** draw a
//!   random 128-bit write token per call and pass it to their script,
//!   which records the id it creates under `N:write:{token}` in the same
//!   atomic run (see [`layout`]). The
//!   re-send carries the same token, so if the first send did run, the
//!   second finds the token and returns the same message or user id
//!   without writing: never a second message, and never `UsernameTaken`
//!   for the caller's own new user. The record outlives the re-send by
//!   far: it expires after ten minutes
//!   ([`layout::WRITE_TOKEN_TTL`]), and a call lasts at most
//!   [`config::MAX_RESPONSE_TIMEOUT`].
//! * **`follow`, `unfollow` (named or not), `set_latest`, `check_name`
//!   and `get_or_init_secret`** are idempotent by nature (`ZADD NX` and `ZREM`,
//!   which change the follow count only when they change the set; `SET`;
//!   `HEXISTS` then `SET`; `HSETNX`): running them
//!   twice leaves the same state as once. Only the "changed" answer of
//!   `follow` and `unfollow` can differ: when the first send ran, the
//!   re-send reports `false` (nothing changed) although the call did change
//!   something. The service ignores that answer (following twice is not an
//!   error), so nothing depends on it.
//! * **`end_sessions`** run twice moves the session generation on by two:
//!   every earlier session ends either way.
//! * **`import`** is never sent again: a second run would find its own
//!   records and report a conflict. A restore that fails is run again from
//!   the start.
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
//! counting the store calls the core service makes for it. The writes hand
//! `latest` to their script; the reads record it with one `SET` of their
//! own (the "+1"). After a Redis restart, the first use of each script on
//! the new connection costs two round trips more (`NOSCRIPT`,
//! `SCRIPT LOAD`).
//!
//! | endpoint | store calls | round trips |
//! | --- | --- | --- |
//! | `POST /register` | `check_name` (none for a new name), `create_user_with_latest` (script) | 1 |
//! | `POST /msgs/{user}` (tweet) | `named_write` (script) | 1 |
//! | `POST /fllws/{user}` follow, unfollow | `named_write` (script) | 1 |
//! | `GET /msgs` | `timeline` (script) | 1 (+1) |
//! | `GET /msgs/{user}` | `user_by_name` (script), `timeline` (script) | 2 (+1) |
//! | `GET /fllws/{user}` | `user_by_name` (script), `followees` (script) | 2 (+1) |
//! | `GET /latest` | `latest` (`GET`) | 1 |
//!
//! A registration's name is checked before its password is hashed only
//! when this instance has seen the name taken (see the `taken_names`
//! module): the `NAME_TAKEN` script then answers, `latest` recorded, in 1
//! round trip and no hash. Any other name goes straight to the
//! `create_user` script, which decides atomically: 1 round trip for a new
//! name, and 1 (plus one hash, once per name and instance) for a name
//! another instance took. A name seen taken and freed since (a `clear`, a
//! restore) costs 2.
//!
//! ## Key layout
//!
//! Every key starts with `{namespace}:` (default `minitwit:`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `N:layout` | string | the layout version |
//! | `N:next_user_id` | string | user id counter |
//! | `N:user_ids` | hash | username → user id |
//! | `N:users` | sorted set | every user id, score = id |
//! | `N:user:{id}` | hash | `name`, `email`, `pw_hash`, `sessions` |
//! | `N:count:users`, `N:count:follows`, `N:count:messages` | string | the counts |
//! | `N:follows:{id}` | sorted set | followee ids, score = followee id |
//! | `N:next_message_id` | string | message id counter |
//! | `N:message:{id}` | hash | `author`, `text`, `pub_date` |
//! | `N:timeline:public` | sorted set | every message id, score = id |
//! | `N:timeline:user:{id}` | sorted set | the user's message ids, score = id |
//! | `N:latest` | string | the simulator's `latest` |
//! | `N:secrets` | hash | secret name → bytes |
//! | `N:write:{token}` | string | id made by a `create_user` or `post` call, for 10 min |
//! | `N:lease:{name}` | string | the holder of a lease, until it expires |
//!
//! The [`layout`] module explains each choice. The scripts derive key names
//! from the namespace, so the store needs a standalone Redis (with replicas
//! if wanted), not Redis Cluster.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use minitwit_core::named::{NameCheck, NamedOutcome, NamedWrite};
use minitwit_core::{
    Counts, Message, MessageId, MessageText, NewUser, PageRequest, Record, RecordStream, Store,
    StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};
use redis::ScriptInvocation;

pub mod config;
mod connection;
mod decode;
mod error;
mod export;
pub mod layout;
mod named;
mod open;
mod scripts;
mod taken_names;
#[cfg(feature = "test-server")]
pub mod test_server;
mod timeline;

pub use config::RedisConfig;
pub use error::RedisStoreError;

use connection::{Connection, Resend};
use decode::{corrupt, decode_generation, decode_stored_user, encode_generation, parse_id};
use layout::{FIELD_EMAIL, FIELD_NAME, FIELD_PW_HASH, FIELD_SESSIONS, Layout};
use scripts::Scripts;
use taken_names::TakenNames;

/// A [`Store`] on Redis, shared by every server instance that connects to the
/// same server and namespace. Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    layout: Layout,
    scripts: Arc<Scripts>,
    created: bool,
    /// One home timeline merge in chunks at a time (see the `timeline`
    /// module): shared by the clones, so per instance.
    merges: Arc<tokio::sync::Semaphore>,
    /// What merges of home pages read, for the next older pages (see the
    /// `timeline` module): shared by the clones, so per instance.
    cursors: Arc<timeline::Cursors>,
    /// Names seen taken, for [`Store::check_name`]: shared by the clones,
    /// so per instance.
    taken_names: TakenNames,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.layout.namespace())
            .field("deadline", &self.conn.deadline())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to Redis, loads the scripts, and brings the namespace to
    /// this version's layout (counting a namespace written by an earlier
    /// version once).
    ///
    /// Fails rather than starting without a reachable server, so a
    /// misconfigured instance does not start; once connected, the store
    /// survives Redis going away and coming back.
    ///
    /// # Errors
    /// [`RedisStoreError`]: an invalid configuration, or a server that cannot
    /// be reached or does not accept the handshake or the scripts.
    pub async fn connect(config: RedisConfig) -> Result<Self, RedisStoreError> {
        let connected = open::connect(&config).await?;
        tracing::debug!(
            url = config.redacted_url(),
            namespace = config.namespace,
            "connected to Redis"
        );
        Ok(Self {
            conn: connected.conn,
            layout: connected.layout,
            scripts: connected.scripts,
            created: connected.created,
            merges: Arc::new(tokio::sync::Semaphore::new(1)),
            cursors: Arc::default(),
            taken_names: TakenNames::default(),
        })
    }

    /// The namespace this store reads and writes.
    pub fn namespace(&self) -> &str {
        self.layout.namespace()
    }

    /// Whether the namespace held nothing when this store connected.
    pub fn was_created(&self) -> bool {
        self.created
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
        self.create(new_user, token, None).await
    }

    /// Runs the `create_user` script: one round trip, `latest` included.
    async fn create(
        &self,
        new_user: NewUser,
        token: &str,
        latest: Option<i64>,
    ) -> Result<User, StoreError> {
        let mut invocation = self.invoke(&self.scripts.create_user);
        invocation
            .arg(new_user.username.as_str())
            .arg(new_user.email.as_str())
            .arg(new_user.password_hash.as_phc())
            .arg(token)
            .arg(encode_generation(new_user.session_generation))
            .arg(latest.map(|latest| latest.to_string()).unwrap_or_default());
        let id: Option<u64> = self
            .conn
            .eval("create_user", &invocation, Resend::Safe)
            .await?;
        // Taken either way now: by this user, or by whoever had the name.
        self.taken_names.remember(new_user.username.as_str());
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
        let id: u64 = self.conn.eval("post", &invocation, Resend::Safe).await?;
        Ok(MessageId(id))
    }

    /// Starts an invocation of `script` with the namespace as `ARGV[1]`.
    pub(crate) fn invoke<'a>(&self, script: &'a redis::Script) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(self.layout.namespace());
        invocation
    }

    /// Runs the follow or unfollow script; whether it changed anything.
    async fn change_follow(
        &self,
        op: &'static str,
        script: &redis::Script,
        follower: UserId,
        followee: UserId,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(script);
        invocation.arg(follower.0).arg(followee.0);
        let changed: u64 = self.conn.eval(op, &invocation, Resend::Safe).await?;
        Ok(changed > 0)
    }
}

/// A fresh write token: 128 random bits as 32 hex digits, so two calls never
/// share one.
pub(crate) fn write_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[async_trait]
impl Store for RedisStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        self.create(new_user, &write_token(), None).await
    }

    async fn create_user_with_latest(
        &self,
        new_user: NewUser,
        latest: Option<i64>,
    ) -> Result<User, StoreError> {
        self.create(new_user, &write_token(), latest).await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        let mut invocation = self.invoke(&self.scripts.user_by_name);
        invocation.arg(username);
        let row: Option<Vec<Option<String>>> = self
            .conn
            .eval("user_by_name", &invocation, Resend::Safe)
            .await?;
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

    /// Asks Redis only about a name this instance has seen taken: any other
    /// name is [`NameCheck::NotChecked`], left to the `create_user` script,
    /// so registering a new name is one round trip (see the `taken_names`
    /// module).
    async fn check_name(
        &self,
        username: &str,
        latest: Option<i64>,
    ) -> Result<NameCheck, StoreError> {
        if !self.taken_names.contains(username) {
            return Ok(NameCheck::NotChecked);
        }
        let mut invocation = self.invoke(&self.scripts.name_taken);
        invocation
            .arg(username)
            .arg(latest.map(|latest| latest.to_string()).unwrap_or_default());
        let taken: u64 = self
            .conn
            .eval("check_name", &invocation, Resend::Safe)
            .await?;
        if taken == 1 {
            Ok(NameCheck::Taken)
        } else {
            // Freed since (a clear, a restore): the creation may have it.
            self.taken_names.forget(username);
            Ok(NameCheck::Free)
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.layout.user(id))
            .arg(FIELD_NAME)
            .arg(FIELD_EMAIL)
            .arg(FIELD_PW_HASH)
            .arg(FIELD_SESSIONS);
        let fields: Vec<Option<String>> = self.conn.query("user_by_id", &cmd).await?;
        decode_stored_user(id.0, fields)
    }

    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&self.scripts.end_sessions);
        invocation.arg(user.0);
        let generation: Option<String> = self
            .conn
            .eval("end_sessions", &invocation, Resend::Safe)
            .await?;
        generation.map_or(Ok(0), |raw| decode_generation(&raw, user.0))
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.change_follow("follow", &self.scripts.follow, follower, followee)
            .await
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        self.change_follow("unfollow", &self.scripts.unfollow, follower, followee)
            .await
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("ZSCORE");
        cmd.arg(self.layout.follows(follower)).arg(followee.0);
        let score: Option<String> = self.conn.query("is_following", &cmd).await?;
        Ok(score.is_some())
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.read_followees(follower, limit).await
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
        self.read_timeline(timeline, page).await
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.layout.latest()).arg(latest);
        self.conn.query::<()>("set_latest", &cmd).await
    }

    async fn named_write(
        &self,
        write: NamedWrite,
        latest: Option<i64>,
    ) -> Result<NamedOutcome, StoreError> {
        self.run_named_write(write, latest).await
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.layout.latest());
        self.conn.query("latest", &cmd).await
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mut invocation = self.invoke(&self.scripts.secret);
        invocation.arg(name).arg(candidate);
        self.conn
            .eval("get_or_init_secret", &invocation, Resend::Safe)
            .await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&self.layout.counts()[..]);
        let [users, follows, messages]: [Option<u64>; 3] = self.conn.query("counts", &cmd).await?;
        Ok(Counts {
            users: users.unwrap_or(0),
            follows: follows.unwrap_or(0),
            messages: messages.unwrap_or(0),
        })
    }

    async fn health(&self) -> Result<(), StoreError> {
        let pong: String = self.conn.query("health", &redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(corrupt(format_args!("PING answered {pong:?}")))
        }
    }

    fn export(&self) -> RecordStream {
        export::export(self.conn.clone(), self.layout.clone())
    }

    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError> {
        export::import(&self.conn, &self.layout, &self.scripts, records).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        export::clear(&self.conn, &self.layout).await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        cmd.arg(self.layout.lease(name))
            .arg(write_token())
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        let taken: Option<String> = self.conn.query("acquire_lease", &cmd).await?;
        Ok(taken.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_tokens_are_128_bit_hex_and_differ() {
        let (first, second) = (write_token(), write_token());
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }
}
