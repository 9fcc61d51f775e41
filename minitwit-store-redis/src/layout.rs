//! The key layout: every key this store uses, what it holds and who writes it.
//!
//! All keys start with the configured namespace `N` and a colon, so several
//! stores share one Redis server (or database) without seeing each other.
//! Ids are decimal strings.
//!
//! | key | type | holds | written by |
//! | --- | --- | --- | --- |
//! | `N:layout` | string | the layout version, [`LAYOUT`] | `connect` |
//! | `N:next_user_id` | string | the last user id handed out (`INCR`) | `create_user`, `import` |
//! | `N:user_ids` | hash | username → user id: the unique-name index | `create_user` |
//! | `N:users` | sorted set | every user id, score = id: users in id order | `create_user` |
//! | `N:user:{id}` | hash | `name`, `email`, `pw_hash` (PHC string), `sessions` (the session generation as a signed 64-bit integer) | `create_user`, `end_sessions` |
//! | `N:follows:{id}` | sorted set | the ids user `id` follows, score = followee id | `follow`, `unfollow` |
//! | `N:count:users`, `N:count:follows`, `N:count:messages` | string | the counts, kept by the same scripts that write | every write |
//! | `N:next_message_id` | string | the last message id handed out (`INCR`) | `post`, `import` |
//! | `N:message:{id}` | hash | `author` (user id), `text`, `pub_date` (Unix seconds) | `post` |
//! | `N:timeline:public` | sorted set | every message id, score = message id | `post` |
//! | `N:timeline:user:{id}` | sorted set | the ids of user `id`'s messages, score = message id | `post` |
//! | `N:home:{id}` | sorted set | the home cache entry of reader `id`: the ids of their newest home messages, score = message id; expires | home timeline reads, `post`, `follow`, `unfollow` |
//! | `N:home_from:{id}` | string | every home message of reader `id` with an id of at least this is in `N:home:{id}`; its existence marks the entry; expires with it | home timeline reads, `post`, `follow`, `unfollow` |
//! | `N:fans:{id}` | set | the readers with a home cache entry who see user `id`'s posts (emptied lazily), at most the cache's `readers` | home timeline reads, `post`, `follow`, `unfollow` |
//! | `N:home_pulled:{id}` | set | the authors reader `id` follows (or `id` itself) whose posts do not reach `N:home:{id}`, because their `N:fans` were full: a page of the entry reads their newest posts from their timelines; at most [`HOME_PULLED_MAX`]; expires a second after the entry | home timeline reads, `follow`, `unfollow` |
//! | `N:home_filling:{id}` | string | reader `id`'s entry is being filled in chunks, by the fill holding this random token; a follow change of the reader removes it; expires after [`FILL_MARK_TTL`] | home timeline reads, `follow`, `unfollow` |
//! | `N:home_nofill:{id}` | string | reader `id` keeps no entry because it would pull more than [`HOME_PULLED_MAX`] authors: until it expires ([`FILL_MARK_TTL`]) or a follow change of the reader removes it, their pages are merged without a fill being tried first | home timeline reads, `follow`, `unfollow` |
//! | `N:home_paging:{id}` | string | the random token of the instance that last merged a page of reader `id`'s home timeline in chunks, and may answer the next older page from what that merge read (see [`timeline`](crate::timeline)); a follow change of the reader removes it; expires [`PAGING_MARK_TTL`] after its last use | home timeline reads, `follow`, `unfollow` |
//! | `N:imports` | string | how many imports ran: what older home pages read from a merge's cursor check that messages arrived only by posts since (see [`timeline`](crate::timeline)) | `import` |
//! | `N:latest` | string | the simulator's last `latest` | `set_latest` |
//! | `N:secrets` | hash | secret name → bytes, first writer wins | `get_or_init_secret` |
//! | `N:write:{token}` | string | the id a `create_user` or `post` call created; expires after [`WRITE_TOKEN_TTL`] | `create_user`, `post` |
//! | `N:lease:{name}` | string | who holds a lease, until it expires | `acquire_lease` |
//!
//! Why these shapes:
//!
//! * The counters are shared by every server instance on the store, and
//!   `INCR` runs inside the same script as the writes it numbers, so ids are
//!   unique and grow in the order posts complete, across instances.
//! * Timelines are sorted sets scored by message id, so a page is one
//!   `ZREVRANGEBYSCORE key (before -inf LIMIT 0 n`: O(log N + n), the same
//!   with ten messages stored as with ten million. Scores are doubles, exact
//!   for ids below 2^53.
//! * Follows are one sorted set per follower: `ZADD NX`/`ZREM` say whether
//!   anything changed, `ZSCORE` answers "does A follow B", and the score
//!   (the followee's id) gives the ascending order `followees` promises.
//! * Home timelines use the cache of [`minitwit_core::home`]: the first
//!   read of a reader merges their followees' timelines once, keeps the
//!   newest ids in `N:home:{reader}` (with `N:home_from:{reader}`, both
//!   expiring) and adds the reader to `N:fans:{author}` of every author
//!   they see; a post adds its id to the entry of each reader in
//!   `N:fans:{author}` that still has one (and drops the others from the
//!   set); a follow adds the new followee's newest ids to the reader's
//!   entry (and the reader to the followee's `N:fans`), an unfollow removes
//!   the followee's ids, so the page after a follow change costs the page
//!   too, not a merge. An author's `N:fans` holds at most the cache's
//!   `readers`, so that a post costs a bounded number of entry updates; a
//!   reader who cannot join pulls that author instead
//!   (`N:home_pulled:{reader}`): the entry's pages add the newest posts of
//!   those few authors, read from their timelines, to the entry's ids (the
//!   hybrid of fan-out on write and merge on read), and a reader who would
//!   pull more than [`HOME_PULLED_MAX`] keeps no entry. A page older than
//!   the entry is merged; the instance that merged it keeps what the merge
//!   read and answers the next older page from it while the reader's
//!   paging mark (`N:home_paging:{reader}`, which follow changes remove)
//!   holds its token. All of it runs in scripts, so no post can slip
//!   between a fill, a follow change and what the entry holds. A reader
//!   with more followees than [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk)
//!   is filled in several scripts: the first marks the fill
//!   (`N:home_filling:{id}`, which any follow change of the reader
//!   removes), each next one joins some followees' `N:fans` and reads
//!   their newest ids up to the last message id at the start, and a last
//!   script, atomic like the others, checks that the mark, the follows and
//!   the messages up to that id are still what the chunks saw, adds the
//!   messages posted since (and their authors' `N:fans`, which those posts
//!   emptied of a reader without an entry; when many were posted, scripts
//!   before it take them a chunk at a time), and only then stores the
//!   entry; if anything changed, it stores none and the page is merged.
//! * The counts are plain counters that the write scripts change in the same
//!   atomic run as the data, so they are exact on every instance and read
//!   in one `MGET`. A namespace without `N:layout` (written by an earlier
//!   version, which kept no counts) is counted once, atomically, when a
//!   store connects (see [`scripts`](crate::scripts), `MIGRATE`).
//! * `N:users` lists user ids in order, so an export reads users (and their
//!   follows) in id order without walking ids that no user has.
//! * Write tokens make a re-sent `create_user` or `post` harmless. Each
//!   call draws a random 128-bit token (32 hex digits) and passes it to its
//!   script; the script first looks for `N:write:{token}` and, when it
//!   exists, returns the id recorded there without writing anything;
//!   otherwise it writes and records the new id under the token, in the
//!   same atomic run. So when a connection breaks after Redis ran a script
//!   and the store sends the same call (same token) again, the second run
//!   answers the first run's id instead of creating a second message or
//!   reporting the caller's own new name as taken. The key only has to
//!   outlive that one re-send, which happens within the call's
//!   [`response_timeout`](crate::RedisConfig::response_timeout) (at most
//!   [`MAX_RESPONSE_TIMEOUT`](crate::config::MAX_RESPONSE_TIMEOUT)); it
//!   expires after [`WRITE_TOKEN_TTL`], far beyond that, so the tokens of a
//!   busy server cost a bounded amount of memory (one short key per write
//!   of the last ten minutes) instead of growing forever.
//! * The Lua scripts (see [`scripts`](crate::scripts)) build the same key
//!   names from the namespace they receive as `ARGV[1]`, using a Lua prelude
//!   generated from the same constants as the Rust key builders, so Rust and Lua
//!   cannot disagree about a key. Because scripts derive keys instead of
//!   declaring them in `KEYS`, the store needs a standalone Redis (or a
//!   replica set with one primary), not Redis Cluster.

