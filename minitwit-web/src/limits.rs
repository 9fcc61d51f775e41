//! Rate limits on what the site lets anyone try many times: sign-ins (per
//! client address and per username), sign-ups (per address), posts and
//! follow changes (per signed-in user). A follow change is limited because
//! each is a durable write and, for a reader whose home timeline is cached,
//! a read of the new followee's newest messages to patch it (on Redis in
//! the server's one thread). Over a limit, the answer is `429 Too Many Requests` with
//! `Retry-After`, decided before any password is hashed. The simulator API,
//! which authenticates with its credential, has no such limits.
//!
//! The client address is the connection's, or, when the connection comes
//! from a proxy named in [`WebConfig::trusted_proxies`](crate::WebConfig),
//! the last address in `X-Forwarded-For` that is not a trusted proxy.
//! Nobody else's `X-Forwarded-For` is believed: a client could claim any
//! address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use minitwit_core::{UserId, normalize};
use rocket::Request;
use serde::Deserialize;

/// How many attempts per minute each limit allows (a burst of that many,
/// then one every `60 / n` seconds). The defaults are far above what a
/// person does, and far below what a script needs to guess passwords or
/// flood the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Sign-in attempts per client address (default 60).
    pub sign_in_per_address: u32,
    /// Sign-in attempts per username (default 10).
    pub sign_in_per_username: u32,
    /// Sign-up attempts per client address (default 30).
    pub sign_up_per_address: u32,
    /// Messages posted per signed-in user (default 30).
    pub posts_per_user: u32,
    /// Follows and unfollows per signed-in user (default 60).
    pub follows_per_user: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_per_address: 60,
            sign_in_per_username: 10,
            sign_up_per_address: 30,
            posts_per_user: 30,
            follows_per_user: 60,
        }
    }
}

/// The limits' names, as in the `limit` label of
/// `minitwit_rate_limited_total`.
pub const LIMIT_NAMES: [&str; 5] = [
    "sign_in_per_address",
    "sign_in_per_username",
    "sign_up_per_address",
    "posts_per_user",
    "follows_per_user",
];

/// Keys kept before the limiters forget the ones that are idle.
const TIDY_ABOVE: usize = 10_000;

/// A request over a limit: how long until it would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited {
    /// Seconds to wait, at least 1.
    pub(crate) retry_after: u64,
}

/// Who sent a request, as far as the site can tell (see the module docs):
/// the request guard the rate-limited handlers take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for ClientAddress {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, ()> {
        let address = req
            .rocket()
            .state::<crate::Site>()
            .and_then(|site| site.limits.client_address(req));
        rocket::request::Outcome::Success(Self(address))
    }
}

/// The limiters of one site.
pub(crate) struct Limiters {
    sign_in_per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    sign_in_per_username: Option<DefaultKeyedRateLimiter<String>>,
    sign_up_per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    posts_per_user: Option<DefaultKeyedRateLimiter<u64>>,
    follows_per_user: Option<DefaultKeyedRateLimiter<u64>>,
    trusted_proxies: Vec<IpNet>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)))
}

