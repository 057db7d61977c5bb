//! Settings from the environment, parsed once at start-up into the types of the modules that
//! use them. A bad or missing value stops the process with a message naming the variable;
//! no message repeats a secret.

mod rotation;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::callback::TargetPolicy;
use crate::callers::{CallerRegistry, CallerSource, FixedCallers};
use crate::change::{Pacing, TenantId};
use crate::clock::{Clock, SystemClock};
use crate::graph::{
    ApiVersion, ClientCertificate, ClientCredentials, Cloud, Credential, CredentialSource,
    FixedCredential, GraphBase, GraphClient, RetryPolicy, check_endpoint,
};
use crate::intake::IntakeSettings;
use crate::store::{DueShards, Durability, StoreSettings};
use crate::sweeper::SweepSettings;
use rotation::{Parse, RotatingSecret};

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
    fn invalid(name: &'static str, detail: impl ToString) -> Self {
        ConfigError::Invalid {
            name,
            detail: detail.to_string(),
        }
    }
}

/// Everything a graphgate process needs to know, from the environment.
#[derive(Debug)]
pub struct Settings {
    pub graph: GraphSettings,
    pub callers: Arc<dyn CallerSource>,
    pub store: StoreSettings,
    pub intake: IntakeSettings,
    pub sweep: SweepSettings,
    pub pacing: Pacing,
    /// How often `graphgate serve` runs a sweep pass.
    pub sweep_interval: Duration,
    /// Where callbacks may go. Strict unless the entry point relaxes it (`serve` does).
    pub callback_policy: TargetPolicy,
    /// How `graphgate serve` treats connections.
    pub connections: ConnectionLimits,
    /// The CloudWatch namespace of the metrics the Lambda functions write.
    pub metrics_namespace: String,
    /// Where every time rule of the process takes `now` from.
    pub clock: Arc<dyn Clock>,
}

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

#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub base: GraphBase,
    pub cloud: Cloud,
    pub credentials: ClientCredentials,
    pub retry: RetryPolicy,
    /// What the token cache and a secret read by ARN keep time by.
    pub clock: Arc<dyn Clock>,
}

/// Reads one variable; tests and `serve --simulate` pass their own instead of the process's.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The Graph credential's `*_ARN` variables, and the variable whose value the secret each
/// names holds.
const GRAPH_BY_ARN: [(&str, &str); 2] = [
    ("GRAPH_CLIENT_SECRET_ARN", "GRAPH_CLIENT_SECRET"),
    ("GRAPH_CLIENT_CERTIFICATE_ARN", "GRAPH_CLIENT_CERTIFICATE"),
];

/// As [`GRAPH_BY_ARN`], for the caller registry.
const CALLERS_BY_ARN: (&str, &str) = ("GRAPHGATE_CALLERS_SECRET_ARN", CALLERS);

/// Every variable that gives the Graph credential, inline or by ARN: any one of them set
/// means a credential was given.
pub const CREDENTIAL_VARS: [&str; 4] = [
    GRAPH_BY_ARN[0].0,
    GRAPH_BY_ARN[0].1,
    GRAPH_BY_ARN[1].0,
    GRAPH_BY_ARN[1].1,
];

const CALLERS: &str = "GRAPHGATE_CALLERS";

impl Settings {
    /// Settings from the process's environment, with the secrets it names by ARN read from
    /// Secrets Manager.
    pub async fn load() -> Result<Self, ConfigError> {
        Self::load_from(&process_env, Arc::new(SystemClock)).await
    }

    /// As [`Settings::load`], from `env` instead of the process's environment, on `clock`.
    pub async fn load_from(env: Env<'_>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let secrets = secrets_by_arn(env).await?;
        Self::from_lookup(&with_secrets(&secrets, env), clock)
    }

