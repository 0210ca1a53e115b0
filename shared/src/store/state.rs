//! Small named values kept between runs, and inbound activity ids seen.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};

use crate::entities::{inbound_activity, kv_state};
use crate::error::Result;

pub async fn get<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<String>> {
    Ok(kv_state::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.value))
}

pub async fn set<C: ConnectionTrait>(
    db: &C,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    kv_state::Entity::insert(kv_state::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(kv_state::Column::Key)
            .update_columns([kv_state::Column::Value, kv_state::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records an inbound activity id. True the first time, false for a redelivery.
pub async fn record_inbound<C: ConnectionTrait>(
    db: &C,
    ap_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let res = inbound_activity::Entity::insert(inbound_activity::ActiveModel {
        id: NotSet,
        ap_id: Set(ap_id.to_owned()),
        received_at: Set(now),
    })
    .on_conflict_do_nothing_on([inbound_activity::Column::ApId])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Whether an inbound activity id was handled before.
pub async fn inbound_seen<C: ConnectionTrait>(db: &C, ap_id: &str) -> Result<bool> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    Ok(inbound_activity::Entity::find()
        .filter(inbound_activity::Column::ApId.eq(ap_id))
        .count(db)
        .await?
        > 0)
}

/// How far a follower task has read a table; stored as the last handled row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Announcements posted into the public Matrix rooms.
    MatrixAnnouncements,
    /// Moderation log entries relayed into Matrix.
    MatrixLog,
    /// Changes of announcements mirrored into Matrix (edits, redactions, thread posts).
    MatrixChanges,
    /// Reports from the fediverse posted into the moderation room.
    MatrixReports,
}

impl Cursor {
    fn key(self) -> &'static str {
        match self {
            Self::MatrixAnnouncements => "matrix.announcement_cursor",
            Self::MatrixLog => "matrix.log_cursor",
            Self::MatrixChanges => "matrix.change_cursor",
            Self::MatrixReports => "matrix.report_cursor",
        }
    }
}

/// A cursor's position; `None` if it was never set. A stored value that is not a row id is an
/// error, never read as 0 (which would replay everything).
pub async fn cursor<C: ConnectionTrait>(db: &C, cursor: Cursor) -> Result<Option<i64>> {
    get(db, cursor.key())
        .await?
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                crate::Error::Corrupt(format!(
                    "kv_state `{}` holds `{raw}`, not a row id",
                    cursor.key()
                ))
            })
        })
        .transpose()
}

pub async fn set_cursor<C: ConnectionTrait>(
    db: &C,
    cursor: Cursor,
    value: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    set(db, cursor.key(), &value.to_string(), now).await
}

fn joined_key(room: &str) -> String {
    format!("matrix.joined.{room}")
}

/// When Rathaus first joined a Matrix room (ms since the epoch); events older than that are
/// history handed to a new member, never commands.
pub async fn joined_at<C: ConnectionTrait>(db: &C, room: &str) -> Result<Option<i64>> {
    get(db, &joined_key(room))
        .await?
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                crate::Error::Corrupt(format!("kv_state `{}` holds `{raw}`", joined_key(room)))
            })
        })
        .transpose()
}

/// Remembers the first join only; a later call keeps the first time.
pub async fn remember_join<C: ConnectionTrait>(
    db: &C,
    room: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if get(db, &joined_key(room)).await?.is_none() {
        set(
            db,
            &joined_key(room),
            &now.timestamp_millis().to_string(),
            now,
        )
        .await?;
    }
    Ok(())
}

const SALT_KEY: &str = "export.pseudonym_salt";

/// The salt for pseudonyms (Open Data authors, retention), made once per installation and
/// kept secret in the store.
pub async fn pseudonym_salt<C: ConnectionTrait>(db: &C) -> Result<String> {
    if let Some(s) = get(db, SALT_KEY).await? {
        return Ok(s);
    }
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    // Never overwrite: two processes may race, and the first salt must win for good, since
    // retention has hashed ids with it.
    kv_state::Entity::insert(kv_state::ActiveModel {
        key: Set(SALT_KEY.to_owned()),
        value: Set(fresh.clone()),
        updated_at: Set(super::now()),
    })
    .on_conflict(
        OnConflict::column(kv_state::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(get(db, SALT_KEY).await?.unwrap_or(fresh))
}

/// The salt if one was made already (lookups must not create it).
pub async fn existing_pseudonym_salt<C: ConnectionTrait>(db: &C) -> Result<Option<String>> {
    get(db, SALT_KEY).await
}

/// SHA-256(salt ‖ 0 ‖ value) as 64 hex digits.
pub fn salted_hash(salt: &str, value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{salt}\u{0}{value}").as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Forgets inbound activity ids older than `before` (they only guard against redeliveries,
/// which stop after a few days, and they name their authors).
pub async fn prune_inbound<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64> {
    Ok(inbound_activity::Entity::delete_many()
        .filter(inbound_activity::Column::ReceivedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// A fingerprint of everything the public pages show: it changes with every step of the
/// moderation log (each comment published, edited, hidden, erased), every announcement and
/// change of one, every official answer and every counted or undone reaction. One query,
/// so pages can be cached and revalidated (`ETag`) without loading what they show.
pub async fn content_version<C: ConnectionTrait>(db: &C) -> Result<String> {
    use sea_orm::Statement;
    const SQL: &str = "SELECT \
        (SELECT COALESCE(MAX(id), 0) FROM moderation_action), \
        (SELECT COALESCE(MAX(id), 0) FROM announcement_change), \
        (SELECT COALESCE(MAX(id), 0) FROM announcement), \
        (SELECT COALESCE(MAX(id), 0) FROM official_answer), \
        (SELECT COALESCE(MAX(id), 0) FROM reaction), \
        (SELECT COUNT(*) FROM reaction)";
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), SQL))
        .await?
        .ok_or_else(|| crate::Error::Corrupt("the content version query gave no row".into()))?;
    let mut parts = Vec::with_capacity(6);
    for i in 0..6 {
        parts.push(row.try_get_by_index::<i64>(i)?.to_string());
    }
    Ok(parts.join("."))
}
