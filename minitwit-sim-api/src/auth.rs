//! [`Authorized`]: the request guard of every endpoint but `GET /latest`.

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use subtle::ConstantTimeEq;

use crate::errors::{ApiError, NOT_AUTHORIZED, guard_failed};
use crate::latest;
use crate::state::ApiState;

/// A request that carries the configured `Authorization` header and whose
/// `latest` query parameter, if any, has been recorded.
///
/// The checks run in the order the contract gives: the credential (`403`),
/// then `latest` (`400` when not an integer), then recording it. They run
/// once per request however many guards ask for this one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authorized(());

/// The outcome of the checks, cached in the request.
struct Checked(Result<(), ApiError>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authorized {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        match &req
            .local_cache_async(async { Checked(check(req).await) })
            .await
            .0
        {
            Ok(()) => Outcome::Success(Self(())),
            Err(err) => Outcome::Error(guard_failed(req, err.clone())),
        }
    }
}

async fn check(req: &Request<'_>) -> Result<(), ApiError> {
    let state = ApiState::of(req)?;
    let given = req.headers().get_one("Authorization").unwrap_or_default();
    if !credential_matches(given, &state.config.authorization) {
        return Err(ApiError::new(Status::Forbidden, NOT_AUTHORIZED));
    }
    latest::record(req, &state.service).await
}

/// Compares in time that depends only on the lengths, not on where the
/// values differ.
fn credential_matches(given: &str, expected: &str) -> bool {
    bool::from(given.trim().as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_value_matches() {
        let expected = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";
        assert!(credential_matches(expected, expected));
        assert!(credential_matches(
            " Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh ",
            expected
        ));
        assert!(!credential_matches("", expected));
        assert!(!credential_matches(
            "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUi",
            expected
        ));
        assert!(!credential_matches(
            "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUhAA",
            expected
        ));
    }
}

/// Properties of the credential check over random headers: exactly the
/// configured value (spaces around it aside) matches.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::credential_matches;
    use crate::basic_authorization;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn only_the_configured_value_matches(
            user in ".{0,10}",
            password in ".{0,10}",
            given in prop_oneof![any::<String>(), "Basic [A-Za-z0-9+/=]{0,30}"],
            spaces in "[ \t]{0,2}",
        ) {
            let expected = basic_authorization(&user, &password);
            let padded = format!("{spaces}{expected}{spaces}");
            prop_assert!(credential_matches(&expected, &expected));
            prop_assert!(credential_matches(&padded, &expected));
            prop_assert_eq!(credential_matches(&given, &expected), given.trim() == expected);
        }
    }
}
