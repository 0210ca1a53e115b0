//! What Rathaus knows of the fediverse's side: remote actors, whose keys verify the inbox's
//! signatures, and which inbound activities were already handled.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::Result;
use crate::store::{actors, state};

pub use crate::store::actors::RemoteActorData;

/// A remote actor we stored, and when its document was fetched (a failed signature refetches
/// the key only if the copy is old enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownActor {
    pub actor: RemoteActorData,
    pub fetched_at: DateTime<Utc>,
}

/// The stored actor with this id, if any.
pub async fn known_actor(app: &App, ap_id: &str) -> Result<Option<KnownActor>> {
    Ok(actors::remote_actor_by_ap_id(app.store.db(), ap_id)
        .await?
        .map(known))
}

/// The stored actor whose key a signature's `keyId` names, if any.
pub async fn actor_with_key(app: &App, key_id: &str) -> Result<Option<KnownActor>> {
    Ok(actors::remote_actor_by_key_id(app.store.db(), key_id)
        .await?
        .map(known))
}

fn known(m: crate::entities::remote_actor::Model) -> KnownActor {
    KnownActor {
        actor: RemoteActorData {
            ap_id: m.ap_id,
            username: m.username,
            domain: m.domain,
            display_name: m.display_name,
            inbox: m.inbox,
            shared_inbox: m.shared_inbox,
            public_key_pem: m.public_key_pem,
            key_id: m.key_id,
        },
        fetched_at: m.fetched_at,
    }
}

/// Stores an actor document fetched from the actor's own id (never one that arrived inside
/// an activity: only the actor's server speaks for its key and inboxes).
pub async fn remember_actor(app: &App, actor: RemoteActorData) -> Result<()> {
    actors::upsert_remote_actor(app.store.db(), actor, app.now()).await?;
    Ok(())
}

/// True if the activity with this id was handled before.
pub async fn already_handled(app: &App, activity_id: &str) -> Result<bool> {
    state::inbound_seen(app.store.db(), activity_id).await
}

/// Remembers that the activity was handled, so a redelivery changes nothing.
pub async fn mark_handled(app: &App, activity_id: &str) -> Result<()> {
    state::record_inbound(app.store.db(), activity_id, app.now()).await?;
    Ok(())
}
