//! A stand-in remote server on loopback for tests that need many inboxes or exact payloads:
//! it serves fixed JSON documents and records every POST. It is a test double for *remote
//! hosts*, never the proof that the protocol works (the Fedify peer is that).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;

/// One recorded POST.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Path → (content type, body).
    documents: Mutex<HashMap<String, (String, String)>>,
    /// GET requests per path, served or not.
    gets: Mutex<HashMap<String, usize>>,
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
    /// Connections accepted so far.
    connections: Arc<AtomicU64>,
}

/// Handle to a running sink; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sink {
    inner: Arc<Inner>,
    pub port: u16,
}

impl Sink {
    /// Starts on a fresh loopback port, answering POSTs with 202.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(listener)
    }

    /// Starts on a given port (for a receiver that "comes back" where it was).
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let inner = Arc::new(Inner::default());
        inner.status.store(202, Ordering::SeqCst);
        let accepted = inner.connections.clone();
        let app = Router::new()
            .route("/{*path}", get(document).post(record))
            .with_state(inner.clone());
        tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let counted = listener.tap_io(move |_| {
                accepted.fetch_add(1, Ordering::SeqCst);
            });
            let _ = axum::serve(counted, app).await;
        });
        Ok(Self { inner, port })
    }

    /// `http://localhost:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// Serves `doc` at `path` for GET, as `application/activity+json`.
    pub fn put_document(&self, path: &str, doc: Value) {
        self.put_raw(path, "application/activity+json", doc.to_string());
    }

    /// Serves `body` at `path` with this content type (an upload on a shared host, say).
    pub fn put_raw(&self, path: &str, content_type: &str, body: String) {
        self.inner
            .documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                path.trim_start_matches('/').to_owned(),
                (content_type.to_owned(), body),
            );
    }

    /// How many GET requests `path` has had.
    pub fn gets(&self, path: &str) -> usize {
        self.inner
            .gets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path.trim_start_matches('/'))
            .copied()
            .unwrap_or(0)
    }

    /// GET requests over all paths.
    pub fn all_gets(&self) -> usize {
        self.inner
            .gets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// How many connections the sink has accepted.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::SeqCst)
    }

    pub fn remove_document(&self, path: &str) {
        self.inner
            .documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path.trim_start_matches('/'));
    }

    /// The status every POST gets from now on.
    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// A pause before answering each POST, like a remote server under load.
    pub fn set_delay(&self, delay: Duration) {
        self.inner.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn document(State(inner): State<Arc<Inner>>, Path(path): Path<String>) -> impl IntoResponse {
    *inner
        .gets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.clone())
        .or_default() += 1;
    let doc = inner
        .documents
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&path)
        .cloned();
    match doc {
        Some((content_type, body)) => {
            (StatusCode::OK, [("content-type", content_type)], body).into_response()
        }
        None => StatusCode::GONE.into_response(),
    }
}

async fn record(
    State(inner): State<Arc<Inner>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delay = inner.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = inner.status.load(Ordering::SeqCst);
    if (200..300).contains(&status) {
        inner
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Received {
                path: format!("/{path}"),
                headers: headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            v.to_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                body: body.to_vec(),
            });
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
