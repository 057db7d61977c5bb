//! How a variable is read: a blank value is unset, and a bad value is an error naming the
//! variable. The number and duration rules every group of settings shares live here.

use std::ops::RangeInclusive;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required: {why}")]
    Missing {
        name: &'static str,
        why: &'static str,
    },
    #[error("{name} is invalid: {detail}")]
    Invalid { name: &'static str, detail: String },
}

impl ConfigError {
    pub(super) fn invalid(name: &'static str, detail: impl ToString) -> Self {
        ConfigError::Invalid {
            name,
            detail: detail.to_string(),
        }
    }
}

/// Reads one variable; tests and `serve --simulate` pass their own instead of the process's.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An optional variable holding a whole number (of `unit`, for the message) in `range`.
pub(super) fn whole_number(
    env: Env<'_>,
    name: &'static str,
    range: RangeInclusive<u64>,
    unit: &str,
) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = env(name) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| {
            ConfigError::invalid(
                name,
                format!(
                    "{raw:?} is not a whole number{unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// An optional variable holding a number of seconds, fractions allowed, in `(0, max]`.
pub(super) fn seconds(
    env: Env<'_>,
    name: &'static str,
    max: f64,
) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = env(name) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= max)
        .map(|s| Some(Duration::from_secs_f64(s)))
        .ok_or_else(|| {
            ConfigError::invalid(
                name,
                format!("{raw:?} is not a number of seconds between 0 and {max}"),
            )
        })
}

/// A lookup of `vars` alone, for tests of the settings.
#[cfg(test)]
pub(super) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync + use<> {
    let map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}
