//! An official announcement by the press office; consultations add a row in `consultation`.
use sea_orm::entity::prelude::*;

use super::AnnouncementKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "announcement")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: AnnouncementKind,
    pub title: Option<String>,
    pub body_markdown: String,
    pub body_html: String,
    /// Matrix user id of the press officer, or `cli`.
    pub author: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub retracted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
