//! The HTTP API: one `axum::Router`, served by `axum::serve` locally and `lambda_http::run`
//! in Lambda.

mod changes;
mod extract;
mod problem;

pub use problem::ApiError;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;
use crate::change::ChangeId;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/v1/changes", post(changes::create))
        .route("/v1/changes/{change_id}", get(changes::show))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Panic)
        }))
        // The default span records method and path only: headers carry tokens.
        .layer(TraceLayer::new_for_http().on_response(DefaultOnResponse::new().level(Level::INFO)))
        .with_state(state)
}

/// Where a caller reads a change back.
pub fn status_url(id: &ChangeId) -> String {
    format!("/v1/changes/{id}")
}
