//! Sending a request again while Graph throttles or cannot be reached, within a deadline.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;

use super::error::{GraphError, request_id};
use crate::metrics::{self, Dimension, Metric};

/// How often and how patiently to retry. The deadline passed to each call bounds it too.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The least time a retry must have left for Graph's answer. A retry started with less
    /// would likely time out, and a request that was sent and never answered may have been
    /// acted on: the caller would get "pending" where "unavailable, nothing done" is true.
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            min_attempt_time: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt may follow `attempts` of them, after a wait of `wait`, with
    /// `left` until the deadline: within the attempt cap, and with `min_attempt_time` still
    /// left for Graph's answer once the wait is over.
    pub(super) fn may_retry(&self, attempts: u32, wait: Duration, left: Duration) -> bool {
        attempts < self.max_attempts && wait + self.min_attempt_time <= left
    }

    /// Exponential backoff with full jitter: uniform in `[0, min(max, base·2^(failures-1))]`.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = 2u32.saturating_pow(failures.saturating_sub(1));
        let cap = self.base_delay.saturating_mul(exp).min(self.max_delay);
        Duration::from_secs_f64(rand::random_range(0.0..=cap.as_secs_f64()))
    }
}

/// The longest wait a `Retry-After` is taken at; anything longer is read as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `Retry-After` as delta-seconds (Graph sends fractions, e.g. `2.128`) or as an HTTP-date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// An answer, and whether an earlier attempt may have been acted on although it failed.
pub(crate) struct Sent {
    pub response: Response,
    /// An earlier attempt got a 504: Graph's gateway gave up, but Graph may have acted.
    pub earlier_attempt_uncertain: bool,
}

/// Sends the request `build` makes, each attempt with a fresh `client-request-id`, until an
/// answer that is not 429/503/504, a connect error has been retried out, or no retry could
/// start with `min_attempt_time` left before the deadline. A request that was sent and never
/// answered is not resent: Graph may have acted on it. A 504 is retried, but remembered, for
/// the same reason. `call` names a Graph call in the metrics (its latency, throttles and
/// waits); a sign-in request, which is not one, passes `None`.
pub(crate) async fn send(
    policy: &RetryPolicy,
    deadline: Instant,
    call: Option<&'static str>,
    mut build: impl FnMut() -> RequestBuilder,
) -> Result<Sent, GraphError> {
    let dimension = call.map(Dimension::Call);
    let mut uncertain = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(GraphError::Unavailable {
                reason: "no time was left to call Graph".into(),
                retry_after: None,
                outcome_unknown: uncertain,
            });
        }
        let (client, request) = build().build_split();
        let mut request = request.map_err(GraphError::Transport)?;
        let client_request_id = uuid::Uuid::new_v4().to_string();
        request.headers_mut().insert(
            "client-request-id",
            HeaderValue::from_str(&client_request_id).expect("a UUID is a valid header value"),
        );
        let timeout = request.timeout().map_or(remaining, |t| (*t).min(remaining));
        *request.timeout_mut() = Some(timeout);
        let method = request.method().clone();
        let path = request.url().path().to_owned();

        let sent_at = Instant::now();
        let (wait, reason, hinted) = match client.execute(request).await {
            Ok(response) => {
                let status = response.status();
                if call.is_some() {
                    metrics::time(Metric::GraphLatency, sent_at.elapsed(), dimension);
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        metrics::count(Metric::GraphThrottles, dimension);
                    }
                }
                tracing::info!(
                    %method, path, status = status.as_u16(), attempt, client_request_id,
                    request_id = request_id(response.headers()).as_deref().unwrap_or("-"),
                    "graph answered"
                );
                if !is_retryable(status) {
                    return Ok(Sent {
                        response,
                        earlier_attempt_uncertain: uncertain,
                    });
                }
                uncertain |= status == StatusCode::GATEWAY_TIMEOUT;
                let hinted = retry_after(response.headers(), SystemTime::now());
                (
                    hinted.unwrap_or_else(|| policy.backoff(attempt)),
                    status.to_string(),
                    hinted,
                )
            }
            Err(e) if e.is_connect() => {
                tracing::warn!(%method, path, attempt, client_request_id, error = %e, "graph unreachable");
                (
                    policy.backoff(attempt),
                    "connection failed".to_owned(),
                    None,
                )
            }
            Err(e) if e.is_timeout() => {
                // The slowest round trips count too: this one lasted until the timeout.
                if call.is_some() {
                    metrics::time(Metric::GraphLatency, sent_at.elapsed(), dimension);
                }
                tracing::warn!(%method, path, attempt, client_request_id, "graph timed out");
                return Err(GraphError::Timeout);
            }
            Err(e) => return Err(GraphError::Transport(e)),
        };
        if !policy.may_retry(
            attempt,
            wait,
            deadline.saturating_duration_since(Instant::now()),
        ) {
            return Err(GraphError::Unavailable {
                reason,
                retry_after: hinted,
                outcome_unknown: uncertain,
            });
        }
        if hinted.is_some() && call.is_some() {
            metrics::time(Metric::GraphRetryAfterWaited, wait, dimension);
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_in_fractional_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            retry_after(&headers("2.128"), now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            retry_after(&headers("3"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(&headers("-1"), now), None);
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_as_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:49:47 GMT"), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:49:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers("Sat, 06 Nov 2094 08:49:00 GMT"), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&headers("1e12"), now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("1e300"), now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn a_retry_needs_time_left_for_an_answer_after_its_wait() {
        let policy = RetryPolicy::default();
        let secs = Duration::from_secs_f64;
        assert!(policy.may_retry(1, secs(1.0), secs(3.0)));
        assert!(
            !policy.may_retry(1, secs(1.0), secs(2.9)),
            "2 s must be left after the wait"
        );
        assert!(!policy.may_retry(1, secs(0.0), secs(1.9)));
        assert!(
            !policy.may_retry(5, secs(0.0), secs(60.0)),
            "at most 5 attempts"
        );
        assert!(policy.may_retry(4, secs(0.0), secs(60.0)));
    }

    #[test]
    fn backoff_is_jittered_under_a_growing_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for failures in 1..10 {
            let cap = Duration::from_millis(100 * 2u64.pow(failures - 1)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.backoff(failures) <= cap);
            }
        }
        // Full jitter spreads the waits: 200 draws are not all the same.
        let draws: std::collections::BTreeSet<_> = (0..200).map(|_| policy.backoff(4)).collect();
        assert!(draws.len() > 100);
    }
}
