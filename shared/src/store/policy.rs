//! Runtime policy rules, versioned: changing a rule adds a version and retires the old one, so
//! every recorded decision can name the exact rule text it applied.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::entities::{RuleAction, policy_rule};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct NewRule {
    pub rule_key: String,
    pub kind: String,
    pub definition: serde_json::Value,
    pub action: RuleAction,
    pub public_reason: String,
    pub created_by: String,
}

/// Adds a rule, or a new version of the rule with the same key.
pub async fn add_rule<C: ConnectionTrait>(
    db: &C,
    new: NewRule,
    now: DateTime<Utc>,
) -> Result<policy_rule::Model> {
    if new.rule_key.trim().is_empty() {
        return Err(Error::Invalid("a rule needs a key".into()));
    }
    let latest: Option<i32> = policy_rule::Entity::find()
        .select_only()
        .column_as(policy_rule::Column::Version.max(), "v")
        .filter(policy_rule::Column::RuleKey.eq(new.rule_key.as_str()))
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    retire_rule(db, &new.rule_key, now).await?;
    Ok(policy_rule::ActiveModel {
        id: NotSet,
        rule_key: Set(new.rule_key),
        version: Set(latest.unwrap_or(0) + 1),
        kind: Set(new.kind),
        definition: Set(new.definition.to_string()),
        action: Set(new.action),
        public_reason: Set(new.public_reason),
        created_by: Set(new.created_by),
        created_at: Set(now),
        retired_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// Retires the active version of a rule. True if one was active.
pub async fn retire_rule<C: ConnectionTrait>(
    db: &C,
    rule_key: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let res = policy_rule::Entity::update_many()
        .col_expr(policy_rule::Column::RetiredAt, Expr::value(now))
        .filter(policy_rule::Column::RuleKey.eq(rule_key))
        .filter(policy_rule::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The rules in force, by key.
pub async fn active_rules<C: ConnectionTrait>(db: &C) -> Result<Vec<policy_rule::Model>> {
    Ok(policy_rule::Entity::find()
        .filter(policy_rule::Column::RetiredAt.is_null())
        .order_by_asc(policy_rule::Column::RuleKey)
        .all(db)
        .await?)
}

/// One exact version, for explaining an old decision.
pub async fn rule_version<C: ConnectionTrait>(
    db: &C,
    rule_key: &str,
    version: i32,
) -> Result<Option<policy_rule::Model>> {
    Ok(policy_rule::Entity::find()
        .filter(policy_rule::Column::RuleKey.eq(rule_key))
        .filter(policy_rule::Column::Version.eq(version))
        .one(db)
        .await?)
}
