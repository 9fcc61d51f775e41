//! The read path: followee lists and timeline pages, each one script, so
//! one round trip; except a home timeline page that needs a merge over more
//! sources than [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk),
//! which is read in several scripts so that no single one holds Redis'
//! thread for long (see [`scripts`](crate::scripts), `MERGE`):
//!
//! * a page deeper than the reader's home cache entry (or any page, with the
//!   cache off) reads each source's newest id below the page in chunks, then
//!   the page from the sources that reach it, in one more script;
//! * a reader's first page (no entry) fills the entry in chunks: each chunk
//!   joins its sources' `fans` sets (or, where one is full, has the entry
//!   pull that source) and reads their newest ids up to the last message id
//!   at the start; the last script checks that nothing the chunks relied on
//!   changed meanwhile, adds the messages posted since (when many were,
//!   scripts before it take them a chunk at a time), and stores the entry.
//!   A fill that gives way (a follow change meanwhile, or an entry that
//!   would pull more authors than it may) leaves no entry and the page is
//!   merged; a fill cut short (the caller gone, an error) leaves none
//!   either, only fans sets that name a reader without an entry, which
//!   posts clear as they pass.
//!
//! Messages up to an id read at the start never change, so the chunks need
//! not run atomically with each other: only the last step, which decides
//! what the entry holds, does.
//!
//! A store (one server instance) runs one such merge or fill at a time:
//! readers who follow very many, or one of them asking for many deep pages
//! at once, queue for their turn instead of taking more of Redis' thread
//! together. Pages the cache answers never wait for it, nor does the next
//! older page after a merged one, which the store reads from what that
//! merge found (see [`paging`]).

use std::collections::HashMap;

use minitwit_core::home::cursors::nth_newest;
use minitwit_core::{Message, PageRequest, StoreError, Timeline, User, UserId};
use redis::Script;

use self::paging::Cursor;
pub(crate) use self::paging::Cursors;
use crate::connection::Resend;
use crate::decode::{MessageRow, corrupt, decode_message, decode_user, parse_id};
use crate::scripts::FILL_SINCE_MAX;
use crate::{RedisStore, write_token};

/// How many times a fill in chunks catches up with the messages posted
/// during it before it gives way (see `HOME_FILL`).
const FILL_ROUNDS: usize = 4;

/// How many chunks of messages one catch-up takes at most.
const CATCH_UP_ROUNDS: usize = 64;

/// A fill in chunks under way: what its last step needs.
#[derive(Debug)]
struct Fill {
    reader: UserId,
    /// The last message id when the fill started.
    newest: String,
    /// The reader's followees then, comma-separated.
    followees: String,
    /// The id the sources' messages up to `newest` must reach.
    threshold: u64,
    /// The sources whose messages up to `newest` can reach the entry.
    candidates: Vec<String>,
    /// The messages since `newest` were taken up to this id.
    after: String,
    /// Messages up to `after`.
    counted: u64,
    /// The newest ids on the reader's home timeline after `newest` and up
    /// to `after`, newest first.
    caught: Vec<u64>,
    /// The fill's mark (`N:home_filling:{reader}`), unique to it.
    token: String,
}

/// The answer of the home timeline script: its kind (`page`, `fill` or
/// `merge`), the last message id and the number of messages (for `fill`),
/// the imports' epoch (for `fill` and `merge`: see [`paging`]), the
/// reader's sources (for `fill` and `merge`) and the page (for `page`).
type HomeReply = (String, String, String, String, Vec<String>, Vec<MessageRow>);

/// Pages are capped at this many messages (and followee lists at this many
/// users): far beyond any page anybody asks for, and small enough that Redis
/// takes the number as an integer.
const MAX_LIMIT: usize = 1 << 31;

/// A merge that may leave a cursor for the next older page: the reader's
/// paging mark and the imports' epoch of the `merge` or `fill` answer.
#[derive(Debug)]
struct Paging {
    token: String,
    epoch: String,
}

/// A page size as Redis takes it.
fn limit_arg(limit: usize) -> usize {
    limit.min(MAX_LIMIT)
}

