//! Announcements: publish, correct, retract, close — each federated to every follower.

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use super::enqueue_activity;
use crate::app::App;
use crate::entities::ChangeKind;
use crate::error::{Error, Result};
use crate::store::actors;
use crate::store::announcements::{self, NewAnnouncement};
use crate::{apub, markdown};

pub use crate::store::announcements::{Announcement, AnnouncementView, Consultation};

/// What the press office asks for.
#[derive(Debug, Clone, Default)]
pub struct Announce {
    pub title: Option<String>,
    pub text: String,
    /// `Some` makes it a consultation closing then.
    pub closes_at: Option<DateTime<Utc>>,
    /// Defaults to now.
    pub opens_at: Option<DateTime<Utc>>,
    /// Matrix id of the officer, or `cli`.
    pub author: String,
}

fn require_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::Invalid("the announcement text is empty".into()));
    }
    if text.len() > 20_000 {
        return Err(Error::Invalid(
            "the announcement text is longer than 20,000 characters".into(),
        ));
    }
    Ok(())
}

/// Stores the announcement and queues its `Create{Note}` for every follower, atomically.
pub async fn announce(app: &App, req: Announce) -> Result<AnnouncementView> {
    require_text(&req.text)?;
    let now = app.now();
    let consultation = match req.closes_at {
        Some(closes) => {
            if closes <= now {
                return Err(Error::Invalid(format!(
                    "the closing time {} is in the past",
                    closes.to_rfc3339()
                )));
            }
            Some((req.opens_at.unwrap_or(now), closes))
        }
        None => None,
    };
    let urls = app.urls();
    let txn = app.store.db().begin().await?;
    let view = announcements::insert_announcement(
        &txn,
        NewAnnouncement {
            title: req.title.filter(|t| !t.trim().is_empty()),
            body_html: markdown::to_html(&req.text),
            body_markdown: req.text,
            author: req.author,
            consultation,
        },
        now,
    )
    .await?;
    let inboxes = actors::follower_inboxes(&txn).await?;
    let note = apub::note(&urls, &view, app.config.site.time_zone);
    enqueue_activity(
        &txn,
        &urls,
        "Create",
        Some(view.announcement.id),
        &inboxes,
        now,
        |id| apub::create(&urls, id, note),
    )
    .await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(
        announcement = view.announcement.id,
        followers_inboxes = inboxes.len(),
        "announcement published"
    );
    Ok(view)
}

/// A correction: new text, federated as `Update` with `updated` set.
pub async fn correct(app: &App, id: i64, text: String) -> Result<AnnouncementView> {
    require_text(&text)?;
    let now = app.now();
    let urls = app.urls();
    let txn = app.store.db().begin().await?;
    let html = markdown::to_html(&text);
    announcements::correct_announcement(&txn, id, text, html, now).await?;
    announcements::record_change(&txn, id, ChangeKind::Corrected, now).await?;
    let view = announcements::get_announcement(&txn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let inboxes = actors::follower_inboxes(&txn).await?;
    let note = apub::note(&urls, &view, app.config.site.time_zone);
    enqueue_activity(&txn, &urls, "Update", Some(id), &inboxes, now, |aid| {
        apub::update(&urls, aid, note)
    })
    .await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(announcement = id, "announcement corrected");
    Ok(view)
}

/// A retraction: the text goes, the id answers as a Tombstone, followers get a `Delete`.
pub async fn retract(app: &App, id: i64) -> Result<AnnouncementView> {
    let now = app.now();
    let urls = app.urls();
    let txn = app.store.db().begin().await?;
    announcements::retract_announcement(&txn, id, now).await?;
    announcements::record_change(&txn, id, ChangeKind::Retracted, now).await?;
    let view = announcements::get_announcement(&txn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let inboxes = actors::follower_inboxes(&txn).await?;
    let note_id = urls.announcement(id);
    enqueue_activity(&txn, &urls, "Delete", Some(id), &inboxes, now, |aid| {
        apub::delete(&urls, aid, &note_id)
    })
    .await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(announcement = id, "announcement retracted");
    Ok(view)
}

/// Queues an `Update` of the announcement's Note for every follower, inside `txn`.
async fn federate_update<C: sea_orm::ConnectionTrait>(
    app: &App,
    txn: &C,
    id: i64,
    now: chrono::DateTime<Utc>,
) -> Result<AnnouncementView> {
    let urls = app.urls();
    let view = announcements::get_announcement(txn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let inboxes = actors::follower_inboxes(txn).await?;
    let note = apub::note(&urls, &view, app.config.site.time_zone);
    enqueue_activity(txn, &urls, "Update", Some(id), &inboxes, now, |aid| {
        apub::update(&urls, aid, note)
    })
    .await?;
    Ok(view)
}

/// Closes a consultation early; followers see the new end time (an `Update`).
pub async fn close(app: &App, id: i64) -> Result<AnnouncementView> {
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let before = announcements::get_announcement(&txn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    if before.consultation.is_none() {
        return Err(Error::Invalid(format!(
            "announcement {id} is not a consultation"
        )));
    }
    if before.announcement.retracted_at.is_some() {
        return Err(Error::Invalid(format!("announcement {id} was retracted")));
    }
    if !before.is_open(now) {
        return Ok(before);
    }
    announcements::close_consultation(&txn, id, now).await?;
    announcements::record_change(&txn, id, ChangeKind::Closed, now).await?;
    let view = federate_update(app, &txn, id, now).await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(announcement = id, "consultation closed");
    Ok(view)
}

/// Publishes a consultation's result (closing summary / reasoned response): shown on its
/// page, part of the Open Data export, federated as an `Update` of the Note.
pub async fn publish_result(app: &App, id: i64, text: String) -> Result<AnnouncementView> {
    require_text(&text)?;
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let html = markdown::to_html(&text);
    announcements::set_result(&txn, id, text, html, now).await?;
    announcements::record_change(&txn, id, ChangeKind::Result, now).await?;
    let view = federate_update(app, &txn, id, now).await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(announcement = id, "consultation result published");
    Ok(view)
}

pub async fn get(app: &App, id: i64) -> Result<AnnouncementView> {
    announcements::get_announcement(app.store.db(), id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))
}

/// How many announcements there are (retracted ones included: their ids stay).
pub async fn count(app: &App) -> Result<u64> {
    announcements::count_announcements(app.store.db()).await
}

/// One page of announcements, newest first; `page` counts from 0.
pub async fn page(app: &App, page: u64, per_page: u64) -> Result<Vec<AnnouncementView>> {
    announcements::list_views(app.store.db(), page, per_page).await
}
