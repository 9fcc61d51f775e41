//! [`Connection`]: one multiplexed connection shared by every task, with a
//! deadline on every call and one re-send after a broken connection (see
//! the crate docs, "Failures, reconnection and retries").

use std::future::Future;
use std::time::Duration;

use minitwit_core::StoreError;
use redis::aio::ConnectionManager;
use redis::{Cmd, FromRedisValue, Pipeline, RedisError, RedisResult, ScriptInvocation};

use crate::error::{DeadlineExceeded, store_error};

/// Whether a call may be sent again after a broken connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Running the call twice does no harm (see the crate docs).
    Safe,
    /// The call must run at most once.
    Never,
}

/// The store's connection. Cheap to clone: clones share it.
#[derive(Clone)]
pub(crate) struct Connection {
    manager: ConnectionManager,
    deadline: Duration,
}

impl Connection {
    pub(crate) fn new(manager: ConnectionManager, deadline: Duration) -> Self {
        Self { manager, deadline }
    }

    /// The deadline of one call.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs a script: one `EVALSHA` (plus a load on `NOSCRIPT`).
    pub(crate) async fn eval<T: FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &ScriptInvocation<'_>,
        resend: Resend,
    ) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        let call = async {
            match invocation.invoke_async(&mut conn).await {
                Err(err) if resend == Resend::Safe && worth_resending(&err) => {
                    tracing::debug!(op, error = %err, "sending again after a connection failure");
                    invocation.invoke_async(&mut conn).await
                }
                other => other,
            }
        };
        self.within_deadline(op, call).await
    }

    /// Sends one command, once more when the connection fails.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &Cmd,
    ) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        let call = async {
            match cmd.query_async(&mut conn).await {
                Err(err) if worth_resending(&err) => {
                    tracing::debug!(op, error = %err, "sending again after a connection failure");
                    cmd.query_async(&mut conn).await
                }
                other => other,
            }
        };
        self.within_deadline(op, call).await
    }

    /// Sends a pipeline of reads (or other calls safe to repeat) in one
    /// round trip, once more when the connection fails.
    pub(crate) async fn pipeline<T: FromRedisValue>(
        &self,
        op: &'static str,
        pipeline: &Pipeline,
    ) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        let call = async {
            match pipeline.query_async(&mut conn).await {
                Err(err) if worth_resending(&err) => {
                    tracing::debug!(op, error = %err, "sending again after a connection failure");
                    pipeline.query_async(&mut conn).await
                }
                other => other,
            }
        };
        self.within_deadline(op, call).await
    }

    async fn within_deadline<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let err = match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => store_error(err),
            Err(_) => StoreError::unavailable(DeadlineExceeded(self.deadline)),
        };
        if !matches!(err, StoreError::Conflict(_)) {
            tracing::warn!(op, error = %err, "Redis store call failed");
        }
        Err(err)
    }
}

/// Whether a call that failed with `err` is sent once more: its connection
/// was refused, reset, aborted or closed (before or after the command was
/// sent), which the manager answers by opening a new one. Not a timeout: a
/// call that timed out has used its time.
fn worth_resending(err: &RedisError) -> bool {
    err.is_connection_dropped() && !err.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_connections_are_sent_again_and_timeouts_are_not() {
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionAborted,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let err = RedisError::from(std::io::Error::from(kind));
            assert!(worth_resending(&err), "{kind:?} is not sent again");
        }
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(!worth_resending(&timeout));
        let server = RedisError::from((redis::ErrorKind::Client, "no"));
        assert!(!worth_resending(&server));
    }
}
