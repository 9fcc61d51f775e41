//! [`Authorized`] and [`AuthorizedWrite`]: the request guards of every
//! endpoint but `GET /latest`.

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use subtle::ConstantTimeEq;

use minitwit_core::MiniTwit;

use crate::errors::{ApiError, NOT_AUTHORIZED, guard_failed};
use crate::latest;
use crate::state::ApiState;

/// A request that carries the configured `Authorization` header and whose
/// `latest` query parameter, if any, has been recorded: the guard of the
/// endpoints that only read.
///
/// The checks run in the order the contract gives: the credential (`403`),
/// then `latest` (`400` when not an integer), then recording it. They run
/// once per request however many guards ask for this one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authorized(());

/// A request that carries the configured `Authorization` header, with its
/// `latest` checked but not recorded yet: the guard of the endpoints that
/// write, which hand `latest` to the store with the write itself (one round
/// trip) or [`record`](Self::record) it when they answer without writing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthorizedWrite {
    /// The request's `latest`.
    pub(crate) latest: Option<i64>,
}

impl AuthorizedWrite {
    /// Records `latest` now: for an answer that writes nothing else.
    ///
    /// # Errors
    /// The store's, as an answer.
    pub(crate) async fn record(&self, service: &MiniTwit) -> Result<(), ApiError> {
        latest::record(service, self.latest).await
    }
}

/// The outcome of the credential and `latest` checks, cached in the request.
struct Checked(Result<Option<i64>, ApiError>);

/// The outcome of recording `latest`, cached in the request.
struct Recorded(Result<(), ApiError>);

/// The credential and `latest` checks, run once per request.
async fn checked<'r>(req: &'r Request<'_>) -> &'r Result<Option<i64>, ApiError> {
    &req.local_cache_async(async { Checked(check(req).await) })
        .await
        .0
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authorized {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        let recorded = &req
            .local_cache_async(async {
                Recorded(match checked(req).await {
                    Ok(latest) => match ApiState::of(req) {
                        Ok(state) => latest::record(&state.service, *latest).await,
                        Err(err) => Err(err),
                    },
                    Err(err) => Err(err.clone()),
                })
            })
            .await
            .0;
        match recorded {
            Ok(()) => Outcome::Success(Self(())),
            Err(err) => Outcome::Error(guard_failed(req, err.clone())),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthorizedWrite {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        match checked(req).await {
            Ok(latest) => Outcome::Success(Self { latest: *latest }),
            Err(err) => Outcome::Error(guard_failed(req, err.clone())),
        }
    }
}

async fn check(req: &Request<'_>) -> Result<Option<i64>, ApiError> {
    let state = ApiState::of(req)?;
    let given = req.headers().get_one("Authorization").unwrap_or_default();
    if !credential_matches(given, &state.config.authorization) {
        return Err(ApiError::new(Status::Forbidden, NOT_AUTHORIZED));
    }
    latest::parse(req)
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
