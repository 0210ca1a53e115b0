//! The inbox's durable queue (`inbox_queue`) and the reactions it counts (`reaction`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{inbound_activity, inbox_queue, reaction};
use crate::error::Result;

/// After this many failed attempts a row is left for an operator (the `stuck` gauge of
/// `rathaus_inbox_queue_activities`; OPERATIONS.md says what to do).
pub const MAX_ATTEMPTS: i32 = 5;

/// Appends commands (activity id, command JSON) in one statement. Returns each one's row id,
/// or `None` where a row for the same activity id was already waiting (or the id came twice in
/// `items`: only its first copy is appended).
pub async fn append<C: ConnectionTrait>(
    db: &C,
    items: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Vec<Option<i64>>> {
    let rows = items
        .iter()
        .map(|(activity_id, command)| inbox_queue::ActiveModel {
            id: NotSet,
            activity_id: Set(activity_id.clone()),
            command: Set(command.clone()),
            received_at: Set(now),
            attempts: Set(0),
            last_error: Set(None),
        });
    // RETURNING names exactly the rows this statement added.
    let inserted = match inbox_queue::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([inbox_queue::Column::ActivityId])
        .exec_with_returning_many(db)
        .await
    {
        Ok(sea_orm::TryInsertResult::Inserted(rows)) => rows,
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted | sea_orm::DbErr::RecordNotFound(_)) => {
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let ids: HashMap<&str, i64> = inserted
        .iter()
        .map(|r| (r.activity_id.as_str(), r.id))
        .collect();
    let mut given = HashSet::new();
    Ok(items
        .iter()
        .map(|(a, _)| {
            ids.get(a.as_str())
                .copied()
                .filter(|_| given.insert(a.as_str()))
        })
        .collect())
}

/// Takes the rows `ids` out of the queue, oldest first. Run inside the transaction that applies
/// them: a concurrent claimer waits for it and then finds nothing, so each row is applied once.
pub async fn claim<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<inbox_queue::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = inbox_queue::Entity::delete_many()
        .filter(inbox_queue::Column::Id.is_in(ids.iter().copied()))
        .exec_with_returning(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Rows received before `before` that may still be tried, oldest first: left by a process that
/// stopped before applying them.
pub async fn waiting<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<i64>> {
    Ok(inbox_queue::Entity::find()
        .select_only()
        .column(inbox_queue::Column::Id)
        .filter(inbox_queue::Column::ReceivedAt.lte(before))
        .filter(inbox_queue::Column::Attempts.lt(MAX_ATTEMPTS))
        .order_by_asc(inbox_queue::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Counts a failed attempt at row `id` and keeps why.
pub async fn failed<C: ConnectionTrait>(db: &C, id: i64, error: &str) -> Result<()> {
    inbox_queue::Entity::update_many()
        .col_expr(
            inbox_queue::Column::Attempts,
            Expr::col(inbox_queue::Column::Attempts).add(1),
        )
        .col_expr(
            inbox_queue::Column::LastError,
            Expr::value(error.to_owned()),
        )
        .filter(inbox_queue::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// How many rows wait, and how many of them gave up.
pub async fn backlog<C: ConnectionTrait>(db: &C) -> Result<(u64, u64)> {
    use sea_orm::PaginatorTrait;
    let all = inbox_queue::Entity::find().count(db).await?;
    let stuck = inbox_queue::Entity::find()
        .filter(inbox_queue::Column::Attempts.gte(MAX_ATTEMPTS))
        .count(db)
        .await?;
    Ok((all, stuck))
}

/// Which of `ids` were handled before.
pub async fn handled_among<C: ConnectionTrait>(db: &C, ids: &[&str]) -> Result<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(inbound_activity::Entity::find()
        .select_only()
        .column(inbound_activity::Column::ApId)
        .filter(inbound_activity::Column::ApId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Counts a reaction. False if this activity was counted before.
pub async fn add_reaction<C: ConnectionTrait>(
    db: &C,
    announcement_id: i64,
    kind: &str,
    activity_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let res = reaction::Entity::insert(reaction::ActiveModel {
        id: NotSet,
        announcement_id: Set(announcement_id),
        kind: Set(kind.to_owned()),
        activity_hash: Set(activity_hash.to_owned()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([reaction::Column::ActivityHash])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Removes the reaction counted for this activity. False if there was none.
pub async fn remove_reaction<C: ConnectionTrait>(db: &C, activity_hash: &str) -> Result<bool> {
    let res = reaction::Entity::delete_many()
        .filter(reaction::Column::ActivityHash.eq(activity_hash))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Likes and boosts per announcement id.
pub async fn reach<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, (u64, u64)>> {
    let rows: Vec<(i64, String, i64)> = reaction::Entity::find()
        .select_only()
        .column(reaction::Column::AnnouncementId)
        .column(reaction::Column::Kind)
        .column_as(reaction::Column::Id.count(), "n")
        .group_by(reaction::Column::AnnouncementId)
        .group_by(reaction::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<i64, (u64, u64)> = HashMap::new();
    for (announcement, kind, n) in rows {
        let entry = out.entry(announcement).or_default();
        let n = u64::try_from(n).unwrap_or_default();
        if kind == "boost" {
            entry.1 += n;
        } else {
            entry.0 += n;
        }
    }
    Ok(out)
}

/// Likes and boosts of one announcement.
pub async fn reach_of<C: ConnectionTrait>(db: &C, announcement_id: i64) -> Result<(u64, u64)> {
    use sea_orm::PaginatorTrait;
    let count = |kind: &'static str| {
        reaction::Entity::find()
            .filter(reaction::Column::AnnouncementId.eq(announcement_id))
            .filter(reaction::Column::Kind.eq(kind))
            .count(db)
    };
    Ok((count("like").await?, count("boost").await?))
}
