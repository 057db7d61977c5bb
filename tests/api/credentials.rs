//! graphgate's own credential. A certificate signs a client assertion that a fake Entra
//! verifies with the certificate's public key; a secret named by ARN is read again from moto
//! when Entra refuses the value held and when its time to live runs out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::*;
use crate::secrets::{new_secret, rotate_secret};

/// The certificate registered on the fake app registration, with its private key.
const CERTIFICATE: &str = include_str!("../fixtures/graph-client-cert.pem");
/// The registered certificate's public key, as Entra holds it.
const PUBLIC_KEY: &str = include_str!("../fixtures/graph-client-cert.pub.pem");
/// A certificate the registration does not know.
const OTHER_CERTIFICATE: &str = include_str!("../fixtures/other-cert.pem");

const CLIENT_ID: &str = "graphgate-tests";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `x5t#S256` of the first certificate in `pem_text`, computed here from the DER bytes.
fn thumbprint(pem_text: &str) -> String {
    let blocks = pem::parse_many(pem_text).unwrap();
    let certificate = blocks.iter().find(|b| b.tag() == "CERTIFICATE").unwrap();
    URL_SAFE_NO_PAD.encode(Sha256::digest(certificate.contents()))
}

#[derive(Debug, Serialize, Deserialize)]
struct AssertionClaims {
    aud: String,
    iss: String,
    sub: String,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// Entra's checks of a client assertion for the registered certificate: PS256 signed by its
/// key, its thumbprint, addressed to `token_url`, issued by and about the client, unexpired
/// and valid for at most 10 minutes.
fn verify_assertion(assertion: &str, token_url: &str) -> Result<AssertionClaims, String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::PS256 {
        return Err(format!("alg {:?}", header.alg));
    }
    if header.x5t_s256.as_deref() != Some(thumbprint(CERTIFICATE).as_str()) {
        return Err("AADSTS700027: no registered certificate has this thumbprint".into());
    }
    let mut validation = Validation::new(Algorithm::PS256);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(CLIENT_ID.into());
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    validation.leeway = 0;
    validation.validate_nbf = true;
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    if claims.exp - claims.iat > 600 || claims.jti.is_empty() {
        return Err("AADSTS700024: lifetime over 10 minutes, or no jti".into());
    }
    Ok(claims)
}

fn form_of(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn invalid_client(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({
        "error": "invalid_client",
        "error_description": format!("{code}: the client credential is not valid"),
    }))
}

fn granted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer", "expires_in": 1,
        "access_token": format!("graph-token-{}", uuid::Uuid::new_v4()),
    }))
}

/// A token endpoint that accepts only an assertion signed for the registered certificate.
async fn mount_certificate_entra(login: &MockServer) {
    let token_url = format!("{}{TOKEN_PATH}", login.uri());
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(move |request: &Request| {
            let form = form_of(request);
            if field(&form, "client_secret").is_some()
                || field(&form, "client_assertion_type")
                    != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return invalid_client("AADSTS7000216");
            }
            match verify_assertion(field(&form, "client_assertion").unwrap_or(""), &token_url) {
                Ok(_) => granted(),
                Err(_) => invalid_client("AADSTS700027"),
            }
        })
        .mount(login)
        .await;
}

/// A token endpoint that accepts the client secrets in `valid`, which a test changes.
async fn mount_secret_entra(login: &MockServer, valid: Arc<Mutex<Vec<String>>>) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(move |request: &Request| {
            let form = form_of(request);
            let secret = field(&form, "client_secret").unwrap_or("");
            if valid.lock().unwrap().iter().any(|v| v == secret) {
                granted()
            } else {
                invalid_client("AADSTS7000215")
            }
        })
        .mount(login)
        .await;
}

/// The client secret of each token request, in order.
async fn secrets_sent(app: &TestApp) -> Vec<String> {
    app.token_requests()
        .await
        .iter()
        .map(|r| field(&form_of(r), "client_secret").unwrap().to_owned())
        .collect()
}

