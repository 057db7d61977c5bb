//! The caller registry's settings: a JSON array inline, the path of a file holding one, or the
//! secret `GRAPHGATE_CALLERS_SECRET_ARN` names, read again after its time to live.

use std::sync::Arc;

use super::by_arn::{CALLERS_BY_ARN, secret_ttl};
use super::env::{ConfigError, Env};
use super::rotation::RotatingSecret;
use crate::callers::{CallerRegistry, CallerSource, FixedCallers};
use crate::clock::Clock;

const ARN: &str = CALLERS_BY_ARN.0;
const CALLERS: &str = CALLERS_BY_ARN.1;

/// `GRAPHGATE_CALLERS`: a JSON array inline, or the path of a file holding one; or, with
/// `GRAPHGATE_CALLERS_SECRET_ARN`, the array in that secret, read again after the TTL.
pub(super) fn callers(
    env: Env<'_>,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn CallerSource>, ConfigError> {
    if let Some(arn) = env(ARN) {
        let text = env(CALLERS).ok_or(ConfigError::Missing {
            name: CALLERS,
            why: "the secret GRAPHGATE_CALLERS_SECRET_ARN names was not read",
        })?;
        // The rotation keeps only the reason's text.
        let parse = |json: &str| CallerRegistry::parse(json).map_err(|e| e.to_string());
        return RotatingSecret::new(ARN, arn, secret_ttl(env)?, parse, &text, clock.clone())
            .map(|source| Arc::new(source) as Arc<dyn CallerSource>)
            .map_err(|detail| ConfigError::invalid(ARN, detail));
    }
    registry(env).map(|r| Arc::new(FixedCallers::new(r)) as Arc<dyn CallerSource>)
}

fn registry(env: Env<'_>) -> Result<CallerRegistry, ConfigError> {
    let raw = env(CALLERS).ok_or(ConfigError::Missing {
        name: CALLERS,
        why: "graphgate never serves an open endpoint; register at least one caller \
              (see docs/src/operating/callers.md)",
    })?;
    // The value holds tokens: no error below repeats any of it.
    let trimmed = raw.trim_start();
    let json = if trimmed.starts_with('[') {
        raw
    } else if trimmed.starts_with(['{', '"']) {
        return Err(ConfigError::invalid(
            CALLERS,
            "must be a JSON array of callers, or the path of a file holding one",
        ));
    } else {
        std::fs::read_to_string(raw.trim()).map_err(|e| {
            ConfigError::invalid(
                CALLERS,
                format!("cannot read the file it names ({})", e.kind()),
            )
        })?
    };
    CallerRegistry::parse(&json).map_err(|detail| ConfigError::invalid(CALLERS, detail))
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::env::lookup;
    use super::*;
    use crate::clock::SystemClock;

    /// The callers `env` names, on the system clock: no rule tested here reads it.
    fn callers(env: Env<'_>) -> Result<Arc<dyn CallerSource>, ConfigError> {
        super::callers(env, &(Arc::new(SystemClock) as Arc<dyn Clock>))
    }

    /// A registry of one caller, for tests of settings that need one.
    pub(in crate::config) const CALLERS_JSON: &str = r#"[{"name":"itsm","auth":{"scheme":"bearer","token":"0123456789abcdef0123456789abcdef"},"allow":["*"]}]"#;

    #[test]
    fn callers_may_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callers.json");
        std::fs::write(&path, CALLERS_JSON).unwrap();
        let path = path.display().to_string();
        let source = callers(&lookup(&[("GRAPHGATE_CALLERS", &path)])).unwrap();
        let registry = futures::executor::block_on(source.current());
        assert!(
            crate::callers::tests::by_token(&registry, "0123456789abcdef0123456789abcdef")
                .is_some()
        );
        let err = callers(&lookup(&[("GRAPHGATE_CALLERS", "/no/such/callers.json")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot read the file"), "{err}");
        assert!(!err.to_string().contains("/no/such"), "{err}");
        let err = callers(&lookup(&[
            ("GRAPHGATE_CALLERS", r#"{"name":"a","auth":{"scheme":"bearer","token":"secret-token-0123456789abcdef0123"}}"#),
        ]))
        .err()
        .unwrap();
        assert!(err.to_string().contains("must be a JSON array"), "{err}");
        assert!(!err.to_string().contains("secret-token"), "{err}");
    }
}
