//! Helpers shared by the API's integration tests: a Rocket with the API
//! staged over a fresh `MemoryStore`, and a small wrapper around Rocket's
//! asynchronous local client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use minitwit_core::{HashCost, MemoryStore, MiniTwit, Store};
use minitwit_sim_api::{ApiConfig, stage};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::{Build, Rocket};
use serde_json::Value;

/// The simulator's `Authorization` header value.
pub const AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";
/// The text of every `403`.
pub const FORBIDDEN: &str = "You are not authorized to use this resource!";

/// A quiet Rocket configuration for tests.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::debug_default()).merge(("log_level", "off"))
}

/// The service over `store`, with the cheapest password hashing.
pub fn service(store: Arc<dyn Store>) -> MiniTwit {
    MiniTwit::builder(store)
        .hash_cost(HashCost::INSECURE_MINIMUM)
        .build()
        .expect("service")
}

/// A Rocket with only the API, configured by `config`, over a fresh store.
pub fn rocket_with(config: ApiConfig) -> Rocket<Build> {
    rocket::custom(figment()).attach(stage(service(Arc::new(MemoryStore::new())), config))
}

/// Percent-encodes `raw` as one path segment (everything but unreserved
/// characters).
pub fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Which `Authorization` header a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// None at all.
    Missing,
    /// A wrong credential.
    Wrong,
    /// The simulator's.
    Right,
}

/// One answer, read completely.
#[derive(Debug)]
pub struct Answer {
    pub status: Status,
    pub content_type: Option<ContentType>,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?} {}", self.status, self.body))
    }

    /// Asserts a `204` with an empty body.
    #[track_caller]
    pub fn assert_no_content(&self) {
        assert_eq!(self.status, Status::NoContent, "body: {}", self.body);
        assert!(self.body.is_empty(), "body: {}", self.body);
    }

    /// Asserts the API's JSON error with `status` and returns its text.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> String {
        assert_eq!(self.status.code, status, "body: {}", self.body);
        assert_eq!(
            self.content_type,
            Some(ContentType::JSON),
            "body: {}",
            self.body
        );
        let json = self.json();
        let object = json.as_object().expect("an object");
        assert_eq!(object.len(), 2, "{json}");
        assert_eq!(json["status"], status, "{json}");
        json["error_msg"]
            .as_str()
            .expect("error_msg is a string")
            .to_owned()
    }

    /// Asserts the API's JSON error with `status` and text `message`.
    #[track_caller]
    pub fn assert_error_msg(&self, status: u16, message: &str) {
        assert_eq!(self.assert_error(status), message);
    }
}

/// The API of one Rocket, mounted at `prefix`.
pub struct Api {
    pub client: Client,
    pub prefix: String,
}

impl Api {
    /// The API at `prefix` with the default configuration.
    pub async fn new(prefix: &str) -> Self {
        Self::with_config(ApiConfig::default().with_prefix(prefix)).await
    }

    /// The API with `config`.
    pub async fn with_config(config: ApiConfig) -> Self {
        Self::from_rocket(config.prefix.clone(), rocket_with(config)).await
    }

    /// The API of `rocket`, mounted at `prefix`.
    pub async fn from_rocket(prefix: String, rocket: Rocket<Build>) -> Self {
        let client = Client::tracked(rocket).await.expect("a valid rocket");
        Self { client, prefix }
    }

    /// `path` (which starts with `/`) under the prefix.
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.prefix.trim_end_matches('/'))
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        content_type: Option<ContentType>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = self.client.req(method, self.uri(path));
        match auth {
            Auth::Missing => {}
            Auth::Wrong => {
                request.add_header(Header::new("Authorization", "Basic d3Jvbmc6d3Jvbmc="))
            }
            Auth::Right => request.add_header(Header::new("Authorization", AUTH)),
        }
        if let Some(content_type) = content_type {
            request.add_header(content_type);
        }
        if let Some(body) = body {
            request.set_body(body);
        }
        let response = request.dispatch().await;
        let status = response.status();
        let content_type = response.content_type();
        let body = response.into_string().await.unwrap_or_default();
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// An authorized `GET`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::Get, path, Auth::Right, None, None).await
    }

    /// An authorized `POST` of a JSON body.
    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.send(
            Method::Post,
            path,
            Auth::Right,
            Some(ContentType::JSON),
            Some(body),
        )
        .await
    }

    /// `GET /latest`.
    pub async fn latest(&self) -> i64 {
        let answer = self
            .send(Method::Get, "/latest", Auth::Missing, None, None)
            .await;
        assert_eq!(answer.status, Status::Ok, "{}", answer.body);
        answer.json()["latest"].as_i64().expect("an integer latest")
    }

    /// Registers `name` (password `pw-<name>`) and asserts the `204`.
    pub async fn register(&self, name: &str) {
        let body = serde_json::json!({
            "username": name,
            "email": format!("{}@example.org", encode(name)),
            "pwd": format!("pw-{name}"),
        });
        self.post("/register", &body.to_string())
            .await
            .assert_no_content();
    }

    /// Posts `text` as `name` and asserts the `204`.
    pub async fn tweet(&self, name: &str, text: &str) {
        let body = serde_json::json!({ "content": text });
        self.post(&format!("/msgs/{}", encode(name)), &body.to_string())
            .await
            .assert_no_content();
    }

    /// Makes `name` follow (`"follow"`) or unfollow (`"unfollow"`) `target`.
    pub async fn change_follow(&self, name: &str, key: &str, target: &str) -> Answer {
        let body = serde_json::json!({ key: target });
        self.post(&format!("/fllws/{}", encode(name)), &body.to_string())
            .await
    }

    /// Whom `name` follows, asserting a `200`.
    pub async fn follows(&self, name: &str) -> Vec<String> {
        let answer = self.get(&format!("/fllws/{}", encode(name))).await;
        assert_eq!(answer.status, Status::Ok, "{}", answer.body);
        let json = answer.json();
        assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
        serde_json::from_value(json["follows"].clone()).expect("a list of names")
    }

    /// The messages at `path`, asserting a `200` and the message shape.
    pub async fn messages(&self, path: &str) -> Vec<(String, String)> {
        let answer = self.get(path).await;
        assert_eq!(answer.status, Status::Ok, "{}", answer.body);
        assert_eq!(answer.content_type, Some(ContentType::JSON));
        let json = answer.json();
        json.as_array()
            .expect("a list")
            .iter()
            .map(|message| {
                let object = message.as_object().expect("an object");
                let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
                keys.sort_unstable();
                assert_eq!(keys, ["content", "pub_date", "user"], "{message}");
                assert!(message["pub_date"].is_i64(), "{message}");
                (
                    message["user"].as_str().expect("user").to_owned(),
                    message["content"].as_str().expect("content").to_owned(),
                )
            })
            .collect()
    }
}
