//! Comments, official answers, and erasure.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{CommentStatus, Network, comment, comment_revision, official_answer};
use crate::error::{Error, Result};

/// A comment as it arrives, with the policy decision already made.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub announcement_id: i64,
    pub parent_comment_id: Option<i64>,
    pub network: Network,
    pub origin_id: String,
    pub origin_url: Option<String>,
    pub author_id: String,
    pub author_name: Option<String>,
    pub author_domain: String,
    pub content: String,
    /// The content warning as plain text, and the author's sensitive flag.
    pub content_warning: Option<String>,
    pub sensitive: bool,
    pub language: Option<String>,
    pub status: CommentStatus,
    pub late: bool,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
    /// The event's own timestamp.
    pub created_at: DateTime<Utc>,
}

/// Inserting the same origin twice (a redelivery) returns the first row, not a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New(comment::Model),
    Existing(comment::Model),
}

pub async fn insert_comment<C: ConnectionTrait>(
    db: &C,
    new: NewComment,
    now: DateTime<Utc>,
) -> Result<Inserted> {
    let origin = new.origin_id.clone();
    let res = comment::Entity::insert(comment::ActiveModel {
        id: NotSet,
        announcement_id: Set(new.announcement_id),
        parent_comment_id: Set(new.parent_comment_id),
        network: Set(new.network),
        origin_id: Set(new.origin_id),
        origin_url: Set(new.origin_url),
        author_id: Set(new.author_id),
        author_name: Set(new.author_name),
        author_domain: Set(new.author_domain),
        content: Set(Some(new.content)),
        content_warning: Set(new.content_warning),
        sensitive: Set(new.sensitive),
        language: Set(new.language),
        status: Set(new.status),
        late: Set(new.late),
        rule_id: Set(new.rule_id),
        rule_version: Set(new.rule_version),
        reason: Set(new.reason),
        created_at: Set(new.created_at),
        received_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
    .on_conflict_do_nothing_on([comment::Column::OriginId])
    .exec_with_returning(db)
    .await;
    match res {
        Ok(sea_orm::TryInsertResult::Inserted(row)) => Ok(Inserted::New(row)),
        // A conflict returns no row (PostgreSQL reports that as not found).
        Err(e)
            if !matches!(
                e,
                sea_orm::DbErr::RecordNotFound(_) | sea_orm::DbErr::RecordNotInserted
            ) =>
        {
            Err(e.into())
        }
        _ => Ok(Inserted::Existing(
            comment_by_origin(db, &origin)
                .await?
                .ok_or_else(|| Error::NotFound(format!("comment {origin} after insert")))?,
        )),
    }
}

pub async fn get_comment<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<comment::Model>> {
    Ok(comment::Entity::find_by_id(id).one(db).await?)
}

/// The comment with this origin id — also after retention replaced the id by its salted
/// hash, so a late edit or deletion by the author still finds it.
pub async fn comment_by_origin<C: ConnectionTrait>(
    db: &C,
    origin_id: &str,
) -> Result<Option<comment::Model>> {
    let found = comment::Entity::find()
        .filter(comment::Column::OriginId.eq(origin_id))
        .one(db)
        .await?;
    if found.is_some() {
        return Ok(found);
    }
    let Some(salt) = super::state::existing_pseudonym_salt(db).await? else {
        return Ok(None);
    };
    Ok(comment::Entity::find()
        .filter(comment::Column::OriginId.eq(pseudonymised_origin(&salt, origin_id)))
        .one(db)
        .await?)
}

/// True when `author_id` wrote `c`, also after retention replaced the author by a hash.
pub async fn written_by<C: ConnectionTrait>(
    db: &C,
    c: &comment::Model,
    author_id: &str,
) -> Result<bool> {
    if c.author_id == author_id {
        return Ok(true);
    }
    if !c.author_id.starts_with(PSEUDONYM_PREFIX) {
        return Ok(false);
    }
    let Some(salt) = super::state::existing_pseudonym_salt(db).await? else {
        return Ok(false);
    };
    Ok(c.author_id
        == format!(
            "{PSEUDONYM_PREFIX}{}",
            super::state::salted_hash(&salt, author_id)
        ))
}

/// What retention stores instead of an origin id.
pub fn pseudonymised_origin(salt: &str, origin_id: &str) -> String {
    format!(
        "{PSEUDONYM_PREFIX}{}",
        super::state::salted_hash(salt, origin_id)
    )
}

/// Marks ids that retention replaced by salted hashes.
pub const PSEUDONYM_PREFIX: &str = "pseudonym:";

/// Comments of these announcements whose author is still named.
pub async fn comments_to_pseudonymise<C: ConnectionTrait>(
    db: &C,
    announcement_ids: &[i64],
) -> Result<Vec<comment::Model>> {
    if announcement_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(comment::Entity::find()
        .filter(comment::Column::AnnouncementId.is_in(announcement_ids.iter().copied()))
        .filter(comment::Column::AuthorId.not_like(format!("{PSEUDONYM_PREFIX}%")))
        .all(db)
        .await?)
}

/// Replaces who wrote a comment by salted hashes; the text (public already) stays.
pub async fn pseudonymise_comment<C: ConnectionTrait>(
    db: &C,
    c: comment::Model,
    salt: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let author = format!(
        "{PSEUDONYM_PREFIX}{}",
        super::state::salted_hash(salt, &c.author_id)
    );
    let origin = pseudonymised_origin(salt, &c.origin_id);
    let mut model = c.into_active_model();
    model.author_id = Set(author);
    model.author_name = Set(None);
    // A one-person instance's domain names its owner.
    model.author_domain = Set(String::new());
    model.origin_url = Set(None);
    model.origin_id = Set(origin);
    model.updated_at = Set(now);
    model.update(db).await?;
    Ok(())
}

/// Which comments to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct CommentFilter {
    pub announcement_id: Option<i64>,
    pub status: Option<CommentStatus>,
    pub author_id: Option<String>,
    pub limit: Option<u64>,
}

/// Oldest first, as a conversation reads.
pub async fn list_comments<C: ConnectionTrait>(
    db: &C,
    filter: &CommentFilter,
) -> Result<Vec<comment::Model>> {
    let mut query = comment::Entity::find();
    if let Some(id) = filter.announcement_id {
        query = query.filter(comment::Column::AnnouncementId.eq(id));
    }
    match filter.status {
        Some(status) => query = query.filter(comment::Column::Status.eq(status)),
        // Private replies only when asked for by name: no listing shows them by accident.
        None => query = query.filter(comment::Column::Status.ne(CommentStatus::Private)),
    }
    if let Some(author) = &filter.author_id {
        query = query.filter(comment::Column::AuthorId.eq(author.as_str()));
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    Ok(query
        .order_by_asc(comment::Column::CreatedAt)
        .order_by_asc(comment::Column::Id)
        .all(db)
        .await?)
}

/// A page of an announcement's comments as the export lists them (all but private ones),
/// oldest first (`created_at`, then id), after the comment `after` names.
pub async fn exported_after<C: ConnectionTrait>(
    db: &C,
    announcement_id: i64,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u64,
) -> Result<Vec<comment::Model>> {
    use sea_orm::Condition;
    let mut query = comment::Entity::find()
        .filter(comment::Column::AnnouncementId.eq(announcement_id))
        .filter(comment::Column::Status.ne(CommentStatus::Private));
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any().add(comment::Column::CreatedAt.gt(at)).add(
                Condition::all()
                    .add(comment::Column::CreatedAt.eq(at))
                    .add(comment::Column::Id.gt(id)),
            ),
        );
    }
    Ok(query
        .order_by_asc(comment::Column::CreatedAt)
        .order_by_asc(comment::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A moderation decision: new status with the rule and reason behind it.
pub async fn set_comment_status<C: ConnectionTrait>(
    db: &C,
    id: i64,
    status: CommentStatus,
    rule: Option<(String, i32)>,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<comment::Model> {
    let found = get_comment(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    if found.status == CommentStatus::Deleted {
        return Err(Error::Invalid(format!(
            "comment {id} was deleted by its author"
        )));
    }
    let mut model = found.into_active_model();
    model.status = Set(status);
    let (rule_id, rule_version) = rule.map_or((None, None), |(id, v)| (Some(id), Some(v)));
    model.rule_id = Set(rule_id);
    model.rule_version = Set(rule_version);
    model.reason = Set(reason);
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// An author's edit replaces the text; the policy runs again in the service.
pub async fn update_comment_content<C: ConnectionTrait>(
    db: &C,
    id: i64,
    content: String,
    now: DateTime<Utc>,
) -> Result<comment::Model> {
    let found = get_comment(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    if found.status == CommentStatus::Deleted {
        return Err(Error::Invalid(format!("comment {id} was deleted")));
    }
    let mut model = found.into_active_model();
    model.content = Set(Some(content));
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// Marks a comment as arrived (or edited) after its consultation closed.
pub async fn mark_late<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<()> {
    comment::Entity::update_many()
        .col_expr(comment::Column::Late, sea_orm::sea_query::Expr::value(true))
        .col_expr(
            comment::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(comment::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// An edit's content warning and sensitive flag replace the old ones.
pub async fn set_content_warning<C: ConnectionTrait>(
    db: &C,
    id: i64,
    content_warning: Option<String>,
    sensitive: bool,
) -> Result<()> {
    comment::Entity::update_many()
        .col_expr(comment::Column::ContentWarning, content_warning.into())
        .col_expr(comment::Column::Sensitive, sensitive.into())
        .filter(comment::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Keeps a comment's text as it was before an edit.
pub async fn insert_revision<C: ConnectionTrait>(
    db: &C,
    comment_id: i64,
    content: String,
    now: DateTime<Utc>,
) -> Result<()> {
    comment_revision::ActiveModel {
        id: NotSet,
        comment_id: Set(comment_id),
        content: Set(content),
        replaced_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A comment's earlier texts, oldest first.
pub async fn revisions<C: ConnectionTrait>(
    db: &C,
    comment_id: i64,
) -> Result<Vec<comment_revision::Model>> {
    Ok(comment_revision::Entity::find()
        .filter(comment_revision::Column::CommentId.eq(comment_id))
        .order_by_asc(comment_revision::Column::Id)
        .all(db)
        .await?)
}

/// The latest earlier texts of an author's comments (newest first), for the duplicate rule.
pub async fn recent_revisions_by_author<C: ConnectionTrait>(
    db: &C,
    author_id: &str,
    limit: u64,
) -> Result<Vec<(i64, String)>> {
    Ok(comment_revision::Entity::find()
        .select_only()
        .column(comment_revision::Column::CommentId)
        .column(comment_revision::Column::Content)
        .filter(
            comment_revision::Column::CommentId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(comment::Column::Id)
                    .from(comment::Entity)
                    .and_where(comment::Column::AuthorId.eq(author_id))
                    .to_owned(),
            ),
        )
        .order_by_desc(comment_revision::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Erasure after the author deleted: the text and the author's name go, that it existed stays.
pub async fn erase_comment<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<comment::Model> {
    let found = get_comment(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    comment_revision::Entity::delete_many()
        .filter(comment_revision::Column::CommentId.eq(id))
        .exec(db)
        .await?;
    let mut model = found.into_active_model();
    model.content = Set(None);
    model.content_warning = Set(None);
    model.author_name = Set(None);
    model.origin_url = Set(None);
    model.status = Set(CommentStatus::Deleted);
    model.deleted_at = Set(Some(now));
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

pub async fn insert_answer<C: ConnectionTrait>(
    db: &C,
    comment_id: i64,
    author: &str,
    body_markdown: String,
    body_html: String,
    now: DateTime<Utc>,
) -> Result<official_answer::Model> {
    if get_comment(db, comment_id).await?.is_none() {
        return Err(Error::NotFound(format!("comment {comment_id}")));
    }
    Ok(official_answer::ActiveModel {
        id: NotSet,
        comment_id: Set(comment_id),
        author: Set(author.to_owned()),
        body_markdown: Set(body_markdown),
        body_html: Set(body_html),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn answers_for_comment<C: ConnectionTrait>(
    db: &C,
    comment_id: i64,
) -> Result<Vec<official_answer::Model>> {
    Ok(official_answer::Entity::find()
        .filter(official_answer::Column::CommentId.eq(comment_id))
        .order_by_asc(official_answer::Column::Id)
        .all(db)
        .await?)
}

pub async fn get_answer<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<official_answer::Model>> {
    Ok(official_answer::Entity::find_by_id(id).one(db).await?)
}

/// Answers to any of `comment_ids`, oldest first (one query for a whole page of threads).
pub async fn answers_for_comments<C: ConnectionTrait>(
    db: &C,
    comment_ids: &[i64],
) -> Result<Vec<official_answer::Model>> {
    if comment_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(official_answer::Entity::find()
        .filter(official_answer::Column::CommentId.is_in(comment_ids.iter().copied()))
        .order_by_asc(official_answer::Column::Id)
        .all(db)
        .await?)
}

/// What statistics need of a comment, and nothing personal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentFacts {
    pub announcement_id: i64,
    pub network: Network,
    pub status: CommentStatus,
    pub late: bool,
    pub created_at: DateTime<Utc>,
}

/// Facts of every comment, or of one announcement's.
/// The published comments of an announcement as (id, parent), oldest first: enough to find
/// the threads of one page without loading every text.
pub async fn published_skeleton<C: ConnectionTrait>(
    db: &C,
    announcement_id: i64,
) -> Result<Vec<(i64, Option<i64>)>> {
    Ok(comment::Entity::find()
        .select_only()
        .column(comment::Column::Id)
        .column(comment::Column::ParentCommentId)
        .filter(comment::Column::AnnouncementId.eq(announcement_id))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .order_by_asc(comment::Column::CreatedAt)
        .order_by_asc(comment::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// These comments, oldest first.
pub async fn comments_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<Vec<comment::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(comment::Entity::find()
        .filter(comment::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(comment::Column::CreatedAt)
        .order_by_asc(comment::Column::Id)
        .all(db)
        .await?)
}

pub async fn comment_facts<C: ConnectionTrait>(
    db: &C,
    announcement_id: Option<i64>,
) -> Result<Vec<CommentFacts>> {
    let mut query = comment::Entity::find().select_only().columns([
        comment::Column::AnnouncementId,
        comment::Column::Network,
        comment::Column::Status,
        comment::Column::Late,
        comment::Column::CreatedAt,
    ]);
    if let Some(id) = announcement_id {
        query = query.filter(comment::Column::AnnouncementId.eq(id));
    }
    // Private replies are no part of any count or statistic.
    query = query.filter(comment::Column::Status.ne(CommentStatus::Private));
    let rows: Vec<(i64, Network, CommentStatus, bool, DateTime<Utc>)> =
        query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(
            |(announcement_id, network, status, late, created_at)| CommentFacts {
                announcement_id,
                network,
                status,
                late,
                created_at,
            },
        )
        .collect())
}

/// comment id → announcement id, for the given comments.
pub async fn announcement_ids<C: ConnectionTrait>(
    db: &C,
    comment_ids: &[i64],
) -> Result<std::collections::HashMap<i64, i64>> {
    if comment_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, i64)> = comment::Entity::find()
        .select_only()
        .columns([comment::Column::Id, comment::Column::AnnouncementId])
        .filter(comment::Column::Id.is_in(comment_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Published, counted (not late) comments per announcement, for the given announcements.
pub async fn published_counts<C: ConnectionTrait>(
    db: &C,
    announcement_ids: &[i64],
) -> Result<std::collections::HashMap<i64, u64>> {
    if announcement_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, i64)> = comment::Entity::find()
        .select_only()
        .column(comment::Column::AnnouncementId)
        .column_as(comment::Column::Id.count(), "n")
        .filter(comment::Column::AnnouncementId.is_in(announcement_ids.iter().copied()))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .filter(comment::Column::Late.eq(false))
        .group_by(comment::Column::AnnouncementId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Comments by status, over everything (for metrics).
pub async fn status_counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(CommentStatus, i64)>> {
    Ok(comment::Entity::find()
        .select_only()
        .column(comment::Column::Status)
        .column_as(comment::Column::Id.count(), "n")
        .group_by(comment::Column::Status)
        .into_tuple()
        .all(db)
        .await?)
}

/// Published comments of announcement `id` as (id, network, origin id, author id), oldest
/// first: what its `replies` collection lists.
pub async fn published_for_replies<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Vec<(i64, Network, String, String)>> {
    Ok(comment::Entity::find()
        .select_only()
        .column(comment::Column::Id)
        .column(comment::Column::Network)
        .column(comment::Column::OriginId)
        .column(comment::Column::AuthorId)
        .filter(comment::Column::AnnouncementId.eq(id))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .order_by_asc(comment::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}
