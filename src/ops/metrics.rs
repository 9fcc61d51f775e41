//! `GET /metrics` in Prometheus' text format, through the `metrics` crate
//! and its Prometheus exporter.
//!
//! Most figures are recorded where things happen (each request, each store
//! call, each request for a password hash). The rest are read at each
//! scrape: the store's counts and `latest` (constant time, from counters
//! the stores keep), whether the store answers, the hashing slots' load,
//! sled's group commit, the scheduled backups, and the process (memory,
//! open files, CPU, start time). Histograms are folded into their buckets
//! every few seconds, so their memory stays flat whether or not anybody
//! scrapes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ::metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use anyhow::Context as _;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use minitwit_core::{Caller, HashEvent, HashObserver};
use minitwit_store_sled::SledStore;
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Route, State, get, routes};
use subtle::ConstantTimeEq as _;

use super::Ops;
use crate::backup::schedule::BackupStatus;

/// Latency buckets in seconds: fine below a millisecond, and 0.3 s, the
/// simulator's timeout, among them.
const LATENCY_BUCKETS: [f64; 15] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0,
];

/// How often histograms are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The registry, and the sources read at each scrape.
pub struct Metrics {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    sled: Option<Arc<SledStore>>,
    backups: Option<(Arc<BackupStatus>, Duration)>,
}

impl Metrics {
    /// Installs the process-wide recorder, describes every metric, and
    /// starts the upkeep task on the current runtime.
    ///
    /// # Errors
    /// When a recorder is installed already.
    pub fn install(
        backend: &'static str,
        sled: Option<Arc<SledStore>>,
        backups: Option<(Arc<BackupStatus>, Duration)>,
    ) -> anyhow::Result<Arc<Self>> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .context("invalid histogram buckets")?
            .install_recorder()
            .context("cannot install the metrics recorder")?;
        describe();
        let process = metrics_process::Collector::default();
        process.describe();
        gauge!("minitwit_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Counters that may stay at zero for a long time exist from the
        // start, so that dashboards and alerts find them.
        for operation in super::instrumented::OPERATIONS {
            counter!("minitwit_store_errors_total", "operation" => operation, "backend" => backend)
                .absolute(0);
        }
        for lane in [Caller::SimulatorApi, Caller::Site].map(Caller::as_str) {
            for result in ["admitted", "refused"] {
                counter!("minitwit_password_hashes_total", "lane" => lane, "result" => result)
                    .absolute(0);
            }
        }
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_EVERY);
            loop {
                ticks.tick().await;
                upkeep.run_upkeep();
            }
        });
        Ok(Arc::new(Self {
            handle,
            process,
            sled,
            backups,
        }))
    }

    /// The observer that records every request for a password hash.
    pub fn hash_observer() -> HashObserver {
        Arc::new(|event: HashEvent| {
            let lane = event.caller.as_str();
            let result = if event.refused { "refused" } else { "admitted" };
            counter!("minitwit_password_hashes_total", "lane" => lane, "result" => result)
                .increment(1);
            histogram_seconds("minitwit_password_hash_wait_seconds", lane, event.waited);
        })
    }

    /// Reads the scrape-time figures and renders everything.
    async fn render(&self, ops: &Ops) -> String {
        let up = ops.service.health().await.is_ok();
        gauge!("minitwit_store_up").set(if up { 1.0 } else { 0.0 });
        if let Ok(stats) = ops.service.stats().await {
            gauge!("minitwit_users").set(stats.counts.users as f64);
            gauge!("minitwit_messages").set(stats.counts.messages as f64);
            gauge!("minitwit_follows").set(stats.counts.follows as f64);
            gauge!("minitwit_latest").set(stats.latest as f64);
        }
        for caller in [Caller::SimulatorApi, Caller::Site] {
            let load = ops.service.hash_load(caller);
            let lane = caller.as_str();
            gauge!("minitwit_password_hashes_waiting", "lane" => lane).set(load.waiting as f64);
            gauge!("minitwit_password_hashes_running", "lane" => lane).set(load.running as f64);
        }
        if let Some(sled) = &self.sled {
            let commits = sled.commit_stats();
            counter!("minitwit_sled_flushes_total").absolute(commits.flushes);
            counter!("minitwit_sled_flushed_writes_total").absolute(commits.writes);
        }
        match &self.backups {
            Some((status, every)) => {
                gauge!("minitwit_backup_every_seconds").set(every.as_secs_f64());
                gauge!("minitwit_backup_last_success_timestamp_seconds")
                    .set(status.last_success.load(Ordering::Relaxed) as f64);
                counter!("minitwit_backups_total", "result" => "success")
                    .absolute(status.successes.load(Ordering::Relaxed));
                counter!("minitwit_backups_total", "result" => "failure")
                    .absolute(status.failures.load(Ordering::Relaxed));
            }
            None => gauge!("minitwit_backup_every_seconds").set(0.0),
        }
        self.process.collect();
        self.handle.render()
    }
}

