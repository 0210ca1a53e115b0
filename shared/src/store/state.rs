//! Small named values kept between runs, and inbound activity ids seen.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, EntityTrait,
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
