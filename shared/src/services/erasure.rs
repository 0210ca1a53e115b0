//! Erasure end to end: an actor's `Delete`, `rathaus erase` (requests by mail) and the
//! moderators' chat command all come here. A person's comments keep only that they existed
//! (pages, feeds and exports show no text, name or link of theirs), the activities we sent that
//! name them (official answers, notices) become Tombstones and are no longer served, and the
//! moderation log records the erasure without any personal data. The Matrix bot follows the
//! log and redacts the relayed copies and moderation-room notices.

use sea_orm::TransactionSession;
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::app::App;
use crate::entities::{ActionKind, CommentStatus};
use crate::error::{Error, Result};
use crate::services::bridge;
use crate::store::moderation::{self, NewAction};
use crate::store::{actors, comments, erasure, state};

/// Whose data to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everything of one person: an ActivityPub actor id or a Matrix user id.
    Author(String),
    /// One comment.
    Comment(i64),
}

/// What an erasure did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub comments: usize,
    pub activities: usize,
}

/// Erases `target` in one transaction. `by` is who asked (`author` for an actor's own
/// `Delete`, `cli`, or a moderator's Matrix id); it is logged, the person is not.
pub async fn erase(app: &App, target: &Target, by: &str) -> Result<Erased> {
    erase_in(app, app.store.db(), target, by).await
}

/// [`erase`] as `db` sees it (the inbox's batch transaction erases an actor that deleted
/// itself in order with the rest of its activities).
pub async fn erase_in<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    target: &Target,
    by: &str,
) -> Result<Erased> {
    let now = app.now();
    let salt = state::pseudonym_salt(db).await?;
    let txn = db.begin().await?;
    let (found, mut needles) = match target {
        Target::Author(author) => {
            if author.trim().is_empty() {
                return Err(Error::Invalid("no author given".into()));
            }
            (
                erasure::comments_of_author(&txn, author).await?,
                vec![author.clone()],
            )
        }
        Target::Comment(id) => {
            let c = comments::get_comment(&txn, *id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
            (vec![c], Vec::new())
        }
    };
    // Answers and notices reply to the comment's own id: they name it, and so the person.
    needles.extend(found.iter().map(|c| c.origin_id.clone()));
    let mut erased = Erased::default();
    let mut queued = false;
    let mut withdraw = Vec::new();
    for c in found {
        let id = c.id;
        // A bridged Matrix comment leaves the fediverse too (queued below, after the
        // activities that carried its Note are tombstoned).
        if c.status == CommentStatus::Published {
            // As it stands in JSON, closing quote included: `/comments/1` must not match 12.
            needles.push(format!("{}\"", app.urls().comment(c.id)));
            withdraw.push(c.clone());
        }
        erasure::erase_comment(&txn, c, &salt, now).await?;
        moderation::log_action(
            &txn,
            NewAction::plain(Some(id), ActionKind::Erasure, by),
            now,
        )
        .await?;
        erased.comments += 1;
    }
    erased.activities = erasure::tombstone_activities(&txn, &needles, now).await?;
    for c in &withdraw {
        queued |= bridge::federate(app, &txn, c, bridge::Change::Delete, now).await?;
    }
    if let Target::Author(author) = target {
        // Their follow and the copy of their actor go too. A Matrix citizen's bridge actor
        // forgets who it was and answers 410; its key stays, so the Deletes queued above
        // can still be signed.
        actors::delete_remote_actor(&txn, author).await?;
        if let Some(b) = crate::store::bridge::by_user(&txn, author).await? {
            let forgotten = format!(
                "{}{}",
                comments::PSEUDONYM_PREFIX,
                state::salted_hash(&salt, author)
            );
            crate::store::bridge::forget(&txn, b.id, &forgotten).await?;
        }
    }
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(
        comments = erased.comments,
        activities = erased.activities,
        by,
        "personal data erased"
    );
    Ok(erased)
}
