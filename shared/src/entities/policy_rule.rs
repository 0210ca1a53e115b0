//! A versioned comment-policy rule added at runtime; a change is a new version, never an edit.
use sea_orm::entity::prelude::*;

use super::RuleAction;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_rule")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rule_key: String,
    pub version: i32,
    /// `regex`, `words`, `max_length`, … — interpreted by the policy engine.
    pub kind: String,
    /// The rule's parameters as JSON.
    pub definition: String,
    pub action: RuleAction,
    pub public_reason: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
