//! A change's `reference` as its caller's ticket system names a ticket: a ServiceNow change
//! number, a Jira issue key or ID, a PagerDuty incident ID. It goes into a query or a path,
//! so it is held to the characters those names use: a ServiceNow encoded query joins
//! conditions with `^`, and a reference must not add one.

use std::fmt;

use super::connection::System;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRef(String);

const MAX_LEN: usize = 40;

impl TicketRef {
    /// The reference, if it can name a ticket of `system`; else why not, completing a
    /// sentence that begins with the field's name.
    pub fn parse(system: &System, raw: &str) -> Result<Self, String> {
        let word = |c: char| c.is_ascii_alphanumeric();
        let fits = !raw.is_empty()
            && raw.len() <= MAX_LEN
            && match system {
                System::ServiceNow { .. } => raw.chars().all(|c| word(c) || c == '_'),
                System::Jira { .. } => {
                    raw.chars().all(|c| c.is_ascii_digit())
                        || raw.split_once('-').is_some_and(|(project, number)| {
                            project.starts_with(|c: char| c.is_ascii_alphabetic())
                                && project.chars().all(|c| word(c) || c == '_')
                                && !number.is_empty()
                                && number.chars().all(|c| c.is_ascii_digit())
                        })
                }
                System::PagerDuty { .. } => raw.chars().all(word),
            };
        if fits {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("must be a {}", Self::what(system)))
        }
    }

    /// What a reference names in `system`, for the words of a refusal.
    pub fn what(system: &System) -> &'static str {
        match system {
            System::ServiceNow { .. } => "ServiceNow change number (CHG0030001)",
            System::Jira { .. } => "Jira issue key (CHG-123)",
            System::PagerDuty { .. } => "PagerDuty incident ID (PT4KHLK)",
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::connection::{Connection, TicketEntry};

    fn system(json: &str) -> System {
        Connection::try_from(serde_json::from_str::<TicketEntry>(json).unwrap())
            .unwrap()
            .system
    }

    #[test]
    fn references_are_held_to_each_systems_names() {
        let now = system(
            r#"{"system":"servicenow","url":"https://x","user":"u","password":"p","gate":true}"#,
        );
        let jira = system(
            r#"{"system":"jira","url":"https://x","user":"u","apiToken":"t","approvedStatuses":["Approved"],"gate":true}"#,
        );
        let pd = system(r#"{"system":"pagerduty","apiToken":"t","from":"a@b.c","writeBack":true}"#);
        for (s, good, bad) in [
            (
                &now,
                vec!["CHG0030001", "chg_1"],
                vec!["", "CHG1^ORnumber=CHG2", "CHG 1", "CHG-1", &"C".repeat(41)],
            ),
            (
                &jira,
                vec!["CHG-1", "OPS_2-10", "10042"],
                vec!["CHG", "-1", "1CHG-1", "CHG-1a", "CHG-1/comment", "CHG-"],
            ),
            (&pd, vec!["PT4KHLK"], vec!["PT4-KHLK", "../x"]),
        ] {
            for g in good {
                assert!(TicketRef::parse(s, g).is_ok(), "{g}");
            }
            for b in bad {
                let err = TicketRef::parse(s, b).unwrap_err();
                assert!(err.starts_with("must be a"), "{b}: {err}");
            }
        }
    }
}
