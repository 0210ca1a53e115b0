//! The public HTTP face of Rathaus. Handlers parse input, call a `shared` service, render;
//! they never touch entities directly. This issue brings the health endpoints; ActivityPub,
//! WebFinger, NodeInfo and the pages build on the same router.

mod error;
mod health;

use std::future::Future;

use axum::Router;
use rathaus_shared::App;
use tokio::net::TcpListener;

pub use error::{Error, Result};

/// The whole HTTP surface for one app.
pub fn router(app: App) -> Router {
    Router::new().merge(health::routes()).with_state(app)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
/// Takes a bound listener so tests can use port 0.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Io)
}
