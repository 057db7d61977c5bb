//! The HTTP API: one `axum::Router`, served by `axum::serve` locally and `lambda_http::run`
//! in Lambda.

mod callers;
mod changes;
mod extract;
mod problem;

pub use callers::{Caller, CallerRegistry, MIN_TOKEN_LEN};
pub use problem::ApiError;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::callback::CallbackSender;
use crate::change::ChangeId;
use crate::config::{Settings, StoreSettings, SweepSettings, Timing};
use crate::graph::GraphClient;
use crate::store::{DynamoStore, SqliteStore, Store, StoreError};
use crate::sweeper::Sweeper;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every request handler (and the sweeper) shares; built once per process.
#[derive(Clone)]
pub struct AppState {
    pub graph: Arc<GraphClient>,
    pub store: Arc<dyn Store>,
    pub callers: Arc<CallerRegistry>,
    pub callbacks: Arc<CallbackSender>,
    pub timing: Timing,
    pub sweep: SweepSettings,
}

impl AppState {
    /// Builds the clients. Nothing here calls a service: the first Graph token is fetched by
    /// the first request that needs it, keeping cold starts short.
    pub async fn from_settings(settings: Settings) -> Result<Self, StoreError> {
        let store: Arc<dyn Store> = match &settings.store {
            StoreSettings::Sqlite { path } => Arc::new(SqliteStore::open(path)?),
            StoreSettings::DynamoDb { table, retention } => {
                // Reads region, credentials and AWS_ENDPOINT_URL_DYNAMODB from the environment.
                let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let client = aws_sdk_dynamodb::Client::new(&aws);
                Arc::new(DynamoStore::new(client, table.clone(), *retention))
            }
        };
        Ok(AppState {
            graph: Arc::new(GraphClient::new(
                settings.graph.base,
                settings.graph.credentials,
                settings.graph.retry,
            )),
            store,
            callers: Arc::new(settings.callers),
            callbacks: Arc::new(CallbackSender::new(settings.callback_policy)),
            timing: settings.timing,
            sweep: settings.sweep,
        })
    }

    /// A sweeper over the same Graph client and store.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(
            self.graph.clone(),
            self.store.clone(),
            self.callers.clone(),
            self.callbacks.clone(),
            self.sweep,
        )
    }
}

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