fn signed(claims: &AssertionClaims, pem_text: &str) -> String {
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = Some(thumbprint(pem_text));
    let key = pem::parse_many(pem_text)
        .unwrap()
        .into_iter()
        .find(|b| b.tag() == "PRIVATE KEY")
        .unwrap();
    let key = EncodingKey::from_rsa_pem(pem::encode(&key).as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn claims_for(token_url: &str, from_now: i64) -> AssertionClaims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() + from_now;
    AssertionClaims {
        aud: token_url.into(),
        iss: CLIENT_ID.into(),
        sub: CLIENT_ID.into(),
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + 300,
    }
}

#[test]
fn the_fake_entra_refuses_expired_misaddressed_and_foreign_assertions() {
    let url = "http://127.0.0.1:1/tenant-1/oauth2/v2.0/token";
    assert!(verify_assertion(&signed(&claims_for(url, 0), CERTIFICATE), url).is_ok());
    let expired = claims_for(url, -900);
    let err = verify_assertion(&signed(&expired, CERTIFICATE), url).unwrap_err();
    assert!(err.contains("Expired"), "{err}");
    let elsewhere = claims_for("https://login.microsoftonline.com/t/oauth2/v2.0/token", 0);
    let err = verify_assertion(&signed(&elsewhere, CERTIFICATE), url).unwrap_err();
    assert!(err.contains("Audience"), "{err}");
    let foreign = verify_assertion(&signed(&claims_for(url, 0), OTHER_CERTIFICATE), url);
    assert!(foreign.unwrap_err().contains("AADSTS700027"));
    let mut too_long = claims_for(url, 0);
    too_long.exp = too_long.iat + 3600;
    assert!(verify_assertion(&signed(&too_long, CERTIFICATE), url).is_err());
}

#[tokio::test]
async fn a_certificate_signs_in_with_a_client_assertion_that_entra_verifies() {
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![("GRAPH_CLIENT_CERTIFICATE", fixture("graph-client-cert.pem"))],
        ..Options::default()
    })
    .await;
    mount_certificate_entra(&app.login).await;
    every_post(accepted("d1")).mount(&app.graph).await;

    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    // The token lasts 1 s, so the second change signs in again with a new assertion.
    app.advance(Duration::from_millis(1100));
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    let token_url = format!("{}{TOKEN_PATH}", app.login.uri());
    let mut jtis = Vec::new();
    let requests = app.token_requests().await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let form = form_of(request);
        assert_eq!(field(&form, "client_secret"), None);
        assert_eq!(field(&form, "client_id"), Some(CLIENT_ID));
        assert_eq!(field(&form, "grant_type"), Some("client_credentials"));
        let claims = verify_assertion(field(&form, "client_assertion").unwrap(), &token_url)
            .expect("Entra accepts the assertion");
        assert!(claims.nbf <= claims.iat && claims.exp - claims.iat <= 600);
        jtis.push(claims.jti);
    }
    assert_ne!(jtis[0], jtis[1], "each assertion has its own jti");
    let graph = app.graph_requests().await;
    assert_eq!(graph.len(), 2);
    assert!(bearer(&graph[0]).starts_with("Bearer graph-token-"));
}

#[tokio::test]
async fn a_certificate_entra_does_not_know_is_refused_before_any_graph_call() {
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![("GRAPH_CLIENT_CERTIFICATE", OTHER_CERTIFICATE.to_owned())],
        ..Options::default()
    })
    .await;
    mount_certificate_entra(&app.login).await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let body = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-sign-in");
    assert!(app.graph_requests().await.is_empty());
    // A certificate given in the environment cannot change, so one refusal is one request.
    assert_eq!(app.token_requests().await.len(), 1);
}

#[tokio::test]
async fn a_certificate_read_by_arn_signs_in() {
    let arn = new_secret(CERTIFICATE).await;
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![("GRAPH_CLIENT_CERTIFICATE_ARN", arn)],
        ..Options::default()
    })
    .await;
    mount_certificate_entra(&app.login).await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    assert_eq!(app.graph_requests().await.len(), 1);
}

