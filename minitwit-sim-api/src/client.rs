//! [`SimClient`]: a typed async client of the simulator API (feature
//! `client`).
//!
//! ```no_run
//! use minitwit_sim_api::client::{ClientError, SimClient};
//!
//! # async fn run() -> Result<(), ClientError> {
//! let client = SimClient::builder("http://127.0.0.1:8000/api")
//!     .timeout(std::time::Duration::from_millis(300))
//!     .one_connection_per_request(true)
//!     .build()?;
//! client.register("Roger Histand", "roger@example.org", "secret", Some(1)).await?;
//! client.post_message("Roger Histand", "Hello!", Some(2)).await?;
//! let messages = client.user_messages("Roger Histand", Some(10), None).await?;
//! assert_eq!(messages[0].content, "Hello!");
//! assert_eq!(client.latest().await?, 2);
//!
//! // An answer that is not a success is an `Api` error with the server's text.
//! match client.follow("Roger Histand", "nobody", Some(3)).await {
//!     Err(ClientError::Api { status: 404, error_msg }) => println!("{error_msg}"),
//!     other => println!("unexpected: {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{DEFAULT_PASSWORD, DEFAULT_USERNAME, basic_authorization};
use crate::types::{
    ErrorJson, FollowRequest, FollowsJson, LatestJson, MessageJson, PostMessageRequest,
    RegisterRequest,
};

/// The request timeout when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything a [`SimClient`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a status that is not a success.
    #[error("the API answered {status}: {error_msg}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's `error_msg` (or the start of the body, when it was
        /// not the API's JSON error).
        error_msg: String,
    },
    /// No answer within the configured timeout.
    #[error("the request timed out")]
    Timeout,
    /// The request could not be sent or its answer not read (connection
    /// refused, reset, ...).
    #[error("the request failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success status other than the endpoint's (`204` for a write, `200`
    /// for a read), which the simulator counts as a failure too.
    #[error("the API answered {status} where another success was expected")]
    UnexpectedStatus {
        /// The HTTP status code.
        status: u16,
    },
    /// A success answer whose body is not what the endpoint returns.
    #[error("the answer could not be decoded: {0}")]
    Decode(#[source] serde_json::Error),
    /// The base URL is unusable, or a username cannot be put in a URL path
    /// (`.` and `..` cannot).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
}

impl ClientError {
    /// The HTTP status the server answered with, for an
    /// [`Api`](Self::Api) or [`UnexpectedStatus`](Self::UnexpectedStatus)
    /// error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::UnexpectedStatus { status } => Some(*status),
            _ => None,
        }
    }

    fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout
        } else {
            Self::Transport(err)
        }
    }
}

/// Builds a [`SimClient`]; start with [`SimClient::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SimClientBuilder {
    base_url: String,
    authorization: Option<String>,
    timeout: Duration,
    one_connection_per_request: bool,
}

impl SimClientBuilder {
    /// Authenticates with `username` and `password` (default: the
    /// simulator's, `simulator` / `super_safe!`).
    pub fn credential(mut self, username: &str, password: &str) -> Self {
        self.authorization = Some(basic_authorization(username, password));
        self
    }

    /// Sends no `Authorization` header at all.
    pub fn without_credential(mut self) -> Self {
        self.authorization = None;
        self
    }

    /// How long one request may take, from connecting to the end of the
    /// answer (default [`DEFAULT_TIMEOUT`]; the simulator uses 0.3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When `true`, every request goes on a new connection and carries
    /// `Connection: close`, as the simulator's do. By default connections
    /// are kept alive and reused.
    pub fn one_connection_per_request(mut self, yes: bool) -> Self {
        self.one_connection_per_request = yes;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] when the base URL is not an `http` or
    /// `https` URL without query and fragment; [`ClientError::Transport`]
    /// when the HTTP client cannot be set up.
    pub fn build(self) -> Result<SimClient, ClientError> {
        let base = Url::parse(&self.base_url)
            .map_err(|err| ClientError::InvalidUrl(format!("{}: {err}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https")
            || base.cannot_be_a_base()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(ClientError::InvalidUrl(format!(
                "{}: expected http(s)://host[:port][/prefix]",
                self.base_url
            )));
        }
        let authorization = self
            .authorization
            .map(|value| HeaderValue::from_str(&value))
            .transpose()
            .map_err(|_| ClientError::InvalidUrl("the credential is not a valid header".into()))?;
        let mut http = reqwest::Client::builder().timeout(self.timeout);
        if self.one_connection_per_request {
            http = http.pool_max_idle_per_host(0);
        }
        Ok(SimClient {
            http: http.build().map_err(ClientError::Transport)?,
            base,
            authorization,
            close: self.one_connection_per_request,
        })
    }
}

/// A typed client of the simulator API.
///
/// Every call but [`latest`](Self::latest) takes the `latest` action id to
/// send along (`None` sends none). Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct SimClient {
    http: reqwest::Client,
    base: Url,
    authorization: Option<HeaderValue>,
    close: bool,
}

