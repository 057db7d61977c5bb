//! A caller's ticket connection, as the caller registry gives it: which system holds the
//! caller's tickets, where, with what credentials, and whether graphgate gates changes on
//! them and writes results back. Parsed once, with the registry; no error holds a credential.

use std::collections::BTreeSet;
use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::change::WrittenUrl;

/// The registry's `ticket` object, as written.
#[derive(Deserialize)]
#[serde(tag = "system", rename_all = "lowercase", deny_unknown_fields)]
pub enum TicketEntry {
    Servicenow {
        url: String,
        user: Option<String>,
        password: Option<String>,
        #[serde(rename = "clientId")]
        client_id: Option<String>,
        #[serde(rename = "clientSecret")]
        client_secret: Option<String>,
        #[serde(rename = "acceptedStates")]
        accepted_states: Option<Vec<String>>,
        #[serde(default)]
        gate: bool,
        #[serde(rename = "writeBack", default)]
        write_back: bool,
    },
    Jira {
        url: String,
        user: String,
        #[serde(rename = "apiToken")]
        api_token: String,
        #[serde(rename = "approvedStatuses")]
        approved_statuses: Option<Vec<String>>,
        #[serde(default)]
        gate: bool,
        #[serde(rename = "writeBack", default)]
        write_back: bool,
    },
    Pagerduty {
        url: Option<String>,
        #[serde(rename = "apiToken")]
        api_token: String,
        from: String,
        #[serde(default)]
        gate: bool,
        #[serde(rename = "writeBack", default)]
        write_back: bool,
    },
}

/// A ticket connection ready to use.
#[derive(Debug, Clone)]
pub struct Connection {
    pub system: System,
    /// Whether a change runs only on an approved ticket.
    pub gate: bool,
    /// Whether graphgate writes each milestone of a change into its ticket.
    pub write_back: bool,
}

/// Where the tickets are, and how graphgate signs in.
#[derive(Debug, Clone)]
pub enum System {
    ServiceNow {
        base: BaseUrl,
        auth: ServiceNowAuth,
        /// The `state` values (numbers, as the Table API gives them) a change may be in.
        accepted_states: BTreeSet<String>,
    },
    Jira {
        base: BaseUrl,
        user: String,
        api_token: Secret,
        /// Status names an approved issue may have, lowercased.
        approved_statuses: BTreeSet<String>,
    },
    PagerDuty {
        base: BaseUrl,
        api_token: Secret,
        /// The email of the PagerDuty user notes are written as (its `From` header).
        from: String,
    },
}

#[derive(Debug, Clone)]
pub enum ServiceNowAuth {
    Basic {
        user: String,
        password: Secret,
    },
    /// OAuth client credentials, a token from `{url}/oauth_token.do`.
    OAuth {
        client_id: String,
        secret: Secret,
    },
}

/// A credential. It never prints.
#[derive(Clone)]
pub struct Secret(pub SecretString);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Secret {
    fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }
}

/// A ticket system's address: an absolute http(s) URL with no credentials, query or
/// fragment; paths are appended to it. Whether graphgate may call it (https to a public
/// address in Lambda) is decided where the deployment is known, on the host as written, as
/// for callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(WrittenUrl);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConnectionError> {
        let written =
            WrittenUrl::parse(raw.trim()).map_err(|e| ConnectionError::Url(e.to_string()))?;
        let url = written.url();
        if url.host_str().is_none() {
            return Err(ConnectionError::Url("must name a host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConnectionError::Url(
                "must not carry credentials; give them in their own fields".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConnectionError::Url(
                "must have no query or fragment".into(),
            ));
        }
        Ok(Self(written))
    }

    pub fn url(&self) -> &Url {
        self.0.url()
    }

    /// The URL as written, for the deployment's rules on where graphgate may call.
    pub fn written(&self) -> &WrittenUrl {
        &self.0
    }

    /// The URL of `path` (which starts with `/`) under this base.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.url().clone();
        let joined = format!("{}{path}", self.url().path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }
}

/// PagerDuty's REST API, where a `pagerduty` connection goes unless it names another.
pub const PAGERDUTY_API: &str = "https://api.pagerduty.com";

/// ServiceNow's change states by name, as its Table API gives them: `state` is a number.
const SERVICENOW_STATES: [(&str, &str); 8] = [
    ("new", "-5"),
    ("assess", "-4"),
    ("authorize", "-3"),
    ("scheduled", "-2"),
    ("implement", "-1"),
    ("review", "0"),
    ("closed", "3"),
    ("canceled", "4"),
];

/// A change may be carried out when Scheduled or being implemented, unless the connection
/// says otherwise.
const DEFAULT_ACCEPTED_STATES: [&str; 2] = ["-2", "-1"];

