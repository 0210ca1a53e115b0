//! The append-only moderation log. There is deliberately no update or delete here, and the
//! database refuses them too (triggers in the initial migration).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{ActionKind, moderation_action};
use crate::error::Result;

/// One step, automatic (`actor = "policy"`) or by a person.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub comment_id: Option<i64>,
    pub action: ActionKind,
    pub actor: String,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
}

impl NewAction {
    /// A step that names no rule and gives no reason (official answers, author deletions).
    pub fn plain(comment_id: Option<i64>, action: ActionKind, actor: &str) -> Self {
        Self {
            comment_id,
            action,
            actor: actor.to_owned(),
            rule_id: None,
            rule_version: None,
            reason: None,
        }
    }
}

pub async fn log_action<C: ConnectionTrait>(
    db: &C,
    new: NewAction,
    now: DateTime<Utc>,
) -> Result<moderation_action::Model> {
    Ok(moderation_action::ActiveModel {
        id: NotSet,
        comment_id: Set(new.comment_id),
        action: Set(new.action),
        actor: Set(new.actor),
        rule_id: Set(new.rule_id),
        rule_version: Set(new.rule_version),
        reason: Set(new.reason),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Newest first; `comment_id` narrows to one comment's history.
pub async fn list_actions<C: ConnectionTrait>(
    db: &C,
    comment_id: Option<i64>,
    limit: u64,
) -> Result<Vec<moderation_action::Model>> {
    let mut query = moderation_action::Entity::find();
    if let Some(id) = comment_id {
        query = query.filter(moderation_action::Column::CommentId.eq(id));
    }
    Ok(query
        .order_by_desc(moderation_action::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Log entries after `after_id`, oldest first: the bot follows the log to tell moderators
/// about held comments and to relay what was published.
pub async fn actions_after<C: ConnectionTrait>(
    db: &C,
    after_id: i64,
    limit: u64,
) -> Result<Vec<moderation_action::Model>> {
    Ok(moderation_action::Entity::find()
        .filter(moderation_action::Column::Id.gt(after_id))
        .order_by_asc(moderation_action::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The newest log entry's id (0 when empty).
pub async fn last_action_id<C: ConnectionTrait>(db: &C) -> Result<i64> {
    Ok(moderation_action::Entity::find()
        .order_by_desc(moderation_action::Column::Id)
        .one(db)
        .await?
        .map_or(0, |a| a.id))
}

/// One page of the whole log, newest first; `offset` counts entries.
pub async fn list_actions_page<C: ConnectionTrait>(
    db: &C,
    offset: u64,
    limit: u64,
) -> Result<Vec<moderation_action::Model>> {
    Ok(moderation_action::Entity::find()
        .filter(public_steps())
        .order_by_desc(moderation_action::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}

pub async fn count_actions<C: ConnectionTrait>(db: &C) -> Result<u64> {
    Ok(moderation_action::Entity::find()
        .filter(public_steps())
        .count(db)
        .await?)
}

/// Steps the public log and statistics show: all but the arrival of private replies, which
/// are for the moderators' eyes only.
fn public_steps() -> sea_orm::sea_query::SimpleExpr {
    moderation_action::Column::Action.ne(ActionKind::PrivateReply)
}

/// How often each action was taken under each rule (`None`: no rule, e.g. a manual approval).
pub async fn actions_by_rule<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(ActionKind, Option<String>, i64)>> {
    Ok(moderation_action::Entity::find()
        .select_only()
        .column(moderation_action::Column::Action)
        .column(moderation_action::Column::RuleId)
        .column_as(moderation_action::Column::Id.count(), "n")
        .filter(public_steps())
        .group_by(moderation_action::Column::Action)
        .group_by(moderation_action::Column::RuleId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Every log step about any of `comment_ids`, oldest first.
pub async fn actions_for_comments<C: ConnectionTrait>(
    db: &C,
    comment_ids: &[i64],
) -> Result<Vec<moderation_action::Model>> {
    if comment_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(moderation_action::Entity::find()
        .filter(moderation_action::Column::CommentId.is_in(comment_ids.iter().copied()))
        .order_by_asc(moderation_action::Column::Id)
        .all(db)
        .await?)
}
