//! Use cases both fronts call. Each owns its transaction: a row and the deliveries it causes
//! are committed together, then the delivery worker is woken.

pub mod announcements;
pub mod bridge;
pub mod comments;
pub mod content;
pub mod erasure;
pub mod export;
pub mod follows;
pub mod inbox;
pub mod matrix;
pub mod moderation;
pub mod queue;
pub mod remote;
pub mod reports;
pub mod retention;
pub mod transparency;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::apub::Urls;
use crate::error::Result;
use crate::store::delivery::{self, NewActivity};

/// Stores an activity under a fresh id and queues it for `inboxes`. Returns the activity id.
pub(crate) async fn enqueue_activity<C: ConnectionTrait>(
    db: &C,
    urls: &Urls,
    kind: &str,
    announcement_id: Option<i64>,
    inboxes: &[String],
    now: DateTime<Utc>,
    build: impl FnOnce(&str) -> Value,
) -> Result<String> {
    enqueue_activity_as(db, urls, kind, announcement_id, inboxes, now, None, build).await
}

/// As `enqueue_activity`, signed by the local actor `signer` (a bridge actor) when given.
#[expect(
    clippy::too_many_arguments,
    reason = "one call shape for all activities"
)]
pub(crate) async fn enqueue_activity_as<C: ConnectionTrait>(
    db: &C,
    urls: &Urls,
    kind: &str,
    announcement_id: Option<i64>,
    inboxes: &[String],
    now: DateTime<Utc>,
    signer: Option<String>,
    build: impl FnOnce(&str) -> Value,
) -> Result<String> {
    let id = urls.new_activity();
    let activity = delivery::insert_activity(
        db,
        NewActivity {
            ap_id: id.clone(),
            kind: kind.to_owned(),
            announcement_id,
            payload: build(&id),
            signer,
        },
        now,
    )
    .await?;
    // Nothing goes to a blocked domain, whoever's inbox it is.
    let blocked = crate::store::blocks::blocked_domains(db).await?;
    let inboxes: Vec<String> = inboxes
        .iter()
        .filter(|inbox| {
            let host = url::Url::parse(inbox)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            !blocked.iter().any(|d| crate::domains::covers(d, &host))
        })
        .cloned()
        .collect();
    delivery::enqueue(db, activity.id, &inboxes, now).await?;
    Ok(id)
}