    pub fn from_lookup(env: Env<'_>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let sweep = sweep(env)?;
        let pacing = pacing(env)?;
        let sweep_interval = seconds(env, "GRAPHGATE_SWEEP_INTERVAL_SECS", 3600.0)?
            .unwrap_or(Duration::from_secs(10));
        let defaults = IntakeSettings::default();
        let intake = IntakeSettings {
            request_timeout: seconds(env, "GRAPHGATE_REQUEST_TIMEOUT_SECS", 900.0)?
                .unwrap_or(defaults.request_timeout),
            idempotency_window: idempotency_window(env)?.unwrap_or(defaults.idempotency_window),
        };
        Ok(Settings {
            graph: graph(env, &clock)?,
            callers: callers(env, &clock)?,
            store: store(env)?,
            intake,
            sweep,
            pacing,
            sweep_interval,
            callback_policy: TargetPolicy::PublicHttpsOnly,
            connections: connections(env)?,
            metrics_namespace: metrics_namespace(env)?,
            clock,
        })
    }
}

impl GraphSettings {
    /// Only the Graph settings, from the process's environment: all `graphgate check` needs.
    pub async fn load() -> Result<Self, ConfigError> {
        let secrets = read_by_arn(&process_env, &GRAPH_BY_ARN).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        graph(&with_secrets(&secrets, &process_env), &clock)
    }

    /// The process's one Graph client.
    pub fn client(self) -> GraphClient {
        GraphClient::new(
            self.base,
            self.cloud,
            self.credentials,
            self.retry,
            self.clock,
        )
    }
}

impl StoreSettings {
    /// Only the store's settings, from the process's environment: none of them comes from a
    /// secret.
    pub fn load() -> Result<Self, ConfigError> {
        store(&process_env)
    }
}

/// Reads the secrets the environment names by ARN, keyed by the variable each stands in for.
pub async fn secrets_by_arn(env: Env<'_>) -> Result<HashMap<&'static str, String>, ConfigError> {
    read_by_arn(env, &[GRAPH_BY_ARN[0], GRAPH_BY_ARN[1], CALLERS_BY_ARN]).await
}

/// `env`, with the secrets read by ARN standing in for the variables they hold.
fn with_secrets<'a>(
    secrets: &'a HashMap<&'static str, String>,
    env: Env<'a>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| secrets.get(name).cloned().or_else(|| env(name))
}

/// Reads the secrets of `pairs` (as in [`GRAPH_BY_ARN`]) that the environment names by ARN.
async fn read_by_arn(
    env: Env<'_>,
    pairs: &[(&'static str, &'static str)],
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut wanted = Vec::new();
    for &(arn_name, value_name) in pairs {
        match (env(arn_name), env(value_name)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    arn_name,
                    format!("set either {value_name} or {arn_name}, not both"),
                ));
            }
            (Some(arn), None) => wanted.push((arn_name, value_name, arn)),
            _ => {}
        }
    }
    let arns: Vec<String> = wanted.iter().map(|(_, _, arn)| arn.clone()).collect();
    let values = crate::secrets::read_all(&arns).await;
    wanted
        .into_iter()
        .zip(values)
        .map(|((arn_name, value_name, _), value)| {
            value
                .map(|v| (value_name, v))
                .map_err(|e| ConfigError::invalid(arn_name, e))
        })
        .collect()
}

