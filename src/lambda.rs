//! Start-up shared by the two Lambda functions: JSON logs, settings, clients. A bad setting
//! is logged once, plainly, and fails the init phase.

use crate::app::AppState;
use crate::config::Settings;
use crate::telemetry::{self, error_chain};

pub async fn start() -> Result<AppState, lambda_runtime::Error> {
    telemetry::init(telemetry::Format::Json);
    let settings =
        Settings::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let state = AppState::from_settings(settings)
        .await
        .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))?;
    Ok(state)
}
