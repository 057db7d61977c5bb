//! At most once per delivery: a repeat of a delivery (same caller, same key, same body) gets
//! the first one's answer and makes no Graph call, even long after the change finished.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::time::Instant;

use sha2::{Digest, Sha256};

use super::in_flight::{Leading, Turn};
use super::{ApiError, Intake};
use crate::callers::{Caller, Scheme};
use crate::change::{ChangeId, FieldError, IdempotencyKey, KeptAnswer, KeyedDelivery};
use crate::graph::RetryPolicy;
use crate::telemetry::error_chain;

/// Where a bearer caller's delivery key comes from, first found first: its own
/// `Idempotency-Key`, else the id the sender gives each delivery (GitHub, Atlassian).
const KEY_HEADERS: [&str; 4] = [
    "idempotency-key",
    "webhook-id",
    "x-github-delivery",
    "x-atlassian-webhook-identifier",
];

/// How a repeat waits between looks at the store while another process (another Lambda
/// instance) carries out the first delivery: full jitter under a cap that doubles from
/// 25 ms to 500 ms. At a fixed 50 ms, a storm of 200 read one item about 4,000 times a
/// second, more than one DynamoDB partition serves, and the first delivery's own writes
/// queued behind those reads. Repeats within one process wait in memory instead (see
/// `in_flight`). The deadline of each request still bounds its waiting.
const WAITING: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    base_delay: Duration::from_millis(25),
    max_delay: Duration::from_millis(500),
    min_attempt_time: Duration::ZERO,
};

