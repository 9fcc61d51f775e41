//! Replays a scenario against a server through [`SimClient`], one action
//! at a time or with many in flight.
//!
//! With a concurrency above one, that many connections each take the
//! earliest action that may be sent (see the `schedule` module): every
//! user's own actions keep their order, an action that names another user
//! waits for that user's registration (when it comes earlier in the
//! scenario), and a registration waits for the actions that named the user
//! before it, so every answer is the one the scenario's order implies,
//! however the requests interleave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::schedule::Schedule;
use super::{Action, ActionKind, ExpectedState};
use crate::client::{ClientError, SimClient};

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Pace {
    /// As fast as the server answers.
    #[default]
    Max,
    /// The scenario's own clock (each action's delay), sped up by this
    /// factor: `1.0` is real time, `10.0` ten times as fast.
    Speed(f64),
}

/// How to replay.
#[derive(Clone, Default)]
pub struct ReplayOptions {
    /// How fast to send.
    pub pace: Pace,
    /// Actions in flight at once (0 counts as 1).
    pub concurrency: usize,
    /// Called after each answer with the number of actions answered so far
    /// (for a progress bar).
    pub on_answer: Option<Arc<dyn Fn(usize) + Send + Sync>>,
}

impl std::fmt::Debug for ReplayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("pace", &self.pace)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
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

/// What one action got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    /// The status a correct server answers with.
    pub expected: u16,
    /// The status that came back, or why none did.
    pub got: Result<u16, String>,
    /// How long the answer took.
    pub latency: Duration,
    /// When the request was sent, from the start of the replay.
    pub sent_at: Duration,
    /// Whether it timed out.
    pub timed_out: bool,
}

impl ActionOutcome {
    /// Whether the answer was the expected one.
    pub fn is_ok(&self) -> bool {
        self.got
            .as_ref()
            .is_ok_and(|status| *status == self.expected)
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Requests sent.
    pub requests: usize,
    /// Actions answered differently from a correct server, in scenario
    /// order.
    pub errors: Vec<ReplayError>,
    /// Of those, how many timed out.
    pub timeouts: usize,
    /// Latency of every request, in scenario order.
    pub latencies: Vec<Duration>,
    /// What every action got, in scenario order.
    pub outcomes: Vec<ActionOutcome>,
    /// Wall-clock time of the whole replay.
    pub elapsed: Duration,
    /// The state the scenario implies, to compare the server with.
    pub expected: ExpectedState,
}

impl ReplayReport {
    /// The latency below which `quantile` (0.0 to 1.0) of the requests
    /// finished.
    pub fn latency_quantile(&self, quantile: f64) -> Duration {
        quantile_of(self.latencies.clone(), quantile)
    }

