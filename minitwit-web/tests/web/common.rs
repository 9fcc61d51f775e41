//! Building a site for a test and talking to it like a browser would.

use std::sync::Arc;

use minitwit_core::{HashCost, MemoryStore, MiniTwit, Store};
use minitwit_web::{WebConfig, stage};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};

/// The fixed time every test message is posted at: 2009-02-13 @ 23:31 UTC.
pub const NOW: i64 = 1_234_567_890;

/// A service over `store` with cheap hashing and a fixed clock.
pub fn service(store: Arc<dyn Store>) -> MiniTwit {
    MiniTwit::builder(store)
        .hash_cost(HashCost::INSECURE_MINIMUM)
        .clock(Arc::new(|| NOW))
        .build()
        .unwrap()
}

/// Rocket's debug defaults, quiet, with no secret key.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::debug_default()).merge(("log_level", "off"))
}

/// A client of a site over `store`, configured by `figment`.
pub async fn client_with(store: Arc<dyn Store>, config: WebConfig, figment: Figment) -> Client {
    let rocket = rocket::custom(figment).attach(stage(service(store), config));
    Client::tracked(rocket).await.unwrap()
}

/// A client of a fresh site, and its store.
pub async fn site() -> (Client, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let client = client_with(store.clone(), WebConfig::default(), figment()).await;
    (client, store)
}

/// `application/x-www-form-urlencoded` for `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// POSTs a form the way a client without browser headers does.
pub async fn post<'c>(client: &'c Client, path: &str, pairs: &[(&str, &str)]) -> LocalResponse<'c> {
    client
        .post(path.to_owned())
        .header(ContentType::Form)
        .body(form(pairs))
        .dispatch()
        .await
}

/// POSTs a form with extra headers.
pub async fn post_with<'c>(
    client: &'c Client,
    path: &str,
    pairs: &[(&str, &str)],
    headers: &[(&'static str, &'static str)],
) -> LocalResponse<'c> {
    let mut request = client
        .post(path.to_owned())
        .header(ContentType::Form)
        .body(form(pairs));
    for (name, value) in headers {
        request = request.header(Header::new(*name, *value));
    }
    request.dispatch().await
}

/// GETs a page with extra headers.
pub async fn get_with<'c>(
    client: &'c Client,
    path: &str,
    headers: &[(&'static str, &'static str)],
) -> LocalResponse<'c> {
    let mut request = client.get(path.to_owned());
    for (name, value) in headers {
        request = request.header(Header::new(*name, *value));
    }
    request.dispatch().await
}

/// GETs a page: its status and body.
pub async fn get(client: &Client, path: &str) -> (Status, String) {
    let response = client.get(path.to_owned()).dispatch().await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

/// Where a redirect points.
pub fn location(response: &LocalResponse<'_>) -> String {
    assert!(
        response.status().class().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    response.headers().get_one("Location").unwrap().to_owned()
}

/// Follows a redirect: the status and body of the page it leads to.
pub async fn follow(client: &Client, response: LocalResponse<'_>) -> (Status, String) {
    let target = location(&response);
    drop(response);
    get(client, &target).await
}

/// Registers through the form; panics unless it succeeds.
pub async fn register(client: &Client, username: &str, email: &str, password: &str) {
    let response = post(
        client,
        "/register",
        &[
            ("username", username),
            ("email", email),
            ("password", password),
            ("password2", password),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login", "registering {username}");
    // Read the flash so it does not show on a later page.
    let (status, _) = follow(client, response).await;
    assert_eq!(status, Status::Ok);
}

/// Signs in through the form; panics unless it succeeds.
pub async fn login(client: &Client, username: &str, password: &str) {
    let response = post(
        client,
        "/login",
        &[("username", username), ("password", password)],
    )
    .await;
    assert_eq!(location(&response), "/", "signing in {username}");
    let (status, _) = follow(client, response).await;
    assert_eq!(status, Status::Ok);
}

/// Registers and signs in.
pub async fn register_and_login(client: &Client, username: &str) {
    register(
        client,
        username,
        &format!("{username}@example.org"),
        "secret",
    )
    .await;
    login(client, username, "secret").await;
}

/// The values of attribute `name` of every `<tag` element, in order.
pub fn attributes<'a>(html: &'a str, tag: &str, name: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let key = format!(" {name}=\"");
    html.split(open.as_str())
        .skip(1)
        .map(|element| {
            let element = element.split('>').next().unwrap_or_default();
            element
                .split_once(key.as_str())
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("", |(value, _)| value)
        })
        .collect()
}

/// The texts of the messages on a timeline page, in order.
pub fn message_texts(html: &str) -> Vec<String> {
    html.split("<span class=\"text\">")
        .skip(1)
        .map(|rest| rest.split("</span>").next().unwrap_or_default().to_owned())
        .collect()
}

/// The "older messages" link of a page, if any.
pub fn older_link(html: &str) -> Option<String> {
    html.split("<a href=\"")
        .skip(1)
        .find(|rest| {
            rest.split('>')
                .next()
                .is_some_and(|tag| tag.contains("rel=\"next\""))
        })
        .and_then(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
}
