//! The write path: registrations, posts, follows, unfollows and `latest`,
//! applied to the trees but not yet durable (the `Store` methods wait for
//! the group commit), and the name lookups of writes that name their users.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use minitwit_core::named::{NameQuery, NamedOutcome, Pair};
use minitwit_core::{MessageId, MessageText, NewUser, StoreError, Timestamp, UserId};

use crate::SledStore;
use crate::commit::Pending;
use crate::decode::{encode_message, encode_user};
use crate::error::sled_error;
use crate::layout::{id_key, pair_key};

impl SledStore {
    /// Writes the user record and claims the name, under the registration
    /// lock; `None` when the name is taken.
    pub(crate) fn register(&self, new_user: &NewUser) -> Result<Option<UserId>, StoreError> {
        let _registering = self
            .registrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = UserId(self.next_id()?);
        let key = id_key(id.0);
        let record = encode_user(
            &new_user.username,
            &new_user.email,
            &new_user.password_hash,
            new_user.session_generation,
        );
        // The record first, under an id nobody knows yet; then the name, whose
        // compare-and-swap is the commit point that makes the user exist.
        self.trees.users.insert(key, record).map_err(sled_error)?;
        let claimed = self
            .trees
            .user_names
            .compare_and_swap(new_user.username.as_str(), None::<&[u8]>, Some(&key[..]))
            .map_err(sled_error)?;
        if claimed.is_err() {
            self.trees.users.remove(key).map_err(sled_error)?;
            return Ok(None);
        }
        self.counters.users.fetch_add(1, Ordering::SeqCst);
        Ok(Some(id))
    }

    /// Writes a post (not yet durable): the message, then its index entry,
    /// the commit point (see the `layout` module); then tells the home
    /// cache.
    pub(crate) fn apply_post(
        &self,
        author: UserId,
        text: &MessageText,
        pub_date: Timestamp,
    ) -> Result<MessageId, StoreError> {
        // Registered as under way until its commit point (see the `paging`
        // module).
        let posting = self.paging.posting(|| self.next_id())?;
        let id = posting.id;
        let key = id_key(id);
        self.trees
            .messages
            .insert(key, encode_message(author, pub_date, text))
            .map_err(sled_error)?;
        if let Err(err) = self
            .trees
            .user_messages
            .insert(pair_key(author.0, id), &[][..])
        {
            // Best effort: an uncommitted message is invisible anyway.
            let _ = self.trees.messages.remove(key);
            return Err(sled_error(err));
        }
        drop(posting);
        self.counters.messages.fetch_add(1, Ordering::SeqCst);
        // The head before the cache: a fill that registers after the cache
        // hears of this post reads the raised head (see the `heads` module).
        self.trees.heads.posted(author, MessageId(id));
        self.home.posted(author, MessageId(id));
        Ok(MessageId(id))
    }

    /// Writes a follow (not yet durable); whether it is new.
    pub(crate) fn apply_follow(
        &self,
        follower: UserId,
        followee: UserId,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .trees
            .follows
            .compare_and_swap(
                pair_key(follower.0, followee.0),
                None::<&[u8]>,
                Some(&[][..]),
            )
            .map_err(sled_error)?
            .is_ok();
        if inserted {
            self.counters.follows.fetch_add(1, Ordering::SeqCst);
            if let Some(patch) = self.home.followed(follower, followee) {
                // One short scan of one author, read after the entry started
                // watching them (see the `home` module).
                let newest = self.trees.newest_ids(patch.author, self.home.entries());
                self.home.finish_patch(patch, newest.as_deref().ok());
            }
        }
        Ok(inserted)
    }

    /// Writes an unfollow (not yet durable); whether there was a follow.
    pub(crate) fn apply_unfollow(
        &self,
        follower: UserId,
        followee: UserId,
    ) -> Result<bool, StoreError> {
        let removed = self
            .trees
            .follows
            .remove(pair_key(follower.0, followee.0))
            .map_err(sled_error)?
            .is_some();
        if removed {
            self.counters.follows.fetch_sub(1, Ordering::SeqCst);
            self.home.unfollowed(follower, followee);
        }
        Ok(removed)
    }

    /// Announces a write to the group commit and records `latest`, when
    /// given, under it: the write that follows and `latest` then share one
    /// sync (see the `latest` module).
    pub(crate) fn begin_with_latest(&self, latest: Option<i64>) -> Pending<'_> {
        let pending = self.commit.begin();
        if let Some(latest) = latest {
            self.latest.set(latest);
        }
        pending
    }

    /// The id of the user `query` names.
    pub(crate) fn resolve(&self, query: &NameQuery) -> Result<Option<UserId>, StoreError> {
        let found = self.trees.user_id_by_name(&query.normalized)?;
        match (found, &query.as_written) {
            (None, Some(as_written)) => self.trees.user_id_by_name(as_written),
            (found, _) => Ok(found),
        }
    }

    /// The two users of a follow or unfollow.
    pub(crate) fn pair(
        &self,
        follower: &NameQuery,
        followee: &NameQuery,
    ) -> Result<Pair, StoreError> {
        let Some(follower) = self.resolve(follower)? else {
            return Ok(Pair::Missing(NamedOutcome::UnknownUser));
        };
        let Some(followee) = self.resolve(followee)? else {
            return Ok(Pair::Missing(NamedOutcome::UnknownTarget));
        };
        Ok(Pair::Found { follower, followee })
    }
}
