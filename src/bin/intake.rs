//! The `intake` Lambda function: the HTTP API behind API Gateway or a function URL.

use graphgate::config::Settings;
use graphgate::intake::{AppState, router};
use graphgate::telemetry::{self, error_chain};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(telemetry::Format::Json);
    let settings =
        Settings::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let state = AppState::from_settings(settings)
        .await
        .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))?;
    lambda_http::run(router(state)).await
}
