//! Replays a scenario against a server through [`SimClient`].

use std::time::{Duration, Instant};

use super::{Action, ActionKind, ExpectedState};
use crate::client::{ClientError, SimClient};

/// How to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayOptions {
    /// Sleep each action's delay first (the scenario's own clock); `false`
    /// replays as fast as the server answers.
    pub honour_delays: bool,
}

/// An action whose answer was not the one a correct server gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayError {
    /// The action's id.
    pub action_id: i64,
    /// The status a correct server answers with.
    pub expected: u16,
    /// What came back instead: a status, or a transport failure.
    pub got: String,
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Requests sent.
    pub requests: usize,
    /// Actions answered differently from a correct server.
    pub errors: Vec<ReplayError>,
    /// Of those, how many timed out.
    pub timeouts: usize,
    /// Latency of every request, in the order sent.
    pub latencies: Vec<Duration>,
    /// Wall-clock time of the whole replay.
    pub elapsed: Duration,
    /// The state the scenario implies, to compare the server with.
    pub expected: ExpectedState,
}

impl ReplayReport {
    /// The latency below which `quantile` (0.0 to 1.0) of the requests
    /// finished.
    pub fn latency_quantile(&self, quantile: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let Some(last) = sorted.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        let rank = (quantile.clamp(0.0, 1.0) * last as f64).round() as usize;
        sorted[rank.min(last)]
    }

    /// Requests per second over the whole replay.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Sends every action in order, each with its id as `latest`, spreading the
/// requests round-robin over `clients` (several clients for several server
/// instances), and checks each answer against the status a correct server
/// gives.
///
/// # Panics
/// When `clients` is empty.
pub async fn replay(
    clients: &[SimClient],
    actions: &[Action],
    options: ReplayOptions,
) -> ReplayReport {
    assert!(!clients.is_empty(), "replay needs at least one client");
    let mut report = ReplayReport::default();
    let started = Instant::now();
    for (index, action) in actions.iter().enumerate() {
        if options.honour_delays && action.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(action.delay_ms)).await;
        }
        let expected = report.expected.apply(action);
        let client = &clients[index % clients.len()];
        let sent = Instant::now();
        let outcome = send(client, action).await;
        report.latencies.push(sent.elapsed());
        report.requests += 1;
        let got = match &outcome {
            Ok(()) => Ok(204),
            Err(err) => err.status().ok_or_else(|| err.to_string()),
        };
        if matches!(outcome, Err(ClientError::Timeout)) {
            report.timeouts += 1;
        }
        match got {
            Ok(status) if status == expected => {}
            Ok(status) => report.errors.push(ReplayError {
                action_id: action.id,
                expected,
                got: status.to_string(),
            }),
            Err(failure) => report.errors.push(ReplayError {
                action_id: action.id,
                expected,
                got: failure,
            }),
        }
    }
    report.elapsed = started.elapsed();
    report
}

async fn send(client: &SimClient, action: &Action) -> Result<(), ClientError> {
    let latest = Some(action.id);
    match &action.kind {
        ActionKind::Register {
            username,
            email,
            password,
        } => client.register(username, email, password, latest).await,
        ActionKind::Tweet { username, text } => client.post_message(username, text, latest).await,
        ActionKind::Follow { username, target } => client.follow(username, target, latest).await,
        ActionKind::Unfollow { username, target } => {
            client.unfollow(username, target, latest).await
        }
    }
}

/// Differences between what a server holds and `expected`, one line each,
/// read through `client` (every user's follows and messages, and
/// `/latest`). Empty when they agree.
///
/// # Errors
/// A request that fails outright.
pub async fn compare(
    client: &SimClient,
    expected: &ExpectedState,
) -> Result<Vec<String>, ClientError> {
    let mut differences = Vec::new();
    let all = Some(usize::MAX);
    for (name, user) in &expected.users {
        let follows: std::collections::BTreeSet<String> =
            client.follows(name, all, None).await?.into_iter().collect();
        if follows != user.follows {
            differences.push(format!(
                "{name:?} follows {follows:?}, expected {:?}",
                user.follows
            ));
        }
        let mut messages: Vec<String> = client
            .user_messages(name, all, None)
            .await?
            .into_iter()
            .map(|message| message.content)
            .collect();
        messages.reverse();
        if messages != user.messages {
            differences.push(format!(
                "{name:?} has {} messages, expected {}{}",
                messages.len(),
                user.messages.len(),
                first_difference(&messages, &user.messages)
            ));
        }
    }
    let latest = client.latest().await?;
    if Some(latest) != expected.latest {
        differences.push(format!(
            "/latest is {latest}, expected {:?}",
            expected.latest
        ));
    }
    Ok(differences)
}

fn first_difference(got: &[String], expected: &[String]) -> String {
    got.iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .map(|at| {
            format!(
                " (first difference at #{at}: {:?} vs {:?})",
                got[at], expected[at]
            )
        })
        .unwrap_or_default()
}