use std::time::Duration;

use minitwit_core::UserId;
use minitwit_core::home::HomeCacheLimits;

/// How long `N:write:{token}` outlives the write it records: far longer than
/// any call (and so its single re-send) can take.
pub const WRITE_TOKEN_TTL: Duration = Duration::from_secs(600);

/// The layout version this crate writes, kept in `N:layout`.
pub const LAYOUT: u32 = 2;

/// `N:next_user_id`.
const NEXT_USER_ID: &str = "next_user_id";
/// `N:user_ids`.
const USER_IDS: &str = "user_ids";
/// `N:users`.
const USERS: &str = "users";
/// `N:layout`.
const LAYOUT_KEY: &str = "layout";
/// `N:count:users`.
const COUNT_USERS: &str = "count:users";
/// `N:count:follows`.
const COUNT_FOLLOWS: &str = "count:follows";
/// `N:count:messages`.
const COUNT_MESSAGES: &str = "count:messages";
/// `N:lease:{name}`.
const LEASE: &str = "lease:";
/// `N:user:{id}`.
const USER: &str = "user:";
/// `N:follows:{id}`.
const FOLLOWS: &str = "follows:";
/// `N:next_message_id`.
const NEXT_MESSAGE_ID: &str = "next_message_id";
/// `N:message:{id}`.
const MESSAGE: &str = "message:";
/// `N:timeline:public`.
const PUBLIC_TIMELINE: &str = "timeline:public";
/// `N:timeline:user:{id}`.
const USER_TIMELINE: &str = "timeline:user:";
/// `N:latest`.
const LATEST: &str = "latest";
/// `N:imports`.
const IMPORTS: &str = "imports";
/// `N:home:{id}`.
const HOME: &str = "home:";
/// `N:home_from:{id}`.
const HOME_FROM: &str = "home_from:";
/// `N:fans:{id}`.
const FANS: &str = "fans:";
/// `N:home_pulled:{id}`.
const HOME_PULLED: &str = "home_pulled:";
/// The most authors one home cache entry reads at page time (see
/// `N:home_pulled:{id}`): a reader who would pull one more keeps no entry,
/// and their pages are merged.
pub const HOME_PULLED_MAX: usize = 32;
/// `N:home_filling:{id}`.
const HOME_FILLING: &str = "home_filling:";
/// How long `N:home_filling:{id}` outlives the start of its fill: far
/// longer than a fill takes.
pub const FILL_MARK_TTL: Duration = Duration::from_secs(60);
/// `N:home_nofill:{id}`.
const HOME_NOFILL: &str = "home_nofill:";
/// `N:home_paging:{id}`.
const HOME_PAGING: &str = "home_paging:";
/// How long `N:home_paging:{id}` outlives the page that last used it.
pub const PAGING_MARK_TTL: Duration = Duration::from_secs(600);
/// `N:secrets`.
const SECRETS: &str = "secrets";
/// `N:write:{token}`.
const WRITE: &str = "write:";

