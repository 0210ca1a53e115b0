//! The sync loop and its leadership: several `rathaus serve` processes may share one
//! PostgreSQL, and exactly one of them (the holder of an advisory lock) syncs.

use std::time::Duration;

use matrix_sdk::LoopCtrl;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::store::StateStoreDataKey;
use rathaus_shared::App;
use rathaus_shared::store::leader;
use tokio::sync::watch;

use crate::{Error, handlers, relay, rooms, session};

/// The advisory lock's name: one Matrix sync loop per database.
const MATRIX_SYNC_LOCK: &str = "rathaus.matrix-sync";
/// How often a standby process asks whether it can take over.
const LEADER_POLL: Duration = Duration::from_secs(2);

/// Runs the bot until `shutdown` turns true.
pub async fn run(app: App, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let Some(config) = app.config.matrix.clone() else {
        return Ok(());
    };
    let client = session::login(&app, &config).await?;
    let fresh = client
        .state_store()
        .get_kv_data(StateStoreDataKey::SyncToken)
        .await
        .map_err(|e| Error::Other(e.to_string()))?
        .is_none();
    if fresh {
        // First start: take in the rooms' current state, never their history, as commands.
        client.sync_once(SyncSettings::default()).await?;
    }
    let mut handlers_added = false;
    let mut waiting_logged = false;
    loop {
        let mut lead = loop {
            match leader::try_lead(&app.store, MATRIX_SYNC_LOCK).await {
                Ok(Some(lead)) => break lead,
                Ok(None) => {
                    if !waiting_logged {
                        tracing::info!(
                            "another process runs the Matrix sync loop; standing by to take over"
                        );
                        waiting_logged = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask the store who runs the Matrix sync loop")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LEADER_POLL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        };
        waiting_logged = false;
        app.metrics.matrix_leader(true);
        let ctx = match rooms::join_all(&app, &client, &config).await {
            Ok(ctx) => ctx,
            Err(e) => {
                // E.g. the homeserver is briefly unreachable: let go, and try again (another
                // process may do better meanwhile).
                tracing::warn!(error = %e, "cannot join the configured rooms; retrying");
                app.metrics.matrix_leader(false);
                lead.release().await;
                tokio::select! {
                    _ = tokio::time::sleep(LEADER_POLL * 5) => continue,
                    _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
                }
            }
        };
        if !handlers_added {
            handlers::register(&client, ctx.clone());
            handlers_added = true;
        }
        let relays = relay::spawn(&client, &ctx, &shutdown).await?;
        tracing::info!("matrix bot running: this process runs the Matrix sync loop");
        let metrics = app.metrics.clone();
        let sync = client.sync_with_callback(SyncSettings::default(), |_| {
            let metrics = metrics.clone();
            async move {
                metrics.matrix_synced();
                LoopCtrl::Continue
            }
        });
        let outcome = tokio::select! {
            result = sync => Some(result),
            _ = shutdown.wait_for(|stop| *stop) => None,
            _ = lost(&mut lead) => {
                tracing::warn!("lost the Matrix sync lock (database connection gone); standing by");
                relays.abort();
                app.metrics.matrix_leader(false);
                continue;
            }
        };
        relays.abort();
        app.metrics.matrix_leader(false);
        lead.release().await;
        tracing::info!("matrix bot stopped");
        return match outcome {
            Some(result) => result.map_err(Error::from),
            None => Ok(()),
        };
    }
}

/// Resolves when the leadership is gone (checked every few seconds).
async fn lost(lead: &mut leader::Leadership) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if !lead.still_held().await {
            return;
        }
    }
}
