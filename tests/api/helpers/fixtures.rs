//! The callers the test app knows, their secrets, and the requests and records the tests
//! build.

use graphgate::change::{ChangeRecord, ChangeRequest};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A caller allowed every action.
pub const TOKEN: &str = "itsm-token-0123456789abcdef0123456789";
/// A caller allowed only `restartDevice`.
pub const RESTART_ONLY_TOKEN: &str = "chatops-token-0123456789abcdef012345";
/// The token in the sample Lambda events under `events/`.
pub const EVENTS_TOKEN: &str = "sample-events-token-0123456789abcdef";
/// The `itsm` caller's callback signing secret.
pub const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const CLIENT_SECRET: &str = "client-secret-that-must-never-leak";
pub const TOKEN_PATH: &str = "/tenant-1/oauth2/v2.0/token";

/// The `servicenow` caller's Standard Webhooks secret.
pub const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// The `jira` caller's `hmac-sha256` secret, and the header it signs in.
pub const HMAC_SECRET: &str = "jira-automation-shared-secret-0123";
pub const HMAC_HEADER: &str = "X-Hub-Signature";

/// The `slack` caller's signing secret, as Slack shows it.
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99b1f2e4c5a7";
/// The Slack workspace the `slack` caller admits.
pub const SLACK_TEAM: &str = "T0GRAPHG";
/// The `teams` caller's security token, as Teams shows it (base64).
pub const TEAMS_TOKEN: &str = "dGVhbXMtb3V0Z29pbmctd2ViaG9vay10b2tlbi0zMmI=";

pub fn callers_json() -> String {
    json!([
        {"name": "slack", "auth": {"scheme": "slack", "secret": SLACK_SECRET}, "allow": ["*"], "chat": {"teams": [SLACK_TEAM]}},
        {"name": "teams", "auth": {"scheme": "teams-outgoing-webhook", "secret": TEAMS_TOKEN}, "allow": ["restartDevice", "runDiagnostics"]},
        {"name": "itsm", "auth": {"scheme": "bearer", "token": TOKEN}, "allow": ["*"], "signingSecret": SIGNING_SECRET},
        {"name": "servicenow", "auth": {"scheme": "standard-webhooks", "secret": WEBHOOK_SECRET}, "allow": ["*"]},
        {"name": "jira", "auth": {"scheme": "hmac-sha256", "secret": HMAC_SECRET, "header": HMAC_HEADER}, "allow": ["restartDevice"]},
        {"name": "chatops", "auth": {"scheme": "bearer", "token": RESTART_ONLY_TOKEN}, "allow": ["restartDevice"]},
        {"name": "events", "auth": {"scheme": "bearer", "token": EVENTS_TOKEN}, "allow": ["*"]},
    ])
    .to_string()
}

pub fn restart(device: &str) -> Value {
    json!({"action": "restartDevice", "deviceId": device})
}

/// A change request as the intake parses it.
pub fn request(body: Value) -> ChangeRequest {
    ChangeRequest::parse(body.as_object().expect("a JSON object")).expect("a valid request")
}

/// A record as the intake writes it before calling Graph: made at `created` by `itsm`, its
/// submitter's lease running until `lease_until`.
pub fn submitting(
    body: Value,
    created: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> ChangeRecord {
    let ChangeRequest::One(request) = request(body) else {
        panic!("a change to one target")
    };
    ChangeRecord::submitting(request, "itsm", created, lease_until)
}

/// The sample Lambda event `events/{name}`, as text.
pub fn sample_event(name: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}
