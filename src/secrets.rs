//! Secrets the AWS deployment keeps in Secrets Manager rather than in its environment:
//! `GRAPH_CLIENT_SECRET_ARN` and `GRAPHGATE_CALLERS_SECRET_ARN` name secrets that stand in
//! for `GRAPH_CLIENT_SECRET` and `GRAPHGATE_CALLERS`. They are read once, at start-up, at the
//! same time.

use std::collections::HashMap;

use crate::config::{ConfigError, Env};
use crate::telemetry::error_chain;

/// Each `*_ARN` variable, and the variable whose value its secret holds.
const BY_ARN: [(&str, &str); 2] = [
    ("GRAPH_CLIENT_SECRET_ARN", "GRAPH_CLIENT_SECRET"),
    ("GRAPHGATE_CALLERS_SECRET_ARN", "GRAPHGATE_CALLERS"),
];

/// Reads the secrets the environment names by ARN, keyed by the variable each stands in for.
pub async fn resolve(env: Env<'_>) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut wanted = Vec::new();
    for (arn_name, value_name) in BY_ARN {
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
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let client = aws_sdk_secretsmanager::Client::new(crate::aws::config().await);
    let reads = wanted.into_iter().map(|(arn_name, value_name, arn)| {
        let client = client.clone();
        async move {
            let output = client
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    ConfigError::invalid(
                        arn_name,
                        format!("cannot read the secret: {}", error_chain(&e)),
                    )
                })?;
            let value = output.secret_string().ok_or_else(|| {
                ConfigError::invalid(arn_name, "the secret holds no SecretString")
            })?;
            Ok::<_, ConfigError>((value_name, value.to_owned()))
        }
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}
