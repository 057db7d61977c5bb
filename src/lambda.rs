//! What the two Lambda functions share: start-up (JSON logs, EMF metrics, settings, clients; a
//! bad setting is logged once, plainly, and fails the init phase), and the sweeper's scheduled
//! invocation.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::app::App;
use crate::clock::invocation_time_left;
use crate::config::Settings;
use crate::metrics;
use crate::store::StoreError;
use crate::sweeper::{SweepReport, Sweeper};
use crate::telemetry::{self, error_chain};

pub async fn start() -> Result<App, lambda_runtime::Error> {
    telemetry::init(telemetry::Format::Json);
    let settings = Settings::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    metrics::install(settings.metrics_namespace.clone());
    let app = App::from_settings(settings)
        .await
        .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))?;
    Ok(app)
}

/// What invoked the `sweeper` Lambda function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge rule: its `Scheduled Event` envelope.
    Rule { time: Option<String> },
    /// EventBridge Scheduler, which sends the payload the schedule names (any JSON).
    Scheduler,
}

impl Trigger {
    pub fn of(payload: &serde_json::Value) -> Self {
        let field = |name: &str| payload.get(name).and_then(serde_json::Value::as_str);
        if field("source") == Some("aws.events") && field("detail-type").is_some() {
            Trigger::Rule {
                time: field("time").map(str::to_owned),
            }
        } else {
            Trigger::Scheduler
        }
    }
}

/// One invocation of the `sweeper` Lambda function: a pass that stops `margin` before the
/// invocation's deadline.
pub async fn on_schedule(
    sweeper: &Sweeper,
    payload: &serde_json::Value,
    invocation_deadline: SystemTime,
    margin: Duration,
) -> Result<SweepReport, StoreError> {
    let trigger = Trigger::of(payload);
    let left = invocation_time_left(invocation_deadline, margin)
        .unwrap_or_else(|| sweeper.settings.pass_budget());
    tracing::info!(?trigger, seconds_left = left.as_secs_f64(), "sweep invoked");
    sweeper.sweep_once(Instant::now() + left).await
}
