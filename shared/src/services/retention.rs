//! Retention of personal data: when a consultation has been over for
//! `retention.pseudonymise_after_days` (a plain announcement: that long after it was
//! published), its comments keep their text but lose who wrote them — author and origin ids
//! become salted hashes, names and links go. Remote actors that do not follow us and inbound
//! activity ids are forgotten after the same time. Run by `rathaus serve` every hour and by
//! `rathaus retention`.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{EntityTrait, TransactionTrait};

use crate::app::App;
use crate::entities::{announcement, consultation};
use crate::error::Result;
use crate::store::{actors, comments, state};

/// What one run changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub comments: u64,
    pub remote_actors: u64,
    pub inbound_activities: u64,
}

/// Applies the retention rules as of `now`. Does nothing when retention is switched off (0).
pub async fn run(app: &App, now: DateTime<Utc>) -> Result<Report> {
    let days = app.config.retention.pseudonymise_after_days;
    if days == 0 {
        return Ok(Report::default());
    }
    let cutoff = now - Duration::days(i64::from(days));
    let db = app.store.db();
    let ended: std::collections::HashMap<i64, DateTime<Utc>> = consultation::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.announcement_id,
                c.closed_at.unwrap_or(c.closes_at).min(c.closes_at),
            )
        })
        .collect();
    let due: Vec<i64> = announcement::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|a| ended.get(&a.id).copied().unwrap_or(a.created_at) < cutoff)
        .map(|a| a.id)
        .collect();
    let salt = state::pseudonym_salt(db).await?;
    let mut report = Report::default();
    let txn = db.begin().await?;
    for c in comments::comments_to_pseudonymise(&txn, &due).await? {
        comments::pseudonymise_comment(&txn, c, &salt, now).await?;
        report.comments += 1;
    }
    report.remote_actors = actors::prune_unfollowed(&txn, cutoff).await?;
    report.inbound_activities = state::prune_inbound(&txn, cutoff).await?;
    txn.commit().await?;
    if report != Report::default() {
        tracing::info!(
            comments = report.comments,
            remote_actors = report.remote_actors,
            inbound_activities = report.inbound_activities,
            "retention: personal data pseudonymised or removed"
        );
    }
    Ok(report)
}
