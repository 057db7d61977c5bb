//! Where Graph and its token endpoint are, which API version each family of calls uses, and
//! who graphgate signs in as.

use std::sync::Arc;

use super::by_arn::{GRAPH_BY_ARN, read_by_arn, with_secrets};
use super::credential::credential;
use super::env::{ConfigError, Env, process_env};
use crate::change::TenantId;
use crate::clock::{Clock, SystemClock};
use crate::graph::{
    ApiVersion, ClientCredentials, Cloud, GraphBase, GraphClient, RetryPolicy, check_endpoint,
};

#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub base: GraphBase,
    pub cloud: Cloud,
    pub credentials: ClientCredentials,
    pub retry: RetryPolicy,
    /// What the token cache and a secret read by ARN keep time by.
    pub clock: Arc<dyn Clock>,
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

pub(super) fn graph(env: Env<'_>, clock: &Arc<dyn Clock>) -> Result<GraphSettings, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::super::env::lookup;
    use super::*;
    use crate::graph::ApiFamily;

    /// The Graph settings `env` names, on the system clock: no rule tested here reads it.
    fn graph(env: Env<'_>) -> Result<GraphSettings, ConfigError> {
        super::graph(env, &(Arc::new(SystemClock) as Arc<dyn Clock>))
    }

    #[test]
    fn national_clouds_pick_graph_and_authority() {
        let s = graph(&lookup(&[
            ("GRAPH_CLOUD", "usgov"),
            ("GRAPH_TENANT_ID", "contoso.onmicrosoft.us"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap();
        assert_eq!(s.base.origin(), "https://graph.microsoft.us");
        assert_eq!(
            s.credentials.token_url.as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
        );
        assert_eq!(s.credentials.scope, "https://graph.microsoft.us/.default");
    }

    #[test]
    fn every_cloud_has_its_own_hosts() {
        for (cloud, origin, token) in [
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
            let s = graph(&lookup(&[
                ("GRAPH_CLOUD", cloud),
                ("GRAPH_TENANT_ID", "t1"),
                ("GRAPH_CLIENT_ID", "app"),
                ("GRAPH_CLIENT_SECRET", "s"),
            ]))
            .unwrap();
            assert_eq!(s.base.origin(), origin, "{cloud}");
            assert_eq!(s.base.version(ApiFamily::Device).as_str(), "beta");
            assert_eq!(s.base.version(ApiFamily::App).as_str(), "v1.0");
            assert_eq!(s.credentials.token_url.as_str(), token, "{cloud}");
        }
    }

    #[test]
    fn each_family_of_calls_has_its_api_version() {
        let base = [
            ("GRAPH_TENANT_ID", "t1"),
            ("GRAPH_CLIENT_ID", "app"),
            ("GRAPH_CLIENT_SECRET", "s"),
        ];
        let versions = |extra: &[(&str, &str)]| {
            let s = graph(&lookup(&[&base[..], extra].concat())).unwrap();
            (
                s.base.version(ApiFamily::Device).to_string(),
                s.base.version(ApiFamily::App).to_string(),
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
        let err = graph(&lookup(
            &[&base[..], &[("GRAPH_APP_API_VERSION", "1.0")]].concat(),
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GRAPH_APP_API_VERSION is invalid"),
            "{err}"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let err = graph(&lookup(&[(
            "GRAPH_BASE_URL",
            "http://graph.example.com/beta",
        )]))
        .unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_BASE_URL is invalid"),
            "{err}"
        );
        let err = graph(&lookup(&[
            ("GRAPH_BASE_URL", "http://127.0.0.1:9/beta"),
            (
                "GRAPH_TOKEN_URL",
                "http://login.example.com/t/oauth2/v2.0/token",
            ),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("GRAPH_TOKEN_URL is invalid"),
            "{err}"
        );
    }
}
