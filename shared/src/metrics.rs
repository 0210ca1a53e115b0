//! Prometheus metrics (the `prometheus-client` crate, maintained by the Prometheus project).
//! Counters are per process (Prometheus sums them over processes); gauges about the store —
//! queue depth, the oldest job's age, comments by status — are read from the store at scrape
//! time, so every process reports the same shared truth. Labels never carry personal data.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::entities::{CommentStatus, JobStatus};
use crate::error::{Error, Result};
use crate::store::{self, comments, delivery};

type Labels = Vec<(&'static str, String)>;

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    deliveries: Family<Labels, Counter>,
    inbox_requests: Family<Labels, Counter>,
    policy_decisions: Family<Labels, Counter>,
    queue_jobs: Family<Labels, Gauge>,
    queue_oldest_seconds: Gauge<f64, AtomicU64>,
    comments: Family<Labels, Gauge>,
    inbox_queue: Family<Labels, Gauge>,
    matrix_leader: Gauge,
    matrix_sync_lag_seconds: Gauge<f64, AtomicU64>,
    last_matrix_sync: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rathaus");
        let deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by outcome (done, retry, failed)",
            deliveries.clone(),
        );
        let inbox_requests = Family::<Labels, Counter>::default();
        registry.register(
            "inbox_requests",
            "Inbox requests by HTTP status",
            inbox_requests.clone(),
        );
        let policy_decisions = Family::<Labels, Counter>::default();
        registry.register(
            "policy_decisions",
            "Comment policy decisions by outcome and rule",
            policy_decisions.clone(),
        );
        let queue_jobs = Family::<Labels, Gauge>::default();
        registry.register(
            "delivery_queue_jobs",
            "Delivery jobs in the store by status",
            queue_jobs.clone(),
        );
        let queue_oldest_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "delivery_queue_oldest_job_age_seconds",
            "Age of the oldest delivery job not yet done (0 when none)",
            queue_oldest_seconds.clone(),
        );
        let comments = Family::<Labels, Gauge>::default();
        registry.register(
            "comments",
            "Comments in the store by status",
            comments.clone(),
        );
        let inbox_queue = Family::<Labels, Gauge>::default();
        registry.register(
            "inbox_queue_activities",
            "Verified inbound activities waiting to be applied (state waiting), and those that failed too often (state stuck, see OPERATIONS.md)",
            inbox_queue.clone(),
        );
        let matrix_leader = Gauge::default();
        registry.register(
            "matrix_sync_leader",
            "1 while this process runs the Matrix sync loop",
            matrix_leader.clone(),
        );
        let matrix_sync_lag_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "matrix_sync_lag_seconds",
            "Seconds since this process's last completed Matrix sync (-1 when it does not sync)",
            matrix_sync_lag_seconds.clone(),
        );
        Self {
            registry,
            deliveries,
            inbox_requests,
            policy_decisions,
            queue_jobs,
            queue_oldest_seconds,
            comments,
            inbox_queue,
            matrix_leader,
            matrix_sync_lag_seconds,
            last_matrix_sync: Mutex::new(None),
        }
    }

    /// One delivery attempt finished: `done`, `retry` or `failed`.
    pub fn delivery(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// One inbox request answered with `status`.
    pub fn inbox(&self, status: u16) {
        self.inbox_requests
            .get_or_create(&vec![("status", status.to_string())])
            .inc();
    }

    /// One policy decision; `rule` is empty when no rule fired.
    pub fn policy(&self, outcome: &'static str, rule: Option<&str>) {
        self.policy_decisions
            .get_or_create(&vec![
                ("outcome", outcome.to_owned()),
                ("rule", rule.unwrap_or_default().to_owned()),
            ])
            .inc();
    }

    /// This process took over (or gave up) the Matrix sync loop.
    pub fn matrix_leader(&self, leading: bool) {
        self.matrix_leader.set(i64::from(leading));
        if !leading && let Ok(mut last) = self.last_matrix_sync.lock() {
            *last = None;
        }
    }

    /// A Matrix sync response was handled.
    pub fn matrix_synced(&self) {
        if let Ok(mut last) = self.last_matrix_sync.lock() {
            *last = Some(Instant::now());
        }
    }

    /// Reads the store gauges and renders everything in the Prometheus text format.
    pub async fn render(&self, db: &impl sea_orm::ConnectionTrait) -> Result<String> {
        let counts = delivery::count_by_status(db).await?;
        for status in [
            JobStatus::Pending,
            JobStatus::InFlight,
            JobStatus::Done,
            JobStatus::Failed,
        ] {
            let n = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.queue_jobs
                .get_or_create(&vec![("status", job_status(status).to_owned())])
                .set(n);
        }
        let age = delivery::oldest_open_job(db).await?.map_or(0.0, |t| {
            (store::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.queue_oldest_seconds.set(age);
        let by_status = comments::status_counts(db).await?;
        for status in [
            CommentStatus::Pending,
            CommentStatus::Published,
            CommentStatus::Rejected,
            CommentStatus::Hidden,
            CommentStatus::Deleted,
        ] {
            let n = by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.comments
                .get_or_create(&vec![("status", status.as_str().to_owned())])
                .set(n);
        }
        let (waiting, stuck) = crate::store::inbox::backlog(db).await?;
        for (state, n) in [("waiting", waiting), ("stuck", stuck)] {
            self.inbox_queue
                .get_or_create(&vec![("state", state.to_owned())])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let lag = self
            .last_matrix_sync
            .lock()
            .ok()
            .and_then(|l| *l)
            .map_or(-1.0, |t| t.elapsed().as_secs_f64());
        self.matrix_sync_lag_seconds.set(lag);
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(out)
    }
}

fn job_status(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Pending => "pending",
        JobStatus::InFlight => "in_flight",
        JobStatus::Done => "done",
        JobStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels() {
        let m = Metrics::new();
        m.delivery("done");
        m.delivery("done");
        m.inbox(401);
        m.policy("hold", Some("personal-data"));
        let mut out = String::new();
        encode(&mut out, &m.registry).expect("encode");
        assert!(
            out.contains("rathaus_deliveries_total{outcome=\"done\"} 2"),
            "{out}"
        );
        assert!(
            out.contains("rathaus_inbox_requests_total{status=\"401\"} 1"),
            "{out}"
        );
        assert!(
            out.contains(
                "rathaus_policy_decisions_total{outcome=\"hold\",rule=\"personal-data\"} 1"
            ),
            "{out}"
        );
    }
}
