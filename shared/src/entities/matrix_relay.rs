//! Which Matrix event stands for what Rathaus posted or was told about: an announcement in a
//! public room, a comment or an official answer relayed into its thread, a notice about a held
//! comment in the moderation room.
use sea_orm::entity::prelude::*;

use super::RelayKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "matrix_relay")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Empty for notices moved from the old key scheme, which did not name the room.
    pub room_id: String,
    pub event_id: String,
    pub kind: RelayKind,
    pub announcement_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub answer_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
