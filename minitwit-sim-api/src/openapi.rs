//! The OpenAPI 3.1 document of the API, served at `{prefix}/openapi.json`.
//!
//! It is generated from the code: the schemas from the JSON types
//! (`utoipa::ToSchema`), each operation from the `#[utoipa::path]` beside
//! its handler, and the conventions every operation shares from
//! [`Conventions`] (the Basic credential, the `latest` parameter, the
//! errors any request can meet). The crate's tests check that every route
//! is in it and every operation is a route, and that real answers match the
//! schemas it declares.

use rocket::http::ContentType;
use rocket::{State, get};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, HeaderBuilder, ObjectBuilder, Ref, Required, ResponseBuilder, Server, Type,
};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::state::ApiState;
use crate::types::{
    ErrorJson, FollowRequest, FollowsJson, LatestJson, MessageJson, PostMessageRequest,
    RegisterRequest,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MiniTwit simulator API",
        description = "The JSON API that the MiniTwit simulator drives: register users, post \
            messages, follow and unfollow, read messages and follows, and read back how far the \
            scenario has come (`latest`). Every error is `{\"status\", \"error_msg\"}`."
    ),
    paths(
        routes::latest::latest,
        routes::register::register,
        routes::msgs::public,
        routes::msgs::by_user,
        routes::msgs::post,
        routes::fllws::follows,
        routes::fllws::change,
        document,
    ),
    components(schemas(
        ErrorJson,
        FollowRequest,
        FollowsJson,
        LatestJson,
        MessageJson,
        PostMessageRequest,
        RegisterRequest
    )),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// What every operation shares (see the module docs).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The simulator's credential (by default `simulator` / `super_safe!`)",
                    ))
                    .build(),
            ),
        );
        // "Exactly one of follow and unfollow", which a derived schema
        // cannot say.
        let one_key = |key: &str| {
            ObjectBuilder::new()
                .property("follow", ObjectBuilder::new().schema_type(Type::String))
                .property("unfollow", ObjectBuilder::new().schema_type(Type::String))
                .required(key)
                .description(Some(format!("With `{key}`: a username")))
        };
        components.schemas.insert(
            "FollowRequest".into(),
            OneOfBuilder::new()
                .item(one_key("follow"))
                .item(one_key("unfollow"))
                .description(Some(
                    "Exactly one of `follow` and `unfollow`: whom to follow, or whom to stop \
                     following",
                ))
                .into(),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                add_shared(operation);
            }
        }
    }
}

/// The `latest` parameter, the Basic credential's refusal and the errors
/// any request can meet, on one operation.
fn add_shared(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|security| !security.is_empty());
    let has_body = operation.request_body.is_some();
    if secured {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(latest_parameter().into());
        add_error(
            operation,
            "403",
            "The `Authorization` header is missing or wrong",
        );
    }
    add_error(
        operation,
        "400",
        "A query parameter (`latest`, `no`) is not an integer, or the body is not JSON of the \
         documented shape",
    );
    if has_body {
        add_error(operation, "413", "The body is too large");
        add_error(
            operation,
            "415",
            "The body is not JSON (`Content-Type` other than `application/json`)",
        );
    }
    let busy = error_response("The store cannot be reached, or the server is too busy; try again")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .entry("503".into())
        .or_insert_with(|| busy.into());
    add_error(operation, "default", "Any other error, with the same body");
}

/// A response with the API's error body.
fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorJson"))),
    )
}

/// Adds an error response with the API's error body, unless the operation
/// declares one for `status` already.
fn add_error(operation: &mut Operation, status: &str, description: &str) {
    let response = error_response(description).build();
    operation
        .responses
        .responses
        .entry(status.into())
        .or_insert_with(|| response.into());
}

fn latest_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("latest")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "The id of the scenario action this request belongs to; recorded (last write wins) \
             before the request is answered, whatever its outcome",
        ))
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
            )),
        ))
        .build()
}

/// The document for an API mounted at `prefix`, as JSON.
///
/// # Panics
/// Never in practice: the document is made of plain values.
pub(crate) fn render(prefix: &str) -> String {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(prefix)]);
    doc.to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// This document (OpenAPI 3.1).
///
/// Needs no credential.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "scenario",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)),
)]
#[get("/openapi.json")]
pub(crate) fn document(api: &State<ApiState>) -> (ContentType, String) {
    (ContentType::JSON, api.openapi.clone())
}