/// Field of `N:user:{id}`: the username.
pub(crate) const FIELD_NAME: &str = "name";
/// Field of `N:user:{id}`: the e-mail address.
pub(crate) const FIELD_EMAIL: &str = "email";
/// Field of `N:user:{id}`: the password hash.
pub(crate) const FIELD_PW_HASH: &str = "pw_hash";
/// Field of `N:user:{id}`: the session generation.
pub(crate) const FIELD_SESSIONS: &str = "sessions";
/// Field of `N:message:{id}`: the author's user id.
pub(crate) const FIELD_AUTHOR: &str = "author";
/// Field of `N:message:{id}`: the text.
pub(crate) const FIELD_TEXT: &str = "text";
/// Field of `N:message:{id}`: the publication date.
pub(crate) const FIELD_PUB_DATE: &str = "pub_date";

/// The keys of one namespace, for the commands sent without a script.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The namespace followed by `:`.
    prefix: String,
}

impl Layout {
    /// The layout of namespace `namespace` (already validated).
    pub(crate) fn new(namespace: &str) -> Self {
        Self {
            prefix: format!("{namespace}:"),
        }
    }

    /// The namespace, as the scripts receive it in `ARGV[1]`.
    pub(crate) fn namespace(&self) -> &str {
        self.prefix.trim_end_matches(':')
    }

