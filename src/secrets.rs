//! Reading secrets from AWS Secrets Manager by ARN. Which settings may come from a secret is
//! the configuration's business (`config.rs`); this module only fetches them, all at once.

use crate::telemetry::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret: {0}")]
    Unreadable(String),
    #[error("the secret holds no SecretString")]
    NotAString,
}

/// The `SecretString` of each secret in `arns`, in the same order, read concurrently.
pub async fn read_all(arns: &[String]) -> Vec<Result<String, SecretError>> {
    if arns.is_empty() {
        return Vec::new();
    }
    let client = aws_sdk_secretsmanager::Client::new(crate::aws::config().await);
    let reads = arns.iter().map(|arn| {
        let client = client.clone();
        async move {
            let output = client
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| SecretError::Unreadable(error_chain(&e)))?;
            output
                .secret_string()
                .map(str::to_owned)
                .ok_or(SecretError::NotAString)
        }
    });
    futures::future::join_all(reads).await
}
