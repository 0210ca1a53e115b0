//! The delivery worker's side of the durable queue: claim due jobs, read the bodies to send,
//! record outcomes in batches; and activities we sent stay readable by their id. The worker
//! (in `federation`) speaks HTTP; this owns the tables.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use crate::app::App;
use crate::error::Result;
use crate::store::delivery;

/// One claimed delivery: an activity to one inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub activity_id: i64,
    pub inbox: String,
    /// The inbox's host, for per-host limits and pausing.
    pub host: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(i64),
    /// Try again at the given time.
    Retry(i64, DateTime<Utc>, String),
    /// Never try again.
    Failed(i64, String),
}

/// Claims up to `limit` due jobs for `lease` (see `store::delivery::claim_due`).
pub async fn claim(app: &App, limit: u64, lease: Duration) -> Result<Vec<Job>> {
    Ok(delivery::claim_due(app.store.db(), app.now(), limit, lease)
        .await?
        .into_iter()
        .map(|j| Job {
            id: j.id,
            activity_id: j.activity_id,
            inbox: j.inbox,
            host: j.host,
            attempts: j.attempts,
            created_at: j.created_at,
        })
        .collect())
}

/// The JSON body of a stored outgoing activity, exactly as it is delivered.
pub async fn payload(app: &App, activity_id: i64) -> Result<Option<String>> {
    Ok(delivery::get_activity(app.store.db(), activity_id)
        .await?
        .map(|a| a.payload))
}

/// The JSON body of a stored outgoing activity and the local actor that signs it (`None`:
/// the town hall's actor).
pub async fn payload_and_signer(
    app: &App,
    activity_id: i64,
) -> Result<Option<(String, Option<String>)>> {
    Ok(delivery::get_activity(app.store.db(), activity_id)
        .await?
        .map(|a| (a.payload, a.signer)))
}

/// The JSON body of an activity we sent, by its ActivityPub id (it stays dereferenceable).
pub async fn sent_activity(app: &App, ap_id: &str) -> Result<Option<String>> {
    Ok(delivery::activity_by_ap_id(app.store.db(), ap_id)
        .await?
        .map(|a| a.payload))
}

/// Writes many outcomes in one transaction: a large fan-out must not make the store the
/// bottleneck.
pub async fn record(app: &App, outcomes: &[Outcome]) -> Result<()> {
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let done: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Done(id) => Some(*id),
            _ => None,
        })
        .collect();
    delivery::mark_done_many(&txn, &done, now).await?;
    for outcome in outcomes {
        match outcome {
            Outcome::Done(_) => {}
            Outcome::Retry(id, at, reason) => {
                delivery::mark_retry(&txn, *id, *at, reason, now).await?
            }
            Outcome::Failed(id, reason) => delivery::mark_failed(&txn, *id, reason, now).await?,
        }
    }
    txn.commit().await?;
    Ok(())
}
