//! A deterministic generator of realistic scenarios.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Action, ActionKind};

const FIRST_NAMES: &[&str] = &[
    "Roger", "Zoë", "José", "Åsa", "Björn", "Łukasz", "Søren", "Chloé", "Renée", "Mei", "Ada",
    "Grace", "Linus", "Ngozi", "Yuki", "Olamide", "Iñaki", "Dagný", "Tomás", "Ana",
];
const LAST_NAMES: &[&str] = &[
    "Histand",
    "Müller",
    "Ó Briain",
    "García",
    "Nakamura",
    "Okafor",
    "Lovelace",
    "Hopper",
    "Kowalski",
    "Þórsdóttir",
    "Nguyễn",
    "Petrović",
    "Smith",
    "Dubois",
    "Larsen",
    "Rossi",
];
const WORDS: &[&str] = &[
    "the",
    "sea",
    "was",
    "calm",
    "and",
    "we",
    "sailed",
    "north",
    "under",
    "a",
    "grey",
    "sky",
    "<b>bold</b>",
    "fish",
    "&",
    "chips",
    "\"quoted\"",
    "it's",
    "naïve",
    "café",
    "über",
    "日本",
    "whale",
    "harpoon",
    "captain",
    "said",
    "nothing",
    "more",
    "ship",
    "deck",
    "storm",
    "🦀",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// How many distinct users register (at most).
    pub users: usize,
    /// How many actions in all.
    pub actions: usize,
    /// The random seed: the same configuration always gives the same
    /// scenario.
    pub seed: u64,
}

/// Generates a scenario: users register over time, tweet and follow with a
/// skewed activity (a few users do much of the work and gather most
/// followers), unfollow people they follow and, now and then, people they
/// do not follow; names have spaces and non-ASCII letters; texts carry
/// characters that need escaping. A few registrations repeat a taken name.
pub fn generate(config: GeneratorConfig) -> Vec<Action> {
    Generator::new(config).collect()
}

/// The actions of [`generate`], one at a time: for scenarios too large to
/// hold in memory (ten million actions are about 1.5 GB as a `Vec`).
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    rng: StdRng,
    users: Vec<String>,
    taken: HashMap<String, usize>,
    // Ordered, so that the scenario depends on the seed alone.
    follows: BTreeSet<(usize, usize)>,
    clock_ms: i64,
    index: usize,
}

impl Generator {
    /// A generator of the scenario `config` describes.
    pub fn new(config: GeneratorConfig) -> Self {
        Self {
            config,
            rng: StdRng::seed_from_u64(config.seed),
            users: Vec::new(),
            taken: HashMap::new(),
            follows: BTreeSet::new(),
            clock_ms: 1_600_000_000_000,
            index: 0,
        }
    }

    /// How many distinct users have registered so far.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn next_kind(&mut self) -> ActionKind {
        let (rng, users) = (&mut self.rng, &mut self.users);
        let target_users = self.config.users.max(2);
        // Registrations come first while few users exist, then thin out.
        let want_register = users.len() < 2
            || (users.len() < target_users
                && rng.gen_bool(register_share(users.len(), target_users)));
        if want_register {
            return register(rng, users, &mut self.taken);
        }
        let actor = skewed(rng, users.len());
        let roll: f64 = rng.r#gen();
        if roll < 0.55 {
            ActionKind::Tweet {
                username: users[actor].clone(),
                text: sentence(rng),
            }
        } else if roll < 0.8 {
            let mut target = skewed(rng, users.len());
            if target == actor {
                target = (target + 1) % users.len();
            }
            self.follows.insert((actor, target));
            ActionKind::Follow {
                username: users[actor].clone(),
                target: users[target].clone(),
            }
        } else {
            let mut followed = self.follows.range((actor, 0)..(actor + 1, 0));
            let count = followed.clone().count();
            // Mostly someone followed; sometimes someone who is not, as
            // the real simulator does about 1,200 times.
            let target = if count > 0 && rng.gen_bool(0.8) {
                let pick = rng.gen_range(0..count);
                followed.nth(pick).map_or(actor, |(_, whom)| *whom)
            } else {
                rng.gen_range(0..users.len())
            };
            self.follows.remove(&(actor, target));
            ActionKind::Unfollow {
                username: users[actor].clone(),
                target: users[target].clone(),
            }
        }
    }
}

