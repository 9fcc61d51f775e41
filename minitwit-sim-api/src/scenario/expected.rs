//! The state a scenario implies, computed with the core's own validation
//! rules, to compare a server with after a replay.

use std::collections::{BTreeMap, BTreeSet};

use minitwit_core::{Caller, Error, MessageText, Registration, Username, check_follow, normalize};

use super::{Action, ActionKind};

/// The status of a write the API accepted.
const SUCCESS: u16 = 204;

/// What one user should look like after a scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedUser {
    /// Whom the user follows.
    pub follows: BTreeSet<String>,
    /// The user's messages, oldest first.
    pub messages: Vec<String>,
}

/// Every user (by the normalized name the server keeps), their follows and
/// their messages, as a correct server holds them after the actions applied
/// so far; and the status each action should get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedState {
    /// Every registered user by name.
    pub users: BTreeMap<String, ExpectedUser>,
    /// The id of the last action applied, which `/latest` should report.
    pub latest: Option<i64>,
    /// After a replay with several requests in flight, the ids of the
    /// actions whose request may have recorded `latest` last (any of them
    /// is right: concurrent requests race); empty otherwise, and then
    /// `latest` is the one answer.
    pub latest_candidates: Vec<i64>,
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
                let form = Registration {
                    username,
                    email,
                    password,
                    password_confirmation: None,
                    caller: Caller::SimulatorApi,
                };
                let valid = match form.validate() {
                    Ok(valid) => valid,
                    Err(err) => return err.status_code(),
                };
                if self.users.contains_key(valid.username.as_str()) {
                    return Error::UsernameTaken.status_code();
                }
                self.users
                    .insert(valid.username.to_string(), ExpectedUser::default());
                SUCCESS
            }
            ActionKind::Tweet { username, text } => {
                let Some(user) = self.users.get_mut(&normalize(username)) else {
                    return Error::UserNotFound.status_code();
                };
                if let Err(err) = MessageText::parse(text) {
                    return err.status_code();
                }
                user.messages.push(text.clone());
                SUCCESS
            }
            ActionKind::Follow { username, target } => {
                let (follower, followee) = match self.pair(username, target) {
                    Ok(pair) => pair,
                    Err(err) => return err.status_code(),
                };
                if let Err(err) = check_follow(&follower, &followee) {
                    return err.status_code();
                }
                self.follows_of(&follower).insert(followee.to_string());
                SUCCESS
            }
            ActionKind::Unfollow { username, target } => {
                let (follower, followee) = match self.pair(username, target) {
                    Ok(pair) => pair,
                    Err(err) => return err.status_code(),
                };
                self.follows_of(&follower).remove(followee.as_str());
                SUCCESS
            }
        }
    }

    /// The two registered users of a follow or unfollow (by their
    /// normalized names, as the server finds them), or the error the service
    /// gives when one is missing.
    fn pair(&self, username: &str, target: &str) -> Result<(Username, Username), Error> {
        let registered = |name: &str, missing: Error| {
            Username::from_stored(&normalize(name))
                .ok()
                .filter(|name| self.users.contains_key(name.as_str()))
                .ok_or(missing)
        };
        Ok((
            registered(username, Error::UserNotFound)?,
            registered(target, Error::TargetNotFound)?,
        ))
    }

    fn follows_of(&mut self, user: &Username) -> &mut BTreeSet<String> {
        &mut self.users.entry(user.to_string()).or_default().follows
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
