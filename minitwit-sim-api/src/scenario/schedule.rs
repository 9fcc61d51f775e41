//! Which action a concurrent replay may send next.
//!
//! An action may be sent once every action it depends on has been answered:
//! the same user's previous action (each user's actions keep their order),
//! and the cross-user dependencies of [`dependencies`] (an action naming a
//! user waits for that user's registration; a registration waits for the
//! actions that named the user before it). Among the actions that may be
//! sent, the earliest in the scenario goes first.
//!
//! Any free connection takes the next such action, whoever's it is, so one
//! busy user (a scenario's activity is skewed: one user may issue a sixth
//! of all actions) holds up only their own actions, never those of the
//! users who would have shared a fixed lane with them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use super::{Action, ActionKind};

/// Which earlier actions each action must wait for, besides its user's
/// previous one (see the module docs).
pub(super) fn dependencies(actions: &[Action]) -> Vec<Vec<usize>> {
    let mut deps = vec![Vec::new(); actions.len()];
    let mut registered: HashMap<&str, usize> = HashMap::new();
    let mut named_since: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, action) in actions.iter().enumerate() {
        match &action.kind {
            ActionKind::Register { username, .. } => {
                if let Some(earlier) = named_since.remove(username.as_str()) {
                    deps[index] = earlier;
                }
                registered.insert(username, index);
            }
            ActionKind::Follow { target, .. } | ActionKind::Unfollow { target, .. } => {
                if let Some(&registration) = registered.get(target.as_str()) {
                    deps[index].push(registration);
                }
                named_since.entry(target).or_default().push(index);
            }
            ActionKind::Tweet { .. } => {}
        }
    }
    deps
}

/// The actions of one replay, handed out as they may be sent.
#[derive(Debug)]
pub(super) struct Schedule {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Actions that may be sent now, earliest first.
    ready: BinaryHeap<Reverse<usize>>,
    /// Per action: dependencies not answered yet.
    unanswered_deps: Vec<usize>,
    /// Per action: the actions that depend on it.
    dependents: Vec<Vec<usize>>,
    /// Per action: its user's next action.
    next_of_user: Vec<Option<usize>>,
    /// Per action: whether its user's previous action has been answered
    /// (true for a user's first).
    released: Vec<bool>,
    /// Actions handed out so far.
    handed_out: usize,
    /// Actions answered so far.
    answered: usize,
}

impl State {
    fn release_if_ready(&mut self, action: usize) {
        if self.released[action] && self.unanswered_deps[action] == 0 {
            self.ready.push(Reverse(action));
        }
    }
}

