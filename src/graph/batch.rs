//! Graph's JSON batching: `POST /{version}/$batch` carries up to 20 requests, and Graph
//! answers each on its own, throttling some while it serves others. Written here because no
//! maintained crate speaks it outside Microsoft's generated SDK, which would bring a second
//! HTTP stack and token cache beside the client graphgate already has.
//!
//! Throttling comes at two levels: the batch call itself (429 or 503, retried by the usual
//! policy), and each request inside it (its own status and `Retry-After`). Requests Graph
//! throttled are sent again in a later batch, after the longest wait Graph asked for, while
//! the policy's attempts and the deadline allow; those still throttled then answer
//! `graphUnavailable`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::client::{GraphClient, read_json};
use super::error::GraphError;
use super::retry;
use super::version::ApiFamily;
use crate::change::{FailureReason, GraphFailure};
use crate::metrics::{self, Dimension, Metric};

/// The most requests Graph takes in one batch.
pub const MAX_BATCH: usize = 20;

/// Batches in flight at once: enough to read a few hundred devices in seconds, few enough
/// not to be throttled for it.
const BATCHES_AT_ONCE: usize = 4;

/// What one request in a batch came to: its JSON body, or Graph's refusal.
pub type Answer = Result<Value, GraphFailure>;

#[derive(Deserialize)]
struct BatchAnswer {
    #[serde(default)]
    responses: Vec<ItemAnswer>,
}

#[derive(Deserialize)]
struct ItemAnswer {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, Value>,
    #[serde(default)]
    body: Value,
}

/// One request's fate in one round.
enum Round {
    Done(Answer),
    /// Throttled or not answered: send again, after this wait if Graph named one.
    Again(Option<Duration>),
}

impl GraphClient {
    /// GETs each of `urls`, all calls of `family`, in batches; answers each one's body or
    /// refusal, in the order given. Fails as a whole only when a batch call itself does (no
    /// permission, the API retired, Graph unavailable to the deadline).
    pub(super) async fn get_batched(
        &self,
        api: &'static str,
        family: ApiFamily,
        urls: &[Url],
        deadline: Instant,
    ) -> Result<Vec<Answer>, GraphError> {
        let mut answers: Vec<Option<Answer>> = vec![None; urls.len()];
        let mut pending: Vec<usize> = (0..urls.len()).collect();
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            let chunks: Vec<Vec<usize>> = pending.chunks(MAX_BATCH).map(<[_]>::to_vec).collect();
            let outcomes: Vec<Result<Vec<(usize, Round)>, GraphError>> =
                futures::stream::iter(chunks)
                    .map(|chunk| self.one_batch(api, family, urls, chunk, deadline))
                    .buffer_unordered(BATCHES_AT_ONCE)
                    .collect()
                    .await;
            pending.clear();
            let mut wait: Option<Duration> = None;
            for outcome in outcomes {
                for (index, round) in outcome? {
                    match round {
                        Round::Done(answer) => answers[index] = Some(answer),
                        Round::Again(asked) => {
                            pending.push(index);
                            wait = wait.max(asked);
                        }
                    }
                }
            }
            if pending.is_empty() {
                break;
            }
            pending.sort_unstable();
            let named = wait.is_some();
            let wait = wait.unwrap_or_else(|| self.retry.backoff(rounds));
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.retry.may_retry(rounds, wait, left) {
                tracing::warn!(
                    api,
                    throttled = pending.len(),
                    "Graph kept throttling requests in a batch"
                );
                break;
            }
            if named {
                metrics::time(
                    Metric::GraphRetryAfterWaited,
                    wait,
                    Some(Dimension::Call(api)),
                );
            }
            tokio::time::sleep(wait).await;
        }
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(GraphFailure::graphgate(
                        FailureReason::GraphUnavailable,
                        "Graph kept throttling this read until the deadline",
                    ))
                })
            })
            .collect())
    }

    /// Sends the requests for `chunk` (indices into `urls`) as one batch.
    async fn one_batch(
        &self,
        api: &'static str,
        family: ApiFamily,
        urls: &[Url],
        chunk: Vec<usize>,
        deadline: Instant,
    ) -> Result<Vec<(usize, Round)>, GraphError> {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|&i| {
                let url = self
                    .base
                    .in_batch(&urls[i], family)
                    .expect("batched URLs are built on the family's version");
                json!({"id": i.to_string(), "method": "GET", "url": url})
            })
            .collect();
        let body = json!({ "requests": requests });
        let sent = self
            .send(
                "batch",
                Method::POST,
                &self.base.batch_url(family),
                Some(&body),
                &self.retry,
                deadline,
            )
            .await?;
        let answer: BatchAnswer = serde_json::from_value(
            read_json(sent.response, "a batch").await?,
        )
        .map_err(|source| GraphError::Unexpected {
            what: "a batch",
            source,
        })?;
        let mut by_id: HashMap<String, ItemAnswer> = answer
            .responses
            .into_iter()
            .map(|item| (item.id.clone(), item))
            .collect();
        Ok(chunk
            .into_iter()
            .map(|i| {
                let round = match by_id.remove(&i.to_string()) {
                    Some(item) => self.item_round(api, item),
                    // Graph left it out: ask again.
                    None => Round::Again(None),
                };
                (i, round)
            })
            .collect())
    }

    fn item_round(&self, api: &'static str, item: ItemAnswer) -> Round {
        let headers = header_map(&item.headers);
        self.notices.observe(api, &headers);
        match item.status {
            200..=299 => Round::Done(Ok(item.body)),
            429 | 503 | 504 => {
                if item.status == 429 {
                    metrics::count(Metric::GraphThrottles, Some(Dimension::Call(api)));
                }
                Round::Again(retry::retry_after(&headers, SystemTime::now()))
            }
            status => {
                let body = serde_json::to_vec(&item.body).unwrap_or_default();
                let request_id = super::error::request_id(&headers);
                Round::Done(Err(
                    GraphError::from_answer(status, request_id, &body).failure()
                ))
            }
        }
    }
}

/// A batch item's headers, which Graph gives as a JSON object, as HTTP headers.
fn header_map(headers: &HashMap<String, Value>) -> HeaderMap {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::String(s) => HeaderValue::from_str(s).ok()?,
                Value::Number(n) => HeaderValue::from_str(&n.to_string()).ok()?,
                _ => return None,
            };
            Some((HeaderName::from_bytes(k.as_bytes()).ok()?, value))
        })
        .collect()
}