/// The name of a ServiceNow change state, for the words of a refusal; the number itself
/// when it is not one of the standard states.
pub fn servicenow_state_name(state: &str) -> Option<&'static str> {
    SERVICENOW_STATES
        .iter()
        .find(|(_, number)| *number == state)
        .map(|(name, _)| *name)
}

/// Why a ticket connection cannot be used; never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("ticket.url {0}")]
    Url(String),
    #[error(
        "a servicenow ticket connection takes either user and password, or clientId and clientSecret"
    )]
    ServiceNowAuth,
    #[error("ticket.{field} must not be empty")]
    Empty { field: &'static str },
    #[error(
        "ticket.acceptedStates entry #{number} is not a change state; give its number (-2, or a state your instance added) or a standard state's name (scheduled)"
    )]
    UnknownState { number: usize },
    #[error("ticket.approvedStatuses must name at least one status when gate is true")]
    NoApprovedStatus,
    #[error("PagerDuty incidents have no approval: ticket.gate is for servicenow and jira")]
    NoGateOnPagerDuty,
    #[error("ticket.from must be the email of a PagerDuty user")]
    From,
    #[error("a ticket connection must gate changes, write back, or both")]
    Idle,
}

impl TryFrom<TicketEntry> for Connection {
    type Error = ConnectionError;

    fn try_from(entry: TicketEntry) -> Result<Self, ConnectionError> {
        let (system, gate, write_back) = match entry {
            TicketEntry::Servicenow {
                url,
                user,
                password,
                client_id,
                client_secret,
                accepted_states,
                gate,
                write_back,
            } => {
                let auth = match (user, password, client_id, client_secret) {
                    (Some(user), Some(password), None, None) => ServiceNowAuth::Basic {
                        user: filled("user", user)?,
                        password: Secret::new(filled("password", password)?),
                    },
                    (None, None, Some(client_id), Some(secret)) => ServiceNowAuth::OAuth {
                        client_id: filled("clientId", client_id)?,
                        secret: Secret::new(filled("clientSecret", secret)?),
                    },
                    _ => return Err(ConnectionError::ServiceNowAuth),
                };
                let accepted_states = match accepted_states {
                    None => DEFAULT_ACCEPTED_STATES.map(str::to_owned).into(),
                    Some(states) => servicenow_states(&states)?,
                };
                let system = System::ServiceNow {
                    base: BaseUrl::parse(&url)?,
                    auth,
                    accepted_states,
                };
                (system, gate, write_back)
            }
            TicketEntry::Jira {
                url,
                user,
                api_token,
                approved_statuses,
                gate,
                write_back,
            } => {
                let approved_statuses: BTreeSet<String> = approved_statuses
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect();
                if gate && approved_statuses.is_empty() {
                    return Err(ConnectionError::NoApprovedStatus);
                }
                let system = System::Jira {
                    base: BaseUrl::parse(&url)?,
                    user: filled("user", user)?,
                    api_token: Secret::new(filled("apiToken", api_token)?),
                    approved_statuses,
                };
                (system, gate, write_back)
            }
            TicketEntry::Pagerduty {
                url,
                api_token,
                from,
                gate,
                write_back,
            } => {
                if gate {
                    return Err(ConnectionError::NoGateOnPagerDuty);
                }
                let from = filled("from", from)?;
                if !from.contains('@') || from.chars().any(|c| c.is_whitespace()) {
                    return Err(ConnectionError::From);
                }
                let system = System::PagerDuty {
                    base: BaseUrl::parse(url.as_deref().unwrap_or(PAGERDUTY_API))?,
                    api_token: Secret::new(filled("apiToken", api_token)?),
                    from,
                };
                (system, gate, write_back)
            }
        };
        if !gate && !write_back {
            return Err(ConnectionError::Idle);
        }
        Ok(Connection {
            system,
            gate,
            write_back,
        })
    }
}

fn filled(field: &'static str, value: String) -> Result<String, ConnectionError> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(ConnectionError::Empty { field });
    }
    Ok(value)
}

/// The states named, as the numbers the Table API gives.
fn servicenow_states(states: &[String]) -> Result<BTreeSet<String>, ConnectionError> {
    if states.is_empty() {
        return Err(ConnectionError::Empty {
            field: "acceptedStates",
        });
    }
    states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let state = state.trim();
            // An instance may add states of its own: any number is taken as it is.
            if state.parse::<i32>().is_ok() {
                return Ok(state.to_owned());
            }
            SERVICENOW_STATES
                .iter()
                .find(|(name, _)| state.eq_ignore_ascii_case(name))
                .map(|(_, number)| (*number).to_owned())
                .ok_or(ConnectionError::UnknownState { number: i + 1 })
        })
        .collect()
}

