//! The gate's judgment of a ticket, without I/O: whether what the ticket system said lets a
//! change go ahead at a given time, or what refuses it.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::connection::{Connection, System, servicenow_state_name};

/// A ticket as the gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ticket {
    ServiceNow {
        /// The record's `sys_id`, which the Table API writes to.
        sys_id: String,
        /// `approval`: `approved`, `requested`, `rejected`, `not requested`.
        approval: String,
        /// `state`, a number: `-2` Scheduled, `-1` Implement, ….
        state: String,
        /// The planned window, when it is set.
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    },
    Jira {
        status: String,
    },
}

/// Why the gate refuses a change, in what the ticket said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// Not approved, or not in a state a change may be carried out in. Jira has no
    /// approval of its own: its status is the state.
    NotApproved {
        approval: Option<String>,
        state: String,
    },
    /// The change would run outside the ticket's planned window.
    OutsideWindow {
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    },
}

impl Refusal {
    /// What the ticket said, in words: `ticket CHG1 is not approved (approval requested,
    /// state authorize)`.
    pub fn words(&self, reference: &str) -> String {
        match self {
            Refusal::NotFound => format!("ticket {reference} was not found"),
            Refusal::NotApproved {
                approval: Some(approval),
                state,
            } => format!("ticket {reference} is not approved (approval {approval}, state {state})"),
            Refusal::NotApproved {
                approval: None,
                state,
            } => format!("ticket {reference} is not approved (status {state})"),
            Refusal::OutsideWindow { .. } => {
                format!("ticket {reference}'s planned window does not include now")
            }
        }
    }
}

/// Whether `ticket` lets a change of `connection`'s caller run at `at`.
pub fn judge(
    connection: &Connection,
    ticket: Option<&Ticket>,
    at: OffsetDateTime,
) -> Result<(), Refusal> {
    let Some(ticket) = ticket else {
        return Err(Refusal::NotFound);
    };
    match (ticket, &connection.system) {
        (
            Ticket::ServiceNow {
                approval,
                state,
                start,
                end,
                ..
            },
            System::ServiceNow {
                accepted_states, ..
            },
        ) => {
            if approval != "approved" || !accepted_states.contains(state) {
                return Err(Refusal::NotApproved {
                    approval: Some(approval.clone()),
                    state: servicenow_state_name(state)
                        .map_or_else(|| state.clone(), str::to_owned),
                });
            }
            let opened = start.is_none_or(|start| start <= at);
            let open = end.is_none_or(|end| at < end);
            if opened && open {
                Ok(())
            } else {
                Err(Refusal::OutsideWindow {
                    start: *start,
                    end: *end,
                })
            }
        }
        (
            Ticket::Jira { status },
            System::Jira {
                approved_statuses, ..
            },
        ) => {
            if approved(approved_statuses, status) {
                Ok(())
            } else {
                Err(Refusal::NotApproved {
                    approval: None,
                    state: status.clone(),
                })
            }
        }
        // A ticket read from one system is judged by that system's rules only.
        _ => Err(Refusal::NotFound),
    }
}

fn approved(statuses: &BTreeSet<String>, status: &str) -> bool {
    statuses.contains(&status.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::tickets::connection::TicketEntry;

    fn connection(json: &str) -> Connection {
        Connection::try_from(serde_json::from_str::<TicketEntry>(json).unwrap()).unwrap()
    }

    fn servicenow() -> Connection {
        connection(
            r#"{"system":"servicenow","url":"https://x","user":"u","password":"p","gate":true}"#,
        )
    }

    fn change(approval: &str, state: &str) -> Ticket {
        Ticket::ServiceNow {
            sys_id: "1".into(),
            approval: approval.into(),
            state: state.into(),
            start: Some(datetime!(2026-12-08 10:00 UTC)),
            end: Some(datetime!(2026-12-08 12:00 UTC)),
        }
    }

    #[test]
    fn a_servicenow_change_must_be_approved_in_an_accepted_state_and_window() {
        let c = servicenow();
        let during = datetime!(2026-12-08 11:00 UTC);
        assert_eq!(judge(&c, Some(&change("approved", "-1")), during), Ok(()));
        assert_eq!(judge(&c, Some(&change("approved", "-2")), during), Ok(()));
        assert_eq!(
            judge(&c, Some(&change("requested", "-3")), during),
            Err(Refusal::NotApproved {
                approval: Some("requested".into()),
                state: "authorize".into()
            })
        );
        assert_eq!(
            judge(&c, Some(&change("approved", "3")), during),
            Err(Refusal::NotApproved {
                approval: Some("approved".into()),
                state: "closed".into()
            })
        );
        for outside in [
            datetime!(2026-12-08 09:59:59 UTC),
            datetime!(2026-12-08 12:00 UTC),
        ] {
            assert_eq!(
                judge(&c, Some(&change("approved", "-1")), outside),
                Err(Refusal::OutsideWindow {
                    start: Some(datetime!(2026-12-08 10:00 UTC)),
                    end: Some(datetime!(2026-12-08 12:00 UTC)),
                }),
                "{outside}"
            );
        }
        let unplanned = Ticket::ServiceNow {
            sys_id: "1".into(),
            approval: "approved".into(),
            state: "-1".into(),
            start: None,
            end: None,
        };
        assert_eq!(judge(&c, Some(&unplanned), during), Ok(()));
        assert_eq!(judge(&c, None, during), Err(Refusal::NotFound));
    }

    #[test]
    fn a_jira_status_is_compared_without_case() {
        let c = connection(
            r#"{"system":"jira","url":"https://x","user":"u","apiToken":"t","approvedStatuses":["Approved","Ready to implement"],"gate":true}"#,
        );
        let now = datetime!(2026-12-08 11:00 UTC);
        for status in ["approved", "APPROVED", "Ready To Implement"] {
            let ticket = Ticket::Jira {
                status: status.into(),
            };
            assert_eq!(judge(&c, Some(&ticket), now), Ok(()), "{status}");
        }
        let waiting = Ticket::Jira {
            status: "Waiting for approval".into(),
        };
        assert_eq!(
            judge(&c, Some(&waiting), now),
            Err(Refusal::NotApproved {
                approval: None,
                state: "Waiting for approval".into()
            })
        );
    }
}
