//! The JSON bodies of the API, shared by the server and the
//! [client](crate::client).

use minitwit_core::Message;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /register`.
///
/// Every field is optional in Rust so that a missing one gets the
/// validation text of the core (`You have to enter a username`, ...) rather
/// than a parse error; the OpenAPI document marks them required, since a
/// request without one is refused. Other keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// The wanted username: 1 to 100 characters, no control or invisible
    /// characters, not a page of the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 100)]
    pub username: Option<String>,
    /// The e-mail address: it must hold `@` (at most 254 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_length = 3, pattern = "@")]
    pub email: Option<String>,
    /// The password (at most 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_length = 1)]
    pub pwd: Option<String>,
}

/// The body of `POST /msgs/{username}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostMessageRequest {
    /// The text of the message, 1 to 10,000 characters; missing or empty is
    /// a `400`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 10000)]
    pub content: Option<String>,
}

/// The body of `POST /fllws/{username}`: exactly one of the two keys (the
/// OpenAPI document says so with a `oneOf`). Other keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FollowRequest {
    /// The user to follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub follow: Option<String>,
    /// The user to stop following.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unfollow: Option<String>,
}

/// A message as `GET /msgs` and `GET /msgs/{username}` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageJson {
    /// The text.
    pub content: String,
    /// When it was posted, in seconds since the Unix epoch.
    pub pub_date: i64,
    /// The author's username.
    pub user: String,
}

impl From<&Message> for MessageJson {
    fn from(message: &Message) -> Self {
        Self {
            content: message.text.as_str().to_owned(),
            pub_date: message.pub_date,
            user: message.author.username.as_str().to_owned(),
        }
    }
}

/// The answer of `GET /fllws/{username}`: whom the user follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FollowsJson {
    /// The usernames.
    pub follows: Vec<String>,
}

/// The answer of `GET /latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LatestJson {
    /// The last recorded `latest`, `-1` when none was ever recorded.
    pub latest: i64,
}

/// The body of every answer that is not a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorJson {
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What went wrong, for a person to read.
    pub error_msg: String,
}
