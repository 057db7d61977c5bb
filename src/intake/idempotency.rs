//! At most once per delivery: a repeat of a delivery (same caller, same key, same body) gets
//! the first one's answer and makes no Graph call, even long after the change finished.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use sha2::{Digest, Sha256};

use super::{ApiError, Intake};
use crate::callers::{Caller, Scheme};
use crate::change::{FieldError, IdempotencyKey, KeptAnswer, KeyedDelivery};
use crate::telemetry::error_chain;

/// Where a delivery's key comes from, first found first: the caller's own `Idempotency-Key`,
/// else the id the sender gives each delivery (Standard Webhooks, GitHub, Atlassian).
const KEY_HEADERS: [&str; 4] = [
    "idempotency-key",
    "webhook-id",
    "x-github-delivery",
    "x-atlassian-webhook-identifier",
];

/// How often a repeat that arrived while the first delivery is in flight looks again.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// The delivery's key, if it has one; a key that is not usable is a 400 naming its header.
/// An `hmac-sha256` signature carries no timestamp, so without a key of its own such a
/// delivery is keyed by its body: a captured request replayed within the window changes
/// nothing.
pub fn key_of(
    headers: &HeaderMap,
    caller: &Caller,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let given = given_key(headers)?;
    if given.is_none() && matches!(caller.scheme(), Scheme::HmacSha256 { .. }) {
        let digest = format!("body-sha256:{}", hex::encode(Sha256::digest(body)));
        return Ok(IdempotencyKey::parse(&digest).ok());
    }
    Ok(given)
}

fn given_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    for name in KEY_HEADERS {
        if let Some(value) = headers.get(name) {
            let key = value
                .to_str()
                .map_err(|_| "must be printable ASCII without spaces")
                .and_then(IdempotencyKey::parse)
                .map_err(|detail| {
                    ApiError::Validation(vec![FieldError {
                        field: name.into(),
                        detail: detail.into(),
                    }])
                })?;
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Runs `work` for `delivery` unless a delivery under the same key ran it already. A repeat
/// gets the kept answer; one with another body gets 422; one that arrives while the first is
/// in flight waits for its answer until `deadline`, then gets 409.
pub async fn once(
    intake: &Intake,
    delivery: KeyedDelivery,
    deadline: Instant,
    work: impl Future<Output = Response>,
) -> Result<Response, ApiError> {
    loop {
        let held = intake
            .store
            .keep_delivery(&delivery, intake.clock.now())
            .await?;
        let Some(held) = held else { break };
        if !held.same_body(&delivery) {
            return Err(ApiError::IdempotencyKeyReused {
                key: held.key.as_str().to_owned(),
            });
        }
        if let Some(answer) = held.answer {
            tracing::info!(
                key = held.key.as_str(),
                "a repeated delivery; answering as the first time"
            );
            return Ok(replay(answer));
        }
        if Instant::now() + WAIT_STEP > deadline {
            return Err(ApiError::DeliveryInFlight {
                change_id: held.change_id,
            });
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
    let response = work.await;
    let (answer, response) = kept(response).await;
    // 503 means nothing was done: a repeat may try again.
    let stored = if answer.status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
        intake.store.forget_delivery(&delivery).await
    } else {
        intake
            .store
            .answer_delivery(&delivery.answered(answer))
            .await
    };
    if let Err(e) = stored {
        tracing::error!(key = delivery.key.as_str(), error = %error_chain(&e), "could not keep the answer to a keyed delivery");
    }
    Ok(response)
}

/// The answer to keep, and the response rebuilt to send (its body was read to keep it).
async fn kept(response: Response) -> (KeptAnswer, Response) {
    let (parts, body) = response.into_parts();
    // graphgate's own answers are small JSON documents.
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let answer = KeptAnswer {
        status: parts.status.as_u16(),
        content_type: header(CONTENT_TYPE),
        location: header(LOCATION),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    (answer, Response::from_parts(parts, Body::from(bytes)))
}

fn replay(answer: KeptAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.remove(CONTENT_TYPE);
    for (name, value) in [
        (CONTENT_TYPE, answer.content_type),
        (LOCATION, answer.location),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, v);
        }
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