impl Iterator for Generator {
    type Item = Action;

    fn next(&mut self) -> Option<Action> {
        if self.index >= self.config.actions {
            return None;
        }
        self.index += 1;
        let id = i64::try_from(self.index).unwrap_or(i64::MAX);
        let delay_ms = self.rng.gen_range(0..40u64);
        self.clock_ms += i64::try_from(delay_ms).unwrap_or(0);
        let kind = self.next_kind();
        Some(Action {
            id,
            delay_ms,
            timestamp_ms: self.clock_ms,
            kind,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.config.actions - self.index;
        (left, Some(left))
    }
}

fn register_share(registered: usize, target: usize) -> f64 {
    let remaining = (target - registered) as f64 / target as f64;
    (0.05 + 0.6 * remaining).min(1.0)
}

/// An index in `0..len` biased towards small values: early users are the
/// busy ones and the hubs of the follow graph.
fn skewed(rng: &mut StdRng, len: usize) -> usize {
    let u: f64 = rng.r#gen();
    ((u * u * u) * len as f64) as usize % len.max(1)
}

fn register(
    rng: &mut StdRng,
    users: &mut Vec<String>,
    taken: &mut HashMap<String, usize>,
) -> ActionKind {
    if !users.is_empty() && rng.gen_bool(0.01) {
        // A name that is taken: the server must answer 400.
        let existing = users[rng.gen_range(0..users.len())].clone();
        return ActionKind::Register {
            email: email_for(&existing),
            username: existing,
            password: "again".into(),
        };
    }
    let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let base = format!("{first} {last}");
    let seen = taken.entry(base.clone()).or_insert(0);
    *seen += 1;
    let username = if *seen == 1 {
        base
    } else {
        format!("{base} {seen}")
    };
    users.push(username.clone());
    ActionKind::Register {
        email: email_for(&username),
        password: format!("pw-{}", rng.gen_range(0..1_000_000u32)),
        username,
    }
}

fn email_for(username: &str) -> String {
    let local: String = username
        .chars()
        .map(|c| if c == ' ' { '.' } else { c })
        .collect();
    format!("{local}@example.org")
}

fn sentence(rng: &mut StdRng) -> String {
    let words = rng.gen_range(1..16);
    (0..words)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::ExpectedState;
    use super::*;

    #[test]
    fn same_seed_same_scenario() {
        let config = GeneratorConfig {
            users: 50,
            actions: 500,
            seed: 7,
        };
        // Not assert_eq!: a failure would print thousands of actions.
        assert!(
            generate(config) == generate(config),
            "one seed gave two scenarios"
        );
        assert!(generate(config) != generate(GeneratorConfig { seed: 8, ..config }));
    }

    #[test]
    fn scenarios_have_every_kind_of_action_and_mostly_succeed() {
        let actions = generate(GeneratorConfig {
            users: 100,
            actions: 3000,
            seed: 1,
        });
        assert_eq!(actions.len(), 3000);
        let mut state = ExpectedState::default();
        let mut statuses: HashMap<u16, usize> = HashMap::new();
        for action in &actions {
            *statuses.entry(state.apply(action)).or_default() += 1;
        }
        assert_eq!(
            statuses.get(&404),
            None,
            "every action names registered users"
        );
        assert!(statuses[&204] > 2900, "{statuses:?}");
        assert!(state.users.len() > 50);
        assert!(state.users.keys().any(|name| name.contains(' ')));
        assert!(state.users.keys().any(|name| !name.is_ascii()));
        let kinds =
            |wanted: fn(&ActionKind) -> bool| actions.iter().filter(|a| wanted(&a.kind)).count();
        assert!(kinds(|k| matches!(k, ActionKind::Tweet { .. })) > 1000);
        assert!(kinds(|k| matches!(k, ActionKind::Follow { .. })) > 300);
        assert!(kinds(|k| matches!(k, ActionKind::Unfollow { .. })) > 100);
        assert_eq!(state.latest, Some(3000));
    }
}
