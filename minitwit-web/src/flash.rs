//! Flash messages: a text for the next page, kept in a private (encrypted
//! and signed) cookie and shown once.
//!
//! The site does not use Rocket's `Flash`: Rocket reads its plain `_flash`
//! cookie with a parser that a crafted value (a multi-byte character where
//! it expects a length) makes panic. A private cookie that does not decrypt,
//! or does not decode, is simply no message; any other cookie is ignored.

use rocket::http::{Cookie, SameSite};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Redirect, Responder};
use rocket::time::Duration;
use serde::Serialize;

use crate::Site;

/// The cookie that carries a flash message.
pub(crate) const FLASH_COOKIE: &str = "minitwit_flash";

/// How long an unread message waits.
const FLASH_MAX_AGE: Duration = Duration::minutes(5);

/// Whether a message reports a success or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FlashKind {
    /// Something was done.
    Success,
    /// Something was refused.
    Error,
}

impl FlashKind {
    fn tag(self) -> char {
        match self {
            Self::Success => 's',
            Self::Error => 'e',
        }
    }
}

/// The message left for this page; reading it removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flashed {
    /// Success or refusal.
    pub(crate) kind: FlashKind,
    /// The text.
    pub(crate) message: String,
}

impl Flashed {
    fn encode(kind: FlashKind, message: &str) -> String {
        format!("{}:{message}", kind.tag())
    }

    fn decode(value: &str) -> Option<Self> {
        let (tag, message) = value.split_once(':')?;
        let kind = match tag {
            "s" => FlashKind::Success,
            "e" => FlashKind::Error,
            _ => return None,
        };
        Some(Self {
            kind,
            message: message.to_owned(),
        })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Flashed {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let cookies = req.cookies();
        let Some(cookie) = cookies.get_private(FLASH_COOKIE) else {
            return Outcome::Forward(rocket::http::Status::Ok);
        };
        cookies.remove_private(FLASH_COOKIE);
        match Flashed::decode(cookie.value()) {
            Some(flashed) => Outcome::Success(flashed),
            None => Outcome::Forward(rocket::http::Status::Ok),
        }
    }
}

/// A redirect that leaves a message for the page it leads to.
#[derive(Debug)]
pub(crate) struct FlashRedirect {
    to: String,
    kind: FlashKind,
    message: String,
}

impl FlashRedirect {
    /// A redirect to `to` that says something was done.
    pub(crate) fn success(to: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            kind: FlashKind::Success,
            message: message.into(),
        }
    }

    /// A redirect to `to` that says something was refused.
    pub(crate) fn error(to: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            kind: FlashKind::Error,
            message: message.into(),
        }
    }
}

impl<'r> Responder<'r, 'static> for FlashRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let secure = req
            .rocket()
            .state::<Site>()
            .is_some_and(|site| site.config.secure_cookies);
        let mut cookie = Cookie::build((FLASH_COOKIE, Flashed::encode(self.kind, &self.message)))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(FLASH_MAX_AGE)
            .build();
        if secure {
            cookie.set_secure(true);
        }
        req.cookies().add_private(cookie);
        Redirect::to(self.to).respond_to(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_no_message() {
        for (kind, message) in [
            (FlashKind::Success, "You are now following \"Zoë: 🦀\""),
            (FlashKind::Error, ""),
        ] {
            let value = Flashed::encode(kind, message);
            assert_eq!(
                Flashed::decode(&value),
                Some(Flashed {
                    kind,
                    message: message.to_owned()
                })
            );
        }
        for garbage in ["", "x", "1:é", "success:hi", "é:é"] {
            assert_eq!(Flashed::decode(garbage), None, "{garbage:?}");
        }
    }
}

/// Properties of the flash cookie's value over random input: every message
/// survives a round trip, and decoding any text never panics and gives back
/// a message only for a value the site could have written.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = FlashKind> {
        prop_oneof![Just(FlashKind::Success), Just(FlashKind::Error)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn every_message_round_trips(kind in kind(), message in any::<String>()) {
            let value = Flashed::encode(kind, &message);
            prop_assert_eq!(Flashed::decode(&value), Some(Flashed { kind, message }));
        }

        #[test]
        fn decoding_any_value_is_safe_and_exact(
            value in prop_oneof![any::<String>(), "[se1é:%]{0,3}.{0,8}", "_?[a-z]:.*"]
        ) {
            match Flashed::decode(&value) {
                Some(flashed) => {
                    prop_assert!(value.starts_with("s:") || value.starts_with("e:"), "{value:?}");
                    prop_assert_eq!(Flashed::encode(flashed.kind, &flashed.message), value);
                }
                None => prop_assert!(!value.starts_with("s:") && !value.starts_with("e:")),
            }
        }
    }
}
