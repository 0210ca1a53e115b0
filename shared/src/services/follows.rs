//! Follows from the fediverse: accept, undo, and forgetting deleted actors.

use sea_orm::TransactionSession;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::Value;

use super::enqueue_activity;
use crate::app::App;
use crate::apub;
use crate::entities::BlockKind;
use crate::error::{Error, Result};
use crate::store::actors::{self, RemoteActorData};
use crate::store::blocks;

/// Records the follow and queues a signed `Accept` to the follower, atomically.
/// A repeated Follow is accepted again (the follower may have lost our first Accept).
pub async fn follow<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    follower: RemoteActorData,
    follow_activity: Value,
) -> Result<()> {
    let now = app.now();
    let urls = app.urls();
    let follow_id = follow_activity["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if blocks::is_blocked(db, BlockKind::Domain, &follower.domain).await?
        || blocks::is_blocked(db, BlockKind::User, &follower.ap_id).await?
    {
        return Err(Error::Invalid(
            "follows from this account or server are not accepted here (blocked)".into(),
        ));
    }
    let inbox = follower.inbox.clone();
    let follower_id = follower.ap_id.clone();
    let txn = db.begin().await?;
    let actor = actors::upsert_remote_actor(&txn, follower, now).await?;
    actors::add_follower(&txn, actor.id, &follow_id, now).await?;
    enqueue_activity(&txn, &urls, "Accept", None, &[inbox], now, |id| {
        apub::accept(&urls, id, follow_activity, &follower_id)
    })
    .await?;
    txn.commit().await?;
    app.wake_delivery();
    tracing::info!(follower_domain = %actor.domain, "follow accepted");
    Ok(())
}

/// Ends a follow. False if the actor did not follow us.
pub async fn unfollow<C: ConnectionTrait>(db: &C, actor_id: &str) -> Result<bool> {
    let Some(actor) = actors::remote_actor_by_ap_id(db, actor_id).await? else {
        return Ok(false);
    };
    let removed = actors::remove_follower(db, actor.id).await?;
    if removed {
        tracing::info!(follower_domain = %actor.domain, "follow ended");
    }
    Ok(removed)
}

/// A remote actor deleted itself: forget it and its follow.
pub async fn forget_actor(app: &App, actor_id: &str) -> Result<bool> {
    actors::delete_remote_actor(app.store.db(), actor_id).await
}

/// True if `follow_id` is the stored Follow of this actor (an Undo may name it only by id).
pub async fn is_follow<C: ConnectionTrait>(
    db: &C,
    actor_id: &str,
    follow_id: &str,
) -> Result<bool> {
    let Some(actor) = actors::remote_actor_by_ap_id(db, actor_id).await? else {
        return Ok(false);
    };
    Ok(actors::follower_of(db, actor.id)
        .await?
        .is_some_and(|f| f.follow_activity_id == follow_id))
}

/// How many follow us.
pub async fn count(app: &App) -> Result<u64> {
    actors::count_followers(app.store.db()).await
}

/// Followers' actor ids, oldest first, one page at a time (for the followers collection).
pub async fn follower_ids(app: &App, offset: u64, limit: u64) -> Result<Vec<String>> {
    actors::follower_ids(app.store.db(), offset, limit).await
}
