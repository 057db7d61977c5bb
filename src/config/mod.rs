//! Settings from the environment, parsed once at start-up into the types of the modules that
//! use them. A bad or missing value stops the process with a message naming the variable;
//! no message repeats a secret. Each group of settings is read in its own file below; this
//! one puts them together.

mod by_arn;
mod callers;
mod credential;
mod env;
mod graph;
mod rotation;
mod service;
mod store;

use std::sync::Arc;
use std::time::Duration;

use crate::callers::CallerSource;
use crate::change::Pacing;
use crate::clock::{Clock, SystemClock};
use crate::intake::IntakeSettings;
use crate::outbound::TargetPolicy;
use crate::store::StoreSettings;
use crate::sweeper::SweepSettings;

pub use by_arn::{CREDENTIAL_VARS, secrets_by_arn};
pub use env::{ConfigError, Env, process_env};
pub use graph::GraphSettings;
pub use service::ConnectionLimits;

/// Everything a graphgate process needs to know, from the environment.
#[derive(Debug)]
pub struct Settings {
    pub graph: GraphSettings,
    pub callers: Arc<dyn CallerSource>,
    pub store: StoreSettings,
    pub intake: IntakeSettings,
    pub sweep: SweepSettings,
    pub pacing: Pacing,
    /// How often `graphgate serve` runs a sweep pass.
    pub sweep_interval: Duration,
    /// Where callbacks may go. Strict unless the entry point relaxes it (`serve` does).
    pub callback_policy: TargetPolicy,
    /// How `graphgate serve` treats connections.
    pub connections: ConnectionLimits,
    /// The CloudWatch namespace of the metrics the Lambda functions write.
    pub metrics_namespace: String,
    /// Where every time rule of the process takes `now` from.
    pub clock: Arc<dyn Clock>,
}

impl Settings {
    /// Settings from the process's environment, with the secrets it names by ARN read from
    /// Secrets Manager.
    pub async fn load() -> Result<Self, ConfigError> {
        Self::load_from(&process_env, Arc::new(SystemClock)).await
    }

    /// As [`Settings::load`], from `env` instead of the process's environment, on `clock`.
    pub async fn load_from(env: Env<'_>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let secrets = secrets_by_arn(env).await?;
        Self::from_lookup(&by_arn::with_secrets(&secrets, env), clock)
    }

    pub fn from_lookup(env: Env<'_>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let sweep = service::sweep(env)?;
        let pacing = service::pacing(env)?;
        let sweep_interval = service::sweep_interval(env)?;
        let intake = service::intake(env)?;
        Ok(Settings {
            graph: graph::graph(env, &clock)?,
            callers: callers::callers(env, &clock)?,
            store: store::store(env)?,
            intake,
            sweep,
            pacing,
            sweep_interval,
            callback_policy: TargetPolicy::PublicHttpsOnly,
            connections: service::connections(env)?,
            metrics_namespace: service::metrics_namespace(env)?,
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::callers::tests::CALLERS_JSON;
    use super::env::lookup;
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(&lookup(vars), Arc::new(SystemClock))
    }

    #[test]
    fn refuses_to_start_without_what_it_needs() {
        let err = settings(&[("GRAPH_CLIENT_ID", "app")]).unwrap_err();
        assert!(
            err.to_string().starts_with("GRAPH_TENANT_ID is required"),
            "{err}"
        );
        let err = settings(&[
            ("GRAPH_TENANT_ID", "t"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("GRAPHGATE_CALLERS is required"),
            "{err}"
        );
        let err = settings(&[("GRAPH_CLOUD", "mars")]).unwrap_err();
        assert!(err.to_string().contains("GRAPH_CLOUD"), "{err}");
        let err = settings(&[("GRAPH_TENANT_ID", "a/b")]).unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_TENANT_ID is invalid"),
            "{err}"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[
            ("GRAPH_TOKEN_URL", "http://127.0.0.1:9/t/oauth2/v2.0/token"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "very-secret-value"),
            ("GRAPHGATE_CALLERS", CALLERS_JSON),
            ("GRAPHGATE_REQUEST_TIMEOUT_SECS", "2.5"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("very-secret-value"));
        assert!(!printed.contains("0123456789abcdef0123456789abcdef"));
        assert_eq!(s.intake.request_timeout, Duration::from_millis(2500));
    }
}
