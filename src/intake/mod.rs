//! The HTTP API: one `axum::Router`, served by `axum::serve` locally and `lambda_http::run`
//! in Lambda.

mod accepted;
mod admission;
mod changes;
mod chat;
mod check;
mod devices;
mod extract;
mod fleet;
mod gate;
mod idempotency;
mod in_flight;
mod problem;
mod rehearsal;
mod slack;
mod strict_json;
mod submit;
mod teams;

pub use check::Readiness;
pub use in_flight::InFlight;
use problem::{ApiError, Refused};

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::callback::CallbackSender;
use crate::callers::CallerSource;
use crate::change::{ChangeId, Pacing};
use crate::clock::Clock;
use crate::graph::GraphClient;
use crate::metrics::{self, Dimension, Metric};
use crate::store::Store;
use crate::submission::Submission;
use crate::tickets::TicketClient;

/// What the HTTP API works with: the clients, built once per process, and its settings.
#[derive(Clone)]
pub struct Intake {
    pub graph: Arc<GraphClient>,
    pub store: Arc<dyn Store>,
    pub callers: Arc<dyn CallerSource>,
    /// Used here only to check a `callbackUrl` before accepting it.
    pub callbacks: Arc<CallbackSender>,
    /// Reads the tickets gated callers' changes name.
    pub tickets: Arc<TicketClient>,
    pub settings: IntakeSettings,
    pub pacing: Pacing,
    pub clock: Arc<dyn Clock>,
    /// The keyed deliveries this process is handling now.
    pub deliveries: InFlight,
}

impl Intake {
    /// Sends changes to Graph with this intake's clients.
    pub(crate) fn submission(&self) -> Submission<'_> {
        Submission {
            graph: &self.graph,
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            pacing: &self.pacing,
        }
    }
}

/// How long the intake may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeSettings {
    /// The most one request may spend, Graph retries included. In Lambda the invocation's
    /// own deadline may cut it shorter.
    pub request_timeout: Duration,
    /// How long a delivery's key is remembered: a repeat within it gets the first answer.
    pub idempotency_window: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(25),
            idempotency_window: Duration::from_secs(24 * 3600),
        }
    }
}

impl IntakeSettings {
    /// How long a submitter owns a new change before the sweeper may presume it dead: past
    /// the longest the submitter can spend on it.
    pub fn submit_lease(&self) -> Duration {
        self.request_timeout + Duration::from_secs(30)
    }
}

/// The longest a request's body may take to arrive.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(intake: Intake) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/v1/changes",
            post(changes::create).layer(map_response(counting_refusals)),
        )
        .route("/v1/changes/{change_id}", get(changes::show))
        .route("/v1/changes/{change_id}/cancel", post(changes::cancel))
        .route("/v1/check", get(check::show))
        .route("/v1/devices", get(devices::list))
        .route(
            "/v1/slack/commands",
            post(slack::command).layer(map_response(counting_refusals)),
        )
        .route(
            "/v1/teams/messages",
            post(teams::message).layer(map_response(counting_refusals)),
        )
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body trickled in slowly must not hold a connection: the read fails, and the
        // request gets a 400 unreadable-body.
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Panic)
        }))
        // The default span records method and path only: headers carry tokens.
        .layer(TraceLayer::new_for_http().on_response(DefaultOnResponse::new().level(Level::INFO)))
        .with_state(intake)
}

/// Counts the requests for a change that a route refused with a 4xx problem, whether the
/// handler or an extractor (authentication, body) refused it.
async fn counting_refusals(response: Response) -> Response {
    if let Some(Refused(reason)) = response.extensions().get::<Refused>() {
        metrics::count(Metric::ChangesRejected, Some(Dimension::Reason(reason)));
    }
    response
}

/// Where a caller reads a change back.
pub fn status_url(id: &ChangeId) -> String {
    format!("/v1/changes/{id}")
}