/// Checks `key` against `limiter` (none: no limit), counting a refusal
/// under `name`.
fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
    name: &'static str,
) -> Result<(), Limited> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    let outcome = limiter.check_key(key);
    if limiter.len() > TIDY_ABOVE {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
    outcome.map_err(|not_until| {
        metrics::counter!("minitwit_rate_limited_total", "limit" => name).increment(1);
        let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
        Limited {
            retry_after: wait.as_secs() + 1,
        }
    })
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits, trusted_proxies: Vec<IpNet>) -> Self {
        for name in LIMIT_NAMES {
            metrics::counter!("minitwit_rate_limited_total", "limit" => name).absolute(0);
        }
        Self {
            sign_in_per_address: limiter(limits.sign_in_per_address),
            sign_in_per_username: limiter(limits.sign_in_per_username),
            sign_up_per_address: limiter(limits.sign_up_per_address),
            posts_per_user: limiter(limits.posts_per_user),
            follows_per_user: limiter(limits.follows_per_user),
            trusted_proxies,
        }
    }

    /// A sign-in attempt from `address` for `username`.
    pub(crate) fn sign_in(&self, address: Option<IpAddr>, username: &str) -> Result<(), Limited> {
        if let Some(address) = address {
            check(self.sign_in_per_address.as_ref(), &address, LIMIT_NAMES[0])?;
        }
        check(
            self.sign_in_per_username.as_ref(),
            &normalize(username),
            LIMIT_NAMES[1],
        )
    }

    /// A sign-up attempt from `address`.
    pub(crate) fn sign_up(&self, address: Option<IpAddr>) -> Result<(), Limited> {
        match address {
            Some(address) => check(self.sign_up_per_address.as_ref(), &address, LIMIT_NAMES[2]),
            None => Ok(()),
        }
    }

    /// A post by `user`.
    pub(crate) fn post(&self, user: UserId) -> Result<(), Limited> {
        check(self.posts_per_user.as_ref(), &user.0, LIMIT_NAMES[3])
    }

    /// A follow or unfollow by `user`.
    pub(crate) fn follow_change(&self, user: UserId) -> Result<(), Limited> {
        check(self.follows_per_user.as_ref(), &user.0, LIMIT_NAMES[4])
    }

    /// Who sent `req` (see the module docs).
    pub(crate) fn client_address(&self, req: &Request<'_>) -> Option<IpAddr> {
        let peer = req.remote().map(|remote| remote.ip())?;
        let forwarded: Vec<&str> = req.headers().get("X-Forwarded-For").collect();
        Some(client_address(peer, &forwarded, &self.trusted_proxies))
    }
}

/// The client behind `peer`: `peer` itself, unless it is a trusted proxy;
/// then the right-most address of `X-Forwarded-For` (all its headers in
/// order) that is not one, or the left-most if all are.
fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<IpAddr> = forwarded_for
        .iter()
        .flat_map(|header| header.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|address| !is_trusted(address))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn nets(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().filter_map(|net| net.parse().ok()).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8", "::1/128"]);
        // A client that claims another address is not believed.
        assert_eq!(
            client_address(ip("203.0.113.9"), &["198.51.100.1"], &proxies),
            ip("203.0.113.9")
        );
        // Through a trusted proxy: the last address it was given.
        assert_eq!(
            client_address(ip("10.1.2.3"), &["198.51.100.1, 203.0.113.7"], &proxies),
            ip("203.0.113.7")
        );
        // Through two trusted proxies, in two headers.
        assert_eq!(
            client_address(ip("10.1.2.3"), &["203.0.113.7", "10.9.9.9"], &proxies),
            ip("203.0.113.7")
        );
        // A trusted proxy that forwards nothing usable is the client.
        assert_eq!(client_address(ip("::1"), &["garbage"], &proxies), ip("::1"));
        assert_eq!(client_address(ip("10.1.1.1"), &[], &[]), ip("10.1.1.1"));
    }

    #[test]
    fn a_limit_lets_its_burst_through_then_refuses_with_a_wait() {
        let three = limiter::<u64>(3);
        for _ in 0..3 {
            assert_eq!(check(three.as_ref(), &7, "test"), Ok(()));
        }
        let refused = check(three.as_ref(), &7, "test");
        assert!(
            refused.is_err_and(|limited| (1..=21).contains(&limited.retry_after)),
            "{refused:?}"
        );
        // Another key has a budget of its own.
        assert_eq!(check(three.as_ref(), &8, "test"), Ok(()));
        // A limit of 0 is no limit.
        let none = limiter::<u64>(0);
        for _ in 0..100 {
            assert_eq!(check(none.as_ref(), &7, "test"), Ok(()));
        }
    }
}

