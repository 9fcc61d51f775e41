//! Every request: an id (the client's `X-Request-Id` when it is a sane one,
//! else a new one) returned in `X-Request-Id`, one log line, and its count
//! and latency in the metrics, by route template.
//!
//! The log line holds the id, the method, the route template (never the raw
//! path or the query, which can carry names and `latest`), the status and
//! the latency: no header, cookie or body ever reaches it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram, counter, histogram};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Method};
use rocket::{Data, Request, Response};

/// The header that carries a request's id.
pub const REQUEST_ID: &str = "X-Request-Id";

/// The longest request id taken from a client.
const MAX_ID_LEN: usize = 128;

/// What the fairing keeps about a request between its arrival and answer.
struct Meta {
    id: String,
    started: Instant,
}

/// The fairing (see the module docs).
#[derive(Default)]
pub struct RequestLog {
    handles: MetricHandles,
}

/// The metrics of one route, method and status.
struct Handles {
    requests: Counter,
    duration: Histogram,
}

/// The metric handles met so far, by route template, then method and
/// status: registering them anew for every request (building the labels,
/// hashing them, finding them in the registry) was a measurable share of a
/// request's CPU time. The templates are the mounted routes' and the
/// statuses the ones answered, so the map stays small.
#[derive(Default)]
struct MetricHandles(Mutex<HashMap<String, ByMethodAndStatus>>);

/// One route's [`Handles`].
type ByMethodAndStatus = HashMap<(Method, u16), Handles>;

impl MetricHandles {
    /// Counts one answer and records its latency.
    fn record(&self, route: &str, method: Method, status: u16, latency: Duration) {
        let mut routes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = routes.get(route).and_then(|by| by.get(&(method, status))) {
            found.record(latency);
            return;
        }
        let handles = Handles {
            requests: counter!(
                "minitwit_http_requests_total",
                "method" => method.as_str(),
                "route" => route.to_owned(),
                "status" => status.to_string()
            ),
            duration: histogram!(
                "minitwit_http_request_duration_seconds",
                "method" => method.as_str(),
                "route" => route.to_owned()
            ),
        };
        handles.record(latency);
        routes
            .entry(route.to_owned())
            .or_default()
            .insert((method, status), handles);
    }
}

impl Handles {
    fn record(&self, latency: Duration) {
        self.requests.increment(1);
        self.duration.record(latency.as_secs_f64());
    }
}

/// The client's id when it is short and plain (so it cannot forge log
/// lines), else a fresh random one.
fn request_id(given: Option<&str>) -> String {
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b)) =>
        {
            id.to_owned()
        }
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "MiniTwit request ids, logs and metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let id = request_id(req.headers().get_one(REQUEST_ID));
        req.local_cache(|| Meta {
            id,
            started: Instant::now(),
        });
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let meta = req.local_cache(|| Meta {
            id: request_id(None),
            started: Instant::now(),
        });
        let latency = meta.started.elapsed();
        let route = req.route().map_or("unmatched", |route| route.uri.path());
        let status = res.status().code;
        self.handles.record(route, req.method(), status, latency);
        let method = req.method().as_str();
        tracing::info!(
            target: "minitwit::request",
            request_id = %meta.id,
            method,
            route,
            status,
            latency_ms = latency.as_secs_f64() * 1_000.0,
            "answered"
        );
        res.set_header(Header::new(REQUEST_ID, meta.id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        for kept in [
            "abc-123",
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "a:b/c+d=e",
        ] {
            assert_eq!(request_id(Some(kept)), kept);
        }
        for replaced in ["", "with space", "line\nbreak", "é", &"x".repeat(129)] {
            let id = request_id(Some(replaced));
            assert_eq!(id.len(), 32, "{replaced:?}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(request_id(None), request_id(None));
    }
}

/// Properties of [`request_id`] over random headers: the id answered is
/// always a sane one, a sane id from the client is kept as it is, and any
/// other is replaced by a fresh random one.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn is_sane(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn the_answered_id_is_always_sane(
            given in proptest::option::of(prop_oneof![
                any::<String>(),
                "[A-Za-z0-9._:/+=-]{0,140}",
                "[a-z0-9-]{1,20}[\r\n \"<>{}]{1,2}[a-z]{0,10}",
            ])
        ) {
            let id = request_id(given.as_deref());
            prop_assert!(is_sane(&id), "{id:?}");
            match given.as_deref() {
                Some(given) if is_sane(given) => prop_assert_eq!(id, given),
                _ => {
                    prop_assert_eq!(id.len(), 32);
                    prop_assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                }
            }
        }
    }
}
