//! One step in the append-only moderation log (the database refuses updates and deletes).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "moderation_action")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub comment_id: Option<i64>,
    pub action: super::ActionKind,
    /// A moderator's Matrix id, `cli`, or `policy` for automatic decisions.
    pub actor: String,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
