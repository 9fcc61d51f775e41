//! The OpenAPI document: it parses as OpenAPI 3.1, it lists exactly the
//! API's routes, and the answers of a replayed scenario (and of requests
//! that go wrong in every documented way) have a status, content type and
//! body that it declares for their operation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Answer, Api, Auth, encode};
use minitwit_sim_api::scenario::{ActionKind, GeneratorConfig, generate};
use rocket::http::{ContentType, Method};
use serde_json::{Value, json};

async fn document(api: &Api) -> Value {
    let answer = api
        .send(Method::Get, "/openapi.json", Auth::Missing, None, None)
        .await;
    assert_eq!(answer.status.code, 200);
    assert_eq!(answer.content_type, Some(ContentType::JSON));
    answer.json()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_the_prefix_as_server() {
    for prefix in ["/api", "/v2", "/"] {
        let api = Api::new(prefix).await;
        let doc = document(&api).await;
        let parsed = oas3::from_json(doc.to_string()).expect("a valid OpenAPI 3.1 document");
        assert!(parsed.openapi.starts_with("3.1"), "{}", parsed.openapi);
        assert_eq!(doc["servers"][0]["url"], prefix);
        let basic = &doc["components"]["securitySchemes"]["basic"];
        assert_eq!(basic["type"], "http");
        assert_eq!(basic["scheme"], "basic");
    }
}

/// Rocket's `<name>` path segments as OpenAPI's `{name}`.
fn openapi_path(rocket_path: &str) -> String {
    rocket_path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                Some(name) => format!("{{{name}}}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_is_an_operation_and_every_operation_a_route() {
    let api = Api::new("/api").await;
    let routes: BTreeSet<(String, String)> = api
        .client
        .rocket()
        .routes()
        // Named routes are the endpoints; the unnamed ones answer `405`.
        .filter(|route| route.uri.base() == "/api" && route.name.is_some())
        .map(|route| {
            let path = route.uri.path().trim_start_matches("/api").to_owned();
            (route.method.as_str().to_lowercase(), openapi_path(&path))
        })
        .collect();
    let doc = document(&api).await;
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(
        routes, operations,
        "the routes and the document's operations differ"
    );
    assert_eq!(operations.len(), 8);
}

#[tokio::test]
async fn other_methods_on_an_apis_path_are_405_with_allow() {
    let api = Api::new("/api").await;
    for (method, path, allow) in [
        (Method::Delete, "/msgs/ann", "GET, POST, HEAD"),
        (Method::Put, "/register", "POST"),
        (Method::Post, "/latest", "GET, HEAD"),
        (Method::Trace, "/latest", "GET, HEAD"),
    ] {
        let mut request = api.client.req(method, api.uri(path));
        request.add_header(rocket::http::Header::new("Authorization", common::AUTH));
        let response = request.dispatch().await;
        assert_eq!(response.status().code, 405, "{method} {path}");
        assert_eq!(
            response.headers().get_one("Allow"),
            Some(allow),
            "{method} {path}"
        );
        let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
        assert_eq!(body["status"], 405);
    }
}

/// `schema` with every `$ref` into the document resolvable: the
/// document's components travel with it.
fn standalone(schema: &Value, doc: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(object) = schema.as_object_mut() {
        object.insert("components".into(), doc["components"].clone());
    }
    schema
}

/// Checks one answer against what the document declares for `method`
/// `template`: a declared status (or `default`), the declared content type,
/// and a body valid under the declared schema.
fn check(doc: &Value, method: &str, template: &str, answer: &Answer) {
    let operation = &doc["paths"][template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let status = answer.status.code.to_string();
    let response = match &operation["responses"][&status] {
        Value::Null => &operation["responses"]["default"],
        declared => declared,
    };
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not declare"
    );
    match response["content"].as_object() {
        None => assert!(
            answer.body.is_empty(),
            "{method} {template} {status}: a body where none is declared: {}",
            answer.body
        ),
        Some(content) => {
            let (media, declared) = content.iter().next().unwrap();
            let got = answer.content_type.as_ref().map(ToString::to_string);
            assert!(
                got.as_deref()
                    .is_some_and(|got| got.starts_with(media.as_str())),
                "{method} {template} {status}: content type {got:?}, declared {media}"
            );
            let schema = standalone(&declared["schema"], doc);
            let validator = jsonschema::validator_for(&schema).unwrap();
            let body = answer.json();
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|err| err.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {template} {status}: the body does not match its schema: {errors:?}\n{body}"
            );
        }
    }
}

/// A request that goes wrong: method, documented path, path sent,
/// credential, content type, body.
type WrongRequest<'a> = (
    Method,
    &'a str,
    &'a str,
    Auth,
    Option<ContentType>,
    Option<&'a str>,
);

