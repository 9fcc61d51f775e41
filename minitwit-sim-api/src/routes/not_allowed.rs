//! `405 Method Not Allowed`, with an `Allow` header, for a method an API
//! path does not serve (an unknown path stays a `404`).

use std::collections::BTreeMap;

use rocket::http::{Method, Status};
use rocket::response::Responder;
use rocket::route::{self, Handler};
use rocket::{Data, Request, Route};

use crate::errors::ApiError;

/// Below every endpoint: a request only gets here when no endpoint of its
/// path serves its method.
const RANK: isize = 100;

/// The methods a `405` route is made for. `HEAD` is left out: Rocket answers
/// it with the `GET` route.
const METHODS: [Method; 7] = [
    Method::Get,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Patch,
    Method::Options,
    Method::Trace,
];

/// Answers `405` naming the methods that are allowed.
#[derive(Clone)]
struct NotAllowed {
    allow: String,
}

#[rocket::async_trait]
impl Handler for NotAllowed {
    async fn handle<'r>(&self, req: &'r Request<'_>, _: Data<'r>) -> route::Outcome<'r> {
        let error = ApiError::new(
            Status::MethodNotAllowed,
            format!(
                "The method is not allowed for this resource (allowed: {})",
                self.allow
            ),
        );
        match error.respond_to(req) {
            Ok(mut response) => {
                response.set_raw_header("Allow", self.allow.clone());
                route::Outcome::Success(response)
            }
            Err(status) => route::Outcome::Error(status),
        }
    }
}

/// The `405` routes for the paths of `endpoints`.
pub(super) fn routes(endpoints: &[Route]) -> Vec<Route> {
    let mut served: BTreeMap<String, Vec<Method>> = BTreeMap::new();
    for route in endpoints {
        served
            .entry(route.uri.path().to_owned())
            .or_default()
            .push(route.method);
    }
    let mut routes = Vec::new();
    for (path, methods) in served {
        let mut allow: Vec<&str> = methods.iter().map(|method| method.as_str()).collect();
        if methods.contains(&Method::Get) {
            allow.push("HEAD");
        }
        let handler = NotAllowed {
            allow: allow.join(", "),
        };
        for method in METHODS
            .into_iter()
            .filter(|method| !methods.contains(method))
        {
            routes.push(Route::ranked(RANK, method, &path, handler.clone()));
        }
    }
    routes
}
