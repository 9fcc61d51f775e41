//! The read path: users, followees, and timeline pages (the home timeline's
//! k-way merge included), all from the indexes the writes keep.

use std::borrow::Cow;
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
        match self.start_merge(authors, page)? {
            Some(mut merge) => merge.page(page.limit),
            None => Ok(Vec::new()),
        }
    }

    /// [`merged_home_ids`](Self::merged_home_ids), and where each author
    /// with messages below the page starts for the next older page (see
    /// the `paging` module).
    pub(crate) fn merge_home(
        &self,
        authors: &[UserId],
        page: PageRequest,
    ) -> Result<MergedPage, StoreError> {
        let Some(mut merge) = self.start_merge(authors, page)? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let ids = merge.page(page.limit)?;
        Ok((ids, merge.into_starts()))
    }

    /// The merge of `authors` below `page.before`, each author in its heap
    /// (`None` when nothing is below it).
    fn start_merge<'a>(
        &'a self,
        authors: &'a [UserId],
        page: PageRequest,
    ) -> Result<Option<Merge<'a>>, StoreError> {
        let Some(below) = page
            .before
            .map_or(Some(u64::MAX), |before| before.0.checked_sub(1))
        else {
            return Ok(None);
        };
        let learn = page.before.is_none();
        let mut merge = Merge::new(self, Cow::Borrowed(authors));
        let (known, seen) = self.heads.get(authors);
        for (index, (author, head)) in authors.iter().zip(known).enumerate() {
            match head {
                Some(Head::Nothing) => {}
                Some(Head::Newest(newest)) => {
                    merge.push(newest.0.min(below), Source::Unopened(index));
                }
                None => {
                    let first = merge.open(index, below)?;
                    if learn {
                        self.heads.learned(
                            *author,
                            first.map_or(Head::Nothing, |id| Head::Newest(MessageId(id))),
                            seen,
                        );
                    }
                }
            }
        }
        Ok(Some(merge))
    }

    /// The page of `limit` below where `starts` (a cursor's, see the
    /// `paging` module) left off, and where its authors start for the page
    /// after it.
    pub(crate) fn merge_home_from(
        &self,
        starts: Vec<(UserId, Start)>,
        limit: usize,
    ) -> Result<MergedPage, StoreError> {
        let (authors, starts): (Vec<UserId>, Vec<Start>) = starts.into_iter().unzip();
        let mut merge = Merge::new(self, Cow::Owned(authors));
        // Heapified at once: a reader following thousands has as many.
        merge.heads = starts
            .into_iter()
            .enumerate()
            .map(|(index, start)| match start {
                Start::At(id) => (id, Source::Known(index)),
                Start::AtMost(bound) => (bound, Source::Unopened(index)),
            })
            .collect();
        let ids = merge.page(limit)?;
        Ok((ids, merge.into_starts()))
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
/// unopened author (whose id is only an upper bound) is opened first, so
/// that no author is left with a bound as high as the page's last id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// The open scan of the author at this index, whose next message is
    /// the id it is paired with.
    Open(usize),
    /// The author at this index, whose next message is the id it is paired
    /// with, and whose index is not open yet.
    Known(usize),
    /// The author at this index, whose next message is at most the id it
    /// is paired with, and whose index is not read yet.
    Unopened(usize),
}

/// Where an author of a merge starts: what a cursor keeps of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At this message, theirs.
    At(u64),
    /// At their newest message of at most this id.
    AtMost(u64),
}

/// A merged page's ids with their authors, newest first, and where each
/// author with messages below the page starts for the next one.
pub(crate) type MergedPage = (Vec<(MessageId, UserId)>, Vec<(UserId, Start)>);

/// A reverse scan of one author's index.
type Scan = std::iter::Rev<sled::Iter>;

/// A k-way merge of authors' reverse scans, each opened only when its
/// author's next message is the highest left (see
/// [`Trees::merged_home_ids`]).
struct Merge<'a> {
    trees: &'a Trees,
    authors: Cow<'a, [UserId]>,
    scans: Vec<Option<Scan>>,
    /// Each author's next id, or the newest it can be, highest first.
    heads: BinaryHeap<(u64, Source)>,
}

impl<'a> Merge<'a> {
    fn new(trees: &'a Trees, authors: Cow<'a, [UserId]>) -> Self {
        let count = authors.len();
        Self {
            trees,
            scans: (0..count).map(|_| None).collect(),
            heads: BinaryHeap::with_capacity(count),
            authors,
        }
    }

    fn push(&mut self, id: u64, source: Source) {
        self.heads.push((id, source));
    }

    /// Opens the scan of the author at `index` from `through` down, and
    /// returns (and keeps in the heap) its first id.
    fn open(&mut self, index: usize, through: u64) -> Result<Option<u64>, StoreError> {
        let (Some(author), Some(slot)) = (self.authors.get(index), self.scans.get_mut(index))
        else {
            return Ok(None);
        };
        let scan = slot.insert(
            self.trees
                .user_messages
                .range(pair_key(author.0, 0)..=pair_key(author.0, through))
                .rev(),
        );
        let first = scan
            .next()
            .transpose()
            .map_err(sled_error)?
            .map(|(key, _)| decode_pair_second(&key))
            .transpose()?;
        if let Some(id) = first {
            self.heads.push((id, Source::Open(index)));
        }
        Ok(first)
    }

    /// The next id of the open scan at `index`, into the heap.
    fn advance(&mut self, index: usize) -> Result<(), StoreError> {
        let Some(Some(scan)) = self.scans.get_mut(index) else {
            return Ok(());
        };
        if let Some(entry) = scan.next() {
            let (key, _) = entry.map_err(sled_error)?;
            self.heads
                .push((decode_pair_second(&key)?, Source::Open(index)));
        }
        Ok(())
    }

    /// The newest `limit` ids.
    fn page(&mut self, limit: usize) -> Result<Vec<(MessageId, UserId)>, StoreError> {
        let mut ids = Vec::with_capacity(limit.min(self.heads.len().max(1) * 16));
        while ids.len() < limit {
            let Some((id, source)) = self.heads.pop() else {
                break;
            };
            match source {
                Source::Open(index) => {
                    let Some(author) = self.authors.get(index) else {
                        break;
                    };
                    ids.push((MessageId(id), *author));
                    self.advance(index)?;
                }
                Source::Known(index) => {
                    let Some(author) = self.authors.get(index) else {
                        break;
                    };
                    ids.push((MessageId(id), *author));
                    if let Some(through) = id.checked_sub(1) {
                        self.open(index, through)?;
                    }
                }
                Source::Unopened(index) => {
                    self.open(index, id)?;
                }
            }
        }
        Ok(ids)
    }

    /// Where each author left after [`page`](Self::page) starts: what is
    /// left is below the page, exact for the authors already read, a bound
    /// for the others (at most the page's last id, which is not theirs).
    fn into_starts(self) -> Vec<(UserId, Start)> {
        let authors = self.authors;
        self.heads
            .into_iter()
            .filter_map(|(id, source)| match source {
                Source::Open(index) | Source::Known(index) => {
                    Some((*authors.get(index)?, Start::At(id)))
                }
                Source::Unopened(index) => Some((*authors.get(index)?, Start::AtMost(id))),
            })
            .collect()
    }
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
