//! The read path: users, followees, and timeline pages (the home timeline's
//! k-way merge included), all from the indexes the writes keep.

use std::collections::{BinaryHeap, HashMap};
use std::ops::Bound;

use minitwit_core::{
    Message, MessageId, MessageRecord, PageRequest, StoreError, StoredUser, Timeline, User, UserId,
};

use crate::decode::{decode_id, decode_message, decode_pair_second, decode_user};
use crate::error::sled_error;
use crate::heads::Head;
use crate::layout::{id_key, pair_key};
use crate::open::Trees;

/// Runs `read` on tokio's blocking pool when inside a tokio runtime, inline
/// otherwise.
pub(crate) async fn blocking<T, F>(read: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(read)
            .await
            .map_err(|err| StoreError::backend(format!("a sled read did not finish: {err}")))?,
        Err(_) => read(),
    }
}

impl Trees {
    /// The record of user `id`, committed or not.
    pub(crate) fn user_record(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.users
            .get(id_key(id.0))
            .map_err(sled_error)?
            .map(|record| decode_user(id, &record))
            .transpose()
    }

    /// User `id`, if its registration committed: its name points back at
    /// it (see the `layout` module).
    pub(crate) fn user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        let Some(user) = self.user_record(id)? else {
            return Ok(None);
        };
        let owner = self
            .user_names
            .get(user.user.username.as_str())
            .map_err(sled_error)?;
        match owner {
            Some(owner) if decode_id(&owner)? == id.0 => Ok(Some(user)),
            _ => Ok(None),
        }
    }

    /// The id of the user named exactly `username`: the name index alone,
    /// whose entry is a registration's commit point (see the `layout`
    /// module), so the record behind it exists.
    pub(crate) fn user_id_by_name(&self, username: &str) -> Result<Option<UserId>, StoreError> {
        self.user_names
            .get(username.as_bytes())
            .map_err(sled_error)?
            .map(|id| decode_id(&id).map(UserId))
            .transpose()
    }

    /// The user named exactly `username`.
    pub(crate) fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        let Some(id) = self.user_id_by_name(username)? else {
            return Ok(None);
        };
        match self.user_record(id)? {
            Some(user) => Ok(Some(user)),
            None => Err(StoreError::Corrupt(format!(
                "the name {username:?} belongs to user {}, who does not exist",
                id.0
            ))),
        }
    }

    pub(crate) fn followees(
        &self,
        follower: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.follows
            .scan_prefix(id_key(follower.0))
            .keys()
            .take(limit)
            .map(|key| {
                let followee = UserId(decode_pair_second(&key.map_err(sled_error)?)?);
                self.user_record(followee)?
                    .map(|stored| stored.user)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "user {} follows user {}, who does not exist",
                            follower.0, followee.0
                        ))
                    })
            })
            .collect()
    }

    /// Whether message `id` by `author` is committed (its index entry, the
    /// commit point of a post, exists).
    pub(crate) fn is_committed(&self, author: UserId, id: MessageId) -> Result<bool, StoreError> {
        self.user_messages
            .contains_key(pair_key(author.0, id.0))
            .map_err(sled_error)
    }

    /// The reverse scan of `author`'s messages below `before`.
    fn authored(&self, author: UserId, before: Option<MessageId>) -> sled::Iter {
        let start = Bound::Included(pair_key(author.0, 0));
        let end = match before {
            Some(before) => Bound::Excluded(pair_key(author.0, before.0)),
            None => Bound::Included(pair_key(author.0, u64::MAX)),
        };
        self.user_messages.range((start, end))
    }

    pub(crate) fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        if page.limit == 0 || page.before == Some(MessageId(0)) {
            return Ok(Vec::new());
        }
        let mut page_builder = PageBuilder::new(self, page.limit);
        match timeline {
            Timeline::Public => {
                let end = page
                    .before
                    .map_or(Bound::Unbounded, |before| Bound::Excluded(id_key(before.0)));
                for entry in self.messages.range((Bound::Unbounded, end)).rev() {
                    if page_builder.messages.len() == page.limit {
                        break;
                    }
                    let (key, value) = entry.map_err(sled_error)?;
                    let record = decode_message(MessageId(decode_id(&key)?), &value)?;
                    if self.is_committed(record.author, record.id)? {
                        page_builder.push(record)?;
                    }
                }
            }
            Timeline::User(author) => {
                for key in self
                    .authored(author, page.before)
                    .keys()
                    .rev()
                    .take(page.limit)
                {
                    let id = MessageId(decode_pair_second(&key.map_err(sled_error)?)?);
                    page_builder.push_id(id)?;
                }
            }
            Timeline::Home(user) => {
                for (id, _) in self.merged_home_ids(&self.home_authors(user)?, page)? {
                    page_builder.push_id(id)?;
                }
            }
        }
        Ok(page_builder.messages)
    }

    /// Who `reader`'s home timeline shows: the reader and every followee,
    /// in id order, each once.
    pub(crate) fn home_authors(&self, reader: UserId) -> Result<Vec<UserId>, StoreError> {
        // The keys come in followee order.
        let mut authors = self
            .follows
            .scan_prefix(id_key(reader.0))
            .keys()
            .map(|key| Ok(UserId(decode_pair_second(&key.map_err(sled_error)?)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Err(at) = authors.binary_search(&reader) {
            authors.insert(at, reader);
        }
        Ok(authors)
    }

    /// The ids of `author`'s newest `limit` messages, newest first.
    pub(crate) fn newest_ids(
        &self,
        author: UserId,
        limit: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        self.authored(author, None)
            .keys()
            .rev()
            .take(limit)
            .map(|key| Ok(MessageId(decode_pair_second(&key.map_err(sled_error)?)?)))
            .collect()
    }

    /// The ids of one page of the home timeline of a reader who sees
    /// `authors`, each with its author: a k-way merge of their reverse
    /// scans, each opened only once the author's newest id (from
    /// [`AuthorHeads`](crate::heads::AuthorHeads)) is the highest left, so
    /// that the page costs about one index descent per message, not per
    /// author. Authors whose newest id is not known are read at once (and,
    /// on a first page, learned).
    pub(crate) fn merged_home_ids(
        &self,
        authors: &[UserId],
        page: PageRequest,
    ) -> Result<Vec<(MessageId, UserId)>, StoreError> {
        let Some(below) = page
            .before
            .map_or(Some(u64::MAX), |before| before.0.checked_sub(1))
        else {
            return Ok(Vec::new());
        };
        let learn = page.before.is_none();
        let newest_first = |author: UserId, through: u64| {
            self.user_messages
                .range(pair_key(author.0, 0)..=pair_key(author.0, through))
                .keys()
                .rev()
        };
        let mut scans: Vec<Option<_>> = Vec::with_capacity(authors.len());
        // The newest unread id of each open scan and the newest possible id
        // of each unopened author, highest first.
        let mut heads = BinaryHeap::with_capacity(authors.len());
        let (known, seen) = self.heads.get(authors);
        for (index, (author, head)) in authors.iter().zip(known).enumerate() {
            match head {
                Some(Head::Nothing) => scans.push(None),
                Some(Head::Newest(newest)) => {
                    heads.push((newest.0.min(below), Source::Unopened(index)));
                    scans.push(None);
                }
                None => {
                    let mut scan = newest_first(*author, below);
                    let first = scan.next().transpose().map_err(sled_error)?;
                    let first = first.map(|key| decode_pair_second(&key)).transpose()?;
                    if learn {
                        self.heads.learned(
                            *author,
                            first.map_or(Head::Nothing, |id| Head::Newest(MessageId(id))),
                            seen,
                        );
                    }
                    if let Some(id) = first {
                        heads.push((id, Source::Open(index)));
                    }
                    scans.push(Some(scan));
                }
            }
        }
        let mut ids = Vec::with_capacity(page.limit.min(heads.len().max(1) * 16));
        while ids.len() < page.limit {
            let Some((id, source)) = heads.pop() else {
                break;
            };
            let index = match source {
                Source::Open(index) => {
                    let Some(author) = authors.get(index) else {
                        break;
                    };
                    ids.push((MessageId(id), *author));
                    index
                }
                Source::Unopened(index) => {
                    let (Some(author), Some(slot)) = (authors.get(index), scans.get_mut(index))
                    else {
                        break;
                    };
                    *slot = Some(newest_first(*author, id));
                    index
                }
            };
            let Some(Some(scan)) = scans.get_mut(index) else {
                break;
            };
            if let Some(key) = scan.next() {
                heads.push((
                    decode_pair_second(&key.map_err(sled_error)?)?,
                    Source::Open(index),
                ));
            }
        }
        Ok(ids)
    }

    /// The messages with these ids, in this order.
    pub(crate) fn render(&self, ids: &[MessageId]) -> Result<Vec<Message>, StoreError> {
        let mut page_builder = PageBuilder::new(self, ids.len());
        for id in ids {
            page_builder.push_id(*id)?;
        }
        Ok(page_builder.messages)
    }
}

/// Where the next id of a home merge comes from. At the same id, an
/// unopened author (whose id is only an upper bound) is opened first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// The open scan of the author at this index.
    Open(usize),
    /// The author at this index, whose newest id is known but whose index
    /// is not read yet.
    Unopened(usize),
}

/// Collects a page of messages, reading each author once.
struct PageBuilder<'a> {
    trees: &'a Trees,
    authors: HashMap<UserId, User>,
    messages: Vec<Message>,
}

impl<'a> PageBuilder<'a> {
    fn new(trees: &'a Trees, limit: usize) -> Self {
        Self {
            trees,
            authors: HashMap::new(),
            messages: Vec::with_capacity(limit.min(1024)),
        }
    }

    /// Adds message `id`, read from `messages`.
    fn push_id(&mut self, id: MessageId) -> Result<(), StoreError> {
        let value = self
            .trees
            .messages
            .get(id_key(id.0))
            .map_err(sled_error)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("message {} is indexed but not stored", id.0))
            })?;
        self.push(decode_message(id, &value)?)
    }

    fn push(&mut self, record: MessageRecord) -> Result<(), StoreError> {
        let author = match self.authors.get(&record.author) {
            Some(author) => author.clone(),
            None => {
                let author = self
                    .trees
                    .user_record(record.author)?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "message {} has no author (user {} does not exist)",
                            record.id.0, record.author.0
                        ))
                    })?
                    .user;
                self.authors.insert(record.author, author.clone());
                author
            }
        };
        self.messages.push(Message {
            id: record.id,
            author,
            text: record.text,
            pub_date: record.pub_date,
        });
        Ok(())
    }
}
