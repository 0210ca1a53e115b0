//! Matrix comments in the fediverse thread. Each published Matrix comment becomes a public
//! Note (`/comments/{id}`) by a bridge actor of its author (`/bridge/matrix/{handle}`: a
//! Person named like them, linked to Matrix, marked as bridged, with a key pair of its own),
//! in reply to the announcement or to the comment it answers, delivered to our followers and
//! to the fediverse people who took part in that thread. Edits send an `Update`; a hide, a
//! rejection, an author's deletion, an erasure or an opt-out sends a `Delete`. The activities
//! are queued in the transaction that changes the comment.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::enqueue_activity_as;
use crate::app::App;
use crate::entities::{Network, bridge_actor, comment};
use crate::error::{Error, Result};
use crate::store::{actors, bridge, comments, state};
use crate::{apub, markdown};

/// What happens to a bridged Note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Delete,
}

impl Change {
    fn kind(self) -> &'static str {
        match self {
            Change::Create => "Create",
            Change::Update => "Update",
            Change::Delete => "Delete",
        }
    }
}

/// The local actor (key pair) of a bridge actor.
pub fn key_owner(handle: &str) -> String {
    format!("bridge:{handle}")
}

/// The handle of a Matrix user: a salted hash, so the URL does not spell out the Matrix id.
async fn handle_of<C: ConnectionTrait>(db: &C, matrix_user_id: &str) -> Result<String> {
    let salt = state::pseudonym_salt(db).await?;
    let hash = state::salted_hash(&salt, &format!("bridge\u{0}{matrix_user_id}"));
    Ok(hash[..20].to_owned())
}

/// What a bridged Note replies to: the comment it answers (its fediverse id, or its own
/// bridged Note), else the announcement.
async fn in_reply_to<C: ConnectionTrait>(app: &App, db: &C, c: &comment::Model) -> Result<String> {
    let urls = app.urls();
    if let Some(parent) = c.parent_comment_id
        && let Some(p) = comments::get_comment(db, parent).await?
        && !p.author_id.starts_with(comments::PSEUDONYM_PREFIX)
    {
        return Ok(match p.network {
            Network::Fediverse => p.origin_id,
            Network::Matrix => urls.comment(p.id),
        });
    }
    Ok(urls.announcement(c.announcement_id))
}

/// The Note of a bridged Matrix comment.
pub(crate) async fn note<C: ConnectionTrait>(
    app: &App,
    db: &C,
    c: &comment::Model,
    handle: &str,
) -> Result<serde_json::Value> {
    let text = c
        .content
        .as_deref()
        .map(markdown::to_plain_text)
        .unwrap_or_default();
    let updated = (c.updated_at > c.created_at).then_some(c.updated_at);
    Ok(apub::bridged_note(
        &app.urls(),
        c.id,
        handle,
        &in_reply_to(app, db, c).await?,
        &markdown::to_html(&text),
        c.created_at,
        updated,
    ))
}

/// Queues `change` of comment `c`'s bridged Note, inside the caller's transaction. False if
/// nothing was queued: not a Matrix comment, an author who opted out (for a create or update),
/// or a Delete of a Note never bridged.
pub(crate) async fn federate<C: ConnectionTrait>(
    app: &App,
    db: &C,
    c: &comment::Model,
    change: Change,
    now: DateTime<Utc>,
) -> Result<bool> {
    if c.network != Network::Matrix || c.author_id.starts_with(comments::PSEUDONYM_PREFIX) {
        return Ok(false);
    }
    let actor = match change {
        Change::Delete => match bridge::by_user(db, &c.author_id).await? {
            Some(a) => a,
            None => return Ok(false),
        },
        Change::Create | Change::Update => {
            let handle = handle_of(db, &c.author_id).await?;
            let a =
                bridge::ensure(db, &c.author_id, &handle, c.author_name.as_deref(), now).await?;
            if a.opted_out {
                return Ok(false);
            }
            actors::ensure_local_actor(db, &key_owner(&a.handle), now).await?;
            a
        }
    };
    queue(app, db, c, &actor, change, now).await?;
    Ok(true)
}

async fn queue<C: ConnectionTrait>(
    app: &App,
    db: &C,
    c: &comment::Model,
    actor: &bridge_actor::Model,
    change: Change,
    now: DateTime<Utc>,
) -> Result<()> {
    let urls = app.urls();
    let note = match change {
        Change::Delete => serde_json::json!({ "id": urls.comment(c.id) }),
        _ => note(app, db, c, &actor.handle).await?,
    };
    let mut inboxes = actors::follower_inboxes(db).await?;
    inboxes.extend(bridge::participant_inboxes(db, c.announcement_id).await?);
    inboxes.sort();
    inboxes.dedup();
    enqueue_activity_as(
        db,
        &urls,
        change.kind(),
        Some(c.announcement_id),
        &inboxes,
        now,
        Some(key_owner(&actor.handle)),
        |id| apub::bridged_activity(&urls, change.kind(), id, &actor.handle, note),
    )
    .await?;
    Ok(())
}

