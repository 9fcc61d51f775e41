//! Message lists of any length with bounded memory: the answer is written
//! as it is read, a page of messages at a time, instead of holding every
//! message (and copies of them) before the first byte goes out.
//!
//! The first page is read before the answer starts, so a missing user or a
//! store that is down still gets its own status. Later pages are read as
//! the client takes the bytes; walking a timeline by its cursor visits each
//! message that existed when the answer began exactly once (the `Store`
//! contract), so the list is what a single read would have given. A store
//! that fails after the first page cuts the answer short: the client sees
//! JSON that does not end, never a wrong list.

use minitwit_core::{Error, Message, MessageId, MiniTwit, Page, PageRequest, UserId};
use rocket::Request;
use rocket::http::ContentType;
use rocket::response::stream::ByteStream;
use rocket::response::{self, Responder};
use serde::Serialize;

/// Messages read and written per step: the most a list answer holds in
/// memory at once (with 10,000-character messages of 4-byte characters,
/// about 8 MB).
pub(crate) const PAGE: usize = 200;

/// Which timeline a list reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// Everyone's messages.
    Public,
    /// One user's.
    User(UserId),
}

impl Source {
    async fn page(self, service: &MiniTwit, request: PageRequest) -> Result<Page, Error> {
        match self {
            Self::Public => service.public_timeline(request).await,
            Self::User(user) => Ok(service.user_timeline(user, request).await?.1),
        }
    }
}

/// A message as the API writes it, borrowing from the message read.
#[derive(Serialize)]
struct MessageRef<'a> {
    content: &'a str,
    pub_date: i64,
    user: &'a str,
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(message: &'a Message) -> Self {
        Self {
            content: message.text.as_str(),
            pub_date: message.pub_date,
            user: message.author.username.as_str(),
        }
    }
}

/// Appends `messages` to `out` as JSON array items (comma-separated, after
/// `written` items already).
fn write_items(out: &mut Vec<u8>, messages: &[Message], written: usize) {
    for (index, message) in messages.iter().enumerate() {
        if written + index > 0 {
            out.push(b',');
        }
        // Serializing strings and integers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &MessageRef::from(message));
    }
}

/// Where a list answer is.
struct Cursor {
    service: MiniTwit,
    source: Source,
    /// Messages still to write.
    remaining: usize,
    /// Messages written so far.
    written: usize,
    /// Where the next page starts; `None` when no page is left.
    next: Option<MessageId>,
    /// The bytes of the first page, not sent yet.
    first: Option<Vec<u8>>,
    finished: bool,
}

/// A list of up to `limit` messages of `source`, newest first.
pub(crate) struct MessageList {
    cursor: Cursor,
}

impl MessageList {
    /// Reads the first page (so its errors are the answer's status) and
    /// prepares the rest.
    ///
    /// # Errors
    /// What reading the first page failed with.
    pub(crate) async fn read(
        service: &MiniTwit,
        source: Source,
        limit: usize,
    ) -> Result<Self, Error> {
        let first = source
            .page(service, PageRequest::first(limit.min(PAGE)))
            .await?;
        let mut bytes = b"[".to_vec();
        write_items(&mut bytes, &first.messages, 0);
        let written = first.messages.len();
        Ok(Self {
            cursor: Cursor {
                service: service.clone(),
                source,
                remaining: limit - written,
                written,
                next: first.next,
                first: Some(bytes),
                finished: false,
            },
        })
    }
}

impl Cursor {
    /// The next chunk of the answer, `None` after the closing bracket.
    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.finished {
            return None;
        }
        let before = match self.next {
            Some(before) if self.remaining > 0 => before,
            _ => {
                self.finished = true;
                return Some(b"]".to_vec());
            }
        };
        let request = PageRequest::before(before, self.remaining.min(PAGE));
        match self.source.page(&self.service, request).await {
            Ok(page) => {
                let mut bytes = Vec::new();
                write_items(&mut bytes, &page.messages, self.written);
                self.written += page.messages.len();
                self.remaining = self.remaining.saturating_sub(page.messages.len());
                self.next = page.next;
                Some(bytes)
            }
            Err(err) => {
                tracing::error!(error = %err, "a message list was cut short");
                self.finished = true;
                None
            }
        }
    }
}

impl<'r> Responder<'r, 'r> for MessageList {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let chunks = futures::stream::unfold(self.cursor, |mut cursor| async move {
            cursor.next_chunk().await.map(|chunk| (chunk, cursor))
        });
        let mut response = ByteStream::from(chunks).respond_to(req)?;
        response.set_header(ContentType::JSON);
        Ok(response)
    }
}
