//! Start-up shared by the two Lambda functions: JSON logs, settings, clients. A bad setting
//! is logged once, plainly, and fails the init phase.

use crate::app::AppState;
use std::time::{Duration, SystemTime};

use crate::config::Settings;
use crate::telemetry::{self, error_chain};

pub async fn start() -> Result<AppState, lambda_runtime::Error> {
    telemetry::init(telemetry::Format::Json);
    let settings = Settings::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let state = AppState::from_settings(settings)
        .await
        .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))?;
    Ok(state)
}

/// The time from now to an invocation's `deadline`, less `margin` kept back to answer.
pub fn time_left(deadline: SystemTime, margin: Duration) -> Duration {
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(margin)
}