impl Schedule {
    /// The schedule of `actions`, with nothing sent yet.
    pub(super) fn new(actions: &[Action]) -> Self {
        let deps = dependencies(actions);
        let mut dependents = vec![Vec::new(); actions.len()];
        let mut unanswered_deps = vec![0; actions.len()];
        for (index, deps) in deps.iter().enumerate() {
            unanswered_deps[index] = deps.len();
            for &dep in deps {
                dependents[dep].push(index);
            }
        }
        let mut next_of_user = vec![None; actions.len()];
        let mut released = vec![false; actions.len()];
        let mut last_of_user: HashMap<&str, usize> = HashMap::new();
        for (index, action) in actions.iter().enumerate() {
            match last_of_user.insert(action.kind.username(), index) {
                Some(previous) => next_of_user[previous] = Some(index),
                None => released[index] = true,
            }
        }
        let mut state = State {
            ready: BinaryHeap::new(),
            unanswered_deps,
            dependents,
            next_of_user,
            released,
            handed_out: 0,
            answered: 0,
        };
        for index in 0..actions.len() {
            state.release_if_ready(index);
        }
        Self {
            state: Mutex::new(state),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The earliest action that may be sent now, waiting until one may;
    /// `None` once every action has been handed out.
    pub(super) async fn next(&self) -> Option<usize> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a change made after the look
            // is not missed.
            changed.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(Reverse(action)) = state.ready.pop() {
                    state.handed_out += 1;
                    return Some(action);
                }
                if state.handed_out == state.unanswered_deps.len() {
                    return None;
                }
            }
            changed.await;
        }
    }

    /// Records that `action` was answered, releasing what waited for it;
    /// returns how many actions have been answered.
    pub(super) fn finish(&self, action: usize) -> usize {
        let answered = {
            let mut state = self.lock();
            state.answered += 1;
            for dependent in std::mem::take(&mut state.dependents[action]) {
                state.unanswered_deps[dependent] -= 1;
                state.release_if_ready(dependent);
            }
            if let Some(next) = state.next_of_user[action] {
                state.released[next] = true;
                state.release_if_ready(next);
            }
            state.answered
        };
        self.changed.notify_waiters();
        answered
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(lines: &str) -> Vec<Action> {
        super::super::read_scenario(lines.as_bytes()).unwrap()
    }

    /// Hands out every action that may go now, without answering any.
    fn drain_ready(schedule: &Schedule) -> Vec<usize> {
        let mut state = schedule.lock();
        let mut out = Vec::new();
        while let Some(Reverse(action)) = state.ready.pop() {
            state.handed_out += 1;
            out.push(action);
        }
        out
    }

    #[tokio::test]
    async fn users_keep_their_order_and_others_go_around_them() {
        let actions = parse(
            "1\t0\t0\tregister\ta\ta@x\tpw\n\
             2\t0\t0\tregister\tb\tb@x\tpw\n\
             3\t0\t0\ttweet\ta\tone\n\
             4\t0\t0\ttweet\ta\ttwo\n\
             5\t0\t0\ttweet\tb\tthree\n",
        );
        let schedule = Schedule::new(&actions);
        // Both registrations may go at once; nothing else yet.
        assert_eq!(drain_ready(&schedule), [0, 1]);
        // a's registration answered: a's first tweet, not its second.
        schedule.finish(0);
        assert_eq!(drain_ready(&schedule), [2]);
        // b's registration answered: b's tweet goes while a's first is out.
        schedule.finish(1);
        assert_eq!(drain_ready(&schedule), [4]);
        schedule.finish(2);
        assert_eq!(drain_ready(&schedule), [3]);
        schedule.finish(3);
        assert_eq!(schedule.finish(4), 5);
        assert_eq!(schedule.next().await, None);
    }

    #[tokio::test]
    async fn naming_a_user_waits_for_their_registration_and_the_other_way_round() {
        let actions = parse(
            "1\t0\t0\tregister\ta\ta@x\tpw\n\
             2\t0\t0\tfollow\ta\tb\n\
             3\t0\t0\tregister\tb\tb@x\tpw\n\
             4\t0\t0\tregister\tc\tc@x\tpw\n\
             5\t0\t0\tfollow\tc\tb\n",
        );
        let schedule = Schedule::new(&actions);
        // b's registration waits for a's follow of b (which must find no b);
        // c's follow of b waits for b's registration.
        assert_eq!(drain_ready(&schedule), [0, 3]);
        schedule.finish(0);
        assert_eq!(drain_ready(&schedule), [1]);
        schedule.finish(3);
        assert!(drain_ready(&schedule).is_empty());
        schedule.finish(1);
        assert_eq!(drain_ready(&schedule), [2]);
        schedule.finish(2);
        assert_eq!(drain_ready(&schedule), [4]);
    }

    #[tokio::test]
    async fn a_waiting_taker_wakes_when_an_answer_releases_an_action() {
        let actions = parse(
            "1\t0\t0\tregister\ta\ta@x\tpw\n\
             2\t0\t0\ttweet\ta\tone\n",
        );
        let schedule = std::sync::Arc::new(Schedule::new(&actions));
        assert_eq!(schedule.next().await, Some(0));
        let waiting = tokio::spawn({
            let schedule = std::sync::Arc::clone(&schedule);
            async move { schedule.next().await }
        });
        tokio::task::yield_now().await;
        schedule.finish(0);
        assert_eq!(waiting.await.unwrap(), Some(1));
        schedule.finish(1);
        assert_eq!(schedule.next().await, None);
    }
}
