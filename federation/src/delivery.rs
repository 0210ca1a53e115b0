//! The delivery worker: claims due jobs from the durable queue, signs each attempt with the
//! actor's key, POSTs it, and records the outcome. Limits: in flight overall and per host.
//! Failures back off (≈ attempts⁴ + 15 s, with jitter) for `retry_hours`; a 4xx other than
//! 401/408/429 is final. A host that keeps failing is paused, with one probe at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use rand::Rng;
use rathaus_shared::services::queue::{self, Job, Outcome};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::client::Kept;
use crate::state::FedState;

/// Consecutive failures after which a host is paused.
const PAUSE_AFTER_FAILURES: u32 = 5;
/// How long a paused host first waits before a probe; each failed probe doubles it, up to
/// `MAX_PAUSE`. A short outage costs seconds, a dead host one request now and then.
const FIRST_PAUSE: Duration = Duration::from_secs(15);
const MAX_PAUSE: Duration = Duration::from_secs(1800);
/// Idle poll interval when nothing wakes the worker.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Try again later.
    Retry(String),
    /// Never try again.
    Final(String),
}

/// Classifies an HTTP status the way Mastodon does.
pub fn classify(status: u16) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered,
        401 | 408 | 429 => Attempt::Retry(format!("HTTP {status}")),
        400..=499 => Attempt::Final(format!("HTTP {status}")),
        _ => Attempt::Retry(format!("HTTP {status}")),
    }
}

/// Pause before attempt `attempts + 1`: attempts⁴ + `min_seconds`, plus up to 30 % jitter,
/// at most 12 h.
pub fn backoff(attempts: i32, min_seconds: u64) -> Duration {
    let n = u64::try_from(attempts.max(1)).unwrap_or(1);
    let base = n
        .saturating_pow(4)
        .saturating_add(min_seconds)
        .min(12 * 3600);
    let jitter = rand::rng().random_range(0..=base * 3 / 10);
    Duration::from_secs(base + jitter)
}

#[derive(Debug, Default)]
struct HostState {
    failures: u32,
    paused_until: Option<chrono::DateTime<Utc>>,
    /// The current pause length while paused.
    pause: Duration,
    /// A probe is under way: only its outcome changes the pause (requests that were already
    /// in flight when the pause began report failures too, and must not lengthen it).
    probing: bool,
    permits: Option<Arc<Semaphore>>,
}

fn after(d: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()
}

/// Per-host limits and failure memory, shared by the worker's tasks.
#[derive(Debug, Clone, Default)]
struct Hosts(Arc<Mutex<HashMap<String, HostState>>>);

impl Hosts {
    fn semaphore(&self, host: &str, per_host: usize) -> Arc<Semaphore> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(host.to_owned())
            .or_default()
            .permits
            .get_or_insert_with(|| Arc::new(Semaphore::new(per_host)))
            .clone()
    }

    /// `Some(until)` if the host is paused and this job must wait; a due pause lets one probe
    /// through (the pause is pushed on until the probe reports).
    fn paused(&self, host: &str) -> Option<chrono::DateTime<Utc>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let state = map.get_mut(host)?;
        let until = state.paused_until?;
        let now = Utc::now();
        if now < until {
            return Some(until);
        }
        state.paused_until = Some(after(state.pause));
        state.probing = true;
        None
    }

    fn report(&self, host: &str, ok: bool) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let state = map.entry(host.to_owned()).or_default();
        if ok {
            if state.paused_until.is_some() {
                tracing::info!(host, "host answers again; deliveries resume");
            }
            state.failures = 0;
            state.paused_until = None;
            state.probing = false;
        } else {
            state.failures += 1;
            if state.paused_until.is_some() {
                if state.probing {
                    // The probe failed too: wait longer.
                    state.probing = false;
                    state.pause = (state.pause * 2).min(MAX_PAUSE);
                    state.paused_until = Some(after(state.pause));
                }
            } else if state.failures >= PAUSE_AFTER_FAILURES {
                tracing::warn!(
                    host,
                    failures = state.failures,
                    "host keeps failing; pausing deliveries to it"
                );
                state.pause = FIRST_PAUSE;
                state.paused_until = Some(after(state.pause));
            }
        }
    }
}

