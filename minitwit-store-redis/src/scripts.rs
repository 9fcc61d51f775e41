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

use minitwit_core::home::HomeCacheLimits;
use redis::Script;

use crate::layout::{home_entries, lua_prelude};

/// The most messages posted during a fill in chunks that one script takes
/// (see [`HOME_CATCH_UP`] and [`HOME_FILL`]).
pub(crate) const FILL_SINCE_MAX: usize = 1024;

/// `ARGV`: namespace, username, email, password hash, write token, session
/// generation, latest (`''` for none). Records `latest`, then returns the
/// new user id, or `false` when the name is taken. A second run with the
/// same token returns the id the first run created (see
/// [`layout`](crate::layout), `N:write:{token}`) and writes nothing else.
const CREATE_USER: &str = r"
if ARGV[7] ~= '' then redis.call('SET', K_LATEST, ARGV[7]) end
local done = redis.call('GET', write_key(ARGV[5]))
if done then return done end
if redis.call('HEXISTS', K_USER_IDS, ARGV[2]) == 1 then return false end
local id = id_string(redis.call('INCR', K_NEXT_USER_ID))
redis.call('HSET', user_key(id), F_NAME, ARGV[2], F_EMAIL, ARGV[3], F_PW_HASH, ARGV[4],
  F_SESSIONS, ARGV[6])
redis.call('HSET', K_USER_IDS, ARGV[2], id)
redis.call('ZADD', K_USERS, id, id)
redis.call('INCR', K_COUNT_USERS)
redis.call('SET', write_key(ARGV[5]), id, 'EX', WRITE_TOKEN_TTL)
return id
";

/// `ARGV`: namespace, username. Returns `{id, name, email, pw_hash,
/// sessions}`, or `false` when nobody has that name.
const USER_BY_NAME: &str = r"
local id = redis.call('HGET', K_USER_IDS, ARGV[2])
if not id then return false end
local u = redis.call('HMGET', user_key(id), F_NAME, F_EMAIL, F_PW_HASH, F_SESSIONS)
return {id, u[1], u[2], u[3], u[4]}
";

