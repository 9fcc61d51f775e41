//! Simulator scenarios: the tab-separated file format of the simulator, a
//! deterministic generator of realistic scenarios, the state a scenario
//! implies, and (with the `client` feature) a replayer that drives a server
//! through [`SimClient`](crate::client::SimClient).
//!
//! One action per line, no header, no quoting:
//!
//! | column | meaning |
//! | --- | --- |
//! | 1 | action id (the `latest` value to send) |
//! | 2 | delay in ms before this action, on the scenario's own clock |
//! | 3 | wall-clock timestamp in ms of the original run (informational) |
//! | 4 | `register`, `tweet`, `follow` or `unfollow` |
//! | 5 | the acting username |
//! | 6 | register: e-mail; tweet: the text; follow/unfollow: the other user |
//! | 7 | register only: the password |

mod expected;
mod generate;
#[cfg(feature = "client")]
mod replay;
#[cfg(feature = "client")]
mod schedule;
#[cfg(feature = "client")]
mod summary;

use std::fmt;
use std::io::{self, BufRead, Write};

pub use expected::{ExpectedState, ExpectedUser};
pub use generate::{Generator, GeneratorConfig, generate};
#[cfg(feature = "client")]
pub use replay::{
    ActionOutcome, Pace, ReplayError, ReplayOptions, ReplayReport, compare, quantile_of, replay,
};
#[cfg(feature = "client")]
pub use summary::{PhaseSummary, ReplaySummary, SIMULATOR_TIMEOUT, STEADY_RUN, steady_start};

/// One line of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The action id, sent as `latest`.
    pub id: i64,
    /// Delay before this action on the scenario's clock, in milliseconds.
    pub delay_ms: u64,
    /// Wall-clock time of the original run, in milliseconds (informational).
    pub timestamp_ms: i64,
    /// What the action does.
    pub kind: ActionKind,
}

/// What an [`Action`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    /// `POST /register`.
    Register {
        /// The new username.
        username: String,
        /// The e-mail address.
        email: String,
        /// The password.
        password: String,
    },
    /// `POST /msgs/{username}`.
    Tweet {
        /// The author.
        username: String,
        /// The message text.
        text: String,
    },
    /// `POST /fllws/{username}` with `follow`.
    Follow {
        /// Who follows.
        username: String,
        /// Whom.
        target: String,
    },
    /// `POST /fllws/{username}` with `unfollow`.
    Unfollow {
        /// Who unfollows.
        username: String,
        /// Whom.
        target: String,
    },
}

impl ActionKind {
    /// The acting user.
    pub fn username(&self) -> &str {
        match self {
            Self::Register { username, .. }
            | Self::Tweet { username, .. }
            | Self::Follow { username, .. }
            | Self::Unfollow { username, .. } => username,
        }
    }
}

/// A scenario line that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read or written.
    #[error("cannot read the scenario: {0}")]
    Io(#[from] io::Error),
    /// A line does not have the expected shape.
    #[error("scenario line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads a whole scenario. Empty lines are skipped; a trailing `\r` is
/// ignored.
///
/// # Errors
/// [`ScenarioError::Malformed`] with the line number for a bad line.
pub fn read_scenario(reader: impl BufRead) -> Result<Vec<Action>, ScenarioError> {
    let mut actions = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            continue;
        }
        actions.push(parse_line(line).map_err(|reason| ScenarioError::Malformed {
            line: index + 1,
            reason,
        })?);
    }
    Ok(actions)
}

fn parse_line(line: &str) -> Result<Action, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let field = |n: usize, name: &str| {
        fields
            .get(n)
            .copied()
            .ok_or_else(|| format!("missing column {} ({name})", n + 1))
    };
    let number = |n: usize, name: &str| -> Result<i64, String> {
        let raw = field(n, name)?;
        raw.trim()
            .parse()
            .map_err(|_| format!("column {} ({name}) is not an integer: {raw:?}", n + 1))
    };
    let id = number(0, "action id")?;
    let delay_ms = u64::try_from(number(1, "delay")?)
        .map_err(|_| "column 2 (delay) is negative".to_owned())?;
    let timestamp_ms = number(2, "timestamp")?;
    let username = field(4, "username")?.to_owned();
    let other = field(5, "argument")?.to_owned();
    let kind = match field(3, "action")? {
        "register" => ActionKind::Register {
            username,
            email: other,
            password: field(6, "password")?.to_owned(),
        },
        "tweet" => ActionKind::Tweet {
            username,
            text: other,
        },
        "follow" => ActionKind::Follow {
            username,
            target: other,
        },
        "unfollow" => ActionKind::Unfollow {
            username,
            target: other,
        },
        unknown => return Err(format!("unknown action {unknown:?}")),
    };
    Ok(Action {
        id,
        delay_ms,
        timestamp_ms,
        kind,
    })
}

impl fmt::Display for Action {
    /// Formats the action as one scenario line, without the newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{}\t", self.id, self.delay_ms, self.timestamp_ms)?;
        match &self.kind {
            ActionKind::Register {
                username,
                email,
                password,
            } => write!(f, "register\t{username}\t{email}\t{password}"),
            ActionKind::Tweet { username, text } => write!(f, "tweet\t{username}\t{text}"),
            ActionKind::Follow { username, target } => write!(f, "follow\t{username}\t{target}"),
            ActionKind::Unfollow { username, target } => {
                write!(f, "unfollow\t{username}\t{target}")
            }
        }
    }
}

/// Writes a scenario, one line per action.
///
/// # Errors
/// The writer's I/O errors.
pub fn write_scenario(mut writer: impl Write, actions: &[Action]) -> io::Result<()> {
    for action in actions {
        writeln!(writer, "{action}")?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() -> Result<(), ScenarioError> {
        let text = "1\t0\t1600000000000\tregister\tRoger Histand\troger@example.org\tpw\n\
                    2\t15\t1600000000015\ttweet\tRoger Histand\tHello, <world> & \"you\"\n\
                    3\t3\t1600000000018\tfollow\tRoger Histand\tZoë Ångström\n\
                    4\t0\t1600000000018\tunfollow\tRoger Histand\tZoë Ångström\r\n\n";
        let actions = read_scenario(text.as_bytes())?;
        assert_eq!(actions.len(), 4);
        assert_eq!(actions[0].kind.username(), "Roger Histand");
        assert_eq!(
            actions[1].kind,
            ActionKind::Tweet {
                username: "Roger Histand".into(),
                text: "Hello, <world> & \"you\"".into()
            }
        );
        let mut written = Vec::new();
        write_scenario(&mut written, &actions)?;
        assert_eq!(read_scenario(written.as_slice())?, actions);
        Ok(())
    }

    #[test]
    fn bad_lines_name_their_number() {
        let text = "1\t0\t0\ttweet\tu\thi\n2\tx\t0\ttweet\tu\thi\n";
        match read_scenario(text.as_bytes()) {
            Err(ScenarioError::Malformed { line, reason }) => {
                assert_eq!(line, 2);
                assert!(reason.contains("delay"), "{reason}");
            }
            other => panic!("expected a malformed line, got {other:?}"),
        }
        assert!(read_scenario("1\t0\t0\tdance\tu\tx\n".as_bytes()).is_err());
        assert!(read_scenario("1\t0\t0\tregister\tu\te@x\n".as_bytes()).is_err());
    }
}
