//! The state a scenario implies, computed with the core's own validation
//! rules, to compare a server with after a replay.

use std::collections::{BTreeMap, BTreeSet};

use minitwit_core::{Email, MAX_PASSWORD_BYTES, MessageText, Username};

use super::{Action, ActionKind};

/// What one user should look like after a scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedUser {
    /// Whom the user follows.
    pub follows: BTreeSet<String>,
    /// The user's messages, oldest first.
    pub messages: Vec<String>,
}

/// Every user, their follows and their messages, as a correct server holds
/// them after the actions applied so far; and the status each action should
/// get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedState {
    /// Every registered user by name.
    pub users: BTreeMap<String, ExpectedUser>,
    /// The id of the last action applied, which `/latest` should report.
    pub latest: Option<i64>,
}

impl ExpectedState {
    /// The state after all of `actions`, in order.
    pub fn from_actions(actions: &[Action]) -> Self {
        let mut state = Self::default();
        for action in actions {
            state.apply(action);
        }
        state
    }

    /// Applies one action and returns the HTTP status a correct server
    /// answers it with.
    pub fn apply(&mut self, action: &Action) -> u16 {
        self.latest = Some(action.id);
        match &action.kind {
            ActionKind::Register {
                username,
                email,
                password,
            } => {
                let valid = Username::parse(username).is_ok()
                    && Email::parse(email).is_ok()
                    && !password.is_empty()
                    && password.len() <= MAX_PASSWORD_BYTES
                    && !self.users.contains_key(username);
                if !valid {
                    return 400;
                }
                self.users.insert(username.clone(), ExpectedUser::default());
                204
            }
            ActionKind::Tweet { username, text } => {
                let Some(user) = self.users.get_mut(username) else {
                    return 404;
                };
                if MessageText::parse(text).is_err() {
                    return 400;
                }
                user.messages.push(text.clone());
                204
            }
            ActionKind::Follow { username, target } => {
                match self.pair(username, target) {
                    Err(status) => return status,
                    Ok(()) if username == target => return 400,
                    Ok(()) => {}
                }
                self.follows_of(username).insert(target.clone());
                204
            }
            ActionKind::Unfollow { username, target } => {
                if let Err(status) = self.pair(username, target) {
                    return status;
                }
                self.follows_of(username).remove(target);
                204
            }
        }
    }

    fn pair(&self, username: &str, target: &str) -> Result<(), u16> {
        if self.users.contains_key(username) && self.users.contains_key(target) {
            Ok(())
        } else {
            Err(404)
        }
    }

    fn follows_of(&mut self, username: &str) -> &mut BTreeSet<String> {
        &mut self.users.entry(username.to_owned()).or_default().follows
    }

    /// How many messages were posted in all.
    pub fn message_count(&self) -> usize {
        self.users.values().map(|user| user.messages.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(id: i64, kind: ActionKind) -> Action {
        Action {
            id,
            delay_ms: 0,
            timestamp_ms: 0,
            kind,
        }
    }

    fn register(id: i64, name: &str) -> Action {
        action(
            id,
            ActionKind::Register {
                username: name.into(),
                email: format!("{name}@example.org"),
                password: "pw".into(),
            },
        )
    }

    #[test]
    fn follows_are_a_set_and_statuses_follow_the_rules() {
        let mut state = ExpectedState::default();
        assert_eq!(state.apply(&register(1, "a b")), 204);
        assert_eq!(state.apply(&register(2, "a b")), 400);
        assert_eq!(state.apply(&register(3, "ç")), 204);
        let follow = |id, who: &str, whom: &str| {
            action(
                id,
                ActionKind::Follow {
                    username: who.into(),
                    target: whom.into(),
                },
            )
        };
        let unfollow = |id, who: &str, whom: &str| {
            action(
                id,
                ActionKind::Unfollow {
                    username: who.into(),
                    target: whom.into(),
                },
            )
        };
        assert_eq!(state.apply(&follow(4, "a b", "ç")), 204);
        assert_eq!(state.apply(&follow(5, "a b", "ç")), 204);
        assert_eq!(state.apply(&follow(6, "a b", "a b")), 400);
        assert_eq!(state.apply(&follow(7, "a b", "nobody")), 404);
        assert_eq!(state.apply(&unfollow(8, "ç", "a b")), 204);
        let tweet = action(
            9,
            ActionKind::Tweet {
                username: "ç".into(),
                text: "hi".into(),
            },
        );
        assert_eq!(state.apply(&tweet), 204);
        assert_eq!(state.latest, Some(9));
        assert_eq!(state.users["a b"].follows.len(), 1);
        assert!(state.users["ç"].follows.is_empty());
        assert_eq!(state.users["ç"].messages, ["hi"]);
        assert_eq!(state.message_count(), 1);
    }
}
