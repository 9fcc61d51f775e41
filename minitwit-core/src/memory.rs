//! [`MemoryStore`]: the reference [`Store`], kept in process memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{
    Counts, Message, MessageId, MessageRecord, MessageText, NewUser, PageRequest, Record,
    RecordStream, Store, StoreError, StoredUser, Timeline, Timestamp, User, UserId,
};

/// A [`Store`] in memory: the reference model of the contract.
///
/// It is written to be obviously right rather than fast: one lock around
/// plain maps. The conformance suite's property test compares every other
/// backend with it. Embedders who need no persistence can use it as it is;
/// nothing survives the process, so its writes are not durable, the home
/// timeline scans the messages older than the cursor, and an export is a
/// copy of the whole state taken at one instant (so it needs as much memory
/// again as the store).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Lease name → when it expires.
    leases: Mutex<HashMap<String, Instant>>,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, StoredUser>,
    ids_by_name: HashMap<String, UserId>,
    follows: BTreeSet<(UserId, UserId)>,
    messages: BTreeMap<MessageId, StoredMessage>,
    latest: Option<i64>,
    secrets: HashMap<String, Vec<u8>>,
    last_user_id: u64,
    last_message_id: u64,
}

#[derive(Debug)]
struct StoredMessage {
    author: UserId,
    text: MessageText,
    pub_date: Timestamp,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated
        // (every write is a few infallible inserts), so a poisoned lock is
        // still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn message(&self, id: MessageId, stored: &StoredMessage) -> Result<Message, StoreError> {
        let author = self
            .users
            .get(&stored.author)
            .ok_or_else(|| StoreError::Corrupt(format!("message {} has no author", id.0)))?;
        Ok(Message {
            id,
            author: author.user.clone(),
            text: stored.text.clone(),
            pub_date: stored.pub_date,
        })
    }

    /// Every record, in export order.
    fn records(&self) -> Vec<Record> {
        let mut records: Vec<Record> = self.users.values().cloned().map(Record::User).collect();
        records.extend(
            self.follows
                .iter()
                .map(|&(follower, followee)| Record::Follow { follower, followee }),
        );
        records.extend(self.messages.iter().map(|(id, stored)| {
            Record::Message(MessageRecord {
                id: *id,
                author: stored.author,
                text: stored.text.clone(),
                pub_date: stored.pub_date,
            })
        }));
        records.extend(self.latest.map(Record::Latest));
        let mut secrets: Vec<_> = self.secrets.iter().collect();
        secrets.sort();
        records.extend(secrets.into_iter().map(|(name, value)| Record::Secret {
            name: name.clone(),
            value: value.clone(),
        }));
        records
    }

    fn import(&mut self, record: Record) -> Result<(), StoreError> {
        match record {
            Record::User(user) => {
                let id = user.user.id;
                let name = user.user.username.as_str().to_owned();
                if self.users.contains_key(&id) || self.ids_by_name.contains_key(&name) {
                    return Err(StoreError::Conflict(format!(
                        "user {} ({name:?}) exists already",
                        id.0
                    )));
                }
                self.ids_by_name.insert(name, id);
                self.users.insert(id, user);
                self.last_user_id = self.last_user_id.max(id.0);
            }
            Record::Follow { follower, followee } => {
                self.follows.insert((follower, followee));
            }
            Record::Message(message) => {
                if self.messages.contains_key(&message.id) {
                    return Err(StoreError::Conflict(format!(
                        "message {} exists already",
                        message.id.0
                    )));
                }
                self.last_message_id = self.last_message_id.max(message.id.0);
                self.messages.insert(
                    message.id,
                    StoredMessage {
                        author: message.author,
                        text: message.text,
                        pub_date: message.pub_date,
                    },
                );
            }
            Record::Latest(latest) => self.latest = Some(latest),
            Record::Secret { name, value } => {
                self.secrets.insert(name, value);
            }
        }
        Ok(())
    }

    fn shows(&self, timeline: Timeline, author: UserId) -> bool {
        match timeline {
            Timeline::Public => true,
            Timeline::User(user) => author == user,
            Timeline::Home(user) => author == user || self.follows.contains(&(user, author)),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_user(&self, new_user: NewUser) -> Result<User, StoreError> {
        let mut state = self.state();
        if state.ids_by_name.contains_key(new_user.username.as_str()) {
            return Err(StoreError::UsernameTaken);
        }
        state.last_user_id += 1;
        let id = UserId(state.last_user_id);
        let user = User {
            id,
            username: new_user.username,
            email: new_user.email,
        };
        state
            .ids_by_name
            .insert(user.username.as_str().to_owned(), id);
        state.users.insert(
            id,
            StoredUser {
                user: user.clone(),
                password_hash: new_user.password_hash,
                session_generation: new_user.session_generation,
            },
        );
        Ok(user)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        let state = self.state();
        Ok(state
            .ids_by_name
            .get(username)
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        Ok(self.state().users.get(&id).cloned())
    }

    async fn end_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        Ok(self.state().users.get_mut(&user).map_or(0, |stored| {
            stored.session_generation = stored.session_generation.wrapping_add(1);
            stored.session_generation
        }))
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        Ok(self.state().follows.insert((follower, followee)))
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        Ok(self.state().follows.remove(&(follower, followee)))
    }

    async fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        Ok(self.state().follows.contains(&(follower, followee)))
    }

    async fn followees(&self, follower: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        let state = self.state();
        state
            .follows
            .range((follower, UserId(0))..=(follower, UserId(u64::MAX)))
            .take(limit)
            .map(|(_, followee)| {
                state
                    .users
                    .get(followee)
                    .map(|stored| stored.user.clone())
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown followee {}", followee.0)))
            })
            .collect()
    }

    async fn post(
        &self,
        author: UserId,
        text: MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        let mut state = self.state();
        state.last_message_id += 1;
        let id = MessageId(state.last_message_id);
        state.messages.insert(
            id,
            StoredMessage {
                author,
                text,
                pub_date,
            },
        );
        Ok(id)
    }

    async fn timeline(
        &self,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        let state = self.state();
        let end = page.before.unwrap_or(MessageId(u64::MAX));
        state
            .messages
            .range(..end)
            .rev()
            .filter(|(_, stored)| state.shows(timeline, stored.author))
            .take(page.limit)
            .map(|(id, stored)| state.message(*id, stored))
            .collect()
    }

    async fn set_latest(&self, latest: i64) -> Result<(), StoreError> {
        self.state().latest = Some(latest);
        Ok(())
    }

    async fn latest(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.state().latest)
    }

    async fn get_or_init_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .state()
            .secrets
            .entry(name.to_owned())
            .or_insert_with(|| candidate.to_vec())
            .clone())
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let state = self.state();
        Ok(Counts {
            users: state.users.len() as u64,
            follows: state.follows.len() as u64,
            messages: state.messages.len() as u64,
        })
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn export(&self) -> RecordStream {
        let records = self.state().records();
        Box::pin(futures::stream::iter(records.into_iter().map(Ok)))
    }

    async fn import(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let mut state = self.state();
        records
            .into_iter()
            .try_for_each(|record| state.import(record))
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if leases.get(name).is_some_and(|expiry| *expiry > now) {
            return Ok(false);
        }
        leases.insert(name.to_owned(), now + ttl);
        Ok(true)
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let mut state = self.state();
        let (last_user_id, last_message_id) = (state.last_user_id, state.last_message_id);
        // Ids are never reused, not even after a clear.
        *state = State {
            last_user_id,
            last_message_id,
            ..State::default()
        };
        Ok(())
    }
}
