//! Export, import and clear: the store as a stream of records, and back.
//!
//! An export first reads the id counters: every user and message with an
//! id up to them existed at that instant (ids are drawn inside the atomic
//! scripts that create them). It then pages through `N:users` and
//! `N:timeline:public` in id order, a few hundred records per round trip,
//! and keeps the users, follows and messages up to those ids, so it holds
//! a bounded number of records whatever the store's size. `latest` and the
//! secrets come last.

use std::collections::VecDeque;

use futures::TryStreamExt as _;
use minitwit_core::{MessageId, MessageRecord, Record, RecordStream, StoreError, UserId};

use crate::connection::{Connection, Resend};
use crate::decode::{
    decode_pub_date, decode_stored_user, decode_text, encode_generation, parse_id,
};
use crate::layout::{
    FIELD_AUTHOR, FIELD_EMAIL, FIELD_NAME, FIELD_PUB_DATE, FIELD_PW_HASH, FIELD_SESSIONS,
    FIELD_TEXT, Layout,
};
use crate::scripts::Scripts;

/// Users (and followers) per round trip.
const USER_BATCH: usize = 500;
/// Messages per round trip.
const MESSAGE_BATCH: usize = 256;

/// Where an export is.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Start,
    Users { after: u64 },
    Follows { after: u64 },
    Messages { after: u64 },
    Tail,
    Done,
}

/// An export in progress (see the module docs).
struct Exporter {
    conn: Connection,
    layout: Layout,
    phase: Phase,
    /// The last user id and message id handed out when the export began.
    last_user: u64,
    last_message: u64,
}

/// Streams the store's records (see the module docs).
pub(crate) fn export(conn: Connection, layout: Layout) -> RecordStream {
    let exporter = Exporter {
        conn,
        layout,
        phase: Phase::Start,
        last_user: 0,
        last_message: 0,
    };
    let batches = futures::stream::try_unfold(exporter, |mut exporter| async move {
        Ok(exporter.next_batch().await?.map(|batch| (batch, exporter)))
    });
    Box::pin(
        batches
            .map_ok(|batch: VecDeque<Record>| futures::stream::iter(batch.into_iter().map(Ok)))
            .try_flatten(),
    )
}