    /// `N:user:{id}`.
    pub(crate) fn user(&self, id: UserId) -> String {
        format!("{}{USER}{}", self.prefix, id.0)
    }

    /// `N:follows:{id}`.
    pub(crate) fn follows(&self, follower: UserId) -> String {
        format!("{}{FOLLOWS}{}", self.prefix, follower.0)
    }

    /// `N:latest`.
    pub(crate) fn latest(&self) -> String {
        format!("{}{LATEST}", self.prefix)
    }

    /// `N:message:{id}`.
    pub(crate) fn message(&self, id: u64) -> String {
        format!("{}{MESSAGE}{id}", self.prefix)
    }

    /// `N:users`.
    pub(crate) fn users(&self) -> String {
        format!("{}{USERS}", self.prefix)
    }

    /// `N:timeline:public`.
    pub(crate) fn public_timeline(&self) -> String {
        format!("{}{PUBLIC_TIMELINE}", self.prefix)
    }

    /// `N:next_user_id` and `N:next_message_id`.
    pub(crate) fn id_counters(&self) -> [String; 2] {
        [
            format!("{}{NEXT_USER_ID}", self.prefix),
            format!("{}{NEXT_MESSAGE_ID}", self.prefix),
        ]
    }

    /// `N:count:users`, `N:count:follows`, `N:count:messages`.
    pub(crate) fn counts(&self) -> [String; 3] {
        [COUNT_USERS, COUNT_FOLLOWS, COUNT_MESSAGES].map(|key| format!("{}{key}", self.prefix))
    }

    /// `N:secrets`.
    pub(crate) fn secrets(&self) -> String {
        format!("{}{SECRETS}", self.prefix)
    }

    /// `N:lease:{name}`.
    pub(crate) fn lease(&self, name: &str) -> String {
        format!("{}{LEASE}{name}", self.prefix)
    }

