//! Matrix events already handled, so that a command runs once even across crashes.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::entities::processed_matrix_event;
use crate::error::Result;

/// Claims an event for handling. True the first time; false if it was handled before.
/// Commands call this before acting, in the same transaction as their effect where possible.
pub async fn claim_event<C: ConnectionTrait>(
    db: &C,
    event_id: &str,
    room_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let res = processed_matrix_event::Entity::insert(processed_matrix_event::ActiveModel {
        event_id: Set(event_id.to_owned()),
        room_id: Set(room_id.to_owned()),
        processed_at: Set(now),
    })
    .on_conflict_do_nothing_on([processed_matrix_event::Column::EventId])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

pub async fn is_processed<C: ConnectionTrait>(db: &C, event_id: &str) -> Result<bool> {
    Ok(
        processed_matrix_event::Entity::find_by_id(event_id.to_owned())
            .one(db)
            .await?
            .is_some(),
    )
}
