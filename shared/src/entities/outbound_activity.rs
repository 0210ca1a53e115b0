//! An activity we sent, stored once with its final id so that retries never mint a new one.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound_activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    /// `Create`, `Update`, `Delete`, `Accept`, …
    pub kind: String,
    pub announcement_id: Option<i64>,
    /// The activity JSON exactly as delivered.
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// The local actor (by username) whose key signs it; `None`: the town hall's actor.
    pub signer: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