impl SimClient {
    /// A client of the API at `base_url` (prefix included, e.g.
    /// `http://127.0.0.1:8000/api`), with every default.
    ///
    /// # Errors
    /// As [`SimClientBuilder::build`].
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::builder(base_url).build()
    }

    /// Starts configuring a client of the API at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> SimClientBuilder {
        SimClientBuilder {
            base_url: base_url.into(),
            authorization: Some(basic_authorization(DEFAULT_USERNAME, DEFAULT_PASSWORD)),
            timeout: DEFAULT_TIMEOUT,
            one_connection_per_request: false,
        }
    }

    /// The base URL requests are sent under.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /latest`: the last recorded action id, `-1` when none.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn latest(&self) -> Result<i64, ClientError> {
        let url = self.url(&["latest"], None, None)?;
        let answer: LatestJson = self.get(url).await?;
        Ok(answer.latest)
    }

    /// `POST /register`.
    ///
    /// # Errors
    /// `Api { status: 400, .. }` for a validation error or a taken name; see
    /// [`ClientError`].
    pub async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
        latest: Option<i64>,
    ) -> Result<(), ClientError> {
        let body = RegisterRequest {
            username: Some(username.to_owned()),
            email: Some(email.to_owned()),
            pwd: Some(password.to_owned()),
        };
        self.post(self.url(&["register"], None, latest)?, &body)
            .await
    }

    /// `GET /msgs`: up to `no` messages of everyone, newest first (`None`:
    /// the server's default, 100).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn messages(
        &self,
        no: Option<usize>,
        latest: Option<i64>,
    ) -> Result<Vec<MessageJson>, ClientError> {
        self.get(self.url(&["msgs"], no, latest)?).await
    }

    /// `GET /msgs/{username}`: up to `no` messages of one user, newest first.
    ///
    /// # Errors
    /// `Api { status: 404, .. }` for an unknown user; see [`ClientError`].
    pub async fn user_messages(
        &self,
        username: &str,
        no: Option<usize>,
        latest: Option<i64>,
    ) -> Result<Vec<MessageJson>, ClientError> {
        self.get(self.url(&["msgs", username], no, latest)?).await
    }

    /// `POST /msgs/{username}`: posts `content` as `username`.
    ///
    /// # Errors
    /// `Api { status: 404, .. }` for an unknown user, `400` for an empty
    /// message; see [`ClientError`].
    pub async fn post_message(
        &self,
        username: &str,
        content: &str,
        latest: Option<i64>,
    ) -> Result<(), ClientError> {
        let body = PostMessageRequest {
            content: Some(content.to_owned()),
        };
        self.post(self.url(&["msgs", username], None, latest)?, &body)
            .await
    }

    /// `GET /fllws/{username}`: up to `no` names of whom `username` follows.
    ///
    /// # Errors
    /// `Api { status: 404, .. }` for an unknown user; see [`ClientError`].
    pub async fn follows(
        &self,
        username: &str,
        no: Option<usize>,
        latest: Option<i64>,
    ) -> Result<Vec<String>, ClientError> {
        let answer: FollowsJson = self
            .get(self.url(&["fllws", username], no, latest)?)
            .await?;
        Ok(answer.follows)
    }

    /// `POST /fllws/{username}` with `{"follow": target}`.
    ///
    /// # Errors
    /// `Api { status: 404, .. }` for an unknown user or target, `400` for
    /// oneself; see [`ClientError`].
    pub async fn follow(
        &self,
        username: &str,
        target: &str,
        latest: Option<i64>,
    ) -> Result<(), ClientError> {
        let body = FollowRequest {
            follow: Some(target.to_owned()),
            unfollow: None,
        };
        self.post(self.url(&["fllws", username], None, latest)?, &body)
            .await
    }

    /// `POST /fllws/{username}` with `{"unfollow": target}`.
    ///
    /// # Errors
    /// `Api { status: 404, .. }` for an unknown user or target; see
    /// [`ClientError`].
    pub async fn unfollow(
        &self,
        username: &str,
        target: &str,
        latest: Option<i64>,
    ) -> Result<(), ClientError> {
        let body = FollowRequest {
            follow: None,
            unfollow: Some(target.to_owned()),
        };
        self.post(self.url(&["fllws", username], None, latest)?, &body)
            .await
    }

    /// The URL of `segments` under the base, each percent-encoded as one
    /// path segment, with the query parameters that are given.
    fn url(
        &self,
        segments: &[&str],
        no: Option<usize>,
        latest: Option<i64>,
    ) -> Result<Url, ClientError> {
        if let Some(dots) = segments.iter().find(|s| matches!(**s, "." | "..")) {
            return Err(ClientError::InvalidUrl(format!(
                "{dots:?} cannot be a path segment"
            )));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::InvalidUrl(self.base.to_string()))?
            .pop_if_empty()
            .extend(segments);
        if no.is_some() || latest.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(no) = no {
                query.append_pair("no", &no.to_string());
            }
            if let Some(latest) = latest {
                query.append_pair("latest", &latest.to_string());
            }
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, url);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if self.close {
            request = request.header(CONNECTION, "close");
        }
        request
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        let response = self
            .send(self.request(Method::GET, url), StatusCode::OK)
            .await?;
        let body = response.bytes().await.map_err(ClientError::from_reqwest)?;
        serde_json::from_slice(&body).map_err(ClientError::Decode)
    }

    async fn post<B: Serialize>(&self, url: Url, body: &B) -> Result<(), ClientError> {
        let body = serde_json::to_vec(body).map_err(ClientError::Decode)?;
        let request = self
            .request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        // Reading the (empty) body to its end lets the connection be reused.
        let response = self.send(request, StatusCode::NO_CONTENT).await?;
        response.bytes().await.map_err(ClientError::from_reqwest)?;
        Ok(())
    }

    /// Sends `request`; a status that is not a success becomes
    /// [`ClientError::Api`], a success other than `expected`
    /// [`ClientError::UnexpectedStatus`].
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(ClientError::from_reqwest)?;
        let status = response.status();
        if status == expected {
            return Ok(response);
        }
        if status.is_success() {
            return Err(ClientError::UnexpectedStatus {
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(ClientError::from_reqwest)?;
        let error_msg = match serde_json::from_slice::<ErrorJson>(&body) {
            Ok(error) => error.error_msg,
            Err(_) => String::from_utf8_lossy(&body).chars().take(200).collect(),
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            error_msg,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn client(base: &str) -> SimClient {
        SimClient::new(base).unwrap()
    }

    #[test]
    fn names_become_one_encoded_segment() {
        let client = client("http://127.0.0.1:8000/api");
        let url = client.url(&["msgs", "Roger Histand"], None, None).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8000/api/msgs/Roger%20Histand"
        );
        let url = client.url(&["fllws", "a/b?c#d%e"], None, None).unwrap();
        assert_eq!(url.path(), "/api/fllws/a%2Fb%3Fc%23d%25e");
        let url = client.url(&["msgs", "Zoë 日本"], None, None).unwrap();
        assert_eq!(url.path(), "/api/msgs/Zo%C3%AB%20%E6%97%A5%E6%9C%AC");
    }

    #[test]
    fn dot_names_are_refused_not_normalized_away() {
        let client = client("http://127.0.0.1:8000/api");
        assert!(matches!(
            client.url(&["msgs", ".."], None, None),
            Err(ClientError::InvalidUrl(_))
        ));
    }

    #[test]
    fn queries_only_when_given() {
        let client = client("http://127.0.0.1:8000/api/");
        assert_eq!(
            client.url(&["latest"], None, None).unwrap().as_str(),
            "http://127.0.0.1:8000/api/latest"
        );
        assert_eq!(
            client.url(&["msgs"], Some(5), Some(-1)).unwrap().as_str(),
            "http://127.0.0.1:8000/api/msgs?no=5&latest=-1"
        );
        let root = self::client("http://127.0.0.1:8001");
        assert_eq!(
            root.url(&["register"], None, Some(7)).unwrap().as_str(),
            "http://127.0.0.1:8001/register?latest=7"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for base in [
            "",
            "127.0.0.1:8000",
            "ftp://x/api",
            "http://x/api?y=1",
            "mailto:a@b",
        ] {
            assert!(
                matches!(SimClient::new(base), Err(ClientError::InvalidUrl(_))),
                "{base}"
            );
        }
    }
}