/// The delivery's key, if it has one; a key that is not usable is a 400 naming its header.
/// A signed delivery's key comes only from what its signature covers, or anyone holding a
/// captured request could send it again under a new key: Standard Webhooks sign the
/// `webhook-id`; an `hmac-sha256` signature covers only the body (and has no timestamp), so
/// the body is the key.
pub fn key_of(
    headers: &HeaderMap,
    caller: &Caller,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    match caller.scheme() {
        Scheme::StandardWebhooks(_) => key_in(headers, "webhook-id"),
        Scheme::HmacSha256 { .. } => {
            let digest = format!("body-sha256:{}", hex::encode(Sha256::digest(body)));
            Ok(IdempotencyKey::parse(&digest).ok())
        }
        _ => {
            for name in KEY_HEADERS {
                if let Some(key) = key_in(headers, name)? {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }
}

/// The key in header `name`, if present; unusable is a 400 naming the header.
fn key_in(headers: &HeaderMap, name: &'static str) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .map_err(|_| "must be printable ASCII without spaces")
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .map_err(|detail| {
            ApiError::Validation(vec![FieldError {
                field: name.into(),
                detail: detail.into(),
            }])
        })
}

/// A delivery once it has waited its turn among this process's requests.
pub enum Place {
    /// It has no key: its work simply runs.
    Unkeyed,
    /// A request of this process handled the same delivery, and this is its answer.
    Answered(Response),
    /// Its turn at the key.
    Keyed(Keyed),
}

/// A keyed delivery's turn. While `leading` lives, repeats of the same body in this process
/// follow this request instead of each asking the store.
pub struct Keyed {
    delivery: KeyedDelivery,
    /// The change the work records.
    change_id: ChangeId,
    leading: Option<Leading>,
}

/// Waits behind the request of this process that handles the same delivery, if one does,
/// for its answer until `deadline` (then 409). `change_id` is the change the delivery's work
/// records: a delivery interrupted before it is answered is answered as pending with it.
pub async fn wait_turn(
    intake: &Intake,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    body: &[u8],
    change_id: ChangeId,
    deadline: Instant,
) -> Result<Place, ApiError> {
    let Some(key) = key else {
        return Ok(Place::Unkeyed);
    };
    let delivery = KeyedDelivery::new(
        caller.name(),
        key,
        body,
        Some(change_id.clone()),
        intake.clock.now(),
        time::Duration::try_from(intake.settings.idempotency_window).unwrap_or(time::Duration::DAY),
    );
    loop {
        match intake.deliveries.join(&delivery) {
            Turn::Lead(leading) => {
                return Ok(Place::Keyed(Keyed {
                    delivery,
                    change_id,
                    leading,
                }));
            }
            Turn::Follow(news) => {
                if let Some(answer) = follow(news, deadline).await? {
                    return Ok(Place::Answered(answer));
                }
            }
        }
    }
}

/// [`wait_turn`], for work that must read before it can be carried out once (a fleet
/// resolving its devices, a gated change reading its ticket): a repeat of a delivery
/// already answered gets that answer, read without taking the key, rather than what
/// Graph or the ticket says now.
pub async fn turn_to_read(
    intake: &Intake,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    body: &[u8],
    change_id: ChangeId,
    deadline: Instant,
) -> Result<Place, ApiError> {
    match wait_turn(intake, caller, key, body, change_id, deadline).await? {
        Place::Keyed(keyed) => Ok(match answered(intake, &keyed).await? {
            Some(first) => Place::Answered(first),
            None => Place::Keyed(keyed),
        }),
        place => Ok(place),
    }
}

/// Runs `work` for a delivery at its `place`, unless a delivery under the same key ran it
/// already; without a key, simply runs it. A repeat gets the kept answer; one with another
/// body gets 422; one that arrives while the first is in flight waits for its answer until
/// `deadline`, then gets 409.
pub async fn once_at(
    intake: &Intake,
    place: Place,
    deadline: Instant,
    work: impl Future<Output = Response>,
) -> Result<Response, ApiError> {
    let Keyed {
        delivery,
        change_id,
        leading,
    } = match place {
        Place::Unkeyed => return Ok(work.await),
        Place::Answered(answer) => return Ok(answer),
        Place::Keyed(keyed) => keyed,
    };
    let learned = |first: &KeyedDelivery| {
        if let Some(leading) = &leading {
            leading.learned(first);
        }
    };
    let mut held = intake
        .store
        .keep_delivery(&delivery, intake.clock.now())
        .await?;
    let mut looks = 0;
    while let Some(first) = held {
        if !first.same_body(&delivery) {
            return Err(ApiError::IdempotencyKeyReused {
                key: first.key.as_str().to_owned(),
            });
        }
        learned(&first);
        if let Some(answer) = first.answer {
            tracing::info!(
                key = first.key.as_str(),
                "a repeated delivery; answering as the first time"
            );
            return Ok(replay(answer));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ApiError::DeliveryInFlight {
                change_id: first.change_id,
            });
        }
        // The last wait ends at the deadline, and one last look follows it: a repeat gives
        // up only once its whole time is spent, not a wait's length before.
        looks += 1;
        tokio::time::sleep_until((now + WAITING.backoff(looks)).min(deadline)).await;
        // Waiting only reads; the key is taken again only once it is free (forgotten, or
        // expired).
        held = match intake.store.kept_delivery(&delivery).await? {
            Some(first) if first.expires_at > intake.clock.now() => Some(first),
            _ => {
                intake
                    .store
                    .keep_delivery(&delivery, intake.clock.now())
                    .await?
            }
        };
    }
    let mut unanswered = Unanswered {
        intake: intake.clone(),
        delivery: Some(delivery.clone()),
        change_id,
    };
    let response = work.await;
    unanswered.delivery = None;
    let (answer, response) = kept(response).await;
    // 503 means nothing was done: a repeat may try again.
    let stored = if answer.status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
        intake.store.forget_delivery(&delivery).await
    } else {
        let answered = delivery.answered(answer);
        learned(&answered);
        intake.store.answer_delivery(&answered).await
    };
    if let Err(e) = stored {
        tracing::error!(key = delivery.key.as_str(), error = %error_chain(&e), "could not keep the answer to a keyed delivery");
    }
    Ok(response)
}

/// Waits, until `deadline`, for the answer the request of this process that handles the
/// key learns; `None` when it went without one (it freed the key, or its own deadline came
/// first), and the store is to be asked.
async fn follow(
    mut news: watch::Receiver<KeyedDelivery>,
    deadline: Instant,
) -> Result<Option<Response>, ApiError> {
    let waited = tokio::time::timeout_at(deadline, async {
        let first = news.wait_for(|first| first.answer.is_some()).await.ok()?;
        first.answer.clone()
    })
    .await;
    match waited {
        Ok(Some(answer)) => Ok(Some(replay(answer))),
        Ok(None) => Ok(None),
        Err(_) => Err(ApiError::DeliveryInFlight {
            change_id: news.borrow().change_id.clone(),
        }),
    }
}

/// The kept answer to a repeat of a delivery already answered, read without taking the
/// key. The repeats of this process waiting behind this one hear it too.
async fn answered(intake: &Intake, keyed: &Keyed) -> Result<Option<Response>, ApiError> {
    let Keyed {
        delivery, leading, ..
    } = keyed;
    match intake.store.kept_delivery(delivery).await? {
        Some(first) if first.expires_at > intake.clock.now() => {
            if !first.same_body(delivery) {
                return Err(ApiError::IdempotencyKeyReused {
                    key: first.key.as_str().to_owned(),
                });
            }
            let Some(answer) = &first.answer else {
                return Ok(None);
            };
            if let Some(leading) = leading {
                leading.learned(&first);
            }
            Ok(Some(replay(answer.clone())))
        }
        _ => Ok(None),
    }
}

/// A kept delivery whose work may never finish: a panic, or a client that went away so the
/// server dropped the request. Dropped while still holding the delivery, it answers it in
/// the background as pending with its change: a repeat then learns of the recorded change
/// instead of waiting out the window on `409`, and never acts twice.
struct Unanswered {
    intake: Intake,
    delivery: Option<KeyedDelivery>,
    change_id: ChangeId,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        let Some(delivery) = self.delivery.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.intake.store.clone();
        let interrupted = ApiError::Interrupted {
            change_id: self.change_id.clone(),
        };
        runtime.spawn(async move {
            let (answer, _) = kept(interrupted.into_response()).await;
            if let Err(e) = store.answer_delivery(&delivery.answered(answer)).await {
                tracing::error!(key = delivery.key.as_str(), error = %error_chain(&e), "could not settle an interrupted keyed delivery");
            }
        });
    }
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
