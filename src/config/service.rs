//! How the service itself runs: intake's timeouts and idempotency window, the sweep and its
//! pacing of Graph, the connections `graphgate serve` allows, and the metrics' namespace.

use std::time::Duration;

use super::env::{ConfigError, Env, seconds, whole_number};
use crate::change::Pacing;
use crate::intake::IntakeSettings;
use crate::sweeper::SweepSettings;

/// What `graphgate serve` allows a connection, so that slow or idle clients cannot hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most a client may take to send a request's head, and the longest a kept-alive
    /// connection may sit idle before its next request.
    pub header_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

pub(super) fn connections(env: Env<'_>) -> Result<ConnectionLimits, ConfigError> {
    let defaults = ConnectionLimits::default();
    Ok(ConnectionLimits {
        header_timeout: seconds(env, "GRAPHGATE_HEADER_TIMEOUT_SECS", 300.0)?
            .unwrap_or(defaults.header_timeout),
        max_connections: whole_number(env, "GRAPHGATE_MAX_CONNECTIONS", 1..=65_536, "")?
            .map_or(defaults.max_connections, |n| n as usize),
    })
}

/// `GRAPHGATE_METRICS_NAMESPACE`: 1 to 255 characters, as CloudWatch takes them.
pub(super) fn metrics_namespace(env: Env<'_>) -> Result<String, ConfigError> {
    const NAME: &str = "GRAPHGATE_METRICS_NAMESPACE";
    let Some(namespace) = env(NAME) else {
        return Ok("graphgate".to_owned());
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || " .-_/#:".contains(c);
    if namespace.len() > 255
        || !namespace.chars().all(allowed)
        || namespace.starts_with(':')
        || namespace.starts_with("AWS/")
    {
        return Err(ConfigError::invalid(
            NAME,
            "a CloudWatch namespace: up to 255 letters, digits, spaces and . - _ / # :, not starting with : or AWS/",
        ));
    }
    Ok(namespace)
}

pub(super) fn intake(env: Env<'_>) -> Result<IntakeSettings, ConfigError> {
    let defaults = IntakeSettings::default();
    Ok(IntakeSettings {
        request_timeout: seconds(env, "GRAPHGATE_REQUEST_TIMEOUT_SECS", 900.0)?
            .unwrap_or(defaults.request_timeout),
        idempotency_window: idempotency_window(env)?.unwrap_or(defaults.idempotency_window),
    })
}

/// At least an hour: a key must outlive the request it guards, retries included, or a repeat
/// could take it over while the first is still at Graph.
fn idempotency_window(env: Env<'_>) -> Result<Option<Duration>, ConfigError> {
    const NAME: &str = "GRAPHGATE_IDEMPOTENCY_WINDOW_SECS";
    let window = seconds(env, NAME, 2_592_000.0)?;
    if window.is_some_and(|w| w < Duration::from_secs(3600)) {
        return Err(ConfigError::invalid(NAME, "must be at least 3600 seconds"));
    }
    Ok(window)
}

pub(super) fn sweep(env: Env<'_>) -> Result<SweepSettings, ConfigError> {
    let defaults = SweepSettings::default();
    let concurrency = whole_number(env, "GRAPHGATE_SWEEP_CONCURRENCY", 1..=256, "")?
        .map_or(defaults.concurrency, |n| n as usize);
    let batch_size = whole_number(env, "GRAPHGATE_SWEEP_BATCH", 1..=10_000, "")?
        .map_or(defaults.batch_size, |n| n as usize);
    Ok(SweepSettings {
        concurrency,
        batch_size,
        ..defaults
    })
}

/// How often `graphgate serve` runs a sweep pass.
pub(super) fn sweep_interval(env: Env<'_>) -> Result<Duration, ConfigError> {
    Ok(seconds(env, "GRAPHGATE_SWEEP_INTERVAL_SECS", 3600.0)?.unwrap_or(Duration::from_secs(10)))
}

pub(super) fn pacing(env: Env<'_>) -> Result<Pacing, ConfigError> {
    let defaults = Pacing::default();
    let poll_base =
        seconds(env, "GRAPHGATE_POLL_INTERVAL_SECS", 3600.0)?.unwrap_or(defaults.poll_base);
    let operation_timeout = seconds(
        env,
        "GRAPHGATE_OPERATION_TIMEOUT_SECS",
        Pacing::MAX_OPERATION_TIMEOUT.as_secs_f64(),
    )?
    .unwrap_or(defaults.operation_timeout);
    let verify_timeout = seconds(
        env,
        "GRAPHGATE_VERIFY_TIMEOUT_SECS",
        Pacing::MAX_OPERATION_TIMEOUT.as_secs_f64(),
    )?
    .unwrap_or(defaults.verify_timeout);
    Ok(Pacing {
        // An accepted operation is first polled one poll interval later.
        first_poll: poll_base,
        poll_base,
        poll_max: defaults.poll_max.max(poll_base),
        operation_timeout,
        verify_timeout,
        ..defaults
    })
}

#[cfg(test)]
mod tests {
    use super::super::env::lookup;
    use super::*;

    #[test]
    fn the_metrics_namespace_is_one_cloudwatch_takes() {
        assert_eq!(metrics_namespace(&lookup(&[])).unwrap(), "graphgate");
        let with = |namespace: &str| {
            metrics_namespace(&lookup(&[("GRAPHGATE_METRICS_NAMESPACE", namespace)]))
        };
        assert_eq!(with("graphgate/prod-eu").unwrap(), "graphgate/prod-eu");
        for bad in ["AWS/Lambda", ":x", "graph\u{e9}gate", "a\tb"] {
            assert!(
                matches!(
                    with(bad),
                    Err(ConfigError::Invalid {
                        name: "GRAPHGATE_METRICS_NAMESPACE",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(with(&"n".repeat(256)).is_err());
    }

    #[test]
    fn the_sweep_takes_its_concurrency_and_batch_within_bounds() {
        assert_eq!(sweep(&lookup(&[])).unwrap(), SweepSettings::default());
        let set = sweep(&lookup(&[
            ("GRAPHGATE_SWEEP_CONCURRENCY", "256"),
            ("GRAPHGATE_SWEEP_BATCH", "10000"),
        ]))
        .unwrap();
        assert_eq!((set.concurrency, set.batch_size), (256, 10_000));
        for (name, bad) in [
            ("GRAPHGATE_SWEEP_CONCURRENCY", "257"),
            ("GRAPHGATE_SWEEP_CONCURRENCY", "0"),
            ("GRAPHGATE_SWEEP_BATCH", "10001"),
            ("GRAPHGATE_SWEEP_BATCH", "many"),
        ] {
            let err = sweep(&lookup(&[(name, bad)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
