//! The read path: followee lists and timeline pages, each one script, so
//! one round trip (the home timeline's merge runs inside Redis).

use minitwit_core::{Message, PageRequest, StoreError, Timeline, User, UserId};

use crate::RedisStore;
use crate::connection::Resend;
use crate::decode::{MessageRow, corrupt, decode_message, decode_user, parse_id};

/// Pages are capped at this many messages (and followee lists at this many
/// users): far beyond any page anybody asks for, and small enough that Redis
/// takes the number as an integer.
const MAX_LIMIT: usize = 1 << 31;

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
        let (script, user) = match timeline {
            Timeline::Public => (&self.scripts.timeline, String::new()),
            Timeline::User(user) => (&self.scripts.timeline, user.0.to_string()),
            Timeline::Home(user) => (&self.scripts.home_timeline, user.0.to_string()),
        };
        let mut invocation = self.invoke(script);
        invocation.arg(user).arg(max).arg(limit_arg(page.limit));
        let rows: Vec<MessageRow> = self
            .conn
            .eval("timeline", &invocation, Resend::Safe)
            .await?;
        rows.into_iter().map(decode_message).collect()
    }
}
