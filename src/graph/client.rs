//! The Graph calls graphgate makes.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::endpoints::GraphBase;
use super::error::{GraphError, request_id};
use super::retry::{self, RetryPolicy};
use super::token::{ClientCredentials, TokenSource};
use crate::change::Action;

/// What Graph made of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// A device action was queued; follow `location` to see it finish.
    Accepted {
        location: Url,
        request_id: Option<String>,
    },
    /// An app upgrade is done: Graph answers it synchronously.
    Completed { request_id: Option<String> },
}

/// One Graph client per process: a connection pool, a token cache and a retry policy.
pub struct GraphClient {
    http: reqwest::Client,
    base: GraphBase,
    tokens: TokenSource,
    retry: RetryPolicy,
}

impl GraphClient {
    pub fn new(base: GraphBase, credentials: ClientCredentials, retry: RetryPolicy) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("graphgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // A redirect could carry the bearer token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the TLS backend is compiled in");
        let tokens = TokenSource::new(http.clone(), credentials, retry.clone());
        Self {
            http,
            base,
            tokens,
            retry,
        }
    }

    pub fn base(&self) -> &GraphBase {
        &self.base
    }

    /// Asks Graph to carry out `action`.
    pub async fn execute(
        &self,
        action: &Action,
        deadline: Instant,
    ) -> Result<ActionOutcome, GraphError> {
        let url = self.base.action_url(action);
        let body = action_body(action);
        let response = self
            .send(Method::POST, &url, body.as_ref(), deadline)
            .await?;
        let status = response.status();
        let request_id = request_id(response.headers());
        if !status.is_success() {
            return Err(GraphError::from_response(response).await);
        }
        if let Action::UpgradeApp { .. } = action {
            return Ok(ActionOutcome::Completed { request_id });
        }
        if status != StatusCode::ACCEPTED {
            tracing::warn!(
                status = status.as_u16(),
                "device action answered without 202"
            );
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok());
        let location = self.base.resolve_location(location)?;
        Ok(ActionOutcome::Accepted {
            location,
            request_id,
        })
    }

    /// Sends with a bearer token; a 401 drops the cached token and tries once more with a new one.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Response, GraphError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(deadline).await?;
            let response = retry::send(&self.retry, deadline, || {
                let request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token.expose());
                match body {
                    Some(json) => request.json(json),
                    None => request,
                }
            })
            .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::warn!("graph refused the cached token; fetching a new one");
                self.tokens.invalidate(&token).await;
                refreshed = true;
                continue;
            }
            return Ok(response);
        }
    }
}

fn action_body(action: &Action) -> Option<Value> {
    match action {
        Action::UpdateSoftware {
            software_type,
            software_version,
            ..
        } => Some(serde_json::json!({
            "softwareType": software_type,
            "softwareVersion": software_version,
        })),
        Action::RestartDevice { .. } | Action::RunDiagnostics { .. } => None,
        Action::UpgradeApp {
            consented_permission_set,
            ..
        } => consented_permission_set
            .as_ref()
            .map(|set| serde_json::json!({ "consentedPermissionSet": set })),
    }
}