impl Exporter {
    /// The next records, `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<VecDeque<Record>>, StoreError> {
        loop {
            let batch = match self.phase {
                Phase::Start => {
                    let mut counters = redis::cmd("MGET");
                    counters.arg(&self.layout.id_counters()[..]);
                    let [users, messages]: [Option<u64>; 2] =
                        self.conn.query("export", &counters).await?;
                    self.last_user = users.unwrap_or(0);
                    self.last_message = messages.unwrap_or(0);
                    self.phase = Phase::Users { after: 0 };
                    continue;
                }
                Phase::Users { after } => {
                    let ids = self
                        .ids(&self.layout.users(), after, self.last_user, USER_BATCH)
                        .await?;
                    let Some(&last) = ids.last() else {
                        self.phase = Phase::Follows { after: 0 };
                        continue;
                    };
                    self.phase = Phase::Users { after: last };
                    self.users(&ids).await?
                }
                Phase::Follows { after } => {
                    let ids = self
                        .ids(&self.layout.users(), after, self.last_user, USER_BATCH)
                        .await?;
                    let Some(&last) = ids.last() else {
                        self.phase = Phase::Messages { after: 0 };
                        continue;
                    };
                    self.phase = Phase::Follows { after: last };
                    self.follows(&ids).await?
                }
                Phase::Messages { after } => {
                    let ids = self
                        .ids(
                            &self.layout.public_timeline(),
                            after,
                            self.last_message,
                            MESSAGE_BATCH,
                        )
                        .await?;
                    let Some(&last) = ids.last() else {
                        self.phase = Phase::Tail;
                        continue;
                    };
                    self.phase = Phase::Messages { after: last };
                    self.messages(&ids).await?
                }
                Phase::Tail => {
                    self.phase = Phase::Done;
                    self.tail().await?
                }
                Phase::Done => return Ok(None),
            };
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
        }
    }

    /// Up to `count` members of the sorted set `key` with scores above
    /// `after` and at most `last`, ascending.
    async fn ids(
        &self,
        key: &str,
        after: u64,
        last: u64,
        count: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut range = redis::cmd("ZRANGEBYSCORE");
        range
            .arg(key)
            .arg(format!("({after}"))
            .arg(last)
            .arg("LIMIT")
            .arg(0)
            .arg(count);
        let ids: Vec<String> = self.conn.query("export", &range).await?;
        ids.iter()
            .map(|id| parse_id(id, "an exported id"))
            .collect()
    }

    async fn users(&self, ids: &[u64]) -> Result<VecDeque<Record>, StoreError> {
        let mut pipeline = redis::pipe();
        for id in ids {
            pipeline
                .cmd("HMGET")
                .arg(self.layout.user(UserId(*id)))
                .arg(FIELD_NAME)
                .arg(FIELD_EMAIL)
                .arg(FIELD_PW_HASH)
                .arg(FIELD_SESSIONS);
        }
        let rows: Vec<Vec<Option<String>>> = self.conn.pipeline("export", &pipeline).await?;
        let mut records = VecDeque::with_capacity(ids.len());
        for (id, fields) in ids.iter().zip(rows) {
            match decode_stored_user(*id, fields)? {
                Some(user) => records.push_back(Record::User(user)),
                None => tracing::warn!(user = id, "an indexed user has no record; left out"),
            }
        }
        Ok(records)
    }

    async fn follows(&self, followers: &[u64]) -> Result<VecDeque<Record>, StoreError> {
        let mut pipeline = redis::pipe();
        for follower in followers {
            pipeline
                .cmd("ZRANGEBYSCORE")
                .arg(self.layout.follows(UserId(*follower)))
                .arg("-inf")
                .arg(self.last_user);
        }
        let followees: Vec<Vec<String>> = self.conn.pipeline("export", &pipeline).await?;
        let mut records = VecDeque::new();
        for (follower, followees) in followers.iter().zip(followees) {
            for followee in followees {
                records.push_back(Record::Follow {
                    follower: UserId(*follower),
                    followee: UserId(parse_id(&followee, "a followee")?),
                });
            }
        }
        Ok(records)
    }

    async fn messages(&self, ids: &[u64]) -> Result<VecDeque<Record>, StoreError> {
        let mut pipeline = redis::pipe();
        for id in ids {
            pipeline
                .cmd("HMGET")
                .arg(self.layout.message(*id))
                .arg(FIELD_AUTHOR)
                .arg(FIELD_TEXT)
                .arg(FIELD_PUB_DATE);
        }
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
            self.conn.pipeline("export", &pipeline).await?;
        let mut records = VecDeque::with_capacity(ids.len());
        for (id, (author, text, pub_date)) in ids.iter().zip(rows) {
            let Some(author) = author else {
                tracing::warn!(message = id, "an indexed message has no record; left out");
                continue;
            };
            let author = parse_id(&author, "an author")?;
            if author > self.last_user {
                continue;
            }
            records.push_back(Record::Message(MessageRecord {
                id: MessageId(*id),
                author: UserId(author),
                text: decode_text(text, *id)?,
                pub_date: decode_pub_date(pub_date, *id)?,
            }));
        }
        Ok(records)
    }

    async fn tail(&self) -> Result<VecDeque<Record>, StoreError> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("GET")
            .arg(self.layout.latest())
            .cmd("HGETALL")
            .arg(self.layout.secrets());
        let (latest, mut secrets): (Option<i64>, Vec<(String, Vec<u8>)>) =
            self.conn.pipeline("export", &pipeline).await?;
        secrets.sort();
        let mut records: VecDeque<Record> = latest.map(Record::Latest).into_iter().collect();
        records.extend(
            secrets
                .into_iter()
                .map(|(name, value)| Record::Secret { name, value }),
        );
        Ok(records)
    }
}

/// Writes one batch of records in one atomic script run (see `IMPORT` in
/// the scripts module).
pub(crate) async fn import(
    conn: &Connection,
    layout: &Layout,
    scripts: &Scripts,
    records: Vec<Record>,
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut invocation = scripts.import.prepare_invoke();
    invocation.arg(layout.namespace());
    for record in &records {
        match record {
            Record::User(stored) => {
                invocation
                    .arg("u")
                    .arg(stored.user.id.0)
                    .arg(stored.user.username.as_str())
                    .arg(stored.user.email.as_str())
                    .arg(stored.password_hash.as_phc())
                    .arg(encode_generation(stored.session_generation));
            }
            Record::Follow { follower, followee } => {
                invocation.arg("f").arg(follower.0).arg(followee.0);
            }
            Record::Message(message) => {
                invocation
                    .arg("m")
                    .arg(message.id.0)
                    .arg(message.author.0)
                    .arg(message.text.as_str())
                    .arg(message.pub_date);
            }
            Record::Latest(latest) => {
                invocation.arg("l").arg(*latest);
            }
            Record::Secret { name, value } => {
                invocation.arg("s").arg(name).arg(value.as_slice());
            }
        }
    }
    let _: String = conn.eval("import", &invocation, Resend::Never).await?;
    Ok(())
}

/// Removes every key of the namespace but the id counters and the layout
/// version (ids are never reused).
pub(crate) async fn clear(conn: &Connection, layout: &Layout) -> Result<(), StoreError> {
    let mut cursor: u64 = 0;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(layout.every_key())
            .arg("COUNT")
            .arg(1000);
        let (next, keys): (u64, Vec<String>) = conn.query("clear", &scan).await?;
        let doomed: Vec<&String> = keys
            .iter()
            .filter(|key| !layout.survives_clear(key))
            .collect();
        if !doomed.is_empty() {
            let mut unlink = redis::cmd("UNLINK");
            unlink.arg(doomed);
            let _: u64 = conn.query("clear", &unlink).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
