//! The Lua scripts: every update that touches more than one key, and every
//! read that would otherwise take several round trips.
//!
//! Redis runs a script atomically: no other command, from any client, runs
//! between its first and last line. So a script that checks and then writes
//! (the unique-name check of `create_user`) cannot race, and a reader never
//! sees half of a write. This is why the store does not use `WATCH`/`MULTI`:
//! the connection is multiplexed and shared by every task of the process, and
//! a `WATCH` on a shared connection watches for everyone at once.
//!
//! Each script is sent as `EVALSHA`, which is one round trip; after a Redis
//! restart the server has forgotten the scripts and answers `NOSCRIPT`, and
//! the call then loads the script and sends `EVALSHA` again. `NOSCRIPT`
//! means the script did not run, so that second send cannot apply a write
//! twice. Every script opens with a prelude from [`layout`](crate::layout)
//! that defines the key names, and takes the namespace as `ARGV[1]`.
//!
//! The two scripts that create something, `create_user` and `post`, also
//! take a write token and record the id they created under it; a run that
//! finds its token already recorded returns that id and writes nothing.
//! That makes it safe to send such a call again when a connection broke
//! after sending it, when nobody can tell whether it ran (see the crate
//! docs on retries).
//!
//! Redis does not roll back a script that fails halfway (it can only fail
//! halfway on a server-side limit such as `maxmemory`); the writes of each
//! script are ordered so that a partial run leaves the indexes consistent
//! with what readers expect (a record is written before the index entry
//! that points at it, and the write token last, once the write is whole).

use redis::Script;

use crate::layout::lua_prelude;

/// `ARGV`: namespace, username, email, password hash, write token. Returns
/// the new user id, or `false` when the name is taken. A second run with
/// the same token returns the id the first run created (see
/// [`layout`](crate::layout), `N:write:{token}`) and writes nothing.
const CREATE_USER: &str = r"
local done = redis.call('GET', write_key(ARGV[5]))
if done then return done end
if redis.call('HEXISTS', K_USER_IDS, ARGV[2]) == 1 then return false end
local id = id_string(redis.call('INCR', K_NEXT_USER_ID))
redis.call('HSET', user_key(id), F_NAME, ARGV[2], F_EMAIL, ARGV[3], F_PW_HASH, ARGV[4])
redis.call('HSET', K_USER_IDS, ARGV[2], id)
redis.call('SET', write_key(ARGV[5]), id, 'EX', WRITE_TOKEN_TTL)
return id
";

/// `ARGV`: namespace, username. Returns `{id, name, email, pw_hash}`, or
/// `false` when nobody has that name.
const USER_BY_NAME: &str = r"
local id = redis.call('HGET', K_USER_IDS, ARGV[2])
if not id then return false end
local u = redis.call('HMGET', user_key(id), F_NAME, F_EMAIL, F_PW_HASH)
return {id, u[1], u[2], u[3]}
";

