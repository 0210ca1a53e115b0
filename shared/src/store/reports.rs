//! Reports from fediverse servers (`Flag`), for the moderators.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::report;
use crate::error::Result;

/// What one report is about: a comment, an announcement, or (neither) the Rathaus account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Comment(i64),
    Announcement(i64),
    Account,
}

pub async fn insert_report<C: ConnectionTrait>(
    db: &C,
    reporter_domain: &str,
    about: Reported,
    content: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (comment_id, announcement_id) = match about {
        Reported::Comment(c) => (Some(c), None),
        Reported::Announcement(a) => (None, Some(a)),
        Reported::Account => (None, None),
    };
    report::Entity::insert(report::ActiveModel {
        id: NotSet,
        reporter_domain: Set(reporter_domain.to_owned()),
        comment_id: Set(comment_id),
        announcement_id: Set(announcement_id),
        content: Set(content),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Reports after row `after`, oldest first.
pub async fn reports_after<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<report::Model>> {
    Ok(report::Entity::find()
        .filter(report::Column::Id.gt(after))
        .order_by_asc(report::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

pub async fn last_report_id<C: ConnectionTrait>(db: &C) -> Result<i64> {
    Ok(report::Entity::find()
        .order_by_desc(report::Column::Id)
        .one(db)
        .await?
        .map_or(0, |r| r.id))
}
