//! Blocked users and domains.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::OnConflict,
};

use crate::entities::{BlockKind, block};
use crate::error::{Error, Result};

/// Normalises a target so that `Example.ORG` and `example.org` are one block.
fn normalise(kind: BlockKind, target: &str) -> String {
    let t = target.trim();
    match kind {
        BlockKind::Domain => crate::domains::host_only(t),
        BlockKind::User => t.to_owned(),
    }
}

/// Adds a block; blocking twice updates the reason. True if it is new.
pub async fn add_block<C: ConnectionTrait>(
    db: &C,
    kind: BlockKind,
    target: &str,
    reason: Option<String>,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let target = normalise(kind, target);
    if target.is_empty() {
        return Err(Error::Invalid(
            "nothing to block: the target is empty".into(),
        ));
    }
    let existed = has_block(db, kind, &target).await?;
    block::Entity::insert(block::ActiveModel {
        id: NotSet,
        kind: Set(kind),
        target: Set(target),
        reason: Set(reason),
        created_by: Set(created_by.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([block::Column::Kind, block::Column::Target])
            .update_column(block::Column::Reason)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(!existed)
}

/// True if there was such a block.
pub async fn remove_block<C: ConnectionTrait>(
    db: &C,
    kind: BlockKind,
    target: &str,
) -> Result<bool> {
    let res = block::Entity::delete_many()
        .filter(block::Column::Kind.eq(kind))
        .filter(block::Column::Target.eq(normalise(kind, target)))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// True if `target` is blocked. A domain is blocked when it or a parent domain is (a block of
/// `example.org` covers `a.example.org:8443`).
pub async fn is_blocked<C: ConnectionTrait>(db: &C, kind: BlockKind, target: &str) -> Result<bool> {
    if kind == BlockKind::Domain {
        return Ok(blocked_domains(db)
            .await?
            .iter()
            .any(|d| crate::domains::covers(d, target)));
    }
    Ok(block::Entity::find()
        .filter(block::Column::Kind.eq(kind))
        .filter(block::Column::Target.eq(normalise(kind, target)))
        .count(db)
        .await?
        > 0)
}

/// Every blocked user (a short list: it is read whole).
pub async fn blocked_users<C: ConnectionTrait>(
    db: &C,
) -> Result<std::collections::HashSet<String>> {
    Ok(block::Entity::find()
        .select_only()
        .column(block::Column::Target)
        .filter(block::Column::Kind.eq(BlockKind::User))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Every blocked domain (a short list: it is read whole).
pub async fn blocked_domains<C: ConnectionTrait>(db: &C) -> Result<Vec<String>> {
    Ok(block::Entity::find()
        .select_only()
        .column(block::Column::Target)
        .filter(block::Column::Kind.eq(BlockKind::Domain))
        .into_tuple()
        .all(db)
        .await?)
}

/// True if this exact target has a block of its own (not through a parent domain).
pub async fn has_block<C: ConnectionTrait>(db: &C, kind: BlockKind, target: &str) -> Result<bool> {
    Ok(block::Entity::find()
        .filter(block::Column::Kind.eq(kind))
        .filter(block::Column::Target.eq(normalise(kind, target)))
        .count(db)
        .await?
        > 0)
}

pub async fn list_blocks<C: ConnectionTrait>(db: &C) -> Result<Vec<block::Model>> {
    Ok(block::Entity::find()
        .order_by_asc(block::Column::Kind)
        .order_by_asc(block::Column::Target)
        .all(db)
        .await?)
}
