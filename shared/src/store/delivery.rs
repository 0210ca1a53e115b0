//! The durable delivery queue: activities are stored once with their final id, and one job per
//! target inbox is claimed, attempted and finished or rescheduled. A claim is a lease: a job
//! whose worker died becomes claimable again when its lease runs out, so nothing is lost.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
    sea_query::{Expr, OnConflict},
};

use crate::entities::{JobStatus, delivery_job, outbound_activity};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct NewActivity {
    pub ap_id: String,
    pub kind: String,
    pub announcement_id: Option<i64>,
    pub payload: serde_json::Value,
    /// The local actor whose key signs it (a bridge actor's handle); `None`: ours.
    pub signer: Option<String>,
}

/// Stores an activity; storing the same id again returns the first row unchanged.
pub async fn insert_activity<C: ConnectionTrait>(
    db: &C,
    new: NewActivity,
    now: DateTime<Utc>,
) -> Result<outbound_activity::Model> {
    outbound_activity::Entity::insert(outbound_activity::ActiveModel {
        id: NotSet,
        ap_id: Set(new.ap_id.clone()),
        kind: Set(new.kind),
        announcement_id: Set(new.announcement_id),
        payload: Set(new.payload.to_string()),
        created_at: Set(now),
        signer: Set(new.signer),
    })
    .on_conflict_do_nothing_on([outbound_activity::Column::ApId])
    .exec_without_returning(db)
    .await?;
    outbound_activity::Entity::find()
        .filter(outbound_activity::Column::ApId.eq(new.ap_id.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("activity {}", new.ap_id)))
}

pub async fn get_activity<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<outbound_activity::Model>> {
    Ok(outbound_activity::Entity::find_by_id(id).one(db).await?)
}

