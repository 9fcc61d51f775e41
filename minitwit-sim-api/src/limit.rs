//! [`Limit`]: the `no` query parameter, how many items a list answer holds at
//! most.

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use crate::auth::Authorized;
use crate::errors::{ApiError, guard_failed};
use crate::state::ApiState;

/// The number of items to answer with: `no`, or the configured default when
/// absent; negative counts as 0, above the maximum as the maximum. A `no`
/// that is not an integer is a `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit(pub(crate) usize);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Limit {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        // Authorization comes first, whatever order a handler lists guards in.
        if let Outcome::Error(failure) = req.guard::<Authorized>().await {
            return Outcome::Error(failure);
        }
        match limit(req) {
            Ok(limit) => Outcome::Success(limit),
            Err(err) => Outcome::Error(guard_failed(req, err)),
        }
    }
}

fn limit(req: &Request<'_>) -> Result<Limit, ApiError> {
    let config = &ApiState::of(req)?.config;
    let requested =
        match req.query_value::<&str>("no") {
            None => None,
            Some(raw) => Some(raw.ok().and_then(parse_integer).ok_or_else(|| {
                ApiError::bad_request("The query parameter no must be an integer")
            })?),
        };
    Ok(Limit(config.clamp_no(requested)))
}

/// Parses an integer of any size: one too large for `i128` saturates (a
/// huge `no` is still just "more than the maximum").
fn parse_integer(raw: &str) -> Option<i128> {
    let raw = raw.trim();
    if let Ok(value) = raw.parse::<i128>() {
        return Some(value);
    }
    let (negative, digits) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if negative { i128::MIN } else { i128::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_any_size_parse() {
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer("-3"), Some(-3));
        assert_eq!(parse_integer("+3"), Some(3));
        assert_eq!(parse_integer(&"9".repeat(60)), Some(i128::MAX));
        assert_eq!(
            parse_integer(&format!("-{}", "9".repeat(60))),
            Some(i128::MIN)
        );
    }

    #[test]
    fn non_integers_do_not() {
        for raw in ["", "-", "+", "abc", "1.5", "1e3", "0x10", "--1", "1 2"] {
            assert_eq!(parse_integer(raw), None, "{raw:?}");
        }
    }
}

/// Properties of `no` over random input: every integer parses to itself
/// however it is written, a longer one saturates with its sign, nothing
/// else parses, and the answer's size is always within the maximum.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::ApiConfig;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn every_integer_parses_to_itself(n in any::<i128>(), spaces in "[ \t]{0,2}") {
            prop_assert_eq!(parse_integer(&n.to_string()), Some(n));
            prop_assert_eq!(parse_integer(&format!("{spaces}{n}{spaces}")), Some(n));
            if n >= 0 {
                prop_assert_eq!(parse_integer(&format!("+{n}")), Some(n));
            }
        }

        #[test]
        fn long_integers_saturate_with_their_sign(
            digits in "[0-9]{1,80}",
            sign in prop::sample::select(vec!["", "+", "-"]),
        ) {
            let parsed = parse_integer(&format!("{sign}{digits}"));
            let significant = match digits.trim_start_matches('0') {
                "" => "0",
                significant => significant,
            };
            let expected = match significant.parse::<u128>().ok().and_then(|v| i128::try_from(v).ok()) {
                Some(value) if sign == "-" => -value,
                Some(value) => value,
                // Too long for i128: the sign says which end.
                None if sign == "-" => i128::MIN,
                None => i128::MAX,
            };
            prop_assert_eq!(parsed, Some(expected));
        }

        #[test]
        fn nothing_else_parses(raw in prop_oneof![any::<String>(), "[-+0-9.eExX ]{0,12}", "[-+]?[0-9]+é"]) {
            if parse_integer(&raw).is_some() {
                let trimmed = raw.trim();
                let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
                prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "{raw:?}");
            }
        }

        #[test]
        fn an_answer_never_exceeds_the_maximum(
            requested in proptest::option::of(any::<i128>()),
            max_no in 0usize..20_000,
            default_no in 0usize..20_000,
        ) {
            let config = ApiConfig { max_no, default_no, ..ApiConfig::default() };
            let no = config.clamp_no(requested);
            prop_assert!(no <= max_no);
            match requested {
                None => prop_assert_eq!(no, default_no.min(max_no)),
                Some(n) if n <= 0 => prop_assert_eq!(no, 0),
                Some(n) => prop_assert_eq!(no as u128, (n as u128).min(max_no as u128)),
            }
        }
    }
}
