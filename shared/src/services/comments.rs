//! Comments from either network arrive here through one door, `submit_comment`.
//! The comment-policy engine plugs in here (its own issue); until then every comment on a
//! known announcement is published and the decision is logged.

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use crate::app::App;
use crate::entities::{CommentStatus, Network, comment};
use crate::error::{Error, Result};
use crate::store::announcements;
use crate::store::comments::{self, Inserted, NewComment};
use crate::store::moderation::{self, NewAction};
use crate::{markdown, store};

/// A reply as a front saw it.
#[derive(Debug, Clone)]
pub struct Submission {
    pub network: Network,
    /// ActivityPub object id or Matrix event id.
    pub origin_id: String,
    pub origin_url: Option<String>,
    /// What it replies to: one of our Note URLs, a comment's origin id, or an answer URL.
    pub in_reply_to: String,
    pub author_id: String,
    pub author_name: Option<String>,
    pub author_domain: String,
    /// HTML from the fediverse (sanitised here) or plain text from Matrix.
    pub content_html: String,
    pub created_at: DateTime<Utc>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stored(comment::Model),
    /// The same origin was submitted before; nothing changed.
    Duplicate(comment::Model),
    /// It does not reply to anything of ours.
    NotForUs,
}

/// Resolves what a reply answers: (announcement id, parent comment id).
async fn thread_of(app: &App, in_reply_to: &str) -> Result<Option<(i64, Option<i64>)>> {
    let urls = app.urls();
    let db = app.store.db();
    if let Some(id) = urls.announcement_id(in_reply_to) {
        return Ok(announcements::get_announcement(db, id)
            .await?
            .map(|_| (id, None)));
    }
    if let Some(parent) = comments::comment_by_origin(db, in_reply_to).await? {
        return Ok(Some((parent.announcement_id, Some(parent.id))));
    }
    if let Some(answer_id) = urls.answer_id(in_reply_to)
        && let Some(answer) = comments::get_answer(db, answer_id).await?
        && let Some(parent) = comments::get_comment(db, answer.comment_id).await?
    {
        return Ok(Some((parent.announcement_id, Some(parent.id))));
    }
    Ok(None)
}

pub async fn submit_comment(app: &App, s: Submission) -> Result<Outcome> {
    let Some((announcement_id, parent)) = thread_of(app, &s.in_reply_to).await? else {
        return Ok(Outcome::NotForUs);
    };
    let now = store::now();
    let db = app.store.db();
    let view = announcements::get_announcement(db, announcement_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {announcement_id}")))?;
    if view.announcement.retracted_at.is_some() {
        return Ok(Outcome::NotForUs);
    }
    // Replies after a consultation closed are kept but not counted.
    let late = view.consultation.is_some() && !view.is_open(s.created_at.min(now));
    let content = match s.network {
        Network::Fediverse => markdown::sanitize(&s.content_html),
        Network::Matrix => s.content_html,
    };
    let txn = db.begin().await?;
    let inserted = comments::insert_comment(
        &txn,
        NewComment {
            announcement_id,
            parent_comment_id: parent,
            network: s.network,
            origin_id: s.origin_id,
            origin_url: s.origin_url,
            author_id: s.author_id,
            author_name: s.author_name,
            author_domain: s.author_domain,
            content,
            status: CommentStatus::Published,
            late,
            rule_id: None,
            rule_version: None,
            reason: None,
            created_at: s.created_at,
        },
        now,
    )
    .await?;
    let outcome = match inserted {
        Inserted::New(c) => {
            moderation::log_action(
                &txn,
                NewAction {
                    comment_id: Some(c.id),
                    action: "auto_publish".into(),
                    actor: "policy".into(),
                    rule_id: None,
                    rule_version: None,
                    reason: None,
                },
                now,
            )
            .await?;
            tracing::info!(comment = c.id, announcement = announcement_id, network = ?c.network, late, "comment stored");
            Outcome::Stored(c)
        }
        Inserted::Existing(c) => Outcome::Duplicate(c),
    };
    txn.commit().await?;
    Ok(outcome)
}

/// An author's edit. Only the author may edit; returns the updated comment if there was one.
pub async fn edit_comment(
    app: &App,
    origin_id: &str,
    author_id: &str,
    content_html: &str,
) -> Result<Option<comment::Model>> {
    let db = app.store.db();
    let Some(c) = comments::comment_by_origin(db, origin_id).await? else {
        return Ok(None);
    };
    if c.author_id != author_id {
        return Err(Error::Invalid("only the author may edit a comment".into()));
    }
    let content = match c.network {
        Network::Fediverse => markdown::sanitize(content_html),
        Network::Matrix => content_html.to_owned(),
    };
    Ok(Some(
        comments::update_comment_content(db, c.id, content, store::now()).await?,
    ))
}

/// The author deleted it: erase the text everywhere, keep that it existed.
pub async fn delete_comment(app: &App, origin_id: &str, author_id: &str) -> Result<bool> {
    let db = app.store.db();
    let Some(c) = comments::comment_by_origin(db, origin_id).await? else {
        return Ok(false);
    };
    if c.author_id != author_id {
        return Err(Error::Invalid(
            "only the author may delete a comment".into(),
        ));
    }
    let now = store::now();
    let txn = db.begin().await?;
    comments::erase_comment(&txn, c.id, now).await?;
    moderation::log_action(
        &txn,
        NewAction {
            comment_id: Some(c.id),
            action: "author_delete".into(),
            actor: "author".into(),
            rule_id: None,
            rule_version: None,
            reason: None,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(comment = c.id, "comment erased at the author's request");
    Ok(true)
}
