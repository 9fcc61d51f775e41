//! What a replay's figures say, phase by phase: the registration phase (the
//! burst of sign-ups a scenario opens with, dominated by password hashing)
//! and the steady phase after it, each with its throughput, latency
//! quantiles and errors by kind.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::replay::{ActionOutcome, ReplayReport, quantile_of};
use super::{Action, ActionKind};

/// How many actions in a row without a registration end the registration
/// phase.
pub const STEADY_RUN: usize = 100;

/// Where the steady phase begins: at the first run of [`STEADY_RUN`]
/// actions in a row that holds no registration (the scenario's length when
/// there is none). Everything before it is the registration phase.
pub fn steady_start(actions: &[Action]) -> usize {
    let mut run = 0;
    for (index, action) in actions.iter().enumerate() {
        if matches!(action.kind, ActionKind::Register { .. }) {
            run = 0;
        } else {
            run += 1;
            if run == STEADY_RUN {
                return index + 1 - STEADY_RUN;
            }
        }
    }
    actions.len()
}

/// The figures of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhaseSummary {
    /// Requests sent in the phase.
    pub requests: usize,
    /// Seconds from the first request sent to the last answer.
    pub seconds: f64,
    /// Requests per second over those seconds.
    pub throughput: f64,
    /// Latency quantiles in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, in milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
    /// The slowest answer, in milliseconds.
    pub max_ms: f64,
    /// Answers over the simulator's 0.3 s timeout (or timed out).
    pub slow: usize,
    /// Wrong answers by kind (`timeout`, `status 500 (expected 204)`, a
    /// transport failure), with how many of each.
    pub errors: BTreeMap<String, usize>,
}

impl PhaseSummary {
    fn of(outcomes: &[ActionOutcome]) -> Self {
        let Some(first_sent) = outcomes.iter().map(|outcome| outcome.sent_at).min() else {
            return Self::default();
        };
        let last_answer = outcomes
            .iter()
            .map(|outcome| outcome.sent_at + outcome.latency)
            .max()
            .unwrap_or(first_sent);
        let seconds = last_answer.saturating_sub(first_sent).as_secs_f64();
        let latencies: Vec<Duration> = outcomes.iter().map(|outcome| outcome.latency).collect();
        let quantile = |q| quantile_of(latencies.clone(), q).as_secs_f64() * 1e3;
        let mut errors = BTreeMap::new();
        for outcome in outcomes.iter().filter(|outcome| !outcome.is_ok()) {
            *errors.entry(error_kind(outcome)).or_insert(0) += 1;
        }
        Self {
            requests: outcomes.len(),
            seconds,
            throughput: outcomes.len() as f64 / seconds.max(f64::EPSILON),
            p50_ms: quantile(0.5),
            p90_ms: quantile(0.9),
            p99_ms: quantile(0.99),
            max_ms: quantile(1.0),
            slow: outcomes
                .iter()
                .filter(|outcome| outcome.timed_out || outcome.latency > SIMULATOR_TIMEOUT)
                .count(),
            errors,
        }
    }

    /// One line for people: requests, rate, latencies, errors.
    pub fn describe(&self) -> String {
        let errors: usize = self.errors.values().sum();
        format!(
            "{} requests in {:.2} s ({:.0}/s); p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             {} over 0.3 s; {} errors",
            self.requests,
            self.seconds,
            self.throughput,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            self.slow,
            errors
        )
    }
}

/// The simulator's timeout: a slower answer counts against a deployment.
pub const SIMULATOR_TIMEOUT: Duration = Duration::from_millis(300);

fn error_kind(outcome: &ActionOutcome) -> String {
    if outcome.timed_out {
        return "timeout".to_owned();
    }
    match &outcome.got {
        Ok(status) => format!("status {status} (expected {})", outcome.expected),
        Err(failure) => failure.clone(),
    }
}

/// A replay's figures: the whole run and its two phases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaySummary {
    /// Actions in the scenario.
    pub actions: usize,
    /// The index of the first action of the steady phase.
    pub steady_from: usize,
    /// The whole replay.
    pub all: PhaseSummary,
    /// The registration phase.
    pub registration: PhaseSummary,
    /// The steady phase.
    pub steady: PhaseSummary,
}

impl ReplaySummary {
    /// The figures of `report`, a replay of `actions`.
    pub fn of(report: &ReplayReport, actions: &[Action]) -> Self {
        let steady_from = steady_start(actions).min(report.outcomes.len());
        let (registration, steady) = report.outcomes.split_at(steady_from);
        Self {
            actions: actions.len(),
            steady_from,
            all: PhaseSummary::of(&report.outcomes),
            registration: PhaseSummary::of(registration),
            steady: PhaseSummary::of(steady),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn action(kind: &str) -> Action {
        let username = "u".to_owned();
        Action {
            id: 1,
            delay_ms: 0,
            timestamp_ms: 0,
            kind: match kind {
                "register" => ActionKind::Register {
                    username,
                    email: "a@b".into(),
                    password: "p".into(),
                },
                _ => ActionKind::Tweet {
                    username,
                    text: "t".into(),
                },
            },
        }
    }

    fn scenario(registrations: usize, tweets: usize) -> Vec<Action> {
        let mut actions: Vec<Action> = (0..registrations).map(|_| action("register")).collect();
        actions.extend((0..tweets).map(|_| action("tweet")));
        actions
    }

    #[test]
    fn the_steady_phase_starts_after_the_burst_of_registrations() {
        assert_eq!(steady_start(&scenario(200, 1_000)), 200);
        // A stray registration later on stays in the steady phase.
        let mut actions = scenario(200, 1_000);
        actions[700] = action("register");
        assert_eq!(steady_start(&actions), 200);
        // Registrations interleaved with other actions are still the
        // registration phase.
        let mut actions = scenario(0, 1_000);
        for index in (0..300).step_by(50) {
            actions[index] = action("register");
        }
        assert_eq!(steady_start(&actions), 251);
        assert_eq!(steady_start(&scenario(5, 10)), 15);
    }

    fn outcome(sent_ms: u64, latency_ms: u64, got: Result<u16, String>) -> ActionOutcome {
        ActionOutcome {
            expected: 204,
            timed_out: false,
            got,
            latency: Duration::from_millis(latency_ms),
            sent_at: Duration::from_millis(sent_ms),
        }
    }

    #[test]
    fn a_phase_counts_its_rate_latencies_and_errors() {
        let outcomes = vec![
            outcome(0, 10, Ok(204)),
            outcome(100, 400, Ok(204)),
            outcome(200, 5, Ok(500)),
            outcome(300, 700, Err("connection refused".into())),
        ];
        let summary = PhaseSummary::of(&outcomes);
        assert_eq!(summary.requests, 4);
        assert!((summary.seconds - 1.0).abs() < 1e-9, "{summary:?}");
        assert!((summary.throughput - 4.0).abs() < 1e-9);
        assert!((summary.max_ms - 700.0).abs() < 1e-9);
        assert_eq!(summary.slow, 2);
        assert_eq!(summary.errors.len(), 2);
        assert_eq!(summary.errors["status 500 (expected 204)"], 1);
        assert_eq!(summary.errors["connection refused"], 1);
        assert_eq!(PhaseSummary::of(&[]), PhaseSummary::default());
    }
}
