//! Cairn's HTTP edge: the SLS-compatible API, Cairn's management API, `/health` and
//! `/metrics`.
//!
//! Every API request follows one path: request id → buffer and parse ([`request`]) → route
//! ([`dispatch`]) → authenticate ([`auth`]) → authorise and handle ([`handlers`]) → response
//! with `x-log-requestid`. Domain crates below know nothing of HTTP; errors become SLS error
//! codes only in [`error`].

pub mod auth;
pub mod dispatch;
pub mod error;
pub mod handlers;
pub mod metrics;
pub mod request;
pub mod response;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use metrics::ServerMetrics;
pub use state::{ServerComponents, ServerSettings, ServerState};

/// The router: `/health`, `/metrics`, and every SLS/management API as the fallback.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(render_metrics))
        .fallback(serve_api)
        .with_state(state)
}

async fn render_metrics(
    State(state): State<Arc<ServerState>>,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn serve_api(
    State(state): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> axum::response::Response {
    dispatch::handle(state, peer, request).await
}

/// Serves on `listener` until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
