//! Announcements and the consultations attached to them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::{
    AnnouncementKind, ChangeKind, announcement, announcement_change, consultation,
};
use crate::error::{Error, Result};

/// What the press office writes; the HTML is rendered by the service before storing.
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    pub title: Option<String>,
    pub body_markdown: String,
    pub body_html: String,
    pub author: String,
    /// `Some((opens_at, closes_at))` makes it a consultation.
    pub consultation: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// An announcement with its consultation part, if it is one. Plain data, so the fronts
/// never name an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementView {
    pub announcement: Announcement,
    pub consultation: Option<Consultation>,
}

/// An announcement as the fronts see it (the row's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub id: i64,
    pub kind: AnnouncementKind,
    pub title: Option<String>,
    pub body_markdown: String,
    pub body_html: String,
    /// Matrix user id of the press officer, or `cli`.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub retracted_at: Option<DateTime<Utc>>,
}

impl From<announcement::Model> for Announcement {
    fn from(m: announcement::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            title: m.title,
            body_markdown: m.body_markdown,
            body_html: m.body_html,
            author: m.author,
            created_at: m.created_at,
            updated_at: m.updated_at,
            retracted_at: m.retracted_at,
        }
    }
}

/// The consultation part of an announcement as the fronts see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    pub announcement_id: i64,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// Set when the press office closed it early.
    pub closed_at: Option<DateTime<Utc>>,
    pub result_markdown: Option<String>,
    pub result_html: Option<String>,
    pub result_at: Option<DateTime<Utc>>,
}

impl From<consultation::Model> for Consultation {
    fn from(m: consultation::Model) -> Self {
        Self {
            announcement_id: m.announcement_id,
            opens_at: m.opens_at,
            closes_at: m.closes_at,
            closed_at: m.closed_at,
            result_markdown: m.result_markdown,
            result_html: m.result_html,
            result_at: m.result_at,
        }
    }
}

pub async fn insert_announcement<C: ConnectionTrait>(
    db: &C,
    new: NewAnnouncement,
    now: DateTime<Utc>,
) -> Result<AnnouncementView> {
    if let Some((opens, closes)) = new.consultation
        && closes <= opens
    {
        return Err(Error::Invalid(
            "a consultation must close after it opens".into(),
        ));
    }
    let kind = if new.consultation.is_some() {
        AnnouncementKind::Consultation
    } else {
        AnnouncementKind::Announcement
    };
    let announcement = announcement::ActiveModel {
        id: NotSet,
        kind: Set(kind),
        title: Set(new.title),
        body_markdown: Set(new.body_markdown),
        body_html: Set(new.body_html),
        author: Set(new.author),
        created_at: Set(now),
        updated_at: Set(now),
        retracted_at: Set(None),
    }
    .insert(db)
    .await?;
    let consultation = match new.consultation {
        Some((opens_at, closes_at)) => Some(
            consultation::ActiveModel {
                announcement_id: Set(announcement.id),
                opens_at: Set(opens_at),
                closes_at: Set(closes_at),
                closed_at: Set(None),
                result_markdown: Set(None),
                result_html: Set(None),
                result_at: Set(None),
            }
            .insert(db)
            .await?,
        ),
        None => None,
    };
    Ok(AnnouncementView {
        announcement: announcement.into(),
        consultation: consultation.map(Into::into),
    })
}

pub async fn get_announcement<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<AnnouncementView>> {
    let Some(announcement) = announcement::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let consultation = consultation::Entity::find_by_id(id).one(db).await?;
    Ok(Some(AnnouncementView {
        announcement: announcement.into(),
        consultation: consultation.map(Into::into),
    }))
}

/// Newest first, one page; `page` counts from 0.
pub async fn list_announcements<C: ConnectionTrait>(
    db: &C,
    page: u64,
    per_page: u64,
) -> Result<Vec<announcement::Model>> {
    Ok(announcement::Entity::find()
        .order_by_desc(announcement::Column::CreatedAt)
        .order_by_desc(announcement::Column::Id)
        .offset(page * per_page)
        .limit(per_page)
        .all(db)
        .await?)
}

pub async fn count_announcements<C: ConnectionTrait>(db: &C) -> Result<u64> {
    Ok(announcement::Entity::find().count(db).await?)
}

async fn live_announcement<C: ConnectionTrait>(db: &C, id: i64) -> Result<announcement::Model> {
    let found = announcement::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    if found.retracted_at.is_some() {
        return Err(Error::Invalid(format!("announcement {id} was retracted")));
    }
    Ok(found)
}