/// Records `value` in the histogram `name` with the `lane` label.
fn histogram_seconds(name: &'static str, lane: &'static str, value: Duration) {
    histogram!(name, "lane" => lane).record(value.as_secs_f64());
}

/// The HELP text of every metric of ours.
fn describe() {
    describe_counter!(
        "minitwit_http_requests_total",
        Unit::Count,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "minitwit_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template"
    );
    describe_histogram!(
        "minitwit_store_operation_duration_seconds",
        Unit::Seconds,
        "Time of a store call, by operation and backend"
    );
    describe_counter!(
        "minitwit_store_errors_total",
        Unit::Count,
        "Store calls that failed, by operation and backend"
    );
    describe_gauge!(
        "minitwit_store_up",
        "1 when the store answered at the last scrape, 0 when it did not"
    );
    describe_counter!(
        "minitwit_sled_flushes_total",
        Unit::Count,
        "Disk syncs of the sled group commit"
    );
    describe_counter!(
        "minitwit_sled_flushed_writes_total",
        Unit::Count,
        "Writes made durable by the sled group commit's syncs"
    );
    describe_gauge!(
        "minitwit_password_hashes_waiting",
        "Requests waiting for a password-hashing slot, by lane (api, site)"
    );
    describe_gauge!(
        "minitwit_password_hashes_running",
        "Password hashes running, by lane (api, site)"
    );
    describe_histogram!(
        "minitwit_password_hash_wait_seconds",
        Unit::Seconds,
        "Time a request waited for a password-hashing slot, by lane"
    );
    describe_counter!(
        "minitwit_password_hashes_total",
        Unit::Count,
        "Requests for a password hash, by lane and result (admitted, refused)"
    );
    describe_gauge!("minitwit_users", "Registered users in the store");
    describe_gauge!("minitwit_messages", "Messages in the store");
    describe_gauge!("minitwit_follows", "Follow edges in the store");
    describe_gauge!(
        "minitwit_latest",
        "The simulator's last recorded latest (-1 before any)"
    );
    describe_gauge!(
        "minitwit_backup_every_seconds",
        Unit::Seconds,
        "Time between scheduled backups (0 without a schedule)"
    );
    describe_gauge!(
        "minitwit_backup_last_success_timestamp_seconds",
        Unit::Seconds,
        "When this instance last wrote a scheduled backup (Unix time, 0 never)"
    );
    describe_counter!(
        "minitwit_backups_total",
        Unit::Count,
        "Scheduled backups this instance attempted, by result"
    );
    describe_counter!(
        "minitwit_rate_limited_total",
        Unit::Count,
        "Requests refused with 429 by a rate limit, by limit"
    );
    describe_gauge!("minitwit_build_info", "Always 1; the version is a label");
}

/// A request allowed to read the metrics: any, unless
/// `MINITWIT_METRICS_TOKEN` is set; then one with `Authorization: Bearer
/// TOKEN`.
struct MetricsAccess;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsAccess {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(ops) = req.rocket().state::<Arc<Ops>>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let Some(token) = &ops.metrics_token else {
            return Outcome::Success(Self);
        };
        let given = req
            .headers()
            .get_one("Authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            Outcome::Success(Self)
        } else {
            Outcome::Error((Status::Unauthorized, ()))
        }
    }
}

#[get("/metrics")]
async fn scrape(_access: MetricsAccess, ops: &State<Arc<Ops>>) -> (ContentType, String) {
    let text = ops.metrics.render(ops).await;
    let content_type =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (content_type, text)
}

pub(super) fn routes() -> Vec<Route> {
    routes![scrape]
}
