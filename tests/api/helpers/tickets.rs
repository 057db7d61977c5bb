//! Fakes of the ticket systems, answering as their REST APIs document: a ServiceNow instance
//! (Table API, `oauth_token.do`) and a Jira Cloud site (REST API v3); and callers gated on
//! them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The ServiceNow integration user's credentials.
pub const SNOW_USER: &str = "svc-graphgate";
pub const SNOW_PASSWORD: &str = "snow-password-that-must-never-leak";
/// The Jira account's email and API token.
pub const JIRA_USER: &str = "svc@contoso.com";
pub const JIRA_TOKEN: &str = "jira-api-token-that-must-never-leak";
/// Bearer tokens of the gated callers.
pub const SNOW_CALLER_TOKEN: &str = "gated-servicenow-token-0123456789abcdef";
pub const JIRA_CALLER_TOKEN: &str = "gated-jira-token-0123456789abcdef0123";

const CHANGE_REQUESTS: &str = "/api/now/table/change_request";

/// `Basic` and the base64 of `user:secret`.
pub fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{secret}")))
}

/// A caller, `name`, with `token`, whose changes are gated on `ticket`.
pub fn gated_caller(name: &str, token: &str, ticket: Value) -> Value {
    json!({"name": name, "auth": {"scheme": "bearer", "token": token}, "allow": ["*"],
        "ticket": ticket})
}

/// A fake ServiceNow instance. A change request it was not told of is not found, as the
/// Table API answers a query that matches nothing: 200 and an empty `result`.
pub struct ServiceNow {
    pub server: MockServer,
}

impl ServiceNow {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Self::start_on(&server).await;
        Self { server }
    }

    async fn start_on(server: &MockServer) {
        Mock::given(method("GET"))
            .and(path(CHANGE_REQUESTS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
            .with_priority(10)
            .mount(server)
            .await;
    }

    /// The registry's `ticket` object for this instance, signing in as the integration user.
    pub fn connection(&self) -> Value {
        json!({"system": "servicenow", "url": self.server.uri(), "user": SNOW_USER,
            "password": SNOW_PASSWORD, "gate": true})
    }

    /// Change request `number`, with `approval`, `state` (a number) and a planned window
    /// (`YYYY-MM-DD HH:MM:SS` UTC, or "" when unset). Only the integration user may read it.
    pub async fn change(&self, number: &str, approval: &str, state: &str, window: (&str, &str)) {
        let record = json!({"sys_id": format!("sys-{number}"), "number": number,
            "approval": approval, "state": state, "start_date": window.0, "end_date": window.1});
        Mock::given(method("GET"))
            .and(path(CHANGE_REQUESTS))
            .and(query_param("sysparm_query", format!("number={number}")))
            .and(header(
                "authorization",
                basic(SNOW_USER, SNOW_PASSWORD).as_str(),
            ))
            .respond_with(move |request: &Request| {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"result": [only_fields(&record, request)]}))
            })
            // Below a test's own answers (priority 1), above the default "not found".
            .with_priority(2)
            .mount(&self.server)
            .await;
    }

    /// Change request `number` changes: what the instance answered for it before is gone.
    pub async fn now_reads(&self, number: &str, approval: &str, state: &str, window: (&str, &str)) {
        self.server.reset().await;
        Self::start_on(&self.server).await;
        self.change(number, approval, state, window).await;
    }

    /// The instance answers 503 to every read, as ServiceNow does under maintenance.
    pub async fn unavailable(&self) {
        self.server.reset().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&self.server)
            .await;
    }

    /// The change-request reads the instance received.
    pub async fn reads(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == CHANGE_REQUESTS)
            .collect()
    }
}

/// `record` with only the fields the request's `sysparm_fields` names, as the Table API
/// answers.
fn only_fields(record: &Value, request: &Request) -> Value {
    let Some((_, fields)) = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "sysparm_fields")
    else {
        return record.clone();
    };
    let fields: Vec<&str> = fields.split(',').collect();
    let kept = record
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| fields.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// A fake Jira Cloud site. An issue it was not told of answers 404 as Jira does.
pub struct Jira {
    pub server: MockServer,
}

impl Jira {
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    pub fn connection(&self) -> Value {
        json!({"system": "jira", "url": self.server.uri(), "user": JIRA_USER,
            "apiToken": JIRA_TOKEN, "approvedStatuses": ["Approved"], "gate": true})
    }

    /// Issue `key`, in `status`; the account may read it.
    pub async fn issue(&self, key: &str, status: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/rest/api/3/issue/{key}")))
            .and(query_param("fields", "status"))
            .and(header(
                "authorization",
                basic(JIRA_USER, JIRA_TOKEN).as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "10001", "key": key,
                "self": format!("{}/rest/api/3/issue/10001", self.server.uri()),
                "fields": {"status": {"name": status, "id": "10002",
                    "statusCategory": {"key": "indeterminate", "name": "In Progress"}}}
            })))
            .with_priority(1)
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/rest/api/3/issue/{key}")))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_string("Client must be authenticated to access this resource."),
            )
            .with_priority(5)
            .mount(&self.server)
            .await;
    }

    /// What Jira answers for an issue that does not exist, or that the account may not see.
    pub async fn missing(&self) {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({
                "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                "errors": {}
            })))
            .with_priority(10)
            .mount(&self.server)
            .await;
    }
}