/// A correction: new text, `updated_at` moves on.
pub async fn correct_announcement<C: ConnectionTrait>(
    db: &C,
    id: i64,
    body_markdown: String,
    body_html: String,
    now: DateTime<Utc>,
) -> Result<announcement::Model> {
    let mut model = live_announcement(db, id).await?.into_active_model();
    model.body_markdown = Set(body_markdown);
    model.body_html = Set(body_html);
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// A retraction: the row stays (its id must keep answering as a Tombstone), the text goes.
pub async fn retract_announcement<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<announcement::Model> {
    let mut model = live_announcement(db, id).await?.into_active_model();
    model.body_markdown = Set(String::new());
    model.body_html = Set(String::new());
    model.retracted_at = Set(Some(now));
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// One page of announcements with their consultation parts, newest first (two queries).
pub async fn list_views<C: ConnectionTrait>(
    db: &C,
    page: u64,
    per_page: u64,
) -> Result<Vec<AnnouncementView>> {
    let rows = list_announcements(db, page, per_page).await?;
    let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
    let mut consultations: std::collections::HashMap<i64, consultation::Model> =
        consultation::Entity::find()
            .filter(consultation::Column::AnnouncementId.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.announcement_id, c))
            .collect();
    Ok(rows
        .into_iter()
        .map(|announcement| AnnouncementView {
            consultation: consultations.remove(&announcement.id).map(Into::into),
            announcement: announcement.into(),
        })
        .collect())
}

/// Stores a consultation's result (closing summary / reasoned response); a new one replaces it.
pub async fn set_result<C: ConnectionTrait>(
    db: &C,
    id: i64,
    markdown: String,
    html: String,
    now: DateTime<Utc>,
) -> Result<()> {
    live_announcement(db, id).await?;
    let found = consultation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "announcement {id} is not a consultation, so it has no result"
            ))
        })?;
    let mut model = found.into_active_model();
    model.result_markdown = Set(Some(markdown));
    model.result_html = Set(Some(html));
    model.result_at = Set(Some(now));
    model.update(db).await?;
    // The Note changes, so its `updated` moves on.
    touch(db, id, now).await?;
    Ok(())
}

/// Moves an announcement's `updated_at`: its Note changed (result, early close).
async fn touch<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<()> {
    let mut a = announcement::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?
        .into_active_model();
    a.updated_at = Set(now);
    a.update(db).await?;
    Ok(())
}

/// Closes a consultation early. Closing twice keeps the first time.
pub async fn close_consultation<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<consultation::Model> {
    let found = consultation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("consultation {id}")))?;
    if found.closed_at.is_some() {
        return Ok(found);
    }
    let mut model = found.into_active_model();
    model.closed_at = Set(Some(now));
    let closed = model.update(db).await?;
    // The Note changes (its end time and text), so its `updated` moves on.
    touch(db, id, now).await?;
    Ok(closed)
}

impl AnnouncementView {
    /// Open for comments at `now`: a live consultation between its dates, not closed early.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.announcement.retracted_at.is_none()
            && self.consultation.as_ref().is_some_and(|c| {
                c.opens_at <= now && now < c.closes_at && c.closed_at.is_none_or(|t| now < t)
            })
    }
}

/// Announcements with an id above `after`, oldest first (for followers that relay them).
pub async fn announcements_after<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<AnnouncementView>> {
    let rows = announcement::Entity::find()
        .filter(announcement::Column::Id.gt(after))
        .order_by_asc(announcement::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for announcement in rows {
        let consultation = consultation::Entity::find_by_id(announcement.id)
            .one(db)
            .await?;
        views.push(AnnouncementView {
            announcement: announcement.into(),
            consultation: consultation.map(Into::into),
        });
    }
    Ok(views)
}

/// The newest announcement's id, 0 if there is none.
pub async fn last_announcement_id<C: ConnectionTrait>(db: &C) -> Result<i64> {
    Ok(announcement::Entity::find()
        .order_by_desc(announcement::Column::Id)
        .one(db)
        .await?
        .map_or(0, |a| a.id))
}

/// Records a change of announcement `id`; called in the change's own transaction.
pub async fn record_change<C: ConnectionTrait>(
    db: &C,
    id: i64,
    kind: ChangeKind,
    now: DateTime<Utc>,
) -> Result<()> {
    announcement_change::Entity::insert(announcement_change::ActiveModel {
        id: NotSet,
        announcement_id: Set(id),
        kind: Set(kind),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Changes after row `after`, oldest first.
pub async fn changes_after<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<announcement_change::Model>> {
    Ok(announcement_change::Entity::find()
        .filter(announcement_change::Column::Id.gt(after))
        .order_by_asc(announcement_change::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The newest change's row id (0 without any).
pub async fn last_change_id<C: ConnectionTrait>(db: &C) -> Result<i64> {
    Ok(announcement_change::Entity::find()
        .order_by_desc(announcement_change::Column::Id)
        .one(db)
        .await?
        .map_or(0, |c| c.id))
}