/// The host part of an inbox URL, used for per-host limits.
pub fn inbox_host(inbox: &str) -> Result<String> {
    let url = url::Url::parse(inbox).map_err(|e| Error::Invalid(format!("inbox {inbox}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Error::Invalid(format!("inbox {inbox} has no host")))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// One job per inbox; an inbox already queued for this activity is skipped.
/// Returns how many jobs were added.
/// Drops the deliveries not yet made to hosts on a blocked domain (or its subdomains).
pub async fn drop_pending_to_domain<C: ConnectionTrait>(db: &C, domain: &str) -> Result<u64> {
    let hosts: Vec<String> = delivery_job::Entity::find()
        .select_only()
        .column(delivery_job::Column::Host)
        .filter(delivery_job::Column::Status.eq(JobStatus::Pending))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let hosts: Vec<String> = hosts
        .into_iter()
        .filter(|h| crate::domains::covers(domain, h))
        .collect();
    if hosts.is_empty() {
        return Ok(0);
    }
    Ok(delivery_job::Entity::delete_many()
        .filter(delivery_job::Column::Status.eq(JobStatus::Pending))
        .filter(delivery_job::Column::Host.is_in(hosts))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    activity_id: i64,
    inboxes: &[String],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut added = 0;
    // Chunks keep each statement under SQLite's bound-parameter limit.
    for chunk in inboxes.chunks(500) {
        let mut models = Vec::with_capacity(chunk.len());
        for inbox in chunk {
            models.push(delivery_job::ActiveModel {
                id: NotSet,
                activity_id: Set(activity_id),
                inbox: Set(inbox.clone()),
                host: Set(inbox_host(inbox)?),
                status: Set(JobStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(now),
                locked_until: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        let res = delivery_job::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    delivery_job::Column::ActivityId,
                    delivery_job::Column::Inbox,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await;
        match res {
            Ok(n) => added += n,
            Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(added)
}

/// Claims up to `limit` due jobs for `lease`. PostgreSQL skips rows other processes hold
/// (`FOR UPDATE SKIP LOCKED`); SQLite serialises writers, so one statement is one claimer.
/// Each claim counts as an attempt.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
    lease: Duration,
) -> Result<Vec<delivery_job::Model>> {
    let backend = db.get_database_backend();
    let lease =
        chrono::Duration::from_std(lease).map_err(|_| Error::Invalid("lease too long".into()))?;
    let (lock, p) = match backend {
        DatabaseBackend::Postgres => ("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3"]),
        _ => ("", ["?", "?", "?"]),
    };
    // Placeholders: 1 = lease end, 2 = now, 3 = limit. SQLite binds `?` in order, so the
    // values list follows the textual order below.
    let sql = format!(
        "UPDATE delivery_job SET status = 'in_flight', locked_until = {lease_end}, \
         attempts = attempts + 1, updated_at = {now_a} \
         WHERE id IN (SELECT id FROM delivery_job \
           WHERE (status = 'pending' AND next_attempt_at <= {now_b}) \
              OR (status = 'in_flight' AND locked_until < {now_c}) \
           ORDER BY next_attempt_at, id LIMIT {limit} {lock}) \
         RETURNING *",
        lease_end = p[0],
        now_a = p[1],
        now_b = p[1],
        now_c = p[1],
        limit = p[2],
    );
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![(now + lease).into(), now.into(), (limit as i64).into()],
        _ => vec![
            (now + lease).into(),
            now.into(),
            now.into(),
            now.into(),
            (limit as i64).into(),
        ],
    };
    let mut jobs = delivery_job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

async fn finish<C: ConnectionTrait>(
    db: &C,
    id: i64,
    status: JobStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = delivery_job::Entity::update_many()
        .col_expr(delivery_job::Column::Status, Expr::value(status))
        .col_expr(
            delivery_job::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(delivery_job::Column::LastError, Expr::value(error))
        .col_expr(delivery_job::Column::UpdatedAt, Expr::value(now));
    if let Some(at) = next_attempt_at {
        update = update.col_expr(delivery_job::Column::NextAttemptAt, Expr::value(at));
    }
    let res = update
        .filter(delivery_job::Column::Id.eq(id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(format!("delivery job {id}")));
    }
    Ok(())
}

pub async fn mark_done<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<()> {
    finish(db, id, JobStatus::Done, None, None, now).await
}

/// A transient failure: try again at `next_attempt_at`.
pub async fn mark_retry<C: ConnectionTrait>(
    db: &C,
    id: i64,
    next_attempt_at: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    finish(
        db,
        id,
        JobStatus::Pending,
        Some(next_attempt_at),
        Some(error.to_owned()),
        now,
    )
    .await
}

/// A final failure: never tried again.
pub async fn mark_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    finish(db, id, JobStatus::Failed, None, Some(error.to_owned()), now).await
}

/// Jobs per status, for metrics and tests.
pub async fn count_by_status<C: ConnectionTrait>(db: &C) -> Result<Vec<(JobStatus, i64)>> {
    Ok(delivery_job::Entity::find()
        .select_only()
        .column(delivery_job::Column::Status)
        .column_as(delivery_job::Column::Id.count(), "n")
        .group_by(delivery_job::Column::Status)
        .into_tuple::<(JobStatus, i64)>()
        .all(db)
        .await?)
}

pub async fn activity_by_ap_id<C: ConnectionTrait>(
    db: &C,
    ap_id: &str,
) -> Result<Option<outbound_activity::Model>> {
    Ok(outbound_activity::Entity::find()
        .filter(outbound_activity::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

/// The jobs of one activity, by id (for operators' tools and tests).
pub async fn jobs_for_activity<C: ConnectionTrait>(
    db: &C,
    activity_id: i64,
) -> Result<Vec<delivery_job::Model>> {
    use sea_orm::QueryOrder;
    Ok(delivery_job::Entity::find()
        .filter(delivery_job::Column::ActivityId.eq(activity_id))
        .order_by_asc(delivery_job::Column::Id)
        .all(db)
        .await?)
}

/// Marks many jobs done in one statement: the fan-out path records completions in batches.
pub async fn mark_done_many<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut updated = 0;
    for chunk in ids.chunks(500) {
        let res = delivery_job::Entity::update_many()
            .col_expr(delivery_job::Column::Status, Expr::value(JobStatus::Done))
            .col_expr(
                delivery_job::Column::LockedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(delivery_job::Column::LastError, Expr::value(None::<String>))
            .col_expr(delivery_job::Column::UpdatedAt, Expr::value(now))
            .filter(delivery_job::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
        updated += res.rows_affected;
    }
    Ok(updated)
}

/// When the oldest job not yet done or failed was queued.
pub async fn oldest_open_job<C: ConnectionTrait>(db: &C) -> Result<Option<DateTime<Utc>>> {
    Ok(delivery_job::Entity::find()
        .select_only()
        .column(delivery_job::Column::CreatedAt)
        .filter(delivery_job::Column::Status.is_in([JobStatus::Pending, JobStatus::InFlight]))
        .order_by_asc(delivery_job::Column::CreatedAt)
        .limit(1)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?)
}