/// `GRAPHGATE_METRICS_NAMESPACE`: 1 to 255 characters, as CloudWatch takes them.
fn metrics_namespace(env: Env<'_>) -> Result<String, ConfigError> {
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

/// `GRAPHGATE_CALLERS`: a JSON array inline, or the path of a file holding one; or, with
/// `GRAPHGATE_CALLERS_SECRET_ARN`, the array in that secret, read again after the TTL.
fn callers(env: Env<'_>, clock: &Arc<dyn Clock>) -> Result<Arc<dyn CallerSource>, ConfigError> {
    if let Some(arn) = env("GRAPHGATE_CALLERS_SECRET_ARN") {
        let text = env(CALLERS).ok_or(ConfigError::Missing {
            name: CALLERS,
            why: "the secret GRAPHGATE_CALLERS_SECRET_ARN names was not read",
        })?;
        return RotatingSecret::new(
            "GRAPHGATE_CALLERS_SECRET_ARN",
            arn,
            secret_ttl(env)?,
            CallerRegistry::parse,
            &text,
            clock.clone(),
        )
        .map(|source| Arc::new(source) as Arc<dyn CallerSource>)
        .map_err(|detail| ConfigError::invalid("GRAPHGATE_CALLERS_SECRET_ARN", detail));
    }
    registry(env).map(|r| Arc::new(FixedCallers::new(r)) as Arc<dyn CallerSource>)
}

fn registry(env: Env<'_>) -> Result<CallerRegistry, ConfigError> {
    let raw = env(CALLERS).ok_or(ConfigError::Missing {
        name: CALLERS,
        why: "graphgate never serves an open endpoint; register at least one caller \
              (see the README's Callers section)",
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

fn store(env: Env<'_>) -> Result<StoreSettings, ConfigError> {
    let Some(table) = env("GRAPHGATE_TABLE") else {
        const SYNCHRONOUS: &str = "GRAPHGATE_SQLITE_SYNCHRONOUS";
        let durability = match env(SYNCHRONOUS) {
            None => Durability::default(),
            Some(raw) => Durability::parse(&raw).ok_or_else(|| {
                ConfigError::invalid(SYNCHRONOUS, format!("{raw:?} is not normal or full"))
            })?,
        };
        return Ok(StoreSettings::Sqlite {
            path: PathBuf::from(env("GRAPHGATE_DB").unwrap_or_else(|| "./graphgate.db".into())),
            durability,
        });
    };
    let valid_name = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid_name {
        return Err(ConfigError::invalid(
            "GRAPHGATE_TABLE",
            "a DynamoDB table name is 3 to 255 of a-z, A-Z, 0-9, _, - and .",
        ));
    }
    let retention_days =
        whole_number(env, "GRAPHGATE_RETENTION_DAYS", 1..=3650, " of days")?.unwrap_or(90);
    let due_shards = whole_number(
        env,
        "GRAPHGATE_DUE_SHARDS",
        1..=u64::from(DueShards::MAX),
        "",
    )?
    .and_then(|n| DueShards::new(n as u8))
    .unwrap_or_default();
    Ok(StoreSettings::DynamoDb {
        table,
        retention: Duration::from_secs(retention_days * 86_400),
        due_shards,
    })
}

fn connections(env: Env<'_>) -> Result<ConnectionLimits, ConfigError> {
    let defaults = ConnectionLimits::default();
    Ok(ConnectionLimits {
        header_timeout: seconds(env, "GRAPHGATE_HEADER_TIMEOUT_SECS", 300.0)?
            .unwrap_or(defaults.header_timeout),
        max_connections: whole_number(env, "GRAPHGATE_MAX_CONNECTIONS", 1..=65_536, "")?
            .map_or(defaults.max_connections, |n| n as usize),
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

fn sweep(env: Env<'_>) -> Result<SweepSettings, ConfigError> {
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

fn pacing(env: Env<'_>) -> Result<Pacing, ConfigError> {
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

fn graph(env: Env<'_>, clock: &Arc<dyn Clock>) -> Result<GraphSettings, ConfigError> {
    let cloud = match env("GRAPH_CLOUD") {
        None => Cloud::Global,
        Some(name) => Cloud::parse(&name).ok_or_else(|| {
            ConfigError::invalid(
                "GRAPH_CLOUD",
                format!("{name:?} is not one of global, usgov, dod, china"),
            )
        })?,
    };
    let base_raw = env("GRAPH_BASE_URL").unwrap_or_else(|| cloud.graph_origin().to_owned());
    let base = GraphBase::parse(
        &base_raw,
        api_version(env, "GRAPH_DEVICE_API_VERSION")?,
        api_version(env, "GRAPH_APP_API_VERSION")?,
    )
    .map_err(|e| ConfigError::invalid("GRAPH_BASE_URL", e))?;
    let token_url = match env("GRAPH_TOKEN_URL") {
        Some(raw) => {
            check_endpoint(&raw).map_err(|e| ConfigError::invalid("GRAPH_TOKEN_URL", e))?
        }
        None => {
            let tenant = env("GRAPH_TENANT_ID").ok_or(ConfigError::Missing {
                name: "GRAPH_TENANT_ID",
                why: "the tenant whose devices graphgate manages (or set GRAPH_TOKEN_URL)",
            })?;
            let tenant =
                TenantId::parse(tenant).map_err(|e| ConfigError::invalid("GRAPH_TENANT_ID", e))?;
            let raw = format!("{}/{tenant}/oauth2/v2.0/token", cloud.authority());
            check_endpoint(&raw).map_err(|e| ConfigError::invalid("GRAPH_TENANT_ID", e))?
        }
    };
    let client_id = env("GRAPH_CLIENT_ID").ok_or(ConfigError::Missing {
        name: "GRAPH_CLIENT_ID",
        why: "the application (client) ID of graphgate's app registration",
    })?;
    Ok(GraphSettings {
        credentials: ClientCredentials {
            token_url,
            client_id,
            credential: credential(env, clock)?,
            scope: base.scope(),
        },
        base,
        cloud,
        retry: RetryPolicy::default(),
        clock: clock.clone(),
    })
}

/// The credential of graphgate's app registration: a client secret or a certificate, each
/// given in the environment or by the ARN of a secret. One given by ARN is read again after
/// `GRAPHGATE_SECRET_TTL_SECS`, and at once when Entra refuses it.
fn credential(
    env: Env<'_>,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn CredentialSource>, ConfigError> {
    let secret = env("GRAPH_CLIENT_SECRET");
    let certificate = env("GRAPH_CLIENT_CERTIFICATE");
    let (name, arn_name, text, parse): (_, _, _, Parse<Credential>) = match (secret, certificate) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "GRAPH_CLIENT_CERTIFICATE",
                "set a client secret or a certificate, not both",
            ));
        }
        (None, None) => {
            return Err(ConfigError::Missing {
                name: "GRAPH_CLIENT_SECRET",
                why: "graphgate's app registration signs in with a client secret \
                          (GRAPH_CLIENT_SECRET or GRAPH_CLIENT_SECRET_ARN) or a certificate \
                          (GRAPH_CLIENT_CERTIFICATE or GRAPH_CLIENT_CERTIFICATE_ARN)",
            });
        }
        (Some(text), None) => (
            "GRAPH_CLIENT_SECRET",
            "GRAPH_CLIENT_SECRET_ARN",
            text,
            secret_credential,
        ),
        (None, Some(text)) => {
            const NAME: &str = "GRAPH_CLIENT_CERTIFICATE";
            const ARN: &str = "GRAPH_CLIENT_CERTIFICATE_ARN";
            // Given in the environment, it may name a file; a secret holds the PEM itself.
            let text = match env(ARN) {
                Some(_) => text,
                None => inline_or_file(NAME, text)?,
            };
            (NAME, ARN, text, certificate_credential)
        }
    };
    match env(arn_name) {
        Some(arn) => {
            RotatingSecret::new(arn_name, arn, secret_ttl(env)?, parse, &text, clock.clone())
                .map(|source| Arc::new(source) as Arc<dyn CredentialSource>)
                .map_err(|detail| ConfigError::invalid(arn_name, detail))
        }
        None => parse(&text)
            .map(|c| Arc::new(FixedCredential::new(c)) as Arc<dyn CredentialSource>)
            .map_err(|detail| ConfigError::invalid(name, detail)),
    }
}

fn secret_credential(text: &str) -> Result<Credential, String> {
    Ok(Credential::Secret(SecretString::from(text.to_owned())))
}

/// How long a secret read by ARN is used before it is read again.
fn secret_ttl(env: Env<'_>) -> Result<Duration, ConfigError> {
    Ok(
        seconds(env, "GRAPHGATE_SECRET_TTL_SECS", 86_400.0)?
            .unwrap_or(Duration::from_secs(15 * 60)),
    )
}

/// A certificate credential from PEM text holding the private key and the certificate.
fn certificate_credential(text: &str) -> Result<Credential, String> {
    ClientCertificate::from_pem(text)
        .map(Credential::Certificate)
        .map_err(|e| format!("the PEM text {e}"))
}

/// PEM text given inline, or the path of a file holding it.
fn inline_or_file(name: &'static str, value: String) -> Result<String, ConfigError> {
    // PEM may follow other text, such as the "Bag Attributes" openssl writes.
    if value.contains("-----BEGIN") {
        return Ok(value);
    }
    std::fs::read_to_string(value.trim()).map_err(|e| {
        ConfigError::invalid(
            name,
            format!(
                "is neither PEM text nor the path of a readable file ({})",
                e.kind()
            ),
        )
    })
}

fn api_version(env: Env<'_>, name: &'static str) -> Result<Option<ApiVersion>, ConfigError> {
    env(name)
        .map(|raw| {
            ApiVersion::parse(raw.trim()).ok_or_else(|| {
                ConfigError::invalid(
                    name,
                    format!("{raw:?} is not a Graph API version such as beta or v1.0"),
                )
            })
        })
        .transpose()
}

/// An optional variable holding a whole number (of `unit`, for the message) in `range`.
fn whole_number(
    env: Env<'_>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
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
fn seconds(env: Env<'_>, name: &'static str, max: f64) -> Result<Option<Duration>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ApiFamily;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(&move |k: &str| map.get(k).cloned(), Arc::new(SystemClock))
    }

    /// A lookup of `vars` alone, for the parts of the settings read one at a time.
    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const CALLERS: &str = r#"[{"name":"itsm","auth":{"scheme":"bearer","token":"0123456789abcdef0123456789abcdef"},"allow":["*"]}]"#;

    #[test]
    fn national_clouds_pick_graph_and_authority() {
        let s = settings(&[
            ("GRAPH_CLOUD", "usgov"),
            ("GRAPH_TENANT_ID", "contoso.onmicrosoft.us"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s3cret"),
            ("GRAPHGATE_CALLERS", CALLERS),
        ])
        .unwrap();
        assert_eq!(s.graph.base.origin(), "https://graph.microsoft.us");
        assert_eq!(
            s.graph.credentials.token_url.as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
        );
        assert_eq!(
            s.graph.credentials.scope,
            "https://graph.microsoft.us/.default"
        );
    }

    #[test]
    fn the_metrics_namespace_is_one_cloudwatch_takes() {
        let base = [
            ("GRAPH_TENANT_ID", "t1"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPHGATE_CALLERS", CALLERS),
        ];
        assert_eq!(settings(&base).unwrap().metrics_namespace, "graphgate");
        let with = |namespace: &'static str| {
            let mut vars = base.to_vec();
            vars.push(("GRAPHGATE_METRICS_NAMESPACE", namespace));
            settings(&vars).map(|s| s.metrics_namespace)
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
        assert!(with(Box::leak("n".repeat(256).into_boxed_str())).is_err());
    }

    #[test]
    fn every_cloud_has_its_own_hosts() {
        for (cloud, graph, token) in [
            (
                "global",
                "https://graph.microsoft.com",
                "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
            ),
            (
                "DoD",
                "https://dod-graph.microsoft.us",
                "https://login.microsoftonline.us/t1/oauth2/v2.0/token",
            ),
            (
                "china",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.chinacloudapi.cn/t1/oauth2/v2.0/token",
            ),
        ] {
            let s = settings(&[
                ("GRAPH_CLOUD", cloud),
                ("GRAPH_TENANT_ID", "t1"),
                ("GRAPH_CLIENT_ID", "app"),
                ("GRAPH_CLIENT_SECRET", "s"),
                ("GRAPHGATE_CALLERS", CALLERS),
            ])
            .unwrap();
            assert_eq!(s.graph.base.origin(), graph, "{cloud}");
            assert_eq!(s.graph.base.version(ApiFamily::Device).as_str(), "beta");
            assert_eq!(s.graph.base.version(ApiFamily::App).as_str(), "v1.0");
            assert_eq!(s.graph.credentials.token_url.as_str(), token, "{cloud}");
        }
    }

    #[test]
    fn each_family_of_calls_has_its_api_version() {
        let base = [
            ("GRAPH_TENANT_ID", "t1"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPHGATE_CALLERS", CALLERS),
        ];
        let versions = |extra: &[(&str, &str)]| {
            let s = settings(&[&base[..], extra].concat()).unwrap();
            (
                s.graph.base.version(ApiFamily::Device).to_string(),
                s.graph.base.version(ApiFamily::App).to_string(),
            )
        };
        assert_eq!(versions(&[]), ("beta".into(), "v1.0".into()));
        // GRAPH_BASE_URL as it was before: its version applies to both families...
        let old = ("GRAPH_BASE_URL", "https://graph.microsoft.com/beta");
        assert_eq!(versions(&[old]), ("beta".into(), "beta".into()));
        // ...unless a family's own variable says otherwise.
        assert_eq!(
            versions(&[old, ("GRAPH_APP_API_VERSION", "v1.0")]),
            ("beta".into(), "v1.0".into())
        );
        assert_eq!(
            versions(&[("GRAPH_DEVICE_API_VERSION", "v1.0")]),
            ("v1.0".into(), "v1.0".into())
        );
        let err = settings(&[&base[..], &[("GRAPH_APP_API_VERSION", "1.0")]].concat()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GRAPH_APP_API_VERSION is invalid"),
            "{err}"
        );
    }

    #[test]
    fn the_store_is_dynamodb_when_a_table_is_named() {
        assert_eq!(
            store(&env(&[])).unwrap(),
            StoreSettings::Sqlite {
                path: "./graphgate.db".into(),
                durability: Durability::Normal,
            }
        );
        assert_eq!(
            store(&env(&[("GRAPHGATE_SQLITE_SYNCHRONOUS", "FULL")])).unwrap(),
            StoreSettings::Sqlite {
                path: "./graphgate.db".into(),
                durability: Durability::Full,
            }
        );
        assert!(store(&env(&[("GRAPHGATE_SQLITE_SYNCHRONOUS", "off")])).is_err());
        assert_eq!(
            store(&env(&[
                ("GRAPHGATE_TABLE", "graphgate-changes"),
                ("GRAPHGATE_RETENTION_DAYS", "30")
            ]))
            .unwrap(),
            StoreSettings::DynamoDb {
                table: "graphgate-changes".into(),
                retention: Duration::from_secs(30 * 86_400),
                due_shards: DueShards::default(),
            }
        );
        let sharded = store(&env(&[
            ("GRAPHGATE_TABLE", "t-1"),
            ("GRAPHGATE_DUE_SHARDS", "8"),
        ]))
        .unwrap();
        assert!(
            matches!(sharded, StoreSettings::DynamoDb { due_shards, .. } if due_shards == DueShards::new(8).unwrap())
        );
        for bad in ["0", "33", "two"] {
            let err = store(&|k: &str| match k {
                "GRAPHGATE_TABLE" => Some("t-1".to_owned()),
                "GRAPHGATE_DUE_SHARDS" => Some(bad.to_owned()),
                _ => None,
            })
            .unwrap_err();
            assert!(err.to_string().contains("GRAPHGATE_DUE_SHARDS"), "{err}");
        }
        assert!(store(&env(&[("GRAPHGATE_TABLE", "a b")])).is_err());
        assert!(
            store(&env(&[
                ("GRAPHGATE_TABLE", "t-1"),
                ("GRAPHGATE_RETENTION_DAYS", "0")
            ]))
            .is_err()
        );
    }

    #[test]
    fn the_sweep_takes_its_concurrency_and_batch_within_bounds() {
        assert_eq!(sweep(&env(&[])).unwrap(), SweepSettings::default());
        let set = sweep(&env(&[
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
            let err = sweep(&|k: &str| (k == name).then(|| bad.to_owned())).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn refuses_to_start_without_what_it_needs() {
        let err = settings(&[("GRAPH_CLIENT_ID", "app")]).unwrap_err();
        assert!(
            err.to_string().starts_with("GRAPH_TENANT_ID is required"),
            "{err}"
        );
        let err = settings(&[
            ("GRAPH_TENANT_ID", "t"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("GRAPHGATE_CALLERS is required"),
            "{err}"
        );
        let err = settings(&[("GRAPH_CLOUD", "mars")]).unwrap_err();
        assert!(err.to_string().contains("GRAPH_CLOUD"), "{err}");
        let err = settings(&[("GRAPH_TENANT_ID", "a/b")]).unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_TENANT_ID is invalid"),
            "{err}"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let err = settings(&[("GRAPH_BASE_URL", "http://graph.example.com/beta")]).unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_BASE_URL is invalid"),
            "{err}"
        );
        let err = settings(&[
            ("GRAPH_BASE_URL", "http://127.0.0.1:9/beta"),
            (
                "GRAPH_TOKEN_URL",
                "http://login.example.com/t/oauth2/v2.0/token",
            ),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_TOKEN_URL is invalid"),
            "{err}"
        );
    }

    #[test]
    fn callers_may_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callers.json");
        std::fs::write(&path, CALLERS).unwrap();
        let path = path.display().to_string();
        let s = settings(&[
            ("GRAPH_TENANT_ID", "t"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPHGATE_CALLERS", &path),
        ])
        .unwrap();
        let registry = futures::executor::block_on(s.callers.current());
        assert!(
            crate::callers::tests::by_token(&registry, "0123456789abcdef0123456789abcdef")
                .is_some()
        );
        let err = settings(&[
            ("GRAPH_TENANT_ID", "t"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPHGATE_CALLERS", "/no/such/callers.json"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cannot read the file"), "{err}");
        assert!(!err.to_string().contains("/no/such"), "{err}");
        let err = settings(&[
            ("GRAPH_TENANT_ID", "t"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPHGATE_CALLERS", r#"{"name":"a","auth":{"scheme":"bearer","token":"secret-token-0123456789abcdef0123"}}"#),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("must be a JSON array"), "{err}");
        assert!(!err.to_string().contains("secret-token"), "{err}");
    }

    #[test]
    fn exactly_one_credential_is_given_and_a_bad_certificate_is_named() {
        let with = |credential: &[(&str, &str)]| {
            let mut vars = vec![
                ("GRAPH_TOKEN_URL", "http://127.0.0.1:9/t/oauth2/v2.0/token"),
                ("GRAPH_CLIENT_ID", "app"),
                ("GRAPHGATE_CALLERS", CALLERS),
            ];
            vars.extend_from_slice(credential);
            settings(&vars).err().map(|e| e.to_string())
        };
        let none = with(&[]).unwrap();
        assert!(
            none.starts_with("GRAPH_CLIENT_SECRET is required"),
            "{none}"
        );
        assert!(none.contains("GRAPH_CLIENT_CERTIFICATE_ARN"), "{none}");
        let both = with(&[
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPH_CLIENT_CERTIFICATE", "-----BEGIN CERTIFICATE-----"),
        ]);
        assert_eq!(
            both.as_deref(),
            Some(
                "GRAPH_CLIENT_CERTIFICATE is invalid: set a client secret or a certificate, not both"
            )
        );
        let no_file = with(&[("GRAPH_CLIENT_CERTIFICATE", "/nonexistent/cert.pem")]).unwrap();
        assert!(
            no_file.starts_with(
                "GRAPH_CLIENT_CERTIFICATE is invalid: is neither PEM text nor the path"
            ),
            "{no_file}"
        );
        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = with(&[("GRAPH_CLIENT_CERTIFICATE", key_only)]).unwrap();
        assert_eq!(
            err,
            "GRAPH_CLIENT_CERTIFICATE is invalid: the PEM text holds no CERTIFICATE block"
        );
        assert!(!err.contains("AAAA"), "the key never appears: {err}");
        let pem = include_str!("../tests/fixtures/graph-client-cert.pem");
        assert_eq!(with(&[("GRAPH_CLIENT_CERTIFICATE", pem)]), None);
        // As `openssl pkcs12 -nodes` writes it, with attributes before each block.
        let bagged = format!("Bag Attributes\n    friendlyName: graphgate\n{pem}");
        assert_eq!(with(&[("GRAPH_CLIENT_CERTIFICATE", &bagged)]), None);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[
            ("GRAPH_TOKEN_URL", "http://127.0.0.1:9/t/oauth2/v2.0/token"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "very-secret-value"),
            ("GRAPHGATE_CALLERS", CALLERS),
            ("GRAPHGATE_REQUEST_TIMEOUT_SECS", "2.5"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("very-secret-value"));
        assert!(!printed.contains("0123456789abcdef0123456789abcdef"));
        assert_eq!(s.intake.request_timeout, Duration::from_millis(2500));
    }
}
