//! The simulator's token endpoint: the client-credentials grant with a client secret or a
//! client assertion signed by a certificate. The simulator does not hold the app's
//! certificate, so it checks an assertion's header and claims as Entra does (audience,
//! issuer and subject, lifetime, `jti`, a thumbprint) but not its signature.

use axum::Json;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::state::SimulatorState;
use crate::graph::Capability;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Entra refuses an assertion that is valid for longer than this.
const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

fn refuse(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(super) async fn token(
    State(state): State<SimulatorState>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if form.grant_type.as_deref() != Some("client_credentials") {
        return refuse(
            "unsupported_grant_type",
            "only client_credentials is simulated",
        );
    }
    let Some(client_id) = form.client_id.as_deref().filter(|s| !s.is_empty()) else {
        return refuse("invalid_request", "AADSTS900144: client_id is required");
    };
    match (&form.client_secret, &form.client_assertion) {
        (Some(secret), None) if !secret.is_empty() => {}
        (None, Some(assertion)) => {
            if form.client_assertion_type.as_deref() != Some(JWT_BEARER) {
                return refuse(
                    "invalid_request",
                    "AADSTS50027: client_assertion_type must be jwt-bearer",
                );
            }
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            let audience = format!("http://{host}{}", uri.path());
            if let Err(reason) = check_assertion(assertion, client_id, &audience) {
                return refuse("invalid_client", &reason);
            }
        }
        _ => {
            return refuse(
                "invalid_client",
                "AADSTS7000216: client_secret or client_assertion is required, not both",
            );
        }
    }
    if !form
        .scope
        .as_deref()
        .is_some_and(|s| s.ends_with("/.default"))
    {
        return refuse("invalid_scope", "the scope must be <graph>/.default");
    }
    let mut inner = state.lock();
    let lifetime = inner.token_lifetime;
    let roles = inner.faults.roles.clone().unwrap_or_else(default_roles);
    let access_token = access_token(&tenant, client_id, &form.scope, &roles, lifetime);
    inner
        .tokens
        .insert(access_token.clone(), (Instant::now() + lifetime, roles));
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": access_token,
    }))
    .into_response()
}

/// The least-privileged permissions for every action, consent included.
fn default_roles() -> Vec<String> {
    let mut roles: Vec<String> = Capability::all()
        .into_iter()
        .map(|c| c.requirement().grant.to_owned())
        .collect();
    roles.dedup();
    roles
}

/// An app-only access token shaped as Entra issues them: a JWT whose claims name the tenant,
/// the app and its application permissions (`roles`). Its signature is the simulator's own
/// and nobody checks it; the simulator knows its tokens by their text.
fn access_token(
    tenant: &str,
    client_id: &str,
    scope: &Option<String>,
    roles: &[String],
    lifetime: std::time::Duration,
) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let audience = scope
        .as_deref()
        .and_then(|s| s.strip_suffix("/.default"))
        .unwrap_or_default();
    let claims = json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": now + lifetime.as_secs() as i64,
        "appid": client_id,
        "idtyp": "app",
        "roles": roles,
        "tid": tenant,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"graphgate-simulator"),
    )
    .expect("HS256 over JSON claims cannot fail")
}

#[derive(Deserialize)]
struct AssertionClaims {
    aud: String,
    iss: String,
    sub: String,
    jti: Option<String>,
    exp: i64,
    nbf: Option<i64>,
}

/// Entra's checks of a client assertion, but for the signature.
fn check_assertion(assertion: &str, client_id: &str, audience: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| "AADSTS50027: the client assertion is not a JWT".to_owned())?;
    if !matches!(
        header.alg,
        jsonwebtoken::Algorithm::PS256 | jsonwebtoken::Algorithm::RS256
    ) {
        return Err(
            "AADSTS5002738: the client assertion must be signed with PS256 or RS256".into(),
        );
    }
    if header.x5t_s256.is_none() && header.x5t.is_none() {
        return Err("AADSTS700027: the client assertion names no certificate (x5t#S256)".into());
    }
    let claims: AssertionClaims = jsonwebtoken::dangerous::insecure_decode(assertion)
        .map_err(|_| "AADSTS50027: the client assertion's claims cannot be read".to_owned())?
        .claims;
    if claims.aud != audience {
        return Err(format!(
            "AADSTS700212: the client assertion's audience is not this token endpoint ({audience})"
        ));
    }
    if claims.iss != client_id || claims.sub != client_id {
        return Err(
            "AADSTS700021: the client assertion's iss and sub must be the client ID".into(),
        );
    }
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err("AADSTS700025: the client assertion has no jti".into());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let not_before = claims.nbf.unwrap_or(now);
    if claims.exp <= now || not_before > now.saturating_add(300) {
        return Err("AADSTS700024: the client assertion is not within its valid time range".into());
    }
    if claims.exp.saturating_sub(not_before) > MAX_ASSERTION_LIFETIME_SECS {
        return Err("AADSTS700024: the client assertion is valid for more than 10 minutes".into());
    }
    Ok(())
}
