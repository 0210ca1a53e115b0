//! The retention worker: applies the retention rules (`services::retention`) soon after start
//! and then every hour, beside the delivery worker. The rules are idempotent, so several
//! processes may all run it.

use std::time::Duration;

use rathaus_shared::App;
use rathaus_shared::services::retention;
use tokio::sync::watch;

/// How often the rules are applied.
const EVERY: Duration = Duration::from_secs(3600);

/// Runs until `shutdown` turns true. A failed run is logged and tried again an hour later.
pub async fn run(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = retention::run(&app, app.now()).await {
            tracing::warn!(error = %e, "retention run failed; trying again in an hour");
        }
    }
}