/// `ARGV`: namespace, follower id, index of the last followee to return
/// (limit - 1). Returns `{{id, name, email}, ...}` in ascending id order.
const FOLLOWEES: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGE', follows_key(ARGV[2]), 0, ARGV[3])) do
  local u = redis.call('HMGET', user_key(id), F_NAME, F_EMAIL)
  out[#out + 1] = {id, u[1], u[2]}
end
return out
";

/// `ARGV`: namespace, author id, text, pub_date, write token. Returns the
/// new message id. A second run with the same token returns the id the
/// first run created and posts nothing.
const POST: &str = r"
local done = redis.call('GET', write_key(ARGV[5]))
if done then return done end
local id = id_string(redis.call('INCR', K_NEXT_MESSAGE_ID))
redis.call('HSET', message_key(id), F_AUTHOR, ARGV[2], F_TEXT, ARGV[3], F_PUB_DATE, ARGV[4])
redis.call('ZADD', K_PUBLIC_TIMELINE, id, id)
redis.call('ZADD', user_timeline_key(ARGV[2]), id, id)
redis.call('SET', write_key(ARGV[5]), id, 'EX', WRITE_TOKEN_TTL)
return id
";

/// Shared by the timeline scripts: turns message ids into
/// `{{id, author id, text, pub_date, author name, author email}, ...}`,
/// reading each author once per page.
const RENDER: &str = r"
local function render(ids)
  local out, authors = {}, {}
  for _, id in ipairs(ids) do
    local m = redis.call('HMGET', message_key(id), F_AUTHOR, F_TEXT, F_PUB_DATE)
    local author = m[1]
    local u = {false, false}
    if author then
      u = authors[author]
      if not u then
        u = redis.call('HMGET', user_key(author), F_NAME, F_EMAIL)
        authors[author] = u
      end
    end
    out[#out + 1] = {id, author, m[2], m[3], u[1], u[2]}
  end
  return out
end
";

/// `ARGV`: namespace, user id (empty for the public timeline), upper score
/// bound (`+inf` or `(ID`), page size. Returns rendered messages, newest
/// first.
const TIMELINE: &str = r"
local key = K_PUBLIC_TIMELINE
if ARGV[2] ~= '' then key = user_timeline_key(ARGV[2]) end
return render(redis.call('ZREVRANGEBYSCORE', key, ARGV[3], '-inf', 'LIMIT', 0, ARGV[4]))
";

/// `ARGV`: namespace, user id, upper score bound, page size. Takes the newest
/// page-size messages below the bound from the user's own timeline and from
/// each followee's, merges them and keeps the newest page-size: the cost is
/// (followees + 1) index reads of at most one page each, whatever the total
/// number of messages.
const HOME_TIMELINE: &str = r"
local me, max, count = ARGV[2], ARGV[3], tonumber(ARGV[4])
local sources = {me}
for _, followee in ipairs(redis.call('ZRANGE', follows_key(me), 0, -1)) do
  if followee ~= me then sources[#sources + 1] = followee end
end
local found = {}
for _, source in ipairs(sources) do
  local ids = redis.call('ZREVRANGEBYSCORE', user_timeline_key(source), max, '-inf', 'LIMIT', 0, ARGV[4])
  for _, id in ipairs(ids) do found[#found + 1] = {tonumber(id), id} end
end
if #sources > 1 then
  table.sort(found, function(a, b) return a[1] > b[1] end)
end
local page = {}
for i = 1, math.min(count, #found) do page[i] = found[i][2] end
return render(page)
";

/// `ARGV`: namespace, secret name, candidate. Returns the stored secret.
const SECRET: &str = r"
redis.call('HSETNX', K_SECRETS, ARGV[2], ARGV[3])
return redis.call('HGET', K_SECRETS, ARGV[2])
";

/// Every script, compiled once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    /// See [`CREATE_USER`].
    pub(crate) create_user: Script,
    /// See [`USER_BY_NAME`].
    pub(crate) user_by_name: Script,
    /// See [`FOLLOWEES`].
    pub(crate) followees: Script,
    /// See [`POST`].
    pub(crate) post: Script,
    /// See [`TIMELINE`].
    pub(crate) timeline: Script,
    /// See [`HOME_TIMELINE`].
    pub(crate) home_timeline: Script,
    /// See [`SECRET`].
    pub(crate) secret: Script,
    /// The full source of every script, to load them all at connect time.
    sources: Vec<String>,
}

impl Scripts {
    /// Builds every script from the prelude and its body.
    pub(crate) fn new() -> Self {
        let prelude = lua_prelude();
        let mut sources = Vec::new();
        let mut script = |body: &[&str]| {
            let source = format!("{prelude}{}", body.concat());
            let script = Script::new(&source);
            sources.push(source);
            script
        };
        let create_user = script(&[CREATE_USER]);
        let user_by_name = script(&[USER_BY_NAME]);
        let followees = script(&[FOLLOWEES]);
        let post = script(&[POST]);
        let timeline = script(&[RENDER, TIMELINE]);
        let home_timeline = script(&[RENDER, HOME_TIMELINE]);
        let secret = script(&[SECRET]);
        Self {
            create_user,
            user_by_name,
            followees,
            post,
            timeline,
            home_timeline,
            secret,
            sources,
        }
    }

    /// The source of every script.
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }
}
