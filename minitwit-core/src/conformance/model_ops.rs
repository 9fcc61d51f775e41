//! The operations of the model-based property test (see `model`): what
//! each one does, how it prints, and the strategy that draws them.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;

use crate::Timestamp;

/// Names users are created from. Few, so that duplicates are common; some
/// differ only in case, whitespace or Unicode form.
pub(super) const NAMES: [&str; 7] = [
    "ada",
    "Ada",
    "ada ",
    "Zoë Ångström",
    "Zoe\u{308} Ångström",
    "李小龍",
    "grace hopper",
];

/// One random operation. Users and messages are named by index into what
/// has been created or posted so far, so every operation is meaningful
/// whatever came before it.
#[derive(Clone)]
pub(super) enum Op {
    CreateUser {
        name: usize,
    },
    UserByName {
        name: usize,
    },
    UserById {
        user: Index,
    },
    Follow {
        follower: Index,
        followee: Index,
    },
    Unfollow {
        follower: Index,
        followee: Index,
    },
    IsFollowing {
        follower: Index,
        followee: Index,
    },
    Followees {
        follower: Index,
        limit: usize,
    },
    Post {
        author: Index,
        pub_date: Timestamp,
    },
    Timeline {
        kind: Kind,
        before: Option<Index>,
        limit: usize,
    },
    SetLatest {
        value: i64,
    },
    Latest,
    EndSessions {
        user: Index,
    },
    Counts,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Public,
    User(Index),
    Home(Index),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Indexes printed as fractions of the pool they pick from.
        let ix = |index: &Index| format!("#{:.2}", index.index(100) as f64 / 100.0);
        match self {
            Self::CreateUser { name } => write!(f, "create_user({:?})", NAMES[*name]),
            Self::UserByName { name } => write!(f, "user_by_name({:?})", NAMES[*name]),
            Self::UserById { user } => write!(f, "user_by_id(user {})", ix(user)),
            Self::Follow { follower, followee } => {
                write!(
                    f,
                    "follow(user {}, other user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::Unfollow { follower, followee } => {
                write!(
                    f,
                    "unfollow(user {}, other user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::IsFollowing { follower, followee } => {
                write!(
                    f,
                    "is_following(user {}, user {})",
                    ix(follower),
                    ix(followee)
                )
            }
            Self::Followees { follower, limit } => {
                write!(f, "followees(user {}, {limit})", ix(follower))
            }
            Self::Post { author, pub_date } => write!(f, "post(user {}, {pub_date})", ix(author)),
            Self::Timeline {
                kind,
                before,
                limit,
            } => {
                let kind = match kind {
                    Kind::Public => "Public".to_owned(),
                    Kind::User(user) => format!("User(user {})", ix(user)),
                    Kind::Home(user) => format!("Home(user {})", ix(user)),
                };
                let before = before
                    .as_ref()
                    .map_or("None".to_owned(), |m| format!("message {}", ix(m)));
                write!(f, "timeline({kind}, before {before}, limit {limit})")
            }
            Self::SetLatest { value } => write!(f, "set_latest({value})"),
            Self::Latest => write!(f, "latest()"),
            Self::EndSessions { user } => write!(f, "end_sessions(user {})", ix(user)),
            Self::Counts => write!(f, "counts()"),
        }
    }
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let limit = 0..6usize;
    let kind = prop_oneof![
        Just(Kind::Public),
        any::<Index>().prop_map(Kind::User),
        any::<Index>().prop_map(Kind::Home),
    ];
    let latest = prop_oneof![-5..2_000i64, Just(-1i64), Just(i64::MIN), Just(i64::MAX)];
    prop_oneof![
        4 => name.clone().prop_map(|name| Op::CreateUser { name }),
        1 => name.prop_map(|name| Op::UserByName { name }),
        1 => any::<Index>().prop_map(|user| Op::UserById { user }),
        3 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::Follow { follower, followee }),
        2 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::Unfollow { follower, followee }),
        1 => (any::<Index>(), any::<Index>())
            .prop_map(|(follower, followee)| Op::IsFollowing { follower, followee }),
        1 => (any::<Index>(), limit.clone())
            .prop_map(|(follower, limit)| Op::Followees { follower, limit }),
        5 => (any::<Index>(), -10..2_000_000_000i64)
            .prop_map(|(author, pub_date)| Op::Post { author, pub_date }),
        4 => (kind, proptest::option::of(any::<Index>()), limit)
            .prop_map(|(kind, before, limit)| Op::Timeline { kind, before, limit }),
        1 => latest.prop_map(|value| Op::SetLatest { value }),
        1 => Just(Op::Latest),
        1 => any::<Index>().prop_map(|user| Op::EndSessions { user }),
        1 => Just(Op::Counts),
    ]
}
