//! The simulated ServiceNow instance: its OAuth token endpoint (client credentials) and the
//! Table API on `change_request`, answering as ServiceNow documents it: `{"result": …}`,
//! every value a string, and `{"error": {"message", "detail"}, "status": "failure"}` when it
//! refuses. The Table API takes HTTP Basic for the integration user or a Bearer token from
//! `POST /oauth_token.do`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::change_request::{DisplayValue, GlideDateTime, PatchRefusal};
use super::state::SimulatorState;
use super::table_query::{TableQuery, Unsupported};
use super::ticket_http::{basic_credentials, query_params};
use super::tickets::{
    SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET, SERVICENOW_PASSWORD, SERVICENOW_USER,
};

/// How long an access token lives; the token endpoint says one second less, as ServiceNow's
/// does.
const TOKEN_LIFETIME: Duration = Duration::from_secs(1800);

/// The one table the simulated instance has.
const TABLE: &str = "change_request";

/// The Table API reads this many records at most unless `sysparm_limit` says otherwise.
const DEFAULT_LIMIT: usize = 10_000;

pub(super) fn routes() -> Router<SimulatorState> {
    Router::new()
        .route("/oauth_token.do", post(token))
        .route("/api/now/table/{table}", get(list))
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(read).patch(update).put(update),
        )
}

fn failure(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "detail": detail}, "status": "failure"});
    (status, Json(body)).into_response()
}

fn not_authenticated() -> Response {
    let mut response = failure(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("BASIC realm=\"Service-now\""),
    );
    response
}

fn no_record() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

fn invalid_table(table: &str) -> Response {
    failure(
        StatusCode::BAD_REQUEST,
        &format!("Invalid table {table}"),
        Some(&format!("Table {table} does not exist")),
    )
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth_token.do`, the client-credentials grant of the seeded OAuth client.
async fn token(State(state): State<SimulatorState>, Form(form): Form<TokenForm>) -> Response {
    let known = form.grant_type.as_deref() == Some("client_credentials")
        && form.client_id.as_deref() == Some(SERVICENOW_CLIENT_ID)
        && form.client_secret.as_deref() == Some(SERVICENOW_CLIENT_SECRET);
    if !known {
        let body = json!({"error_description": "access_denied", "error": "server_error"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let access_token = hex::encode(rand::random::<[u8; 32]>());
    state
        .lock()
        .tickets
        .servicenow_tokens
        .insert(access_token.clone(), Instant::now() + TOKEN_LIFETIME);
    Json(json!({
        "access_token": access_token,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME.as_secs() - 1,
    }))
    .into_response()
}

/// The user a request acts as: the integration user, by password or by an unexpired token.
fn user(state: &SimulatorState, headers: &HeaderMap) -> Option<&'static str> {
    if let Some((user, password)) = basic_credentials(headers) {
        return (user == SERVICENOW_USER && password == SERVICENOW_PASSWORD)
            .then_some(SERVICENOW_USER);
    }
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let inner = state.lock();
    let expires = inner.tickets.servicenow_tokens.get(token)?;
    (Instant::now() < *expires).then_some(SERVICENOW_USER)
}

/// How the Table API shows the records it answers with: `sysparm_fields` (absent or empty:
/// every field) and `sysparm_display_value`.
struct Shape {
    fields: Option<Vec<String>>,
    display: DisplayValue,
}

impl Shape {
    fn of(uri: &Uri) -> Self {
        let params = query_params(uri);
        let fields = params
            .get("sysparm_fields")
            .map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|f| !f.is_empty());
        let display = DisplayValue::parse(params.get("sysparm_display_value").map(String::as_str));
        Shape { fields, display }
    }
}

/// Why the Table API turns a request away before reading it.
enum Refusal {
    NotAuthenticated,
    InvalidTable(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotAuthenticated => not_authenticated(),
            Refusal::InvalidTable(table) => invalid_table(&table),
        }
    }
}

/// The user of an authenticated request on the change table.
fn admitted(
    state: &SimulatorState,
    headers: &HeaderMap,
    table: &str,
) -> Result<&'static str, Refusal> {
    let user = user(state, headers).ok_or(Refusal::NotAuthenticated)?;
    if table != TABLE {
        return Err(Refusal::InvalidTable(table.to_owned()));
    }
    Ok(user)
}

/// `GET /api/now/table/change_request`: `sysparm_query`, `sysparm_limit`, `sysparm_offset`.
async fn list(
    State(state): State<SimulatorState>,
    Path(table): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admitted(&state, &headers, &table) {
        return refused.into_response();
    }
    let params = query_params(&uri);
    let number = |name: &str, default: usize| {
        params
            .get(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (limit, offset) = (
        number("sysparm_limit", DEFAULT_LIMIT),
        number("sysparm_offset", 0),
    );
    let query = match TableQuery::parse(params.get("sysparm_query").map_or("", String::as_str)) {
        Ok(query) => query,
        Err(Unsupported(term)) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "The simulator does not read this query",
                Some(&format!(
                    "{term}: the simulator reads field=value, field!=value and ORDERBY terms joined by ^"
                )),
            );
        }
    };
    let shape = Shape::of(&uri);
    let inner = state.lock();
    let mut found: Vec<_> = inner
        .tickets
        .changes
        .iter()
        .filter(|c| query.matches(c))
        .collect();
    found.sort_by(|a, b| query.compare(a, b));
    let total = found.len();
    let result: Vec<Value> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|c| c.record(shape.fields.as_deref(), shape.display))
        .collect();
    (
        [("x-total-count", total.to_string())],
        Json(json!({ "result": result })),
    )
        .into_response()
}

/// `GET /api/now/table/change_request/{sys_id}`.
async fn read(
    State(state): State<SimulatorState>,
    Path((table, sys_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admitted(&state, &headers, &table) {
        return refused.into_response();
    }
    let shape = Shape::of(&uri);
    let mut inner = state.lock();
    match inner.tickets.change_by_sys_id(&sys_id) {
        Some(change) => {
            Json(json!({"result": change.record(shape.fields.as_deref(), shape.display)}))
                .into_response()
        }
        None => no_record(),
    }
}

/// `PATCH` (or `PUT`) `/api/now/table/change_request/{sys_id}`: work notes, state, close code
/// and notes.
async fn update(
    State(state): State<SimulatorState>,
    Path((table, sys_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match admitted(&state, &headers, &table) {
        Ok(user) => user,
        Err(refused) => return refused.into_response(),
    };
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not valid JSON."),
        );
    };
    let shape = Shape::of(&uri);
    let mut inner = state.lock();
    let Some(change) = inner.tickets.change_by_sys_id(&sys_id) else {
        return no_record();
    };
    match change.patch(&fields, user, GlideDateTime::now()) {
        Ok(()) => Json(json!({"result": change.record(shape.fields.as_deref(), shape.display)}))
            .into_response(),
        Err(PatchRefusal::NotAChoice { field, value }) => failure(
            StatusCode::BAD_REQUEST,
            "Invalid choice",
            Some(&format!(
                "{value:?} is not a value of {field}'s choice list (ServiceNow would store it; the simulator refuses it)"
            )),
        ),
        Err(PatchRefusal::Mandatory(labels)) => failure(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some(&format!(
                "Data Policy Exception: The following fields are mandatory: {}",
                labels.join(", ")
            )),
        ),
    }
}
