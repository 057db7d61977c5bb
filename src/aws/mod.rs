//! The AWS SDK configuration: region, credentials and endpoint overrides (such as
//! `AWS_ENDPOINT_URL_DYNAMODB`) from the environment, and the HTTP client of `aws/transport.rs`.
//! Loaded once per process, and only when a store or a secret needs it, so a process that uses
//! neither pays nothing at start-up.

mod transport;

use aws_config::SdkConfig;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use tokio::sync::OnceCell;

static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

pub async fn config() -> &'static SdkConfig {
    CONFIG.get_or_init(load).await
}

async fn load() -> SdkConfig {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(transport::Transport::default());
    // Lambda gives a function its credentials and region in the environment, which is where the
    // default chains look first. Taking them from there directly gives the same answer without
    // building the chains' other providers: an STS client for web identity, with its endpoint
    // rules, and an IMDS client for each chain, made at every cold start and never used there.
    if set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY")) {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if set("AWS_REGION") || set("AWS_DEFAULT_REGION") {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}