    /// Requests per second over the whole replay.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// The value below which `quantile` (0.0 to 1.0) of `values` lie.
pub fn quantile_of(mut values: Vec<Duration>, quantile: f64) -> Duration {
    values.sort_unstable();
    let Some(last) = values.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let rank = (quantile.clamp(0.0, 1.0) * last as f64).round() as usize;
    values[rank.min(last)]
}

/// Sends every action, each with its id as `latest`, spreading the
/// requests round-robin over `clients` (several clients for several server
/// instances), with `options.concurrency` in flight, and checks each
/// answer against the status a correct server gives.
///
/// # Panics
/// When `clients` is empty.
pub async fn replay(
    clients: &[SimClient],
    actions: &[Action],
    options: ReplayOptions,
) -> ReplayReport {
    assert!(!clients.is_empty(), "replay needs at least one client");
    let mut expected_state = ExpectedState::default();
    let expected: Vec<u16> = actions
        .iter()
        .map(|action| expected_state.apply(action))
        .collect();
    let schedule = Schedule::new(actions);
    // When each action is due, on the scenario's clock.
    let mut due = Vec::with_capacity(actions.len());
    let mut clock = Duration::ZERO;
    for action in actions {
        if let Pace::Speed(speed) = options.pace {
            clock += Duration::from_millis(action.delay_ms).div_f64(speed.max(f64::EPSILON));
        }
        due.push(clock);
    }
    let started = Instant::now();
    let connections = (0..options.concurrency.max(1)).map(|_| {
        let (schedule, due, expected, options) = (&schedule, &due, &expected, &options);
        async move {
            let mut outcomes = Vec::new();
            while let Some(index) = schedule.next().await {
                if let Some(wait) = due[index].checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                let client = &clients[index % clients.len()];
                let sent_at = started.elapsed();
                let sent = Instant::now();
                let answer = send(client, &actions[index]).await;
                let latency = sent.elapsed();
                let answered = schedule.finish(index);
                if let Some(on_answer) = &options.on_answer {
                    on_answer(answered);
                }
                outcomes.push((
                    index,
                    ActionOutcome {
                        expected: expected[index],
                        timed_out: matches!(answer, Err(ClientError::Timeout)),
                        got: match answer {
                            Ok(()) => Ok(204),
                            Err(err) => err.status().ok_or_else(|| err.to_string()),
                        },
                        latency,
                        sent_at,
                    },
                ));
            }
            outcomes
        }
    });
    let mut outcomes: Vec<(usize, ActionOutcome)> = futures::future::join_all(connections)
        .await
        .into_iter()
        .flatten()
        .collect();
    outcomes.sort_by_key(|(index, _)| *index);
    let mut report = ReplayReport {
        elapsed: started.elapsed(),
        expected: expected_state,
        ..ReplayReport::default()
    };
    for (index, outcome) in outcomes {
        report.requests += 1;
        report.latencies.push(outcome.latency);
        if outcome.timed_out {
            report.timeouts += 1;
        }
        if !outcome.is_ok() {
            report.errors.push(ReplayError {
                action_id: actions[index].id,
                expected: outcome.expected,
                got: match &outcome.got {
                    Ok(status) => status.to_string(),
                    Err(failure) => failure.clone(),
                },
            });
        }
        report.outcomes.push(outcome);
    }
    if options.concurrency > 1 {
        report.expected.latest_candidates = last_writers(actions, &report.outcomes);
    }
    report
}

/// The ids of the actions whose request may have recorded `latest` last:
/// those still unanswered when the last request was sent. Any other one
/// was answered, its `latest` recorded, before a later request began.
fn last_writers(actions: &[Action], outcomes: &[ActionOutcome]) -> Vec<i64> {
    let Some(last_sent) = outcomes.iter().map(|outcome| outcome.sent_at).max() else {
        return Vec::new();
    };
    actions
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| {
            outcome.sent_at == last_sent || outcome.sent_at + outcome.latency > last_sent
        })
        .map(|(action, _)| action.id)
        .collect()
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
    let possible = if expected.latest_candidates.is_empty() {
        Some(latest) == expected.latest
    } else {
        expected.latest_candidates.contains(&latest)
    };
    if !possible {
        let wanted = if expected.latest_candidates.is_empty() {
            format!("{:?}", expected.latest)
        } else {
            format!("one of {:?}", expected.latest_candidates)
        };
        differences.push(format!("/latest is {latest}, expected {wanted}"));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::scenario::read_scenario;

    fn outcome(sent_ms: u64, took_ms: u64) -> ActionOutcome {
        ActionOutcome {
            expected: 204,
            got: Ok(204),
            latency: Duration::from_millis(took_ms),
            sent_at: Duration::from_millis(sent_ms),
            timed_out: false,
        }
    }

    #[test]
    fn the_last_writers_are_the_requests_unanswered_when_the_last_was_sent() {
        let actions = read_scenario(
            "7\t0\t0\ttweet\ta\tone\n\
             8\t0\t0\ttweet\tb\ttwo\n\
             9\t0\t0\ttweet\tc\tthree\n"
                .as_bytes(),
        )
        .unwrap();
        // One after another: only the last one.
        let sequential = [outcome(0, 1), outcome(1, 1), outcome(2, 1)];
        assert_eq!(last_writers(&actions, &sequential), [9]);
        // The first is still in flight when the last is sent; the second
        // was answered before.
        let overlapping = [outcome(0, 10), outcome(1, 2), outcome(5, 1)];
        assert_eq!(last_writers(&actions, &overlapping), [7, 9]);
        assert!(last_writers(&[], &[]).is_empty());
    }
}