    /// A pattern that matches every key of the namespace, for `SCAN`.
    pub(crate) fn every_key(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// Whether `key` is one of the keys a clear keeps: the id counters (ids
    /// are never reused) and the layout version.
    pub(crate) fn survives_clear(&self, key: &str) -> bool {
        key.strip_prefix(&self.prefix)
            .is_some_and(|rest| [NEXT_USER_ID, NEXT_MESSAGE_ID, LAYOUT_KEY].contains(&rest))
    }
}

/// The Lua that opens every script: the same key names and fields as above,
/// built from `ARGV[1]` (the namespace). Key helpers take ids as strings
/// (Lua 5.1 prints large numbers in exponent form, so numbers are never
/// concatenated into keys).
pub(crate) fn lua_prelude(home: HomeCacheLimits) -> String {
    format!(
        r"local P = ARGV[1] .. ':'
local K_NEXT_USER_ID = P .. '{NEXT_USER_ID}'
local K_USER_IDS = P .. '{USER_IDS}'
local K_NEXT_MESSAGE_ID = P .. '{NEXT_MESSAGE_ID}'
local K_PUBLIC_TIMELINE = P .. '{PUBLIC_TIMELINE}'
local K_SECRETS = P .. '{SECRETS}'
local K_LATEST = P .. '{LATEST}'
local K_IMPORTS = P .. '{IMPORTS}'
local K_USERS = P .. '{USERS}'
local K_LAYOUT = P .. '{LAYOUT_KEY}'
local K_COUNT_USERS = P .. '{COUNT_USERS}'
local K_COUNT_FOLLOWS = P .. '{COUNT_FOLLOWS}'
local K_COUNT_MESSAGES = P .. '{COUNT_MESSAGES}'
local LAYOUT = '{LAYOUT}'
local F_NAME, F_EMAIL, F_PW_HASH = '{FIELD_NAME}', '{FIELD_EMAIL}', '{FIELD_PW_HASH}'
local F_SESSIONS = '{FIELD_SESSIONS}'
local F_AUTHOR, F_TEXT, F_PUB_DATE = '{FIELD_AUTHOR}', '{FIELD_TEXT}', '{FIELD_PUB_DATE}'
local function user_key(id) return P .. '{USER}' .. id end
local function follows_key(id) return P .. '{FOLLOWS}' .. id end
local function message_key(id) return P .. '{MESSAGE}' .. id end
local function user_timeline_key(id) return P .. '{USER_TIMELINE}' .. id end
local function write_key(token) return P .. '{WRITE}' .. token end
local function home_key(id) return P .. '{HOME}' .. id end
local function home_from_key(id) return P .. '{HOME_FROM}' .. id end
local function fans_key(id) return P .. '{FANS}' .. id end
local function home_filling_key(id) return P .. '{HOME_FILLING}' .. id end
local function home_pulled_key(id) return P .. '{HOME_PULLED}' .. id end
local function home_paging_key(id) return P .. '{HOME_PAGING}' .. id end
local function home_nofill_key(id) return P .. '{HOME_NOFILL}' .. id end
local HOME_ENTRIES, HOME_LIFETIME = {home_entries}, {home_lifetime}
local HOME_FANS, HOME_PULLED_MAX = {home_fans}, {HOME_PULLED_MAX}
local WRITE_TOKEN_TTL = {ttl}
local FILL_MARK_TTL, PAGING_MARK_TTL = {fill_mark_ttl}, {paging_mark_ttl}
local function id_string(n) return string.format('%d', n) end
local function raise_counter(key, id)
  local current = tonumber(redis.call('GET', key) or '0')
  if tonumber(id) > current then redis.call('SET', key, id) end
end
",
        ttl = WRITE_TOKEN_TTL.as_secs(),
        fill_mark_ttl = FILL_MARK_TTL.as_secs(),
        paging_mark_ttl = PAGING_MARK_TTL.as_secs(),
        home_entries = home_entries(home),
        home_lifetime = home.lifetime.as_secs().max(1),
        home_fans = home.readers.max(1),
    )
}

/// Ids a home cache entry holds with `home`: 0 when the cache is off.
pub(crate) fn home_entries(home: HomeCacheLimits) -> usize {
    if home.is_on() { home.entries } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_the_namespace() {
        let layout = Layout::new("ns");
        assert_eq!(layout.namespace(), "ns");
        assert_eq!(layout.user(UserId(7)), "ns:user:7");
        assert_eq!(layout.follows(UserId(7)), "ns:follows:7");
        assert_eq!(layout.latest(), "ns:latest");
        assert_eq!(layout.counts()[1], "ns:count:follows");
        assert!(layout.survives_clear("ns:next_message_id"));
        assert!(!layout.survives_clear("ns:user:1"));
        assert!(!layout.survives_clear("other:next_message_id"));
    }

    #[test]
    fn the_prelude_names_the_same_keys() {
        let prelude = lua_prelude(HomeCacheLimits::DEFAULT);
        assert!(prelude.contains("P .. 'user:' .. id"));
        assert!(prelude.contains("P .. 'follows:' .. id"));
        assert!(prelude.contains("P .. 'timeline:public'"));
        assert!(prelude.contains("F_NAME, F_EMAIL, F_PW_HASH = 'name', 'email', 'pw_hash'"));
        assert!(prelude.contains("P .. 'write:' .. token"));
        assert!(prelude.contains("local WRITE_TOKEN_TTL = 600"));
        assert!(prelude.contains("local K_COUNT_MESSAGES = P .. 'count:messages'"));
        assert!(prelude.contains("local LAYOUT = '2'"));
        assert!(prelude.contains("P .. 'home:' .. id"));
        assert!(prelude.contains("P .. 'home_filling:' .. id"));
        assert!(prelude.contains("local FILL_MARK_TTL, PAGING_MARK_TTL = 60, 600"));
        assert!(prelude.contains("P .. 'home_paging:' .. id"));
        assert!(prelude.contains("P .. 'home_nofill:' .. id"));
        assert!(prelude.contains("local HOME_ENTRIES, HOME_LIFETIME = 128, 3600"));
        assert!(prelude.contains("local HOME_FANS, HOME_PULLED_MAX = 1024, 32"));
        assert!(prelude.contains("P .. 'home_pulled:' .. id"));
    }
}