/// Properties of the client address and the per-username limit over random
/// input: an untrusted peer is always the client whatever it claims; behind
/// trusted proxies the client is the right-most untrusted address of
/// `X-Forwarded-For`; garbage never panics and never yields an address that
/// is not the peer's or in the headers; and spellings of one name share one
/// sign-in budget.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u16; 8]>().prop_map(IpAddr::from),
            // Often inside the trusted networks below.
            any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::from([10, a, b, c])),
            Just(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
        ]
    }

    fn trusted() -> Vec<IpNet> {
        ["10.0.0.0/8", "::1/128", "192.0.2.0/24"]
            .iter()
            .filter_map(|net| net.parse().ok())
            .collect()
    }

    fn is_trusted(address: &IpAddr) -> bool {
        trusted().iter().any(|net| net.contains(address))
    }

    /// A peer the site does not trust as a proxy.
    fn untrusted_peer() -> impl Strategy<Value = IpAddr> {
        address().prop_filter("a trusted proxy", |a| !is_trusted(a))
    }

    /// A peer the site trusts as a proxy.
    fn trusted_peer() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::from([10, a, b, c])),
            any::<u8>().prop_map(|d| IpAddr::from([192, 0, 2, d])),
            Just(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
        ]
    }

    /// A header value: a list of addresses with odd spacing, or garbage.
    fn header(chain: &[IpAddr], garbage: &str) -> String {
        let mut entries: Vec<String> = chain.iter().map(|a| format!(" {a}  ")).collect();
        if !garbage.is_empty() {
            entries.insert(entries.len() / 2, garbage.to_owned());
        }
        entries.join(",")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn an_untrusted_peer_is_the_client_whatever_it_claims(
            peer in untrusted_peer(),
            headers in prop::collection::vec(any::<String>(), 0..3),
        ) {
            let trusted = trusted();
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            prop_assert_eq!(client_address(peer, &headers, &trusted), peer);
        }

        #[test]
        fn behind_trusted_proxies_the_last_untrusted_address_is_the_client(
            peer in trusted_peer(),
            chain in prop::collection::vec(address(), 0..6),
            garbage in prop_oneof![Just(String::new()), "[^,]{1,12}"]
                .prop_filter("an address", |g| g.trim().parse::<IpAddr>().is_err()),
            split in 0usize..6,
        ) {
            let trusted = trusted();
            // The chain, in one header or split over two.
            let split = split.min(chain.len());
            let first = header(&chain[..split], &garbage);
            let second = header(&chain[split..], "");
            let headers = [first.as_str(), second.as_str()];
            let expected = chain
                .iter()
                .rev()
                .find(|a| !is_trusted(a))
                .or(chain.first())
                .copied()
                .unwrap_or(peer);
            prop_assert_eq!(client_address(peer, &headers, &trusted), expected);
        }

        #[test]
        fn garbage_never_invents_an_address(
            peer in address(),
            headers in prop::collection::vec(any::<String>(), 0..3),
        ) {
            let trusted = trusted();
            let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let client = client_address(peer, &refs, &trusted);
            let named = headers
                .iter()
                .flat_map(|header| header.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .any(|a| a == client);
            prop_assert!(client == peer || named);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_spelling_of_a_name_shares_one_sign_in_budget(
            name in "[a-zA-Z åÅéü]{1,12}",
        ) {
            let limits = Limiters::new(
                RateLimits { sign_in_per_username: 3, ..RateLimits::default() },
                Vec::new(),
            );
            let composed = normalize(&name);
            let decomposed: String = composed
                .chars()
                .map(|c| match c {
                    'å' => "a\u{30a}".to_owned(),
                    'Å' => "A\u{30a}".to_owned(),
                    'é' => "e\u{301}".to_owned(),
                    'ü' => "u\u{308}".to_owned(),
                    other => other.to_string(),
                })
                .collect();
            for spelling in [&composed, &decomposed, &name] {
                prop_assert!(limits.sign_in(None, spelling).is_ok());
            }
            for spelling in [&composed, &decomposed] {
                let refused = limits.sign_in(None, spelling);
                prop_assert!(refused.is_err_and(|limited| limited.retry_after >= 1));
            }
        }
    }
}
