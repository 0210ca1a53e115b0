//! Liveness and readiness for process supervisors and load balancers.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rathaus_shared::App;
use serde_json::{Value, json};

pub fn routes() -> Router<crate::FedState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_with_token))
}

/// The router of the separate metrics address (`metrics.bind`): `/metrics` only, no token.
pub fn metrics_only(state: crate::FedState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// # GET /metrics (separate address)
async fn metrics(State(app): State<App>) -> Response {
    match app.metrics.render(app.store.db()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => crate::Error::from(e).into_response(),
    }
}

/// # GET /metrics (public address): only with `Authorization: Bearer <metrics.token>`.
async fn metrics_with_token(State(app): State<App>, headers: HeaderMap) -> Response {
    let config = &app.config.metrics;
    if !config.token_set() {
        return crate::Error::NotFound(
            "metrics are not served on this address (set metrics.token or metrics.bind)".into(),
        )
        .into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !config.token_matches(presented) {
        let mut response =
            crate::Error::Unauthorized("a valid bearer token is required".into()).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    metrics(State(app)).await
}

/// # GET /healthz
/// The process is alive and serving HTTP. Never touches the store.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// # GET /readyz
/// The store answers; 503 otherwise, so a balancer stops sending traffic here.
async fn readyz(State(app): State<App>) -> (StatusCode, Json<Value>) {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database not reachable" })),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use rathaus_shared::testing::{TestStore, default_config};
    use tower::ServiceExt;

    use super::*;

    async fn get_status(state: &crate::FedState, path: &str) -> (StatusCode, Value) {
        let res = crate::router(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn ready_while_the_store_answers_and_not_after_it_closed() {
        let ts = TestStore::sqlite().await;
        let app = App::with_store(default_config(), ts.store.clone())
            .await
            .expect("app");
        let app = crate::state(app).await.expect("state");
        assert_eq!(get_status(&app, "/healthz").await.0, StatusCode::OK);
        let (status, body) = get_status(&app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready");

        app.app.store.db().close_by_ref().await.expect("close pool");
        let (status, body) = get_status(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["reason"], "database not reachable");
        // Liveness does not depend on the store.
        assert_eq!(get_status(&app, "/healthz").await.0, StatusCode::OK);
        ts.cleanup().await;
    }
}
