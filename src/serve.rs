//! `rathaus serve`: opens the app, binds HTTP (and the metrics address), starts the delivery
//! and retention workers and, when configured, the Matrix bot; on SIGINT/SIGTERM it lets
//! in-flight requests finish within `server.shutdown_grace_seconds`.

use std::time::Duration;

use anyhow::Context;
use rathaus_shared::{App, Config};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves until SIGINT or SIGTERM (or until the HTTP server fails), then stops the workers
/// and closes the store.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let bind = config.server.bind;
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let app = App::open(config).await?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("server.bind: cannot listen on {bind}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        public_url = %app.config.server.public_url,
        backend = ?app.store.backend(),
        "rathaus is serving"
    );

    let state = rathaus_federation::state(app.clone()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(rathaus_federation::delivery::run(
        state.clone(),
        stop_rx.clone(),
    ));
    let bot = if rathaus_bot::configured(&app.config).is_some() {
        let (app, stop) = (app.clone(), stop_rx.clone());
        Some(tokio::spawn(async move {
            if let Err(e) = rathaus_bot::run(app, stop).await {
                tracing::error!(error = %e, "the Matrix bot stopped; HTTP and federation keep running");
            }
        }))
    } else {
        tracing::info!("no [matrix] section: running without the Matrix bot");
        None
    };
    let metrics = match app.config.metrics.bind {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics.bind: cannot listen on {addr}"))?;
            tracing::info!(address = %listener.local_addr()?, "metrics are served");
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(rathaus_federation::serve_metrics(
                listener,
                state.clone(),
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    let retention = tokio::spawn(rathaus_federation::retention::run(
        app.clone(),
        stop_rx.clone(),
    ));
    let mut http_stop = stop_rx.clone();
    let mut http = tokio::spawn(rathaus_federation::serve(listener, state, async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    }));

    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down; finishing in-flight requests");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(grace, &mut http).await {
                Ok(joined) => joined.context("HTTP server task")??,
                Err(_) => {
                    tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time");
                    http.abort();
                }
            }
        }
        joined = &mut http => {
            let _ = stop_tx.send(true);
            joined.context("HTTP server task")??;
        }
    }
    if let Some(bot) = bot {
        let _ = tokio::time::timeout(grace, bot).await;
    }
    if let Some(metrics) = metrics {
        let _ = tokio::time::timeout(grace, metrics).await;
    }
    retention.abort();
    // In-flight deliveries finish; anything unfinished stays in the queue (its lease expires).
    if tokio::time::timeout(grace, worker).await.is_err() {
        tracing::warn!("deliveries still in flight at shutdown are left in the queue");
    }
    app.store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
