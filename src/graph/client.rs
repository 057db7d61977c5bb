//! The Graph calls graphgate makes.

use std::sync::Arc;

use reqwest::header::{CONTENT_LENGTH, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use serde::{Deserialize, Serialize};

use super::base::GraphBase;
use super::cloud::Cloud;
use super::error::{GraphError, request_id};
use super::http::{self, LazyHttp};
use super::location::LocationError;
use super::notices::{Notices, RetirementNotice};
use super::operation;
use super::permissions::Capability;
use super::preflight::{self, DeviceApi, Preflight};
use super::retry::{self, RetryPolicy, Sent};
use super::token::{ClientCredentials, TokenSource};
use crate::change::{
    Action, ActionOutcome, AppDefinition, AppScope, DeviceId, DeviceOperation, InstallationId,
};
use crate::clock::Clock;
use crate::metrics::{self, Dimension, Metric};

/// One Graph client per process: a connection pool, a token cache and a retry policy.
pub struct GraphClient {
    http: LazyHttp,
    pub(super) base: GraphBase,
    cloud: Cloud,
    tokens: TokenSource,
    pub(super) retry: RetryPolicy,
    /// `retry` with one attempt, for reads whose caller comes back later anyway.
    pub(super) single: RetryPolicy,
    pub(super) notices: Notices,
}

impl GraphClient {
    pub fn new(
        base: GraphBase,
        cloud: Cloud,
        credentials: ClientCredentials,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let http = http::lazy();
        let tokens = TokenSource::new(http.clone(), credentials, retry.clone(), clock);
        let single = RetryPolicy {
            max_attempts: 1,
            ..retry.clone()
        };
        Self {
            http,
            base,
            cloud,
            tokens,
            retry,
            single,
            notices: Notices::default(),
        }
    }

    pub fn base(&self) -> &GraphBase {
        &self.base
    }

    /// Every `Deprecation`/`Sunset` notice Graph has sent this process, one per API.
    pub fn retirement_notices(&self) -> Vec<RetirementNotice> {
        self.notices.all()
    }

    /// The cloud graphgate's tenant is in, when Graph there does not offer `action`.
    pub fn refuses(&self, needs: Capability) -> Option<Cloud> {
        (!self.cloud.offers(needs)).then_some(self.cloud)
    }

    /// Asks Graph to carry out `action`, and counts it among the changes accepted if Graph
    /// takes it: from the intake, or resubmitted by the sweeper.
    pub async fn execute(
        &self,
        action: &Action,
        deadline: Instant,
    ) -> Result<ActionOutcome, GraphError> {
        let outcome = self.send_action(action, deadline).await;
        if outcome.is_ok() {
            metrics::count(
                Metric::ChangesAccepted,
                Some(Dimension::Action(action.kind().as_str())),
            );
        }
        outcome
    }

    /// The request that carries out `action`, exactly as [`execute`](Self::execute) sends it.
    pub fn action_request(&self, action: &Action) -> GraphRequest {
        GraphRequest {
            method: "POST",
            url: self.base.action_url(action),
            body: action_body(action),
        }
    }

    async fn send_action(
        &self,
        action: &Action,
        deadline: Instant,
    ) -> Result<ActionOutcome, GraphError> {
        let request = self.action_request(action);
        let sent = self
            .send(
                action.kind().as_str(),
                Method::POST,
                &request.url,
                request.body.as_ref(),
                &self.retry,
                deadline,
            )
            .await?;
        let response = sent.response;
        let status = response.status();
        let request_id = request_id(response.headers());
        if !status.is_success() {
            let error = GraphError::from_response(response).await;
            if sent.earlier_attempt_uncertain {
                // A 409 now most likely names the operation the timed-out attempt started.
                return Err(GraphError::Unavailable {
                    reason: format!("a gateway timeout, then {error}"),
                    retry_after: None,
                    outcome_unknown: true,
                });
            }
            return Err(error);
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
        let location = self
            .base
            .resolve_location(location.ok_or(LocationError::Missing)?)?;
        Ok(ActionOutcome::Accepted {
            location,
            request_id,
        })
    }

    /// The preflight check: signs in, reads the token's permissions, reads one page of the
    /// device list to see whether Graph still serves the device API (and whether it sends a
    /// retirement notice), and says what this registration can do.
    pub async fn preflight(&self, deadline: Instant) -> Preflight {
        let sign_in = self
            .tokens
            .token(deadline)
            .await
            .map(|token| preflight::roles_of(token.expose()));
        let device_api = if sign_in.is_ok() {
            let mut url = self.base.devices_url();
            url.query_pairs_mut().append_pair("$top", "1");
            let read = self
                .get_once("listDevices", &url, "the device list", deadline)
                .await;
            DeviceApi::from_probe(read.map(drop))
        } else {
            DeviceApi::NotChecked
        };
        Preflight::assemble(
            self.cloud,
            &self.base,
            sign_in,
            device_api,
            self.retirement_notices(),
        )
    }

    /// The app definition an installation runs now (`$expand=teamsAppDefinition`). One
    /// attempt: it is a look before an upgrade, or during recovery, which come back later.
    pub async fn installed_definition(
        &self,
        scope: &AppScope,
        installation: &InstallationId,
        deadline: Instant,
    ) -> Result<AppDefinition, GraphError> {
        let mut url = self.base.installation_url(scope, installation);
        url.query_pairs_mut()
            .append_pair("$expand", "teamsAppDefinition");
        let body = self
            .get_once("getInstallation", &url, "an app installation", deadline)
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Installation {
            teams_app_definition: AppDefinition,
        }
        serde_json::from_value::<Installation>(body)
            .map(|i| i.teams_app_definition)
            .map_err(|source| GraphError::Unexpected {
                what: "an app installation",
                source,
            })
    }

    /// Reads the operation at `location`. One attempt only: when Graph throttles, the caller
    /// learns how long to wait (`GraphError::Unavailable::retry_after`) and comes back later.
    pub async fn get_operation(
        &self,
        location: &Url,
        deadline: Instant,
    ) -> Result<DeviceOperation, GraphError> {
        // Checked again although it was checked when stored: the token goes wherever it points.
        let url = self.base.resolve_location(location.as_str())?;
        let body = self
            .get_once("getOperation", &url, "an operation", deadline)
            .await?;
        operation::parse(body).map_err(|source| GraphError::Unexpected {
            what: "an operation",
            source,
        })
    }

    /// Every operation Graph lists for a device, following `@odata.nextLink` (on the Graph
    /// host only) for at most [`MAX_OPERATION_PAGES`] pages.
    pub async fn list_operations(
        &self,
        device: &DeviceId,
        deadline: Instant,
    ) -> Result<Vec<DeviceOperation>, GraphError> {
        let items = self
            .get_pages(
                "listOperations",
                self.base.operations_url(device),
                "an operation list",
                MAX_OPERATION_PAGES,
                deadline,
            )
            .await?;
        let mut operations = Vec::new();
        for item in items {
            match operation::parse(item) {
                Ok(operation) => operations.push(operation),
                Err(e) => {
                    tracing::warn!(device = %device, error = %e, "skipping an operation that does not parse")
                }
            }
        }
        Ok(operations)
    }

    /// Every item of the collection at `url`, following `@odata.nextLink` (on the Graph host
    /// only) for at most `max_pages` pages; past that, what was read, with a warning.
    pub(super) async fn get_pages(
        &self,
        api: &'static str,
        mut url: Url,
        what: &'static str,
        max_pages: usize,
        deadline: Instant,
    ) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        for _ in 0..max_pages {
            let sent = self
                .send(api, Method::GET, &url, None, &self.retry, deadline)
                .await?;
            let page: Page = serde_json::from_value(read_json(sent.response, what).await?)
                .map_err(|source| GraphError::Unexpected { what, source })?;
            items.extend(page.value);
            match page.next_link {
                Some(next) => url = self.base.resolve_next_link(&next)?,
                None => return Ok(items),
            }
        }
        tracing::warn!(
            api,
            "{what} is longer than {max_pages} pages; using what was read"
        );
        Ok(items)
    }

    /// GETs `url` in one attempt, and reads its JSON (`what` names it in errors).
    pub(super) async fn get_once(
        &self,
        api: &'static str,
        url: &Url,
        what: &'static str,
        deadline: Instant,
    ) -> Result<Value, GraphError> {
        self.get_with(&self.single, api, url, what, deadline).await
    }

    /// GETs `url`, retrying while Graph throttles, and reads its JSON.
    pub(super) async fn get_json(
        &self,
        api: &'static str,
        url: &Url,
        what: &'static str,
        deadline: Instant,
    ) -> Result<Value, GraphError> {
        self.get_with(&self.retry, api, url, what, deadline).await
    }

    async fn get_with(
        &self,
        policy: &RetryPolicy,
        api: &'static str,
        url: &Url,
        what: &'static str,
        deadline: Instant,
    ) -> Result<Value, GraphError> {
        let sent = self
            .send(api, Method::GET, url, None, policy, deadline)
            .await?;
        read_json(sent.response, what).await
    }

    /// Sends with a bearer token; a 401 drops the cached token and tries once more with a new one.
    /// `api` names the call in retirement notices.
    pub(super) async fn send(
        &self,
        api: &'static str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        retry: &RetryPolicy,
        deadline: Instant,
    ) -> Result<Sent, GraphError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(deadline).await?;
            let sent = retry::send(retry, deadline, Some(api), || {
                let request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token.expose());
                match body {
                    Some(json) => request.json(json),
                    // hyper sends no length for an empty body over HTTP/1.1, and Graph answers
                    // such a POST with 411 Length Required.
                    None if method == Method::POST => request.header(CONTENT_LENGTH, "0"),
                    None => request,
                }
            })
            .await?;
            self.notices.observe(api, sent.response.headers());
            if sent.response.status() == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::warn!("graph refused the cached token; fetching a new one");
                self.tokens.invalidate(&token).await;
                refreshed = true;
                continue;
            }
            return Ok(sent);
        }
    }
}

/// A Graph request as graphgate would send it, for a dry run to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphRequest {
    pub method: &'static str,
    pub url: Url,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// Pages of a device's operation list read before giving up on following `@odata.nextLink`.
const MAX_OPERATION_PAGES: usize = 20;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// A success body as JSON, or the error Graph answered instead.
pub(super) async fn read_json(response: Response, what: &'static str) -> Result<Value, GraphError> {
    if !response.status().is_success() {
        return Err(GraphError::from_response(response).await);
    }
    let bytes = response.bytes().await.map_err(GraphError::Transport)?;
    serde_json::from_slice(&bytes).map_err(|source| GraphError::Unexpected { what, source })
}

/// The `operationType` Graph gives the operation a device action starts.
pub fn operation_type(action: &Action) -> Option<&'static str> {
    match action {
        Action::UpdateSoftware { .. } => Some("softwareUpdate"),
        Action::RestartDevice { .. } => Some("deviceRestart"),
        Action::RunDiagnostics { .. } => Some("deviceDiagnostics"),
        Action::UpgradeApp { .. } => None,
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
