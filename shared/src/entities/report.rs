//! A report (`Flag`) from a fediverse server: what it is about, the reporter's instance (never
//! the person) and their words, for the moderators.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub reporter_domain: String,
    pub comment_id: Option<i64>,
    pub announcement_id: Option<i64>,
    pub content: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
