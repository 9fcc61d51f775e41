//! The endpoints, one module per area of the contract. Each handler parses
//! (through its guards), makes one call to the core, and renders.

pub(crate) mod fllws;
pub(crate) mod latest;
pub(crate) mod msgs;
mod not_allowed;
pub(crate) mod register;

use rocket::Route;

/// The `{username}` path parameter, in the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct UsernameParam {
    /// The user's name, URL-encoded (it may hold spaces and any Unicode).
    username: String,
}

/// An integer of any size (no `format`), in the OpenAPI document.
fn any_integer() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Integer)
        .build()
}

/// The `no` query parameter, in the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct NoParam {
    /// How many items at most (default 100). A negative number counts as 0,
    /// one above the maximum (10,000 by default) as the maximum, however
    /// large.
    #[param(schema_with = any_integer)]
    no: Option<i64>,
}

/// Every route of the API, relative to its prefix: the endpoints, and for
/// each of their paths a `405` for every other method.
pub(crate) fn routes() -> Vec<Route> {
    let endpoints = [
        latest::routes(),
        register::routes(),
        msgs::routes(),
        fllws::routes(),
        rocket::routes![crate::openapi::document],
    ]
    .concat();
    let refusals = not_allowed::routes(&endpoints);
    [endpoints, refusals].concat()
}
