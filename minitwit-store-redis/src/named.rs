//! Writes that name their users ([`Store::named_write`]): one script each,
//! which records `latest`, resolves the names and applies the write, so a
//! write of the simulator API is one round trip.
//!
//! [`Store::named_write`]: minitwit_core::Store::named_write

use minitwit_core::named::{NameQuery, NamedOutcome, NamedWrite};
use minitwit_core::{MessageId, StoreError};
use redis::ScriptInvocation;

use crate::RedisStore;
use crate::connection::Resend;
use crate::decode::{corrupt, parse_id};

impl RedisStore {
    pub(crate) async fn run_named_write(
        &self,
        write: NamedWrite,
        latest: Option<i64>,
    ) -> Result<NamedOutcome, StoreError> {
        let latest = latest.map(|latest| latest.to_string()).unwrap_or_default();
        let (op, invocation) = match &write {
            NamedWrite::Post {
                author,
                text,
                pub_date,
            } => {
                let mut invocation = self.invoke(&self.scripts.named_post);
                invocation.arg(&latest);
                name_args(&mut invocation, author);
                invocation
                    .arg(text.as_str())
                    .arg(*pub_date)
                    .arg(crate::write_token());
                ("named_post", invocation)
            }
            NamedWrite::Follow { follower, followee } => {
                let mut invocation = self.invoke(&self.scripts.named_follow);
                invocation.arg(&latest);
                name_args(&mut invocation, follower);
                name_args(&mut invocation, followee);
                invocation.arg("follow");
                ("named_follow", invocation)
            }
            NamedWrite::Unfollow { follower, followee } => {
                let mut invocation = self.invoke(&self.scripts.named_follow);
                invocation.arg(&latest);
                name_args(&mut invocation, follower);
                name_args(&mut invocation, followee);
                invocation.arg("unfollow");
                ("named_unfollow", invocation)
            }
        };
        // Safe to send again: `latest` and follows are idempotent, and a
        // post carries its write token.
        let reply: Vec<String> = self.conn.eval(op, &invocation, Resend::Safe).await?;
        decode_outcome(op, &reply)
    }
}

/// A name as the scripts take it: normalized, then as written (`''` when
/// the same).
fn name_args(invocation: &mut ScriptInvocation<'_>, name: &NameQuery) {
    invocation
        .arg(&name.normalized)
        .arg(name.as_written.as_deref().unwrap_or_default());
}

fn decode_outcome(op: &str, reply: &[String]) -> Result<NamedOutcome, StoreError> {
    match reply {
        [kind, id] if kind == "posted" => {
            Ok(NamedOutcome::Posted(MessageId(parse_id(id, "message")?)))
        }
        [kind, changed] if kind == "applied" => Ok(NamedOutcome::Applied {
            changed: changed == "1",
        }),
        [kind] if kind == "unknown_user" => Ok(NamedOutcome::UnknownUser),
        [kind] if kind == "unknown_target" => Ok(NamedOutcome::UnknownTarget),
        [kind] if kind == "self" => Ok(NamedOutcome::SelfFollow),
        other => Err(corrupt(format_args!("{op} answered {other:?}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reply(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|part| (*part).to_owned()).collect()
    }

    #[test]
    fn every_answer_of_the_scripts_decodes() {
        assert_eq!(
            decode_outcome("op", &reply(&["posted", "42"])).unwrap(),
            NamedOutcome::Posted(MessageId(42))
        );
        assert_eq!(
            decode_outcome("op", &reply(&["applied", "1"])).unwrap(),
            NamedOutcome::Applied { changed: true }
        );
        assert_eq!(
            decode_outcome("op", &reply(&["applied", "0"])).unwrap(),
            NamedOutcome::Applied { changed: false }
        );
        assert_eq!(
            decode_outcome("op", &reply(&["unknown_user"])).unwrap(),
            NamedOutcome::UnknownUser
        );
        assert_eq!(
            decode_outcome("op", &reply(&["unknown_target"])).unwrap(),
            NamedOutcome::UnknownTarget
        );
        assert_eq!(
            decode_outcome("op", &reply(&["self"])).unwrap(),
            NamedOutcome::SelfFollow
        );
    }

    #[test]
    fn anything_else_is_corrupt() {
        for bad in [
            reply(&[]),
            reply(&["posted"]),
            reply(&["posted", "x"]),
            reply(&["what"]),
        ] {
            assert!(matches!(
                decode_outcome("op", &bad),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
