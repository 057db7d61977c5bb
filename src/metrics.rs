//! What graphgate counts and times, written as CloudWatch Embedded Metric Format (EMF) lines on
//! stdout. In Lambda those lines reach CloudWatch Logs, which turns them into metrics: no
//! CloudWatch client, no request on the way, nothing added to a cold start.
//!
//! Written by hand: each sample is one `serde_json` object. The crates that emit EMF
//! (`metrique`, `metrics_cloudwatch_embedded`) bring a metrics framework, aggregation and
//! flushing tied to their own Lambda integration, for the dozen metrics graphgate has.
//!
//! Metrics are written only once [`install`] is called, which the Lambda functions do. Under
//! `graphgate serve` there is no CloudWatch to read them, and nothing is written.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Every metric graphgate writes. Their names are what the template's alarms watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A change Graph accepted (or completed at once), by `Action`.
    ChangesAccepted,
    /// A request for a change that was refused with a 4xx problem, by `Reason`.
    ChangesRejected,
    /// A change that ended `succeeded`, by `Action`.
    ChangesSucceeded,
    /// A change that ended `failed` or `cancelled` (Graph's operation was), by `Action`.
    ChangesFailed,
    /// A change whose operation was still not done when its timeout came, by `Action`.
    ChangesTimedOut,
    /// One Graph request's round trip, whatever it answered, by `Call`.
    GraphLatency,
    /// A 429 from Graph, by `Call`.
    GraphThrottles,
    /// Time spent waiting before a retry, as Graph's `Retry-After` asked, by `Call`.
    GraphRetryAfterWaited,
    /// A callback or chat result that could not be delivered on one attempt.
    CallbacksFailed,
    /// Records due at the start of a sweep pass.
    SweepDue,
    /// How long the oldest of them has been due: the backlog.
    SweepBacklogAge,
    /// How long the pass took.
    SweepDuration,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::ChangesAccepted,
        Metric::ChangesRejected,
        Metric::ChangesSucceeded,
        Metric::ChangesFailed,
        Metric::ChangesTimedOut,
        Metric::GraphLatency,
        Metric::GraphThrottles,
        Metric::GraphRetryAfterWaited,
        Metric::CallbacksFailed,
        Metric::SweepDue,
        Metric::SweepBacklogAge,
        Metric::SweepDuration,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ChangesAccepted => "ChangesAccepted",
            Metric::ChangesRejected => "ChangesRejected",
            Metric::ChangesSucceeded => "ChangesSucceeded",
            Metric::ChangesFailed => "ChangesFailed",
            Metric::ChangesTimedOut => "ChangesTimedOut",
            Metric::GraphLatency => "GraphLatency",
            Metric::GraphThrottles => "GraphThrottles",
            Metric::GraphRetryAfterWaited => "GraphRetryAfterWaited",
            Metric::CallbacksFailed => "CallbacksFailed",
            Metric::SweepDue => "SweepDue",
            Metric::SweepBacklogAge => "SweepBacklogAge",
            Metric::SweepDuration => "SweepDuration",
        }
    }

    fn unit(self) -> Unit {
        match self {
            Metric::GraphLatency | Metric::SweepDuration => Unit::Milliseconds,
            Metric::GraphRetryAfterWaited | Metric::SweepBacklogAge => Unit::Seconds,
            _ => Unit::Count,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Seconds,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }

    fn of(self, took: Duration) -> f64 {
        match self {
            Unit::Milliseconds => took.as_secs_f64() * 1000.0,
            Unit::Seconds | Unit::Count => took.as_secs_f64(),
        }
    }
}

/// What a sample is broken down by, besides its total: the action a change asked for, the
/// problem a request was refused with, or the Graph call made. All come from fixed sets, so
/// the metrics stay few.
#[derive(Debug, Clone, Copy)]
pub enum Dimension<'a> {
    Action(&'a str),
    Reason(&'a str),
    Call(&'a str),
}

impl<'a> Dimension<'a> {
    fn parts(self) -> (&'static str, &'a str) {
        match self {
            Dimension::Action(value) => ("Action", value),
            Dimension::Reason(value) => ("Reason", value),
            Dimension::Call(value) => ("Call", value),
        }
    }
}

struct Sink {
    namespace: String,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Starts writing metrics, under `namespace`. Called once, by each Lambda function's start-up.
pub fn install(namespace: String) {
    let _ = SINK.set(Sink { namespace });
}

/// Counts one of `metric`.
pub fn count(metric: Metric, dimension: Option<Dimension<'_>>) {
    record(&[(metric, 1.0)], dimension);
}

/// Records a duration, in `metric`'s unit.
pub fn time(metric: Metric, took: Duration, dimension: Option<Dimension<'_>>) {
    record(&[(metric, metric.unit().of(took))], dimension);
}

/// `took` in `metric`'s unit, for [`record`].
pub fn duration(metric: Metric, took: Duration) -> f64 {
    metric.unit().of(took)
}

/// Writes `samples` as one EMF line, if metrics are on.
pub fn record(samples: &[(Metric, f64)], dimension: Option<Dimension<'_>>) {
    let Some(sink) = SINK.get() else {
        return;
    };
    let mut line = document(&sink.namespace, SystemTime::now(), samples, dimension).to_string();
    line.push('\n');
    // A metric lost to a closed stdout must not stop the work it measures.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// One EMF document: the samples, counted in total and, with a dimension, by it as well.
fn document(
    namespace: &str,
    at: SystemTime,
    samples: &[(Metric, f64)],
    dimension: Option<Dimension<'_>>,
) -> Value {
    let timestamp = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut root = Map::new();
    let dimension_sets = match dimension.map(|d| d.parts()) {
        Some((key, value)) => {
            root.insert(key.to_owned(), Value::from(value));
            json!([[], [key]])
        }
        None => json!([[]]),
    };
    let definitions: Vec<Value> = samples
        .iter()
        .map(|(metric, _)| json!({"Name": metric.name(), "Unit": metric.unit().as_str()}))
        .collect();
    for (metric, value) in samples {
        root.insert(metric.name().to_owned(), json!(value));
    }
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimension_sets,
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_with_a_dimension_is_published_in_total_and_by_it() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let doc = document(
            "graphgate/prod",
            at,
            &[(Metric::ChangesAccepted, 1.0)],
            Some(Dimension::Action("updateSoftware")),
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "graphgate/prod",
                        "Dimensions": [[], ["Action"]],
                        "Metrics": [{"Name": "ChangesAccepted", "Unit": "Count"}],
                    }],
                },
                "Action": "updateSoftware",
                "ChangesAccepted": 1.0,
            })
        );
    }

    #[test]
    fn several_samples_share_one_line() {
        let doc = document(
            "graphgate",
            UNIX_EPOCH,
            &[(Metric::SweepDue, 3.0), (Metric::SweepBacklogAge, 42.5)],
            None,
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(doc["SweepDue"], json!(3.0));
        assert_eq!(doc["SweepBacklogAge"], json!(42.5));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
            json!({"Name": "SweepBacklogAge", "Unit": "Seconds"})
        );
    }
}