/// A bridge actor as served: its document, or `Gone` once its citizen opted out.
pub async fn actor_document(app: &App, handle: &str) -> Result<serde_json::Value> {
    let db = app.store.db();
    let actor = bridge::by_handle(db, handle)
        .await?
        .ok_or_else(|| Error::NotFound(format!("bridge actor {handle}")))?;
    if actor.opted_out {
        return Err(Error::Gone(format!("bridge actor {handle} was withdrawn")));
    }
    let key = actors::local_actor(db, &key_owner(handle))
        .await?
        .ok_or_else(|| Error::NotFound(format!("bridge actor {handle}")))?;
    Ok(apub::bridge_actor_document(
        &app.urls(),
        &apub::BridgeProfile {
            handle,
            name: actor.display_name.as_deref(),
            matrix_user_id: &actor.matrix_user_id,
            public_key_pem: &key.public_key_pem,
            published: actor.created_at,
        },
    ))
}

/// The private key (PEM) that signs a bridge actor's activities, by its key owner name.
pub async fn signing_key(app: &App, owner: &str) -> Result<Option<String>> {
    Ok(actors::local_actor(app.store.db(), owner)
        .await?
        .map(|a| a.private_key_pem))
}

/// A bridged comment's Note as served under its id: `Gone` once it is no longer public
/// (hidden, rejected, deleted, its author opted out), `NotFound` if it never was a bridged one.
pub async fn comment_note(app: &App, id: i64) -> Result<serde_json::Value> {
    let db = app.store.db();
    let c = comments::get_comment(db, id)
        .await?
        .filter(|c| c.network == Network::Matrix)
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    let actor = bridge::by_user(db, &c.author_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    if actor.opted_out || c.status != crate::entities::CommentStatus::Published {
        return Err(Error::Gone(format!("comment {id} is not public")));
    }
    Ok(apub::with_context(note(app, db, &c, &actor.handle).await?))
}

/// Where people read a published comment (of either network): its announcement's page.
pub async fn comment_page(app: &App, id: i64) -> Result<String> {
    let c = comments::get_comment(app.store.db(), id)
        .await?
        .filter(|c| c.status == crate::entities::CommentStatus::Published)
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    Ok(format!(
        "{}#comment-{id}",
        app.urls().announcement(c.announcement_id)
    ))
}

/// A citizen's choice (`!fediverse aus` / `an`): with `out`, their published comments are
/// withdrawn from the fediverse and later ones stay on Matrix and the pages. True if it
/// changed anything.
pub async fn opt_out(app: &App, matrix_user_id: &str, out: bool) -> Result<bool> {
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let handle = handle_of(&txn, matrix_user_id).await?;
    let actor = bridge::ensure(&txn, matrix_user_id, &handle, None, now).await?;
    if actor.opted_out == out {
        txn.rollback().await?;
        return Ok(false);
    }
    let mut queued = false;
    // Only an actor with a key ever had anything bridged to withdraw.
    if out
        && actors::local_actor(&txn, &key_owner(&actor.handle))
            .await?
            .is_some()
    {
        for c in bridge::published_comments(&txn, matrix_user_id).await? {
            queue(app, &txn, &c, &actor, Change::Delete, now).await?;
            queued = true;
        }
    }
    bridge::set_opted_out(&txn, actor.id, out).await?;
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(opted_out = out, "bridge preference changed");
    Ok(true)
}

/// The announcement's `replies`: ids of its published comments of both networks (fediverse
/// comments by their own id, bridged Matrix comments by their Note), oldest first, one page.
pub async fn replies(
    app: &App,
    announcement: i64,
    page: u64,
    per_page: u64,
) -> Result<(u64, Vec<String>)> {
    let db = app.store.db();
    let urls = app.urls();
    let published = comments::published_for_replies(db, announcement).await?;
    let mut ids = Vec::with_capacity(published.len());
    // Whether a Matrix author is bridged, asked once per author, not once per comment.
    let mut bridged = std::collections::HashMap::new();
    for (id, network, origin, author) in published {
        match network {
            Network::Fediverse if !origin.starts_with(comments::PSEUDONYM_PREFIX) => {
                ids.push(origin)
            }
            Network::Matrix => {
                let yes = match bridged.get(&author) {
                    Some(yes) => *yes,
                    None => {
                        let yes = bridge::by_user(db, &author)
                            .await?
                            .is_some_and(|a| !a.opted_out);
                        bridged.insert(author, yes);
                        yes
                    }
                };
                if yes {
                    ids.push(urls.comment(id));
                }
            }
            _ => {}
        }
    }
    let total = ids.len() as u64;
    let start = (page.saturating_sub(1) * per_page) as usize;
    Ok((
        total,
        ids.into_iter()
            .skip(start)
            .take(per_page as usize)
            .collect(),
    ))
}
