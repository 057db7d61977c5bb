//! The AWS SDK configuration: region, credentials and endpoint overrides (such as
//! `AWS_ENDPOINT_URL_DYNAMODB`) from the environment, and the HTTP client of `aws/transport.rs`.
//! Loaded once per process, and only when a store or a secret needs it, so a process that uses
//! neither pays nothing at start-up.

mod transport;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

pub async fn config() -> &'static SdkConfig {
    CONFIG
        .get_or_init(|| {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(transport::Transport::default())
                .load()
        })
        .await
}
