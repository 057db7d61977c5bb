//! The preflight check an admin runs before the first change: can this app registration sign
//! in, which application permissions (`roles`) does its token carry, what can it therefore do
//! in this cloud, does Graph still serve the device API, and has Graph announced its end.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::GraphError;
use super::base::GraphBase;
use super::cloud::Cloud;
use super::notices::RetirementNotice;
use super::permissions::{Capability, Verdict};
use super::version::ApiFamily;

/// The check's findings. Holds no token and no secret: it is printed and served as is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preflight {
    pub cloud: &'static str,
    pub sign_in: SignIn,
    /// The application permissions the token carries, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    pub capabilities: Vec<CapabilityCheck>,
    pub device_api: DeviceApi,
    pub retirement_notices: Vec<RetirementNotice>,
    /// Whether any action can be done, fully or in part; or, when the token's permissions
    /// cannot be read, whether any may be (sign-in worked and Graph offers it).
    pub ready: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum SignIn {
    /// A token was issued, and its `roles` were read.
    Signed,
    /// A token was issued, but it is not a JWT graphgate can read: no guess is made.
    RolesUnreadable {
        why: String,
    },
    Failed {
        why: String,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityCheck {
    pub capability: String,
    /// The API version the call goes to.
    pub api_version: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// What a read of the device list showed about the device API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum DeviceApi {
    Available,
    /// Graph answered as it does for an API it no longer has.
    Retired {
        detail: String,
    },
    /// Graph refused the read (usually a missing permission).
    Refused {
        detail: String,
    },
    Failed {
        detail: String,
    },
    NotChecked,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    roles: Vec<String>,
}

/// The `roles` claim of an app-only access token. Entra's Graph tokens are JWTs today, but
/// Microsoft documents them as opaque to clients: one that does not read as a JWT is
/// reported, never guessed at. Read by hand rather than with `jsonwebtoken`'s
/// `insecure_decode`, which also requires a header it knows and would not say which part of
/// a token failed to read.
pub(super) fn roles_of(token: &str) -> Result<Vec<String>, String> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the access token is not a JWT (three dot-separated parts)".into());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the access token's payload is not base64url".to_owned())?;
    serde_json::from_slice::<Claims>(&bytes)
        .map(|c| c.roles)
        .map_err(|_| "the access token's payload is not a JSON object of claims".to_owned())
}

impl DeviceApi {
    pub(super) fn from_probe(result: Result<(), GraphError>) -> Self {
        match result {
            Ok(()) => DeviceApi::Available,
            Err(e @ GraphError::Retired(_)) => DeviceApi::Retired {
                detail: e.failure().message,
            },
            Err(e @ GraphError::Permission(_)) => DeviceApi::Refused {
                detail: e.to_string(),
            },
            Err(e) => DeviceApi::Failed {
                detail: e.failure().message,
            },
        }
    }
}

impl Preflight {
    pub(super) fn assemble(
        cloud: Cloud,
        base: &GraphBase,
        sign_in: Result<Result<Vec<String>, String>, GraphError>,
        device_api: DeviceApi,
        retirement_notices: Vec<RetirementNotice>,
    ) -> Self {
        let (sign_in, roles) = match sign_in {
            Ok(Ok(roles)) => (SignIn::Signed, Some(roles)),
            Ok(Err(why)) => (SignIn::RolesUnreadable { why }, None),
            Err(e) => (
                SignIn::Failed {
                    why: e.failure().message,
                },
                None,
            ),
        };
        let device_retired = matches!(device_api, DeviceApi::Retired { .. });
        let mut ready = false;
        let capabilities: Vec<CapabilityCheck> = Capability::all()
            .into_iter()
            .map(|capability| {
                let family = capability.family();
                let requirement = capability.requirement();
                let verdict = if !cloud.offers(capability) {
                    Verdict::NotInCloud
                } else if family == ApiFamily::Device && device_retired {
                    Verdict::Retired
                } else {
                    match &roles {
                        Some(roles) => requirement.judge(roles),
                        None => Verdict::Unknown {
                            grant: requirement.grant.into(),
                        },
                    }
                };
                // Reading alone carries out no change. With unreadable roles, nothing is
                // known to be impossible, so the check does not say it is.
                if capability.changes_something()
                    && (verdict.usable() || matches!(verdict, Verdict::Unknown { .. }))
                {
                    ready = true;
                }
                CapabilityCheck {
                    capability: capability.label(),
                    api_version: base.version(family).to_string(),
                    verdict,
                }
            })
            .collect();
        let ready = ready && !matches!(sign_in, SignIn::Failed { .. });
        Preflight {
            cloud: cloud.name(),
            sign_in,
            roles,
            capabilities,
            device_api,
            retirement_notices,
            ready,
        }
    }

