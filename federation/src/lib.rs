//! The public HTTP face of Rathaus. Handlers parse input, call a `shared` service, render;
//! they never touch the store's rows directly. The delivery worker lives here too: it is the other
//! half of speaking HTTP to the fediverse.

pub mod activities;
pub mod client;
pub mod delivery;
mod error;
mod feeds;
mod health;
mod inbox;
mod objects;
mod opendata;
pub mod pages;
pub mod protocol;
pub mod retention;
mod senders;
pub mod signatures;
mod state;

use std::future::Future;

use axum::Router;
use rathaus_shared::App;
use tokio::net::TcpListener;

pub use error::{Error, Result};
pub use state::FedState;

/// The whole HTTP surface.
pub fn router(state: FedState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(objects::routes())
        .merge(inbox::routes())
        .merge(pages::routes())
        .merge(feeds::routes())
        .merge(opendata::routes())
        .layer(axum::middleware::from_fn(limit_headers))
        .with_state(state)
}

/// No single header may be larger than this (name and value)...
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// ...and all of a request's headers together no larger than this.
pub const MAX_HEADERS_BYTES: usize = 64 * 1024;

/// Answers 431 to a request with oversized headers before any handler does work for it.
async fn limit_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut total = 0;
    for (name, value) in request.headers() {
        let size = name.as_str().len() + value.len();
        if size > MAX_HEADER_BYTES {
            return Error::HeadersTooLarge(format!(
                "the {name} header is larger than {MAX_HEADER_BYTES} bytes"
            ))
            .into_response();
        }
        total += size;
    }
    if total > MAX_HEADERS_BYTES {
        return Error::HeadersTooLarge(format!(
            "the headers are larger than {MAX_HEADERS_BYTES} bytes together"
        ))
        .into_response();
    }
    next.run(request).await
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
/// Takes a bound listener so tests can use port 0.
pub async fn serve(
    listener: TcpListener,
    state: FedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Io)
}

/// Serves only `/metrics` on the separate metrics address until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    state: FedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, health::metrics_only(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Io)
}

/// Builds the shared state for an app (loads keys, makes the HTTP client).
pub async fn state(app: App) -> Result<FedState> {
    FedState::new(app).await
}
