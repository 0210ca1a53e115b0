//! Verified inbound activities waiting to be applied (see `services::inbox`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_queue")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub activity_id: String,
    /// The parsed command (`services::inbox::Inbound`) as JSON.
    pub command: String,
    pub received_at: DateTimeUtc,
    /// Failed attempts; a row that failed too often waits for an operator.
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