/// Caches activity bodies (and who signs them): a fan-out sends the same JSON to thousands
/// of inboxes.
#[derive(Debug, Clone, Default)]
struct Payloads(Arc<Mutex<HashMap<i64, Payload>>>);

/// An activity's body and the local actor that signs it (`None`: the town hall's actor).
type Payload = (bytes::Bytes, Option<String>);

impl Payloads {
    async fn get(&self, state: &FedState, activity_id: i64) -> Option<Payload> {
        if let Some(p) = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&activity_id)
        {
            return Some(p.clone());
        }
        let (payload, signer) = queue::payload_and_signer(&state.app, activity_id)
            .await
            .ok()??;
        let bytes = bytes::Bytes::from(payload.into_bytes());
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 256 {
            map.clear();
        }
        map.insert(activity_id, (bytes.clone(), signer.clone()));
        Some((bytes, signer))
    }
}

/// Writes outcomes as they come, many per transaction, until every sender is gone.
/// Batching keeps the store from becoming the bottleneck of a large fan-out.
async fn record_outcomes(state: FedState, mut rx: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1000).await > 0 {
        for outcome in &batch {
            state.app.metrics.delivery(match outcome {
                Outcome::Done(_) => "done",
                Outcome::Retry(..) => "retry",
                Outcome::Failed(..) => "failed",
            });
        }
        if let Err(e) = queue::record(&state.app, &batch).await {
            tracing::error!(error = %e, jobs = batch.len(), "recording delivery outcomes failed; their leases will expire and they are retried");
        }
        batch.clear();
    }
}

/// Claimed deliveries per host, and connections kept open between them: a host with several
/// personal inboxes in one fan-out gets them over one connection (per permit), closed when its
/// last delivery is done. A host with one (a shared inbox) keeps `post_once`.
#[derive(Debug, Clone, Default)]
struct Fanout(Arc<Mutex<HashMap<String, HostFanout>>>);

/// Deliveries to one host claimed and not yet over, and its idle kept connections.
type HostFanout = (usize, Vec<Kept>);

impl Fanout {
    fn claimed(&self, host: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host.to_owned())
            .or_default()
            .0 += 1;
    }

    /// Whether other deliveries to `host` wait besides this one, and a kept connection.
    fn take(&self, host: &str) -> (bool, Option<Kept>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(host) {
            Some((pending, kept)) => (*pending > 1, kept.pop()),
            None => (false, None),
        }
    }

    /// A connection still open goes back for the next delivery to `host`.
    fn put_back(&self, host: &str, kept: Option<Kept>) {
        if let Some(k) = kept
            && let Some((_, idle)) = self
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(host)
        {
            idle.push(k);
        }
    }

    /// One delivery to `host` is over, sent or not; with the last, its connections close.
    fn settle(&self, host: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((pending, _)) = map.get_mut(host) {
            *pending = pending.saturating_sub(1);
            if *pending == 0 {
                map.remove(host);
            }
        }
    }
}