/// `ARGV`: namespace, username, latest (`''` for none). Whether somebody
/// has the name: `1`, having recorded `latest`, or `0`, leaving it alone.
const NAME_TAKEN: &str = r"
if redis.call('HEXISTS', K_USER_IDS, ARGV[2]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('SET', K_LATEST, ARGV[3]) end
return 1
";

/// `ARGV`: namespace, user id. Moves the user's session generation on by
/// one (wrapping, as a signed 64-bit integer) and returns it, or `false`
/// when there is no such user.
const END_SESSIONS: &str = r"
local key = user_key(ARGV[2])
if redis.call('EXISTS', key) == 0 then return false end
if redis.call('HGET', key, F_SESSIONS) == '9223372036854775807' then
  redis.call('HSET', key, F_SESSIONS, '-9223372036854775808')
  return '-9223372036854775808'
end
redis.call('HINCRBY', key, F_SESSIONS, 1)
-- Read back as a string: Lua numbers are doubles, exact only up to 2^53.
return redis.call('HGET', key, F_SESSIONS)
";

/// Shared by the scripts that write follows and messages: the home cache
/// of [`minitwit_core::home`] (see [`layout`](crate::layout) for the keys).
/// `fan_out` adds a new message to the entry of every reader in the
/// author's `N:fans` set that still has one, trimming it to its size, and
/// drops from the set the readers whose entry is gone; `forget_home` drops a
/// reader's entry; `add_ids` adds message ids to an entry (each its own
/// score). `home_followed` and `home_unfollowed` patch a reader's
/// entry after a follow change instead of dropping it, so that the next
/// page is not a merge over every followee: a follow adds the new
/// followee's newest ids from the entry's bound (at most an entry's worth;
/// a full read raises the bound to the oldest it read, and ids below the
/// bound go, so that every id in the entry is at least the bound), an
/// unfollow removes the followee's ids (one `ZSCORE` per id of the entry).
/// A change of a follow of oneself (which the service never makes) drops
/// the entry. `join_fans` adds a reader to an author's fans unless
/// `HOME_FANS` (the cache's `readers`) are there already, so that a post
/// costs at most that many entries; a reader who cannot join pulls that
/// author instead (`pull`: the entry's pages read the author's newest posts
/// from their timeline, `N:home_pulled:{id}`), and a reader who cannot
/// pull one more either ([`HOME_PULLED_MAX`](crate::layout::HOME_PULLED_MAX))
/// keeps no entry (their pages are merged, and for a while no fill is
/// tried for them: `no_fill`); `join_or_pull` does both.
const HOME_WRITES: &str = r"
local function fan_out(author, id)
  for _, reader in ipairs(redis.call('SMEMBERS', fans_key(author))) do
    if redis.call('EXISTS', home_from_key(reader)) == 1 then
      local key = home_key(reader)
      redis.call('ZADD', key, id, id)
      local size = redis.call('ZCARD', key)
      if size == 1 then
        -- The entry had no ids, so no key: this one expires with the entry.
        redis.call('PEXPIRE', key, redis.call('PTTL', home_from_key(reader)))
      end
      local excess = size - HOME_ENTRIES
      if excess > 0 then
        redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
        redis.call('SET', home_from_key(reader), redis.call('ZRANGE', key, 0, 0)[1], 'KEEPTTL')
      end
    else
      redis.call('SREM', fans_key(author), reader)
    end
  end
end
local function forget_home(reader)
  redis.call('DEL', home_key(reader), home_from_key(reader), home_filling_key(reader),
    home_pulled_key(reader), home_paging_key(reader))
end
local function add_ids(key, ids)
  local scored = {}
  for _, id in ipairs(ids) do
    scored[#scored + 1] = id
    scored[#scored + 1] = id
  end
  redis.call('ZADD', key, unpack(scored))
end
-- Adds `reader` to `author`'s fans, unless HOME_FANS readers are there
-- already (after dropping those with neither an entry nor a fill under
-- way): so a post fans out to at most HOME_FANS entries. Returns whether
-- the reader is in; a reader who is not pulls the author instead (below).
local function join_fans(author, reader)
  local key = fans_key(author)
  if redis.call('SISMEMBER', key, reader) == 1 then return true end
  if redis.call('SCARD', key) >= HOME_FANS then
    for _, member in ipairs(redis.call('SMEMBERS', key)) do
      if redis.call('EXISTS', home_from_key(member), home_filling_key(member)) == 0 then
        redis.call('SREM', key, member)
      end
    end
    if redis.call('SCARD', key) >= HOME_FANS then return false end
  end
  redis.call('SADD', key, reader)
  return true
end
-- Makes the pages of `reader`'s entry read `author`'s newest posts from
-- their timeline, since they do not reach the entry, unless the entry
-- pulls HOME_PULLED_MAX authors already. Returns whether `author` is
-- pulled. The set expires a second after the entry (or, while the entry is
-- being filled, after the fill's mark), never before it.
local function pull(reader, author)
  local key = home_pulled_key(reader)
  if redis.call('SISMEMBER', key, author) == 0 then
    if redis.call('SCARD', key) >= HOME_PULLED_MAX then return false end
    redis.call('SADD', key, author)
  end
  local ttl = redis.call('PTTL', home_from_key(reader))
  if ttl == -1 then
    redis.call('PERSIST', key)
  elseif ttl > 0 then
    redis.call('PEXPIRE', key, ttl + 1000)
  else
    redis.call('EXPIRE', key, FILL_MARK_TTL + 1)
  end
  return true
end
local function join_or_pull(author, reader)
  return join_fans(author, reader) or pull(reader, author)
end
-- `reader`'s entry would pull more authors than it may: for a while, their
-- pages are merged without a fill being tried first (a follow change ends
-- that).
local function no_fill(reader)
  redis.call('SET', home_nofill_key(reader), '1', 'EX', FILL_MARK_TTL)
end
local function home_followed(reader, author)
  if reader == author then return forget_home(reader) end
  local from_key = home_from_key(reader)
  local from = redis.call('GET', from_key)
  if not from then return end
  local key = home_key(reader)
  local ids = redis.call('ZREVRANGEBYSCORE', user_timeline_key(author), '+inf', from,
    'LIMIT', 0, HOME_ENTRIES)
  if #ids == HOME_ENTRIES then
    from = ids[#ids]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. from)
  end
  if #ids > 0 then
    add_ids(key, ids)
    redis.call('PEXPIRE', key, redis.call('PTTL', from_key))
    local excess = redis.call('ZCARD', key) - HOME_ENTRIES
    if excess > 0 then
      redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
      from = redis.call('ZRANGE', key, 0, 0)[1]
    end
  end
  redis.call('SET', from_key, from, 'KEEPTTL')
  if not join_or_pull(author, reader) then
    forget_home(reader)
    no_fill(reader)
  end
end
local function home_unfollowed(reader, author)
  if reader == author then return forget_home(reader) end
  if redis.call('EXISTS', home_from_key(reader)) == 0 then return end
  local key, timeline = home_key(reader), user_timeline_key(author)
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if redis.call('ZSCORE', timeline, id) then redis.call('ZREM', key, id) end
  end
end
";

/// Shared by the follow scripts: `follow_edge` and `unfollow_edge` change
/// one edge with its count and home cache (and end the mark of a fill in
/// chunks of the follower's entry, see [`HOME_FILL`], and of their paging,
/// see [`HOME_MERGE_PAGE`]), and return 1 when something changed, 0
/// otherwise. Needs [`HOME_WRITES`].
const FOLLOW_WRITES: &str = r"
local function follow_edge(follower, followee)
  local added = redis.call('ZADD', follows_key(follower), 'NX', followee, followee)
  if added == 1 then
    redis.call('INCR', K_COUNT_FOLLOWS)
    redis.call('DEL', home_filling_key(follower), home_paging_key(follower),
      home_nofill_key(follower))
    home_followed(follower, followee)
  end
  return added
end
local function unfollow_edge(follower, followee)
  local removed = redis.call('ZREM', follows_key(follower), followee)
  if removed == 1 then
    redis.call('DECR', K_COUNT_FOLLOWS)
    redis.call('DEL', home_filling_key(follower), home_paging_key(follower),
      home_nofill_key(follower))
    redis.call('SREM', home_pulled_key(follower), followee)
    if follower ~= followee then redis.call('SREM', fans_key(followee), follower) end
    home_unfollowed(follower, followee)
  end
  return removed
end
";

/// `ARGV`: namespace, follower id, followee id. Returns 1 when the follow
/// is new, 0 when it was there.
const FOLLOW: &str = r"
return follow_edge(ARGV[2], ARGV[3])
";

/// `ARGV`: namespace, follower id, followee id. Returns 1 when a follow was
/// removed, 0 when there was none.
const UNFOLLOW: &str = r"
return unfollow_edge(ARGV[2], ARGV[3])
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

/// Shared by the post scripts: `post_message` posts and returns the new
/// message id; a second run with the same write token returns the id the
/// first run created and posts nothing. Needs [`HOME_WRITES`].
const POST_WRITE: &str = r"
local function post_message(author, text, pub_date, token)
  local done = redis.call('GET', write_key(token))
  if done then return done end
  local id = id_string(redis.call('INCR', K_NEXT_MESSAGE_ID))
  redis.call('HSET', message_key(id), F_AUTHOR, author, F_TEXT, text, F_PUB_DATE, pub_date)
  redis.call('ZADD', K_PUBLIC_TIMELINE, id, id)
  redis.call('ZADD', user_timeline_key(author), id, id)
  fan_out(author, id)
  redis.call('INCR', K_COUNT_MESSAGES)
  redis.call('SET', write_key(token), id, 'EX', WRITE_TOKEN_TTL)
  return id
end
";

/// `ARGV`: namespace, author id, text, pub_date, write token. Returns the
/// new message id (see [`POST_WRITE`]).
const POST: &str = r"
return post_message(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
";

/// Shared by the scripts of writes that name their users:
/// `resolve(normalized, as_written)` finds a user id by name (the spelling
/// as written, `''` for none, only when the normalized one finds nobody);
/// `record_latest(latest)` records `latest` unless it is `''`.
const NAMED: &str = r"
local function resolve(normalized, as_written)
  local id = redis.call('HGET', K_USER_IDS, normalized)
  if not id and as_written ~= '' then id = redis.call('HGET', K_USER_IDS, as_written) end
  return id
end
local function record_latest(latest)
  if latest ~= '' then redis.call('SET', K_LATEST, latest) end
end
";

/// `ARGV`: namespace, latest (`''` for none), author's name (normalized,
/// as written), text, pub_date, write token. Records `latest`, then posts.
/// Returns `{'posted', id}` or `{'unknown_user'}`.
const NAMED_POST: &str = r"
record_latest(ARGV[2])
local author = resolve(ARGV[3], ARGV[4])
if not author then return {'unknown_user'} end
return {'posted', post_message(author, ARGV[5], ARGV[6], ARGV[7])}
";

/// `ARGV`: namespace, latest (`''` for none), follower's name (normalized,
/// as written), followee's name (normalized, as written), `follow` or
/// `unfollow`. Records `latest`, then changes the edge. Returns
/// `{'applied', '1' or '0'}`, `{'unknown_user'}`, `{'unknown_target'}` or
/// `{'self'}` (a follow of oneself; an unfollow of oneself is a no-op).
const NAMED_FOLLOW: &str = r"
record_latest(ARGV[2])
local follower = resolve(ARGV[3], ARGV[4])
if not follower then return {'unknown_user'} end
local followee = resolve(ARGV[5], ARGV[6])
if not followee then return {'unknown_target'} end
if follower == followee then
  if ARGV[7] == 'follow' then return {'self'} end
  return {'applied', '0'}
end
if ARGV[7] == 'follow' then return {'applied', tostring(follow_edge(follower, followee))} end
return {'applied', tostring(unfollow_edge(follower, followee))}
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

/// Shared by the home timeline scripts: a reader's followees and sources
/// (the reader and their followees), and the merge of their timelines.
///
/// A merge reads the newest id of each source first (below the page's
/// bound); a source whose newest is older than the `limit`-th newest of
/// those cannot reach the page, so only the others' timelines are read:
/// one short read per source plus a few full ones. Without a bound, a
/// source's newest is the last element of its set, which Redis reaches
/// directly (a search by score descends the whole skiplist).
///
/// A reader with more sources than
/// [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk) is never
/// merged in one script, which would hold Redis' one thread (every
/// instance's requests) for one call per source: the scripts below return their sources
/// instead, and the store reads the newest ids in chunks
/// ([`HOME_HEADS`], [`HOME_JOIN`]) and the page from the few sources that
/// reach it ([`HOME_MERGE_PAGE`], [`HOME_FILL`]); see
/// [`timeline`](crate::timeline).
const MERGE: &str = r"
local function followees_of(reader)
  local followees = {}
  for _, followee in ipairs(redis.call('ZRANGE', follows_key(reader), 0, -1)) do
    if followee ~= reader then followees[#followees + 1] = followee end
  end
  return followees
end
local function sources_of(reader)
  local sources = {reader}
  for _, followee in ipairs(followees_of(reader)) do sources[#sources + 1] = followee end
  return sources
end
local function newest_of(source, bound)
  if bound == '+inf' then
    return redis.call('ZREVRANGE', user_timeline_key(source), 0, 0)[1]
  end
  return redis.call('ZREVRANGEBYSCORE', user_timeline_key(source), bound, '-inf', 'LIMIT', 0, 1)[1]
end
-- Changes when messages arrive other than by posts: every import counts
-- itself (a clear removes every paging mark anyway).
local function messages_epoch()
  return redis.call('GET', K_IMPORTS) or '0'
end
-- The newest `limit` of `ids` (numbers), without repeats, as id strings.
local function newest_ids(ids, limit)
  table.sort(ids, function(a, b) return a > b end)
  local newest, last = {}, nil
  for _, id in ipairs(ids) do
    if #newest == limit then break end
    if id ~= last then newest[#newest + 1] = string.format('%.0f', id) end
    last = id
  end
  return newest
end
-- The newest `limit` ids, below `bound` and at least `threshold`, of the
-- timelines of `candidates`.
local function collect(candidates, bound, threshold, limit)
  local found = {}
  for _, source in ipairs(candidates) do
    local ids = redis.call('ZREVRANGEBYSCORE', user_timeline_key(source), bound, threshold, 'LIMIT', 0, limit)
    for _, id in ipairs(ids) do found[#found + 1] = tonumber(id) end
  end
  return newest_ids(found, limit)
end
-- The newest `limit` ids below `bound` of all sources.
local function merge(sources, limit, bound)
  local heads, reaching = {}, {}
  for _, source in ipairs(sources) do
    local newest = newest_of(source, bound)
    if newest then
      local id = tonumber(newest)
      heads[#heads + 1] = id
      reaching[#reaching + 1] = {source, id}
    end
  end
  -- With fewer sources than the limit, every id may be needed.
  local threshold = 0
  if #heads >= limit then
    table.sort(heads, function(a, b) return a > b end)
    threshold = heads[limit]
  end
  local candidates = {}
  for _, candidate in ipairs(reaching) do
    if candidate[2] >= threshold then candidates[#candidates + 1] = candidate[1] end
  end
  return collect(candidates, bound, threshold, limit)
end
-- Whether message `id` is on `reader`'s home timeline (by them or a
-- followee); if so, its author's `fans` get the reader back, since a post
-- drops from them a reader who has no entry yet (when they are full, the
-- entry pulls the author; when it cannot, the reader's fill mark goes, and
-- the fill gives way).
local function takes_post(reader, id)
  local author = redis.call('HGET', message_key(id), F_AUTHOR)
  if not author or (author ~= reader and not redis.call('ZSCORE', follows_key(reader), author)) then
    return false
  end
  if not join_or_pull(author, reader) then
    -- The fill gives way (see HOME_FILL).
    redis.call('DEL', home_filling_key(reader))
    no_fill(reader)
  end
  return true
end
-- Makes `newest` (at most an entry's worth, newest first) the reader's
-- entry: complete from its oldest id, or from 0 when it holds fewer.
local function store_entry(reader, newest)
  redis.call('DEL', home_key(reader))
  if #newest > 0 then
    add_ids(home_key(reader), newest)
    redis.call('EXPIRE', home_key(reader), HOME_LIFETIME)
  end
  local from = '0'
  if #newest == HOME_ENTRIES then from = newest[#newest] end
  redis.call('SET', home_from_key(reader), from, 'EX', HOME_LIFETIME)
  redis.call('EXPIRE', home_pulled_key(reader), HOME_LIFETIME + 1)
end
-- `ids` (the entry's, between `max` and `from`, newest first) with the
-- newest posts there of the authors the entry pulls (see `pull`) that the
-- reader still follows: the newest `limit` of them all.
local function with_pulled(reader, ids, max, from, limit)
  local pulled = redis.call('SMEMBERS', home_pulled_key(reader))
  if #pulled == 0 then return ids end
  local found = {}
  for _, id in ipairs(ids) do found[#found + 1] = tonumber(id) end
  for _, author in ipairs(pulled) do
    if author == reader or redis.call('ZSCORE', follows_key(reader), author) then
      local posts = redis.call('ZREVRANGEBYSCORE', user_timeline_key(author), max, from,
        'LIMIT', 0, limit)
      for _, id in ipairs(posts) do found[#found + 1] = tonumber(id) end
    end
  end
  return newest_ids(found, limit)
end
";

/// `ARGV`: namespace, user id, upper score bound (`+inf` or `(ID`), page
/// size, a random token (marks a fill). Answers from the reader's home
/// cache entry and the newest posts of the authors it pulls (see `pull` in
/// [`HOME_WRITES`]), filling it first with one merge when there is none
/// (see [`layout`](crate::layout)), unless a fill gave way lately because
/// the entry would pull more authors than it may (`no_fill`); a page
/// deeper than the entry, or any page when the cache is off, is a merge.
/// Returns `{kind, newest, messages, epoch, sources, rows}`:
///
/// * `{'page', '', '', '', {}, rows}`: the page, rendered messages newest
///   first;
/// * `{'fill', newest, messages, epoch, sources, {}}`: there is no entry
///   and the reader has more sources than
///   [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk):
///   `newest` is the last message id handed out and `messages` the number
///   of messages, both now, and `N:home_filling:{reader}` marks the fill
///   with the token (so that two fills of one reader never share a mark);
///   the store fills the entry in chunks ([`HOME_JOIN`],
///   [`HOME_CATCH_UP`], [`HOME_FILL`]), and merges the page if the fill
///   gives way;
/// * `{'merge', '', '', epoch, sources, {}}`: the page needs a merge over
///   more sources than
///   [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk); the store
///   merges in chunks ([`HOME_HEADS`], [`HOME_MERGE_PAGE`]).
///
/// On `fill` and `merge` the token also becomes the reader's paging mark
/// (`N:home_paging:{reader}`), and `epoch` is what `messages_epoch` (in
/// [`MERGE`]) gives now: with both, [`HOME_MERGE_PAGE`] tells whether what
/// a merge of these sources reads still holds for the next older page.
///
/// Needs [`HOME_WRITES`], [`MERGE`] and [`RENDER`].
const HOME_TIMELINE: &str = r"
local me, max, count = ARGV[2], ARGV[3], tonumber(ARGV[4])
local sources
if HOME_ENTRIES > 0 then
  local from = redis.call('GET', home_from_key(me))
  if not from and redis.call('EXISTS', home_nofill_key(me)) == 0 then
    sources = sources_of(me)
    if #sources > MERGE_CHUNK then
      local newest = redis.call('GET', K_NEXT_MESSAGE_ID) or '0'
      redis.call('SET', home_filling_key(me), ARGV[5], 'EX', FILL_MARK_TTL)
      redis.call('SET', home_paging_key(me), ARGV[5], 'EX', PAGING_MARK_TTL)
      redis.call('DEL', home_pulled_key(me))
      local messages = redis.call('GET', K_COUNT_MESSAGES) or '0'
      return {'fill', newest, messages, messages_epoch(), sources, {}}
    end
    redis.call('DEL', home_pulled_key(me))
    store_entry(me, merge(sources, HOME_ENTRIES, '+inf'))
    for _, source in ipairs(sources) do
      if not join_or_pull(source, me) then
        forget_home(me)
        no_fill(me)
        break
      end
    end
    from = redis.call('GET', home_from_key(me))
  end
  -- Only ids of the entry's complete part: at least `from`.
  if from then
    local ids = redis.call('ZREVRANGEBYSCORE', home_key(me), max, from, 'LIMIT', 0, count)
    ids = with_pulled(me, ids, max, from, count)
    if #ids == count or from == '0' then return {'page', '', '', '', {}, render(ids)} end
  end
end
sources = sources or sources_of(me)
if #sources > MERGE_CHUNK then
  redis.call('SET', home_paging_key(me), ARGV[5], 'EX', PAGING_MARK_TTL)
  return {'merge', '', '', messages_epoch(), sources, {}}
end
return {'page', '', '', '', {}, render(merge(sources, count, max))}
";

/// `ARGV`: namespace, upper score bound (`+inf` or `(ID`), then sources
/// (at most [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk)).
/// Returns each source's newest message id below the bound, `''` for none.
/// Needs [`MERGE`].
const HOME_HEADS: &str = r"
local out = {}
for i = 3, #ARGV do out[#out + 1] = newest_of(ARGV[i], ARGV[2]) or '' end
return out
";

/// `ARGV`: namespace, reader, paging token (`''` for none), epoch, upper
/// score bound, threshold, page size, then the sources whose newest id
/// below the bound is at least the threshold. Returns `{valid, rows,
/// heads}`: the page (the newest ids below the bound of those sources,
/// rendered); whether the reader's paging mark still holds the token and
/// the imports' epoch is the one given (see [`HOME_TIMELINE`]: no follow
/// change of the reader, no other merge of theirs and no import since the
/// merge began), as 1 or 0; and when it does and
/// the page is full, each given source's newest id below the page (`''`
/// for none), so that the next older page can be read from the few
/// sources that reach it, with this script alone (see
/// [`timeline`](crate::timeline)). Needs [`MERGE`] and [`RENDER`].
const HOME_MERGE_PAGE: &str = r"
local me, token, epoch, bound = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local limit = tonumber(ARGV[7])
local candidates = {}
for i = 8, #ARGV do candidates[#candidates + 1] = ARGV[i] end
local ids = collect(candidates, bound, ARGV[6], limit)
local valid = token ~= '' and redis.call('GET', home_paging_key(me)) == token
  and messages_epoch() == epoch
local heads = {}
if valid and #ids == limit and limit > 0 then
  local below = '(' .. ids[#ids]
  for _, source in ipairs(candidates) do heads[#heads + 1] = newest_of(source, below) or '' end
  redis.call('EXPIRE', home_paging_key(me), PAGING_MARK_TTL)
end
return {valid and 1 or 0, render(ids), heads}
";

/// `ARGV`: namespace, reader, `newest` of a `fill` answer of
/// [`HOME_TIMELINE`], then sources (at most
/// [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk)). A step of
/// a fill in chunks: each source the reader still follows (or the reader)
/// gets the reader in its `N:fans` set, so its posts from now on reach the
/// entry (they remove the reader again while the entry does not exist;
/// [`HOME_FILL`] adds back the authors of those posts). Returns each
/// source's newest message id of at most `newest`, `''` for none or for a
/// source no longer followed. A source whose fans are full is pulled
/// instead (see `pull` in [`HOME_WRITES`]); when the entry pulls as many
/// as it may already, the source removes the fill's mark, so that the fill
/// gives way. Needs [`MERGE`].
const HOME_JOIN: &str = r"
local me, newest = ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local source, head = ARGV[i], nil
  if source == me or redis.call('ZSCORE', follows_key(me), source) then
    if not join_or_pull(source, me) then
      redis.call('DEL', home_filling_key(me))
      no_fill(me)
    end
    local timeline = user_timeline_key(source)
    head = redis.call('ZREVRANGE', timeline, 0, 0)[1]
    if head and tonumber(head) > newest then
      head = redis.call('ZREVRANGEBYSCORE', timeline, ARGV[3], '-inf', 'LIMIT', 0, 1)[1]
    end
  end
  out[#out + 1] = head or ''
end
return out
";

/// `ARGV`: namespace, reader, an id, a count. Takes the next `count`
/// messages after the id (see `takes_post` in [`MERGE`]), for a fill in
/// chunks that more messages were posted during than [`HOME_FILL`] takes
/// at once. Returns `{last, taken, ids}`: the last message id looked at
/// (the id given when none), how many were looked at, and the ids of those
/// on the reader's home timeline. Needs [`MERGE`].
const HOME_CATCH_UP: &str = r"
local me, after = ARGV[2], ARGV[3]
local since = redis.call('ZRANGEBYSCORE', K_PUBLIC_TIMELINE, '(' .. after, '+inf',
  'LIMIT', 0, tonumber(ARGV[4]))
local ids = {}
for _, id in ipairs(since) do
  if takes_post(me, id) then ids[#ids + 1] = id end
end
return {since[#since] or after, #since, ids}
";

/// `ARGV`: namespace, reader, `newest` of the `fill` answer of
/// [`HOME_TIMELINE`], the id up to which the messages since were taken
/// (`newest` when none were, else the `last` of [`HOME_CATCH_UP`]), the
/// number of messages up to that id (the `messages` of the `fill` answer
/// plus what the catch-ups looked at), threshold, the reader's followees
/// then (the sources after the reader, comma-separated), the fill's token
/// (see [`HOME_TIMELINE`]), the number of ids that follow, those ids (the newest on the reader's home timeline
/// that the catch-ups found), then the sources whose newest id (from
/// [`HOME_JOIN`]) is at least the threshold.
///
/// The last step of a fill in chunks, atomic: unless someone filled the
/// entry meanwhile (`filled`), it checks that the fill's mark is still
/// there (no follow change of the reader), that the followees are those
/// the chunks read, and that the messages up to the last id taken are
/// those counted (no import of older ids): else `changed`, and the caller
/// merges instead. It takes the messages posted since (more than
/// [`FILL_SINCE_MAX`]: `busy`, and the caller catches up first), and the
/// newest ids up to `newest` of the sources that reach the entry, and
/// stores the newest of them all as the entry: `filled`. Needs
/// [`HOME_WRITES`] and [`MERGE`].
const HOME_FILL: &str = r"
local me, newest, after = ARGV[2], ARGV[3], ARGV[4]
local counted, threshold = tonumber(ARGV[5]), ARGV[6]
if redis.call('EXISTS', home_from_key(me)) == 1 then return 'filled' end
if redis.call('GET', home_filling_key(me)) ~= ARGV[8]
  or table.concat(followees_of(me), ',') ~= ARGV[7] then
  return 'changed'
end
local since = redis.call('ZRANGEBYSCORE', K_PUBLIC_TIMELINE, '(' .. after, '+inf',
  'LIMIT', 0, FILL_SINCE_MAX + 1)
if #since > FILL_SINCE_MAX then return 'busy' end
if tonumber(redis.call('GET', K_COUNT_MESSAGES) or '0') ~= counted + #since then
  return 'changed'
end
local found = {}
local caught = tonumber(ARGV[9])
for i = 10, 9 + caught do found[#found + 1] = tonumber(ARGV[i]) end
for _, id in ipairs(since) do
  if takes_post(me, id) then found[#found + 1] = tonumber(id) end
end
-- An author's fans were full, and the entry could pull no more authors.
if redis.call('EXISTS', home_filling_key(me)) == 0 then return 'changed' end
for i = 10 + caught, #ARGV do
  local ids = redis.call('ZREVRANGEBYSCORE', user_timeline_key(ARGV[i]), newest, threshold,
    'LIMIT', 0, HOME_ENTRIES)
  for _, id in ipairs(ids) do found[#found + 1] = tonumber(id) end
end
store_entry(me, newest_ids(found, HOME_ENTRIES))
redis.call('DEL', home_filling_key(me))
return 'filled'
";

/// `ARGV`: namespace, secret name, candidate. Returns the stored secret.
const SECRET: &str = r"
redis.call('HSETNX', K_SECRETS, ARGV[2], ARGV[3])
return redis.call('HGET', K_SECRETS, ARGV[2])
";

/// `ARGV`: namespace. Brings a namespace to the current layout: one written
/// by a version that kept no counts and no `N:users` gets them, counted
/// from the data in this one atomic run (so counts that writers of this
/// version changed meanwhile are overwritten with exact ones). Returns the
/// layout found before (`false` for none).
const MIGRATE: &str = r"
local found = redis.call('GET', K_LAYOUT)
if found == LAYOUT then return found end
if found and tonumber(found) > tonumber(LAYOUT) then
  return redis.error_reply('LAYOUT the namespace has layout ' .. found .. ', newer than ' .. LAYOUT)
end
local users, follows = 0, 0
local names = redis.call('HGETALL', K_USER_IDS)
for i = 2, #names, 2 do
  local id = names[i]
  redis.call('ZADD', K_USERS, id, id)
  users = users + 1
  follows = follows + redis.call('ZCARD', follows_key(id))
  if redis.call('HEXISTS', user_key(id), F_SESSIONS) == 0 then
    redis.call('HSET', user_key(id), F_SESSIONS, '0')
  end
end
redis.call('SET', K_COUNT_USERS, users)
redis.call('SET', K_COUNT_FOLLOWS, follows)
redis.call('SET', K_COUNT_MESSAGES, redis.call('ZCARD', K_PUBLIC_TIMELINE))
redis.call('SET', K_LAYOUT, LAYOUT)
return found
";

/// `ARGV`: namespace, then records, each a kind and its fields:
/// `u id name email pw_hash sessions`, `f follower followee`,
/// `m id author text pub_date`, `l latest`, `s name value`. Checks first
/// that no user (by id or name) and no message exists already, then writes
/// them all, counts them, raises the id counters above them, and counts
/// itself in `N:imports` (see [`HOME_MERGE_PAGE`]). Returns 'OK', or an
/// error reply starting with `CONFLICT`.
const IMPORT: &str = r"
local width = {u = 6, f = 3, m = 5, l = 2, s = 3}
local i = 2
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'u' then
    if redis.call('EXISTS', user_key(ARGV[i + 1])) == 1
      or redis.call('HEXISTS', K_USER_IDS, ARGV[i + 2]) == 1 then
      return redis.error_reply('CONFLICT user ' .. ARGV[i + 1])
    end
  elseif kind == 'm' then
    if redis.call('EXISTS', message_key(ARGV[i + 1])) == 1 then
      return redis.error_reply('CONFLICT message ' .. ARGV[i + 1])
    end
  elseif not width[kind] then
    return redis.error_reply('ERR unknown record kind ' .. tostring(kind))
  end
  i = i + width[kind]
end
redis.call('INCR', K_IMPORTS)
i = 2
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'u' then
    local id = ARGV[i + 1]
    redis.call('HSET', user_key(id), F_NAME, ARGV[i + 2], F_EMAIL, ARGV[i + 3],
      F_PW_HASH, ARGV[i + 4], F_SESSIONS, ARGV[i + 5])
    redis.call('HSET', K_USER_IDS, ARGV[i + 2], id)
    redis.call('ZADD', K_USERS, id, id)
    redis.call('INCR', K_COUNT_USERS)
    raise_counter(K_NEXT_USER_ID, id)
  elseif kind == 'f' then
    if redis.call('ZADD', follows_key(ARGV[i + 1]), 'NX', ARGV[i + 2], ARGV[i + 2]) == 1 then
      redis.call('INCR', K_COUNT_FOLLOWS)
      forget_home(ARGV[i + 1])
    end
  elseif kind == 'm' then
    local id, author = ARGV[i + 1], ARGV[i + 2]
    redis.call('HSET', message_key(id), F_AUTHOR, author, F_TEXT, ARGV[i + 3],
      F_PUB_DATE, ARGV[i + 4])
    redis.call('ZADD', K_PUBLIC_TIMELINE, id, id)
    redis.call('ZADD', user_timeline_key(author), id, id)
    fan_out(author, id)
    redis.call('INCR', K_COUNT_MESSAGES)
    raise_counter(K_NEXT_MESSAGE_ID, id)
  elseif kind == 'l' then
    redis.call('SET', K_LATEST, ARGV[i + 1])
  else
    redis.call('HSET', K_SECRETS, ARGV[i + 1], ARGV[i + 2])
  end
  i = i + width[kind]
end
return 'OK'
";

/// Every script, compiled once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    /// See [`CREATE_USER`].
    pub(crate) create_user: Script,
    /// See [`USER_BY_NAME`].
    pub(crate) user_by_name: Script,
    /// See [`NAME_TAKEN`].
    pub(crate) name_taken: Script,
    /// See [`FOLLOWEES`].
    pub(crate) followees: Script,
    /// See [`POST`].
    pub(crate) post: Script,
    /// See [`TIMELINE`].
    pub(crate) timeline: Script,
    /// See [`HOME_TIMELINE`].
    pub(crate) home_timeline: Script,
    /// See [`HOME_HEADS`].
    pub(crate) home_heads: Script,
    /// See [`HOME_MERGE_PAGE`].
    pub(crate) home_merge_page: Script,
    /// See [`HOME_JOIN`].
    pub(crate) home_join: Script,
    /// See [`HOME_CATCH_UP`].
    pub(crate) home_catch_up: Script,
    /// See [`HOME_FILL`].
    pub(crate) home_fill: Script,
    /// Ids a home cache entry holds (0 when the cache is off).
    pub(crate) home_entries: usize,
    /// Sources per script of a merge in chunks.
    pub(crate) merge_chunk: usize,
    /// See [`SECRET`].
    pub(crate) secret: Script,
    /// See [`END_SESSIONS`].
    pub(crate) end_sessions: Script,
    /// See [`FOLLOW`].
    pub(crate) follow: Script,
    /// See [`UNFOLLOW`].
    pub(crate) unfollow: Script,
    /// See [`NAMED_POST`].
    pub(crate) named_post: Script,
    /// See [`NAMED_FOLLOW`].
    pub(crate) named_follow: Script,
    /// See [`MIGRATE`].
    pub(crate) migrate: Script,
    /// See [`IMPORT`].
    pub(crate) import: Script,
    /// The full source of every script, to load them all at connect time.
    sources: Vec<String>,
}

impl Scripts {
    /// Builds every script from the prelude (with the home cache's
    /// limits and the merge chunk, see
    /// [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk)) and
    /// its body.
    pub(crate) fn new(home: HomeCacheLimits, merge_chunk: usize) -> Self {
        let prelude = format!(
            "{}local MERGE_CHUNK, FILL_SINCE_MAX = {merge_chunk}, {FILL_SINCE_MAX}\n",
            lua_prelude(home)
        );
        let mut sources = Vec::new();
        let mut script = |body: &[&str]| {
            let source = format!("{prelude}{}", body.concat());
            let script = Script::new(&source);
            sources.push(source);
            script
        };
        let create_user = script(&[CREATE_USER]);
        let user_by_name = script(&[USER_BY_NAME]);
        let name_taken = script(&[NAME_TAKEN]);
        let followees = script(&[FOLLOWEES]);
        let post = script(&[HOME_WRITES, POST_WRITE, POST]);
        let timeline = script(&[RENDER, TIMELINE]);
        let home_timeline = script(&[HOME_WRITES, MERGE, RENDER, HOME_TIMELINE]);
        let home_heads = script(&[HOME_WRITES, MERGE, HOME_HEADS]);
        let home_merge_page = script(&[HOME_WRITES, MERGE, RENDER, HOME_MERGE_PAGE]);
        let home_join = script(&[HOME_WRITES, MERGE, HOME_JOIN]);
        let home_catch_up = script(&[HOME_WRITES, MERGE, HOME_CATCH_UP]);
        let home_fill = script(&[HOME_WRITES, MERGE, HOME_FILL]);
        let secret = script(&[SECRET]);
        let end_sessions = script(&[END_SESSIONS]);
        let follow = script(&[HOME_WRITES, FOLLOW_WRITES, FOLLOW]);
        let unfollow = script(&[HOME_WRITES, FOLLOW_WRITES, UNFOLLOW]);
        let named_post = script(&[HOME_WRITES, POST_WRITE, NAMED, NAMED_POST]);
        let named_follow = script(&[HOME_WRITES, FOLLOW_WRITES, NAMED, NAMED_FOLLOW]);
        let migrate = script(&[MIGRATE]);
        let import = script(&[HOME_WRITES, IMPORT]);
        Self {
            create_user,
            user_by_name,
            name_taken,
            followees,
            post,
            timeline,
            home_timeline,
            home_heads,
            home_merge_page,
            home_join,
            home_catch_up,
            home_fill,
            home_entries: home_entries(home),
            merge_chunk,
            secret,
            end_sessions,
            follow,
            unfollow,
            named_post,
            named_follow,
            migrate,
            import,
            sources,
        }
    }

    /// The source of every script.
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }
}