    /// The findings as an admin reads them in a terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!("graphgate preflight check (cloud: {})\n\n", self.cloud);
        match &self.sign_in {
            SignIn::Signed => {
                let roles = self.roles.as_deref().unwrap_or_default();
                out += &format!(
                    "sign-in: ok; the token carries {} application permission(s): {}\n",
                    roles.len(),
                    if roles.is_empty() {
                        "none".to_owned()
                    } else {
                        roles.join(", ")
                    }
                );
            }
            SignIn::RolesUnreadable { why } => {
                out += &format!(
                    "sign-in: ok, but the token's permissions cannot be read ({why}); \
                     the permissions below are what each action needs, not what is granted\n"
                );
            }
            SignIn::Failed { why } => out += &format!("sign-in: FAILED: {why}\n"),
        }
        out += &format!("device API: {}\n\n", self.device_api.describe());
        for check in &self.capabilities {
            let line = match &check.verdict {
                Verdict::Permitted { by } => format!("yes (by {by})"),
                Verdict::Limited { by, limit, grant } => {
                    format!("partly: {by} allows {limit}; grant {grant}")
                }
                Verdict::Missing { grant } => format!("no: grant {grant}"),
                Verdict::Unknown { grant } => format!("unknown: needs {grant}"),
                Verdict::NotInCloud => format!("no: Graph does not offer it in {}", self.cloud),
                Verdict::Retired => "no: Graph no longer serves this API".to_owned(),
            };
            out += &format!(
                "  {:<34} {:<5} {line}\n",
                check.capability, check.api_version
            );
        }
        if self.retirement_notices.is_empty() {
            out += "\nGraph sent no Deprecation or Sunset notice.\n";
        } else {
            out += "\nGraph's retirement notices:\n";
            for n in &self.retirement_notices {
                out += &format!(
                    "  {}: Deprecation {}, Sunset {}{}\n",
                    n.api,
                    n.deprecation.as_deref().unwrap_or("-"),
                    n.sunset.as_deref().unwrap_or("-"),
                    n.link
                        .as_deref()
                        .map(|l| format!(", {l}"))
                        .unwrap_or_default()
                );
            }
        }
        out += if self.ready && self.roles.is_none() {
            "\nready as far as can be told: sign-in works; grant the permissions above for the actions you need.\n"
        } else if self.ready {
            "\nready: graphgate can carry out the actions marked yes.\n"
        } else {
            "\nNOT READY: this registration can carry out none of graphgate's actions.\n"
        };
        out
    }
}

impl DeviceApi {
    fn describe(&self) -> String {
        match self {
            DeviceApi::Available => "served by Graph".into(),
            DeviceApi::Retired { detail } => format!("RETIRED: {detail}"),
            DeviceApi::Refused { detail } => format!("could not be read: {detail}"),
            DeviceApi::Failed { detail } => format!("could not be read: {detail}"),
            DeviceApi::NotChecked => "not checked (no token)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn roles_are_read_from_a_jwt_and_anything_else_is_reported_unreadable() {
        assert_eq!(
            roles_of(&jwt(
                r#"{"roles":["TeamworkDevice.ReadWrite.All"],"aud":"x"}"#
            )),
            Ok(vec!["TeamworkDevice.ReadWrite.All".to_owned()])
        );
        assert_eq!(roles_of(&jwt(r#"{"aud":"x"}"#)), Ok(vec![]));
        assert!(
            roles_of("EwBwA8l6BAAU-opaque")
                .unwrap_err()
                .contains("not a JWT")
        );
        assert!(roles_of("a.b!.c").unwrap_err().contains("base64url"));
        assert!(roles_of(&jwt("[1]")).unwrap_err().contains("JSON object"));
    }
}
