//! The consultation part of an announcement: when it is open for comments, and its result.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub announcement_id: i64,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    /// Set when the press office closes it early.
    pub closed_at: Option<DateTimeUtc>,
    pub result_markdown: Option<String>,
    pub result_html: Option<String>,
    pub result_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
