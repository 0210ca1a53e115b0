//! Reports from the fediverse (`Flag`): Mastodon's "report" button sends one to the server of
//! what was reported. Each reported comment, announcement or the Rathaus account becomes a row
//! for the moderators (posted into the moderation room by the bot) and, for comments, a
//! `report` step in the moderation log. Only the reporter's instance is kept, never who.

use sea_orm::TransactionSession;
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::app::App;
use crate::entities::ActionKind;
use crate::error::Result;
use crate::markdown;
use crate::store::moderation::{self, NewAction};
use crate::store::reports::{self, Reported};
use crate::store::{announcements, comments};

/// The longest report text kept (Mastodon allows 1,000 characters).
const MAX_TEXT: usize = 2_000;

/// What the object ids of a report name here, without duplicates. Ids of anything else
/// (other people's accounts and posts) are ignored: they are not ours to moderate.
pub async fn reported<C: ConnectionTrait>(
    app: &App,
    db: &C,
    objects: &[&str],
) -> Result<Vec<Reported>> {
    let urls = app.urls();
    let mut found = Vec::new();
    for id in objects {
        let about = if *id == urls.actor() {
            Some(Reported::Account)
        } else if let Some(c) = urls.comment_id(id) {
            comments::get_comment(db, c)
                .await?
                .map(|c| Reported::Comment(c.id))
        } else if let Some(a) = urls.announcement_id(id) {
            announcements::get_announcement(db, a)
                .await?
                .map(|_| Reported::Announcement(a))
        } else {
            comments::comment_by_origin(db, id)
                .await?
                .map(|c| Reported::Comment(c.id))
        };
        if let Some(about) = about
            && !found.contains(&about)
        {
            found.push(about);
        }
    }
    // A report naming the account and a comment of it is about the comment.
    if found.len() > 1 {
        found.retain(|r| *r != Reported::Account);
    }
    Ok(found)
}

/// Stores a report from `reporter_domain` about `objects` (ids) with the reporter's words.
/// Returns how many things of ours it named (0: nothing stored).
pub async fn report<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    reporter_domain: &str,
    objects: &[&str],
    content: Option<&str>,
) -> Result<usize> {
    let about = reported(app, db, objects).await?;
    if about.is_empty() {
        return Ok(0);
    }
    let text = content
        .map(markdown::to_plain_text)
        .map(|t| t.trim().chars().take(MAX_TEXT).collect::<String>())
        .filter(|t| !t.is_empty());
    let now = app.now();
    let txn = db.begin().await?;
    for r in &about {
        reports::insert_report(&txn, reporter_domain, *r, text.clone(), now).await?;
        if let Reported::Comment(c) = r {
            moderation::log_action(
                &txn,
                NewAction::plain(Some(*c), ActionKind::Report, "report"),
                now,
            )
            .await?;
        }
    }
    txn.commit().await?;
    tracing::info!(
        reporter = reporter_domain,
        items = about.len(),
        "report received"
    );
    Ok(about.len())
}
