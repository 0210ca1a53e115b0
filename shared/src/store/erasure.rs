//! Erasure of a person (GDPR Art. 17): their comments keep only that they existed, and what we
//! sent that names them is no longer served.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use super::comments::{PSEUDONYM_PREFIX, pseudonymised_origin};
use crate::entities::{
    CommentStatus, JobStatus, comment, comment_revision, delivery_job, outbound_activity,
};
use crate::error::Result;

/// Every comment of an author, whatever its status.
pub async fn comments_of_author<C: ConnectionTrait>(
    db: &C,
    author_id: &str,
) -> Result<Vec<comment::Model>> {
    Ok(comment::Entity::find()
        .filter(comment::Column::AuthorId.eq(author_id))
        .all(db)
        .await?)
}

/// Removes everything of a comment that names or quotes its author: text, earlier texts,
/// name, domain, links; author and origin become salted hashes (so threads and counts stay).
pub async fn erase_comment<C: ConnectionTrait>(
    db: &C,
    c: comment::Model,
    salt: &str,
    now: DateTime<Utc>,
) -> Result<comment::Model> {
    comment_revision::Entity::delete_many()
        .filter(comment_revision::Column::CommentId.eq(c.id))
        .exec(db)
        .await?;
    let author = if c.author_id.starts_with(PSEUDONYM_PREFIX) {
        c.author_id.clone()
    } else {
        format!(
            "{PSEUDONYM_PREFIX}{}",
            super::state::salted_hash(salt, &c.author_id)
        )
    };
    let origin = if c.origin_id.starts_with(PSEUDONYM_PREFIX) {
        c.origin_id.clone()
    } else {
        pseudonymised_origin(salt, &c.origin_id)
    };
    let deleted_at = c.deleted_at.unwrap_or(now);
    let mut model = c.into_active_model();
    model.content = Set(None);
    model.content_warning = Set(None);
    model.sensitive = Set(false);
    model.author_name = Set(None);
    model.author_id = Set(author);
    model.author_domain = Set(String::new());
    model.origin_id = Set(origin);
    model.origin_url = Set(None);
    model.status = Set(CommentStatus::Deleted);
    model.deleted_at = Set(Some(deleted_at));
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// Replaces every stored outbound activity whose JSON contains one of `needles` (the person's
/// actor id, their comments' ids) by a Tombstone, and drops its deliveries not yet made.
/// Returns how many activities were tombstoned.
pub async fn tombstone_activities<C: ConnectionTrait>(
    db: &C,
    needles: &[String],
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut ids = Vec::new();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let found = outbound_activity::Entity::find()
            .filter(outbound_activity::Column::Payload.contains(needle.as_str()))
            .all(db)
            .await?;
        for a in found {
            if ids.contains(&a.id) || !a.payload.contains(needle.as_str()) {
                continue;
            }
            ids.push(a.id);
            let tombstone = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": a.ap_id,
                "type": "Tombstone",
                "formerType": a.kind,
                "deleted": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
            let mut model = a.into_active_model();
            model.payload = Set(tombstone.to_string());
            model.update(db).await?;
        }
    }
    if !ids.is_empty() {
        delivery_job::Entity::delete_many()
            .filter(delivery_job::Column::ActivityId.is_in(ids.iter().copied()))
            .filter(delivery_job::Column::Status.eq(JobStatus::Pending))
            .exec(db)
            .await?;
    }
    Ok(ids.len())
}