/// Signs `body` for `inbox` as `signer`: the URL and headers to send, or why not.
async fn prepare(
    state: &FedState,
    inbox: &str,
    body: &bytes::Bytes,
    signer: Option<&str>,
) -> Result<(url::Url, Vec<(&'static str, String)>), Attempt> {
    let url = url::Url::parse(inbox).map_err(|e| Attempt::Final(format!("bad inbox URL: {e}")))?;
    state
        .client
        .guard(&url)
        .await
        .map_err(|e| Attempt::Final(e.to_string()))?;
    let signer = state.signer_for(signer).await.map_err(Attempt::Final)?;
    let headers = signer
        .sign("POST", &url, Some(body), SystemTime::now())
        .map_err(|e| Attempt::Retry(format!("signing failed: {e}")))?;
    Ok((url, headers))
}

/// Signs and sends one delivery on a connection of its own.
pub async fn send(
    state: &FedState,
    inbox: &str,
    body: bytes::Bytes,
    signer: Option<&str>,
) -> Attempt {
    let (url, headers) = match prepare(state, inbox, &body, signer).await {
        Ok(p) => p,
        Err(attempt) => return attempt,
    };
    match state.client.post_once(&url, &headers, body).await {
        Ok(status) => classify(status),
        Err(reason) => Attempt::Retry(reason),
    }
}

/// Signs and sends one delivery of a fan-out: over a connection kept for its host when more
/// deliveries to that host wait.
async fn send_in_fanout(
    state: &FedState,
    fanout: &Fanout,
    host: &str,
    inbox: &str,
    body: bytes::Bytes,
    signer: Option<&str>,
) -> Attempt {
    let (more, kept) = fanout.take(host);
    if !more && kept.is_none() {
        return send(state, inbox, body, signer).await;
    }
    let (url, headers) = match prepare(state, inbox, &body, signer).await {
        Ok(p) => p,
        Err(attempt) => {
            fanout.put_back(host, kept);
            return attempt;
        }
    };
    let (result, kept) = state
        .client
        .post_keep(&url, &headers, body, kept, !more)
        .await;
    fanout.put_back(host, kept);
    match result {
        Ok(status) => classify(status),
        Err(reason) => Attempt::Retry(reason),
    }
}

/// Runs until `shutdown` turns true; then stops claiming and lets in-flight deliveries finish.
pub async fn run(state: FedState, mut shutdown: watch::Receiver<bool>) {
    let fed = state.app.config.federation.clone();
    let total = Arc::new(Semaphore::new(fed.delivery_concurrency.max(1)));
    let lease = Duration::from_secs(fed.delivery_lease_seconds.max(1));
    let hosts = Hosts::default();
    let payloads = Payloads::default();
    let fanout = Fanout::default();
    let mut tasks = JoinSet::new();
    let (records, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(record_outcomes(state.clone(), rx));
    tracing::info!(
        concurrency = fed.delivery_concurrency,
        per_host = fed.per_host_concurrency,
        "delivery worker started"
    );
    let concurrency = fed.delivery_concurrency.max(1);
    // Claim in batches: one claim statement per quarter of the slots, not one per job.
    let refill_at = (concurrency / 4).max(1);
    let mut queue_drained = false;
    loop {
        if *shutdown.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = total.available_permits();
        if !queue_drained && (free >= refill_at || tasks.is_empty()) {
            let claimed = match queue::claim(&state.app, free as u64, lease).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    Vec::new()
                }
            };
            queue_drained = claimed.len() < free;
            for job in &claimed {
                fanout.claimed(&job.host);
            }
            for job in claimed {
                let Ok(permit) = total.clone().acquire_owned().await else {
                    break;
                };
                let (state, hosts, payloads) = (state.clone(), hosts.clone(), payloads.clone());
                let fanout = fanout.clone();
                let records = records.clone();
                let per_host = fed.per_host_concurrency.max(1);
                let retry_for =
                    chrono::Duration::hours(i64::try_from(fed.retry_hours).unwrap_or(48));
                tasks.spawn(async move {
                    let host = job.host.clone();
                    let record =
                        deliver_one(&state, &hosts, &payloads, &fanout, job, per_host, retry_for)
                            .await;
                    fanout.settle(&host);
                    let _ = records.send(record);
                    drop(permit);
                });
            }
            continue;
        }
        if !queue_drained {
            // Busy: wait for enough slots to free up before the next claim.
            tokio::select! {
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        // The queue had no more due jobs: sleep until new work is announced or a retry may
        // have come due.
        tokio::select! {
            _ = state.app.delivery_wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {}
        }
        queue_drained = false;
    }
    tracing::info!(in_flight = tasks.len(), "delivery worker stopping");
    while tasks.join_next().await.is_some() {}
    drop(records);
    let _ = writer.await;
}

async fn deliver_one(
    state: &FedState,
    hosts: &Hosts,
    payloads: &Payloads,
    fanout: &Fanout,
    job: Job,
    per_host: usize,
    retry_for: chrono::Duration,
) -> Outcome {
    let min_seconds = state.app.config.federation.retry_min_seconds;
    if let Some(until) = hosts.paused(&job.host) {
        // Not a real attempt: put it back for after the pause.
        return Outcome::Retry(job.id, until, "host paused".into());
    }
    let Some((body, signer)) = payloads.get(state, job.activity_id).await else {
        return Outcome::Failed(job.id, "activity missing".into());
    };
    let host_permits = hosts.semaphore(&job.host, per_host);
    let Ok(_host_permit) = host_permits.acquire_owned().await else {
        return Outcome::Retry(job.id, state.app.now(), "shutting down".into());
    };
    let outcome = send_in_fanout(
        state,
        fanout,
        &job.host,
        &job.inbox,
        body,
        signer.as_deref(),
    )
    .await;
    let now = state.app.now();
    match outcome {
        Attempt::Delivered => {
            hosts.report(&job.host, true);
            Outcome::Done(job.id)
        }
        Attempt::Final(reason) => {
            // The host answered: it is up, it just refused this one.
            hosts.report(&job.host, true);
            tracing::warn!(host = %job.host, job = job.id, reason = %reason, "delivery refused for good");
            Outcome::Failed(job.id, reason)
        }
        Attempt::Retry(reason) => {
            hosts.report(&job.host, false);
            if now - job.created_at > retry_for {
                tracing::warn!(host = %job.host, job = job.id, reason = %reason, "delivery given up after retrying");
                Outcome::Failed(job.id, reason)
            } else {
                let wait = chrono::Duration::from_std(backoff(job.attempts, min_seconds))
                    .unwrap_or_default();
                tracing::debug!(host = %job.host, job = job.id, reason = %reason, attempts = job.attempts, "delivery will be retried");
                Outcome::Retry(job.id, now + wait, reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_mastodon() {
        assert_eq!(classify(202), Attempt::Delivered);
        assert!(matches!(classify(401), Attempt::Retry(_)));
        assert!(matches!(classify(408), Attempt::Retry(_)));
        assert!(matches!(classify(429), Attempt::Retry(_)));
        assert!(matches!(classify(500), Attempt::Retry(_)));
        assert!(matches!(classify(400), Attempt::Final(_)));
        assert!(matches!(classify(410), Attempt::Final(_)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1, 15).as_secs();
        assert!((16..=21).contains(&first), "{first}");
        assert!(backoff(5, 15).as_secs() >= 640);
        assert!(backoff(1000, 15).as_secs() <= 12 * 3600 * 13 / 10);
        assert!(backoff(1, 0).as_secs() <= 1);
        // Two to three days of retries fit in 16 attempts, as with Mastodon.
        let total: u64 = (1..=16).map(|n| n * n * n * n + 15).sum();
        assert!(total > 36 * 3600 && total < 72 * 3600, "{total}");
    }

    #[test]
    fn a_failing_host_is_paused_and_resumes_when_it_answers() {
        let hosts = Hosts::default();
        for _ in 0..PAUSE_AFTER_FAILURES {
            assert!(hosts.paused("h").is_none());
            hosts.report("h", false);
        }
        let first = hosts.paused("h").expect("paused");
        let len = (first - Utc::now()).num_seconds();
        assert!((14..=15).contains(&len), "{len}");
        // Failures of requests that were in flight when the pause began change nothing.
        for _ in 0..10 {
            hosts.report("h", false);
        }
        let still = hosts.paused("h").expect("paused");
        assert!((still - Utc::now()).num_seconds() <= 15);
        // When the pause is due one probe goes through; if it fails, the pause doubles.
        {
            let mut map = hosts.0.lock().expect("lock");
            map.get_mut("h").expect("h").paused_until = Some(Utc::now());
        }
        assert!(hosts.paused("h").is_none(), "the probe");
        assert!(hosts.paused("h").is_some(), "only one probe");
        hosts.report("h", false);
        let second = hosts.paused("h").expect("still paused");
        assert!((second - Utc::now()).num_seconds() >= 29);
        hosts.report("h", true);
        assert!(hosts.paused("h").is_none());
    }
}
