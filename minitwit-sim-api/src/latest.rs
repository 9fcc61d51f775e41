//! The `latest` query parameter: parsed for every authorized request, and
//! recorded before the request is answered (by the guard for reads, with
//! the write itself for writes).

use minitwit_core::MiniTwit;
use rocket::Request;

use crate::errors::ApiError;

/// The request's `latest`, if it has one.
///
/// # Errors
/// `400` when `latest` is not an integer.
pub(crate) fn parse(req: &Request<'_>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = req.query_value::<&str>("latest") else {
        return Ok(None);
    };
    raw.ok()
        .and_then(parse_latest)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("The query parameter latest must be an integer"))
}

/// Records `latest`, if there is one.
///
/// # Errors
/// The core's error when the store fails.
pub(crate) async fn record(service: &MiniTwit, latest: Option<i64>) -> Result<(), ApiError> {
    match latest {
        Some(latest) => Ok(service.record_latest(latest).await?),
        None => Ok(()),
    }
}

/// A `latest` value: an integer that fits in 64 bits, with an optional
/// sign, spaces around it ignored.
fn parse_latest(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

/// Properties of [`parse_latest`] over random input: every 64-bit integer
/// round trips however it is written, and nothing else parses.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::parse_latest;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn every_integer_round_trips(n in any::<i64>(), spaces in "[ \t]{0,2}") {
            prop_assert_eq!(parse_latest(&n.to_string()), Some(n));
            prop_assert_eq!(parse_latest(&format!("{spaces}{n}{spaces}")), Some(n));
            if n >= 0 {
                prop_assert_eq!(parse_latest(&format!("+{n}")), Some(n));
                prop_assert_eq!(parse_latest(&format!("000{n}")), Some(n));
            }
        }

        #[test]
        fn only_integers_parse(raw in prop_oneof![any::<String>(), "[-+0-9.eE x]{0,25}"]) {
            if let Some(n) = parse_latest(&raw) {
                let digits = raw.trim().trim_start_matches(['+', '-']);
                prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "{raw:?}");
                prop_assert_eq!(digits.trim_start_matches('0').parse::<u64>().unwrap_or(0), n.unsigned_abs());
            }
        }

        #[test]
        fn integers_beyond_64_bits_do_not(extra in 1u128..1_000_000, negative in any::<bool>()) {
            let beyond = if negative {
                format!("-{}", u128::from(i64::MIN.unsigned_abs()) + extra)
            } else {
                (i64::MAX as u128 + extra).to_string()
            };
            prop_assert_eq!(parse_latest(&beyond), None);
        }
    }
}
