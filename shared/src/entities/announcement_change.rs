//! A change of an announcement after it was posted, written with the change itself: what the
//! Matrix bot mirrors into the rooms it relayed the announcement to.
use sea_orm::entity::prelude::*;

use super::ChangeKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "announcement_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub announcement_id: i64,
    pub kind: ChangeKind,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