impl System {
    /// The system's name, as the registry writes it.
    pub fn name(&self) -> &'static str {
        match self {
            System::ServiceNow { .. } => "servicenow",
            System::Jira { .. } => "jira",
            System::PagerDuty { .. } => "pagerduty",
        }
    }

    pub fn base(&self) -> &BaseUrl {
        match self {
            System::ServiceNow { base, .. }
            | System::Jira { base, .. }
            | System::PagerDuty { base, .. } => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(json: &str) -> Result<Connection, String> {
        let entry: TicketEntry = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Connection::try_from(entry).map_err(|e| e.to_string())
    }

    #[test]
    fn each_system_is_read_with_its_defaults() {
        let now = connection(
            r#"{"system":"servicenow","url":"https://contoso.service-now.com/","user":"svc","password":"pw","gate":true}"#,
        )
        .unwrap();
        let System::ServiceNow {
            base,
            accepted_states,
            ..
        } = &now.system
        else {
            panic!("{now:?}")
        };
        assert_eq!(
            base.join("/api/now/table/change_request").as_str(),
            "https://contoso.service-now.com/api/now/table/change_request"
        );
        assert_eq!(
            accepted_states.iter().collect::<Vec<_>>(),
            ["-1", "-2"],
            "Scheduled and Implement"
        );
        assert!(now.gate && !now.write_back);

        let oauth = connection(
            r#"{"system":"servicenow","url":"https://x.service-now.com","clientId":"id","clientSecret":"s","acceptedStates":["Implement","0","-7"],"writeBack":true}"#,
        )
        .unwrap();
        assert!(matches!(
            &oauth.system,
            System::ServiceNow { auth: ServiceNowAuth::OAuth { .. }, accepted_states, .. }
                if accepted_states.iter().collect::<Vec<_>>() == ["-1", "-7", "0"]
        ));

        let jira = connection(
            r#"{"system":"jira","url":"https://contoso.atlassian.net","user":"svc@contoso.com","apiToken":"t","approvedStatuses":[" Approved "],"gate":true}"#,
        )
        .unwrap();
        assert!(matches!(
            &jira.system,
            System::Jira { approved_statuses, .. } if approved_statuses.contains("approved")
        ));

        let pagerduty = connection(
            r#"{"system":"pagerduty","apiToken":"t","from":"svc@contoso.com","writeBack":true}"#,
        )
        .unwrap();
        assert_eq!(
            pagerduty.system.base().url().as_str(),
            "https://api.pagerduty.com/"
        );
    }

    #[test]
    fn bad_connections_are_refused_without_their_secrets() {
        let cases = [
            (
                r#"{"system":"servicenow","url":"https://x","user":"u","password":"hunter2-secret","clientId":"c","clientSecret":"s","gate":true}"#,
                "either user and password",
            ),
            (
                r#"{"system":"servicenow","url":"https://x","user":"u","gate":true}"#,
                "either user and password",
            ),
            (
                r#"{"system":"servicenow","url":"ftp://x","user":"u","password":"hunter2-secret","gate":true}"#,
                "http(s)",
            ),
            (
                r#"{"system":"servicenow","url":"https://u:hunter2-secret@x","user":"u","password":"p","gate":true}"#,
                "credentials",
            ),
            (
                r#"{"system":"servicenow","url":"https://x","user":"u","password":"hunter2-secret","acceptedStates":["approved"],"gate":true}"#,
                "not a change state",
            ),
            (
                r#"{"system":"jira","url":"https://x","user":"u","apiToken":"hunter2-secret","gate":true}"#,
                "approvedStatuses",
            ),
            (
                r#"{"system":"pagerduty","apiToken":"hunter2-secret","from":"a@b","gate":true}"#,
                "no approval",
            ),
            (
                r#"{"system":"pagerduty","apiToken":"hunter2-secret","from":"nobody","writeBack":true}"#,
                "email",
            ),
            (
                r#"{"system":"jira","url":"https://x","user":"u","apiToken":"hunter2-secret"}"#,
                "gate changes, write back",
            ),
            (
                r#"{"system":"jira","url":"https://x","user":"u","apiToken":"  ","writeBack":true}"#,
                "apiToken must not be empty",
            ),
            (
                r#"{"system":"remedy","url":"https://x"}"#,
                "unknown variant",
            ),
        ];
        for (json, expected) in cases {
            let err = connection(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn credentials_never_print() {
        let c = connection(
            r#"{"system":"jira","url":"https://x","user":"u","apiToken":"hunter2-secret","writeBack":true}"#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
