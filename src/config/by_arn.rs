//! Secrets named by ARN: which variables may be given that way, reading them from Secrets
//! Manager at start-up, and how long a value read so is kept before it is read again.

use std::collections::HashMap;
use std::time::Duration;

use super::env::{ConfigError, Env, seconds};

/// The Graph credential's `*_ARN` variables, and the variable whose value the secret each
/// names holds.
pub(super) const GRAPH_BY_ARN: [(&str, &str); 2] = [
    ("GRAPH_CLIENT_SECRET_ARN", "GRAPH_CLIENT_SECRET"),
    ("GRAPH_CLIENT_CERTIFICATE_ARN", "GRAPH_CLIENT_CERTIFICATE"),
];

/// As [`GRAPH_BY_ARN`], for the caller registry.
pub(super) const CALLERS_BY_ARN: (&str, &str) =
    ("GRAPHGATE_CALLERS_SECRET_ARN", "GRAPHGATE_CALLERS");

/// Every variable that gives the Graph credential, inline or by ARN: any one of them set
/// means a credential was given.
pub const CREDENTIAL_VARS: [&str; 4] = [
    GRAPH_BY_ARN[0].0,
    GRAPH_BY_ARN[0].1,
    GRAPH_BY_ARN[1].0,
    GRAPH_BY_ARN[1].1,
];

/// Reads the secrets the environment names by ARN, keyed by the variable each stands in for.
pub async fn secrets_by_arn(env: Env<'_>) -> Result<HashMap<&'static str, String>, ConfigError> {
    read_by_arn(env, &[GRAPH_BY_ARN[0], GRAPH_BY_ARN[1], CALLERS_BY_ARN]).await
}

/// `env`, with the secrets read by ARN standing in for the variables they hold.
pub(super) fn with_secrets<'a>(
    secrets: &'a HashMap<&'static str, String>,
    env: Env<'a>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| secrets.get(name).cloned().or_else(|| env(name))
}

/// Reads the secrets of `pairs` (as in [`GRAPH_BY_ARN`]) that the environment names by ARN.
pub(super) async fn read_by_arn(
    env: Env<'_>,
    pairs: &[(&'static str, &'static str)],
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut wanted = Vec::new();
    for &(arn_name, value_name) in pairs {
        match (env(arn_name), env(value_name)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    arn_name,
                    format!("set either {value_name} or {arn_name}, not both"),
                ));
            }
            (Some(arn), None) => wanted.push((arn_name, value_name, arn)),
            _ => {}
        }
    }
    let arns: Vec<String> = wanted.iter().map(|(_, _, arn)| arn.clone()).collect();
    let values = crate::secrets::read_all(&arns).await;
    wanted
        .into_iter()
        .zip(values)
        .map(|((arn_name, value_name, _), value)| {
            value
                .map(|v| (value_name, v))
                .map_err(|e| ConfigError::invalid(arn_name, e))
        })
        .collect()
}

/// How long a secret read by ARN is used before it is read again.
pub(super) fn secret_ttl(env: Env<'_>) -> Result<Duration, ConfigError> {
    Ok(
        seconds(env, "GRAPHGATE_SECRET_TTL_SECS", 86_400.0)?
            .unwrap_or(Duration::from_secs(15 * 60)),
    )
}