#[tokio::test]
async fn a_replay_answers_as_the_document_declares() {
    let api = Api::new("/api").await;
    let doc = document(&api).await;
    let actions = generate(GeneratorConfig {
        users: 40,
        actions: 600,
        seed: 5,
    });
    let mut checked = BTreeSet::new();
    for action in &actions {
        let latest = action.id;
        let (template, path, body) = match &action.kind {
            ActionKind::Register {
                username,
                email,
                password,
            } => (
                "/register",
                "/register".to_owned(),
                json!({"username": username, "email": email, "pwd": password}),
            ),
            ActionKind::Tweet { username, text } => (
                "/msgs/{username}",
                format!("/msgs/{}", encode(username)),
                json!({ "content": text }),
            ),
            ActionKind::Follow { username, target } => (
                "/fllws/{username}",
                format!("/fllws/{}", encode(username)),
                json!({ "follow": target }),
            ),
            ActionKind::Unfollow { username, target } => (
                "/fllws/{username}",
                format!("/fllws/{}", encode(username)),
                json!({ "unfollow": target }),
            ),
        };
        let answer = api
            .post(&format!("{path}?latest={latest}"), &body.to_string())
            .await;
        check(&doc, "post", template, &answer);
        checked.insert(("post", template, answer.status.code));
        let name = encode(action.kind.username());
        for (template, path) in [
            ("/msgs", "/msgs?no=5".to_owned()),
            ("/msgs/{username}", format!("/msgs/{name}?no=3")),
            ("/fllws/{username}", format!("/fllws/{name}")),
        ] {
            let answer = api.get(&path).await;
            check(&doc, "get", template, &answer);
            checked.insert(("get", template, answer.status.code));
        }
    }
    let answer = api
        .send(Method::Get, "/latest", Auth::Missing, None, None)
        .await;
    check(&doc, "get", "/latest", &answer);
    // What goes wrong, as the document says it does.
    let wrong: [WrongRequest<'_>; 9] = [
        (
            Method::Get,
            "/msgs",
            "/msgs?no=many",
            Auth::Right,
            None,
            None,
        ),
        (
            Method::Get,
            "/msgs",
            "/msgs?latest=x",
            Auth::Right,
            None,
            None,
        ),
        (Method::Get, "/msgs", "/msgs", Auth::Wrong, None, None),
        (
            Method::Get,
            "/msgs/{username}",
            "/msgs/nobody%20here",
            Auth::Right,
            None,
            None,
        ),
        (
            Method::Post,
            "/register",
            "/register",
            Auth::Right,
            Some(ContentType::JSON),
            Some("{"),
        ),
        (
            Method::Post,
            "/register",
            "/register",
            Auth::Right,
            Some(ContentType::Text),
            Some("{}"),
        ),
        (
            Method::Post,
            "/msgs/{username}",
            "/msgs/x",
            Auth::Missing,
            Some(ContentType::JSON),
            Some("{}"),
        ),
        (
            Method::Post,
            "/fllws/{username}",
            "/fllws/x",
            Auth::Right,
            Some(ContentType::JSON),
            Some("{}"),
        ),
        (
            Method::Post,
            "/msgs/{username}",
            "/msgs/x",
            Auth::Right,
            Some(ContentType::JSON),
            Some(&"x".repeat(200_000)),
        ),
    ];
    for (method, template, path, auth, content_type, body) in wrong {
        let answer = api.send(method, path, auth, content_type, body).await;
        let method = method.as_str().to_lowercase();
        check(&doc, &method, template, &answer);
        checked.insert((
            if method == "get" { "get" } else { "post" },
            template,
            answer.status.code,
        ));
    }
    let statuses: BTreeSet<u16> = checked.iter().map(|(_, _, status)| *status).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 204, 400, 403, 404, 413, 415]),
        "the replay should meet every kind of answer"
    );
}