/// The simulator's refusal of an assertion made from `claims`, as its description.
async fn refusal(http: &reqwest::Client, token_url: &str, claims: AssertionClaims) -> String {
    let response = http
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &signed(&claims, CERTIFICATE)),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_simulator_takes_a_certificate_and_checks_the_assertion_claims() {
    let (app, _) = spawn_simulated_app(Options {
        credential: vec![("GRAPH_CLIENT_CERTIFICATE", fixture("graph-client-cert.pem"))],
        ..Options::default()
    })
    .await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    let token_url = format!("{}{TOKEN_PATH}", app.app.graph.base().origin());
    let misaddressed = refusal(
        &app.http,
        &token_url,
        claims_for("http://127.0.0.1:1/elsewhere", 0),
    )
    .await;
    assert!(misaddressed.contains("audience"), "{misaddressed}");
    let expired = refusal(&app.http, &token_url, claims_for(&token_url, -900)).await;
    assert!(expired.contains("AADSTS700024"), "{expired}");
}

#[tokio::test]
async fn a_rotated_secret_is_read_again_when_entra_refuses_the_old_one() {
    let arn = new_secret("secret-v1").await;
    let valid = Arc::new(Mutex::new(vec!["secret-v1".to_owned()]));
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![("GRAPH_CLIENT_SECRET_ARN", arn.clone())],
        ..Options::default()
    })
    .await;
    mount_secret_entra(&app.login, valid.clone()).await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    // Rotation: the new secret is stored, and Entra stops taking the old one at once.
    rotate_secret(&arn, "secret-v2").await;
    *valid.lock().unwrap() = vec!["secret-v2".to_owned()];
    app.advance(Duration::from_millis(1100));
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    let secrets = secrets_sent(&app).await;
    assert_eq!(secrets, ["secret-v1", "secret-v1", "secret-v2"]);
    assert_eq!(app.graph_requests().await.len(), 2);
}

#[tokio::test]
async fn a_secret_by_arn_is_read_again_when_its_time_to_live_runs_out() {
    let arn = new_secret("secret-v1").await;
    // Entra takes both while the rotation overlaps, so only the time to live can move on.
    let valid = Arc::new(Mutex::new(vec![
        "secret-v1".to_owned(),
        "secret-v2".to_owned(),
    ]));
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![
            ("GRAPH_CLIENT_SECRET_ARN", arn.clone()),
            ("GRAPHGATE_SECRET_TTL_SECS", "1".to_owned()),
        ],
        ..Options::default()
    })
    .await;
    mount_secret_entra(&app.login, valid).await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    rotate_secret(&arn, "secret-v2").await;
    app.advance(Duration::from_millis(1100));
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    let secrets = secrets_sent(&app).await;
    assert_eq!(secrets, ["secret-v1", "secret-v2"]);
}

#[tokio::test]
async fn a_wrong_secret_by_arn_that_has_not_changed_is_refused_once() {
    let arn = new_secret("not-the-secret").await;
    let app = spawn_app_with(Options {
        mount_token: false,
        credential: vec![("GRAPH_CLIENT_SECRET_ARN", arn)],
        ..Options::default()
    })
    .await;
    mount_secret_entra(&app.login, Arc::new(Mutex::new(vec!["secret".into()]))).await;
    let body = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-sign-in");
    assert!(
        !body.to_string().contains("not-the-secret"),
        "the secret never appears: {body}"
    );
    // Read again, found unchanged: no second try with the same value.
    assert_eq!(app.token_requests().await.len(), 1);
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn callers_by_arn_are_read_again_so_a_new_token_works_without_a_redeploy() {
    let first =
        json!([{"name": "itsm", "auth": {"scheme": "bearer", "token": TOKEN}, "allow": ["*"]}]);
    let arn = new_secret(&first.to_string()).await;
    let app = spawn_app_with(Options {
        callers_arn: Some(arn.clone()),
        ..Options::default()
    })
    .await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let rotated = "rotated-itsm-token-0123456789abcdef01234";
    assert_eq!(
        app.post_change_as(rotated, restart("d1")).await.status(),
        401
    );
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);

    // The token is rotated in the secret: the first request that presents the new one finds it.
    let second =
        json!([{"name": "itsm", "auth": {"scheme": "bearer", "token": rotated}, "allow": ["*"]}]);
    rotate_secret(&arn, &second.to_string()).await;
    app.advance(Duration::from_millis(5100));
    assert_eq!(
        app.post_change_as(rotated, restart("d1")).await.status(),
        202
    );
    assert_eq!(
        app.post_change(restart("d1")).await.status(),
        401,
        "the old token is gone"
    );
    let graph = app.graph_requests().await;
    assert_eq!(graph.len(), 2);
}
