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
