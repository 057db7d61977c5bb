//! The `sweeper` Lambda function: one sweep pass per scheduled invocation.

use graphgate::config::Settings;
use graphgate::intake::AppState;
use graphgate::sweeper::SweepReport;
use graphgate::telemetry::{self, error_chain};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::time::{Duration, Instant};

/// Time kept back from the invocation's deadline to store the last results and answer.
const MARGIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(telemetry::Format::Json);
    let settings =
        Settings::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let state = AppState::from_settings(settings)
        .await
        .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))?;
    let sweeper = &state.sweeper();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // An EventBridge rule sends its envelope; EventBridge Scheduler sends whatever payload
        // the schedule names. Either way, the invocation itself is the signal.
        let source = event
            .payload
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("scheduler payload");
        tracing::info!(source, "sweep invoked");
        let left = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(MARGIN);
        let report: SweepReport = sweeper.sweep_once(Instant::now() + left).await?;
        Ok::<_, Error>(report)
    }))
    .await
}