impl RedisStore {
    pub(crate) async fn read_followees(
        &self,
        follower: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut invocation = self.invoke(&self.scripts.followees);
        invocation.arg(follower.0).arg(limit_arg(limit) - 1);
        let rows: Vec<(String, Option<String>, Option<String>)> = self
            .conn
            .eval("followees", &invocation, Resend::Safe)
            .await?;
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

    pub(crate) async fn read_timeline(
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
        let user = match timeline {
            Timeline::Public => String::new(),
            Timeline::User(user) => user.0.to_string(),
            Timeline::Home(reader) => return self.read_home(reader, &max, page.limit).await,
        };
        let mut invocation = self.invoke(&self.scripts.timeline);
        invocation.arg(user).arg(max).arg(limit_arg(page.limit));
        let rows: Vec<MessageRow> = self
            .conn
            .eval("timeline", &invocation, Resend::Safe)
            .await?;
        rows.into_iter().map(decode_message).collect()
    }

    /// A page of `reader`'s home timeline below `max` (see the module docs).
    async fn read_home(
        &self,
        reader: UserId,
        max: &str,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        if let Some(rows) = self.older_page(reader, max, limit).await? {
            return rows.into_iter().map(decode_message).collect();
        }
        let token = write_token();
        let (kind, newest, messages, epoch, sources, rows) =
            self.home_script(reader, max, limit, &token).await?;
        // Both `merge` and `fill` set the reader's paging mark to the token.
        let paging = |epoch: String| Paging {
            token: token.clone(),
            epoch,
        };
        let rows = match kind.as_str() {
            "page" => rows,
            "merge" => {
                let _turn = self.merge_turn().await?;
                self.merge_home(reader, &sources, max, limit, Some(paging(epoch)))
                    .await?
            }
            "fill" => {
                let _turn = self.merge_turn().await?;
                let filled = self
                    .fill_home(reader, &newest, &messages, &sources, &token)
                    .await?;
                if filled {
                    match self.home_script(reader, max, limit, &token).await? {
                        (kind, .., rows) if kind == "page" => rows,
                        // The page is deeper than the entry (or the entry
                        // went already).
                        (kind, _, _, epoch, sources, _) => {
                            let paging = (kind == "merge").then(|| paging(epoch));
                            self.merge_home(reader, &sources, max, limit, paging)
                                .await?
                        }
                    }
                } else {
                    self.merge_home(reader, &sources, max, limit, Some(paging(epoch)))
                        .await?
                }
            }
            other => return Err(corrupt(format_args!("home timeline answer {other:?}"))),
        };
        rows.into_iter().map(decode_message).collect()
    }

    /// The page below `max` from `reader`'s cursor, when this store keeps
    /// one for that page and it still holds (see [`paging`]).
    async fn older_page(
        &self,
        reader: UserId,
        max: &str,
        limit: usize,
    ) -> Result<Option<Vec<MessageRow>>, StoreError> {
        let Some(before) = max.strip_prefix('(').and_then(|id| id.parse().ok()) else {
            return Ok(None);
        };
        let Some(cursor) = self.cursors.take(reader, before) else {
            return Ok(None);
        };
        let paging = Paging {
            token: cursor.token.clone(),
            epoch: cursor.epoch.clone(),
        };
        let heads = cursor.heads_below(before);
        let (rows, held) = self
            .page_from_heads(reader, heads, max, limit, Some(paging))
            .await?;
        Ok(held.then_some(rows))
    }

    /// Waits for this store's turn to merge in chunks.
    async fn merge_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, StoreError> {
        self.merges
            .acquire()
            .await
            .map_err(|_| StoreError::backend("the home timeline merge queue is closed"))
    }

    /// Runs the home timeline script; `token` marks the fill it may start.
    async fn home_script(
        &self,
        reader: UserId,
        max: &str,
        limit: usize,
        token: &str,
    ) -> Result<HomeReply, StoreError> {
        let mut invocation = self.invoke(&self.scripts.home_timeline);
        invocation
            .arg(reader.0)
            .arg(max)
            .arg(limit_arg(limit))
            .arg(token);
        self.conn
            .eval("home_timeline", &invocation, Resend::Safe)
            .await
    }

    /// The newest `limit` messages below `max` of `sources` (`reader` and
    /// their followees), merged in chunks; with `paging`, what the merge
    /// read is kept for the next older page.
    async fn merge_home(
        &self,
        reader: UserId,
        sources: &[String],
        max: &str,
        limit: usize,
        paging: Option<Paging>,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let newest = self
            .heads_in_chunks("home_heads", &self.scripts.home_heads, &[max], sources)
            .await?;
        let heads = with_messages(sources, &newest)
            .into_iter()
            .map(|(source, head)| Ok((parse_id(source, "source")?, head)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (rows, _) = self
            .page_from_heads(reader, heads, max, limit, paging)
            .await?;
        Ok(rows)
    }

    /// The newest `limit` messages below `max` of the sources in `heads`
    /// (each with its newest id below `max`), read from those that reach
    /// the page; and whether `paging` still holds (see `HOME_MERGE_PAGE`),
    /// in which case a full page leaves a cursor for the next older one.
    async fn page_from_heads(
        &self,
        reader: UserId,
        mut heads: Vec<(u64, u64)>,
        max: &str,
        limit: usize,
        paging: Option<Paging>,
    ) -> Result<(Vec<MessageRow>, bool), StoreError> {
        let (threshold, candidates) = reaching(&heads, limit);
        let (token, epoch) = paging
            .as_ref()
            .map_or(("", ""), |paging| (&paging.token, &paging.epoch));
        let mut invocation = self.invoke(&self.scripts.home_merge_page);
        invocation
            .arg(reader.0)
            .arg(token)
            .arg(epoch)
            .arg(max)
            .arg(threshold)
            .arg(limit_arg(limit))
            .arg(&candidates);
        let (held, rows, next): (u8, Vec<MessageRow>, Vec<String>) = self
            .conn
            .eval("home_merge_page", &invocation, Resend::Safe)
            .await?;
        let Some(paging) = paging.filter(|_| held == 1) else {
            return Ok((rows, held == 1));
        };
        if rows.len() < limit || rows.is_empty() || next.is_empty() {
            return Ok((rows, true));
        }
        if next.len() != candidates.len() {
            return Err(corrupt(format_args!(
                "{} newest ids for {} sources",
                next.len(),
                candidates.len()
            )));
        }
        let mut next_heads = HashMap::with_capacity(next.len());
        for (source, head) in candidates.into_iter().zip(next) {
            let head = match head.as_str() {
                "" => None,
                id => Some(parse_id(id, "newest message")?),
            };
            next_heads.insert(source, head);
        }
        // Sources that did not reach the page keep their newest: it is below
        // the page's last message.
        heads.retain_mut(|(source, head)| match next_heads.get(source) {
            Some(Some(next)) => {
                *head = *next;
                true
            }
            Some(None) => false,
            None => true,
        });
        let mut page = Vec::with_capacity(rows.len());
        for (id, author, ..) in &rows {
            // A message without its record cannot be placed again.
            let Some(author) = author else {
                return Ok((rows, true));
            };
            page.push((parse_id(id, "message")?, parse_id(author, "author")?));
        }
        let cursor = Cursor {
            page,
            heads,
            token: paging.token,
            epoch: paging.epoch,
        };
        self.cursors.keep(reader, cursor);
        Ok((rows, true))
    }

    /// Fills `reader`'s home cache entry in chunks, from the `newest` and
    /// `messages` of a `fill` answer; gives way (leaving no entry, and
    /// `false`) when the reader's follows or the messages changed under it,
    /// or the entry could not pull one more author.
    async fn fill_home(
        &self,
        reader: UserId,
        newest: &str,
        messages: &str,
        sources: &[String],
        token: &str,
    ) -> Result<bool, StoreError> {
        let mut fill = self
            .start_fill(reader, newest, messages, sources, token)
            .await?;
        let mut outcome = self.finish_fill(&fill).await?;
        for _ in 1..FILL_ROUNDS {
            if outcome != "busy" {
                break;
            }
            self.catch_up(&mut fill).await?;
            outcome = self.finish_fill(&fill).await?;
        }
        if outcome != "filled" {
            tracing::debug!(reader = reader.0, outcome, "a home cache fill gave way");
        }
        Ok(outcome == "filled")
    }

    /// The chunks of a fill: `reader` joins each source's `fans`, and the
    /// sources whose newest id up to `newest` can reach the entry.
    async fn start_fill(
        &self,
        reader: UserId,
        newest: &str,
        messages: &str,
        sources: &[String],
        token: &str,
    ) -> Result<Fill, StoreError> {
        let reader_arg = reader.0.to_string();
        let heads = self
            .heads_in_chunks(
                "home_join",
                &self.scripts.home_join,
                &[&reader_arg, newest],
                sources,
            )
            .await?;
        let known = with_messages(sources, &heads);
        let (threshold, candidates) = reaching(&known, self.scripts.home_entries);
        Ok(Fill {
            reader,
            newest: newest.to_owned(),
            followees: sources.get(1..).unwrap_or_default().join(","),
            threshold,
            candidates: candidates.into_iter().map(str::to_owned).collect(),
            after: newest.to_owned(),
            counted: parse_id(messages, "message count")?,
            caught: Vec::new(),
            token: token.to_owned(),
        })
    }

    /// Takes the messages posted since `fill.after`, a chunk at a time,
    /// until fewer than a chunk are left.
    async fn catch_up(&self, fill: &mut Fill) -> Result<(), StoreError> {
        for _ in 0..CATCH_UP_ROUNDS {
            let mut invocation = self.invoke(&self.scripts.home_catch_up);
            invocation
                .arg(fill.reader.0)
                .arg(&fill.after)
                .arg(FILL_SINCE_MAX);
            let (last, taken, ids): (String, u64, Vec<u64>) = self
                .conn
                .eval("home_catch_up", &invocation, Resend::Safe)
                .await?;
            fill.after = last;
            fill.counted += taken;
            // Only the newest of them can be in the entry.
            fill.caught.extend(ids);
            fill.caught.sort_unstable_by(|a, b| b.cmp(a));
            fill.caught.truncate(self.scripts.home_entries);
            if taken < FILL_SINCE_MAX as u64 {
                break;
            }
        }
        Ok(())
    }

    /// The last step of a fill: `filled`, `changed` or `busy` (see
    /// `HOME_FILL`).
    async fn finish_fill(&self, fill: &Fill) -> Result<String, StoreError> {
        let mut invocation = self.invoke(&self.scripts.home_fill);
        invocation
            .arg(fill.reader.0)
            .arg(&fill.newest)
            .arg(&fill.after)
            .arg(fill.counted)
            .arg(fill.threshold)
            .arg(&fill.followees)
            .arg(&fill.token)
            .arg(fill.caught.len())
            .arg(&fill.caught)
            .arg(&fill.candidates);
        self.conn.eval("home_fill", &invocation, Resend::Safe).await
    }

    /// Runs `script` (`HOME_HEADS` or `HOME_JOIN`) over `sources`, at most
    /// [`RedisConfig::merge_chunk`](crate::RedisConfig::merge_chunk) at a
    /// time after the `leading` arguments: each source's newest id, `None`
    /// for none.
    async fn heads_in_chunks(
        &self,
        op: &'static str,
        script: &Script,
        leading: &[&str],
        sources: &[String],
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let mut heads = Vec::with_capacity(sources.len());
        for chunk in sources.chunks(self.scripts.merge_chunk.max(1)) {
            let mut invocation = self.invoke(script);
            invocation.arg(leading).arg(chunk);
            let answered: Vec<String> = self.conn.eval(op, &invocation, Resend::Safe).await?;
            if answered.len() != chunk.len() {
                return Err(corrupt(format_args!(
                    "{} newest ids for {} sources",
                    answered.len(),
                    chunk.len()
                )));
            }
            for head in answered {
                heads.push(match head.as_str() {
                    "" => None,
                    id => Some(parse_id(id, "newest message")?),
                });
            }
        }
        Ok(heads)
    }
}

/// Of sources with their newest ids (`heads`), those whose messages can
/// reach the newest `limit`, and the id their messages must reach: the
/// `limit`-th newest head (0 when there are fewer sources), since the
/// newest `limit` messages of all are at least that.
fn reaching<S: Copy>(heads: &[(S, u64)], limit: usize) -> (u64, Vec<S>) {
    let threshold = nth_newest(heads.iter().map(|(_, head)| *head), limit);
    let candidates = heads
        .iter()
        .filter(|(_, head)| *head >= threshold)
        .map(|(source, _)| *source)
        .collect();
    (threshold, candidates)
}

/// `sources` with their newest ids, those that have messages.
fn with_messages<'a>(sources: &'a [String], heads: &[Option<u64>]) -> Vec<(&'a str, u64)> {
    sources
        .iter()
        .zip(heads)
        .filter_map(|(source, head)| Some((source.as_str(), (*head)?)))
        .collect()
}

mod paging;

#[cfg(all(test, feature = "test-server"))]
#[allow(clippy::unwrap_used)]
mod fill_tests;

#[cfg(all(test, feature = "test-server"))]
#[allow(clippy::unwrap_used)]
mod paging_tests;

#[cfg(test)]
mod tests {
    use super::{reaching, with_messages};

    fn sources(count: usize) -> Vec<String> {
        (1..=count).map(|n| n.to_string()).collect()
    }

    #[test]
    fn only_sources_whose_newest_reaches_the_page_are_read() {
        let sources = sources(5);
        let heads = with_messages(&sources, &[Some(50), None, Some(10), Some(40), Some(30)]);
        assert_eq!(reaching(&heads, 2), (40, vec!["1", "4"]));
        assert_eq!(reaching(&heads, 4), (10, vec!["1", "3", "4", "5"]));
    }

    #[test]
    fn fewer_sources_with_messages_than_the_page_read_them_all() {
        let sources = sources(3);
        let heads = with_messages(&sources, &[Some(5), None, Some(7)]);
        assert_eq!(reaching(&heads, 3), (0, vec!["1", "3"]));
        assert_eq!(reaching(&heads, 0), (0, vec!["1", "3"]));
    }
}
