//! Reading secrets from AWS Secrets Manager by ARN. Which settings may come from a secret is
//! the configuration's business (`config.rs`); this module only fetches them.

use aws_sdk_secretsmanager::Client;
use tokio::sync::OnceCell;

use crate::telemetry::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret: {0}")]
    Unreadable(String),
    #[error("the secret holds no SecretString")]
    NotAString,
}

/// One Secrets Manager client per process, made when the first secret is read.
async fn client() -> &'static Client {
    static CLIENT: OnceCell<Client> = OnceCell::const_new();
    CLIENT
        .get_or_init(|| async { Client::new(crate::aws::config().await) })
        .await
}

/// The current `SecretString` of the secret `arn` names.
pub async fn read(arn: &str) -> Result<String, SecretError> {
    let output = client()
        .await
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

/// The `SecretString` of each secret in `arns`, in the same order, read concurrently.
pub async fn read_all(arns: &[String]) -> Vec<Result<String, SecretError>> {
    futures::future::join_all(arns.iter().map(|arn| read(arn))).await
}
