//! [`JsonBody`]: the data guard that reads a request body as JSON, answering
//! every way it can go wrong with a JSON error of its own status.

use rocket::data::{self, ByteUnit, Data, FromData};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::Request;
use serde::de::DeserializeOwned;

use crate::auth::AuthorizedWrite;
use crate::errors::{ApiError, guard_failed};
use crate::state::ApiState;

/// A request body parsed as JSON into `T`.
///
/// * a `Content-Type` other than `application/json`, or one that does not
///   parse, is a `415` (a missing one is accepted: the body is parsed as
///   JSON);
/// * a body over [`ApiConfig::max_body_bytes`](crate::ApiConfig::max_body_bytes)
///   is a `413`;
/// * a body that is not JSON, or not of the expected shape, is a `400`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        // Authorization comes first, whatever order the guards run in.
        let auth = match req.guard::<AuthorizedWrite>().await {
            Outcome::Success(auth) => auth,
            Outcome::Error(failure) => return Outcome::Error(failure),
            Outcome::Forward(status) => return Outcome::Forward((data, status)),
        };
        let err = match parse::<T>(req, data).await {
            Ok(value) => return Outcome::Success(Self(value)),
            Err(err) => err,
        };
        // No write follows: `latest` is recorded before the answer.
        let recorded = match ApiState::of(req) {
            Ok(state) => auth.record(&state.service).await,
            Err(err) => Err(err),
        };
        Outcome::Error(guard_failed(req, recorded.err().unwrap_or(err)))
    }
}

async fn parse<T: DeserializeOwned>(req: &Request<'_>, data: Data<'_>) -> Result<T, ApiError> {
    let limit = ApiState::of(req)?.config.max_body_bytes;
    // A `Content-Type` that does not even parse is not JSON either (Rocket
    // reads it as no content type at all).
    let declared = req
        .headers()
        .get_one("Content-Type")
        .is_some_and(|raw| !raw.trim().is_empty());
    if declared
        && !req
            .content_type()
            .is_some_and(|content_type| content_type.is_json())
    {
        return Err(ApiError::new(
            Status::UnsupportedMediaType,
            "The request body must be JSON (Content-Type: application/json)",
        ));
    }
    let body = data
        .open(ByteUnit::from(limit))
        .into_bytes()
        .await
        .map_err(|_| ApiError::bad_request("The request body could not be read"))?;
    if !body.is_complete() {
        return Err(ApiError::new(
            Status::PayloadTooLarge,
            format!("The request body is too large (at most {limit} bytes)"),
        ));
    }
    serde_json::from_slice(&body.value).map_err(|err| ApiError::bad_request(describe(&err)))
}

/// Says what is wrong with a body in our own words: serde's messages echo
/// the client's input and name our Rust types.
fn describe(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", err.line(), err.column());
    match err.classify() {
        Category::Data => format!(
            "The JSON body has the wrong shape ({at}): expected an object with the documented keys, each a string"
        ),
        Category::Eof => "The request body is not valid JSON: it ends too early".to_owned(),
        Category::Syntax | Category::Io => format!("The request body is not valid JSON ({at})"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use crate::types::RegisterRequest;

    fn message(body: &str) -> String {
        match serde_json::from_str::<RegisterRequest>(body) {
            Ok(_) => String::new(),
            Err(err) => describe(&err),
        }
    }

    #[test]
    fn errors_do_not_echo_the_body_or_name_our_types() {
        let wrong_shape = message(r#""my secret text""#);
        assert!(
            wrong_shape.contains("JSON body has the wrong shape"),
            "{wrong_shape}"
        );
        assert!(!wrong_shape.contains("secret") && !wrong_shape.contains("RegisterRequest"));
        assert!(message("{\"username\": ").contains("ends too early"));
        let syntax = message("{nope}");
        assert!(
            syntax.contains("not valid JSON (line 1, column 2)"),
            "{syntax}"
        );
    }
}

/// Properties of the JSON error texts over random bodies: they never echo
/// what the client sent, and never name our types.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::describe;
    use crate::types::{FollowRequest, PostMessageRequest, RegisterRequest};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn error_texts_do_not_echo_the_body(
            secret in "[a-z]{12}",
            shape in 0usize..6,
        ) {
            let body = match shape {
                0 => format!("{{\"username\": {secret}}}"),
                1 => format!("\"{secret}\""),
                2 => format!("{{\"content\": [\"{secret}\"]}}"),
                3 => format!("{{\"follow\": {{\"{secret}\": 1}}}}"),
                4 => format!("{secret}{{"),
                _ => format!("{{\"pwd\": \"{secret}"),
            };
            let errors = [
                serde_json::from_str::<RegisterRequest>(&body).err(),
                serde_json::from_str::<PostMessageRequest>(&body).err(),
                serde_json::from_str::<FollowRequest>(&body).err(),
            ];
            for err in errors.iter().flatten() {
                let text = describe(err);
                prop_assert!(!text.contains(&secret), "{text}");
                prop_assert!(!text.contains("Request"), "{text}");
            }
        }
    }
}
