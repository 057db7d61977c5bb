//! What the simulated ticket systems hold: ServiceNow's change requests (and the OAuth tokens
//! the instance issued) and Jira's issues; their seeding and the changes a test or a demo
//! makes to them; the view a person reads through `GET /_simulator/tickets`; and the
//! integration users graphgate signs in as.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::adf;
use super::change_request::{Approval, ChangeRequest, ChangeState, GlideDateTime, SeedChange};
use super::jira_issue::{Issue, IssueStatus};
use super::ticket_faults::TicketFaults;

/// The ServiceNow integration user, for HTTP Basic on the Table API.
pub const SERVICENOW_USER: &str = "svc-graphgate";
pub const SERVICENOW_PASSWORD: &str = "simulated-servicenow-password";
/// The OAuth client (`POST /oauth_token.do`, client credentials) whose tokens act as
/// [`SERVICENOW_USER`].
pub const SERVICENOW_CLIENT_ID: &str = "graphgate-simulator-client";
pub const SERVICENOW_CLIENT_SECRET: &str = "simulated-servicenow-client-secret";
/// The Jira user, for HTTP Basic with an API token (`email:token`).
pub const JIRA_EMAIL: &str = "graphgate@example.com";
pub const JIRA_API_TOKEN: &str = "simulated-jira-api-token";
const JIRA_ACCOUNT_ID: &str = "712020:6f1c4a2e-5b7d-4c3a-9e8f-0a1b2c3d4e5f";

/// The Jira user as Jira shows it, under `base`.
pub(super) fn jira_user(base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/user?accountId={JIRA_ACCOUNT_ID}"),
        "accountId": JIRA_ACCOUNT_ID,
        "emailAddress": JIRA_EMAIL,
        "displayName": "graphgate automation",
        "active": true,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    })
}

/// The simulated ticket systems' memory.
#[derive(Default)]
pub(super) struct Tickets {
    /// In the order they were seeded.
    pub(super) changes: Vec<ChangeRequest>,
    pub(super) issues: Vec<Issue>,
    /// Each OAuth token the ServiceNow instance issued, with its expiry.
    pub(super) servicenow_tokens: HashMap<String, Instant>,
    pub(super) faults: TicketFaults,
    comments_made: u64,
}

/// Tickets to seed, as `PUT /_simulator/tickets` takes them; a ticket with the number or key
/// of one already there replaces it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TicketSeeds {
    pub servicenow: Vec<SeedChange>,
    pub jira: Vec<SeedIssue>,
}

/// A Jira issue to seed, keyed `PROJECT-N`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedIssue {
    pub key: String,
    pub status: IssueStatus,
    #[serde(default)]
    pub summary: String,
}

/// What a test or a demo changes on a ServiceNow change request (say, withdrawing its
/// approval while a fleet rolls out).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeUpdate {
    pub approval: Option<Approval>,
    pub state: Option<ChangeState>,
    pub start_date: Option<GlideDateTime>,
    pub end_date: Option<GlideDateTime>,
}

/// What a test or a demo changes on a Jira issue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueUpdate {
    pub status: IssueStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("{0:?} is not a Jira issue key (PROJECT-123)")]
    IssueKey(String),
    #[error("{0:?} is not a ServiceNow sys_id (32 lowercase hexadecimal digits)")]
    SysId(String),
}

/// Every ticket as a person reads it, with what graphgate wrote into it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsView {
    pub servicenow: Vec<ChangeView>,
    pub jira: Vec<IssueView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    pub number: String,
    pub sys_id: String,
    pub approval: String,
    /// As stored (`-1`), with its label beside it.
    pub state: String,
    pub state_label: String,
    pub start_date: String,
    pub end_date: String,
    pub close_code: String,
    pub close_notes: String,
    pub work_notes: Vec<NoteView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteView {
    pub created_on: String,
    pub created_by: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueView {
    pub key: String,
    pub id: String,
    pub status: String,
    pub comments: Vec<CommentView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: String,
    pub created: String,
    pub author: String,
    /// The comment's text, from its ADF body.
    pub text: String,
    pub body: Value,
}

fn is_issue_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, n)| {
        project.starts_with(|c: char| c.is_ascii_uppercase())
            && project
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    })
}

impl Tickets {
    /// Adds the seeded tickets, or replaces those with the same number or key; nothing is
    /// added when one of them is refused.
    pub(super) fn add(&mut self, seeds: TicketSeeds) -> Result<(), SeedError> {
        for seed in &seeds.jira {
            if !is_issue_key(&seed.key) {
                return Err(SeedError::IssueKey(seed.key.clone()));
            }
        }
        for seed in &seeds.servicenow {
            if let Some(id) = &seed.sys_id
                && !(id.len() == 32 && id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
            {
                return Err(SeedError::SysId(id.clone()));
            }
        }
        let now = GlideDateTime::now();
        for seed in seeds.servicenow {
            let change = ChangeRequest::seeded(seed, now);
            match self.changes.iter_mut().find(|c| c.number == change.number) {
                Some(old) => *old = change,
                None => self.changes.push(change),
            }
        }
        for seed in seeds.jira {
            let existing = self.issues.iter().position(|i| i.key == seed.key);
            let id = existing.map_or_else(
                || (10001 + self.issues.len()).to_string(),
                |at| self.issues[at].id.clone(),
            );
            let issue = Issue {
                id,
                key: seed.key,
                summary: seed.summary,
                status: seed.status,
                comments: Vec::new(),
                created: now.0,
                updated: now.0,
            };
            match existing {
                Some(at) => self.issues[at] = issue,
                None => self.issues.push(issue),
            }
        }
        Ok(())
    }

    /// The demo tickets, for `simulate-graph` and `serve --simulate`: in ServiceNow,
    /// `CHG0030001` approved and in its window (opened an hour ago, closing in a day) and
    /// `CHG0030002` waiting for approval; in Jira's `CHG` project, `CHG-1` approved and
    /// `CHG-2` waiting.
    pub(super) fn demo(now: OffsetDateTime) -> TicketSeeds {
        let change = |number: &str, approval, state, description: &str| SeedChange {
            number: number.into(),
            sys_id: None,
            short_description: description.into(),
            approval,
            state,
            start_date: Some(GlideDateTime(now - time::Duration::hours(1))),
            end_date: Some(GlideDateTime(now + time::Duration::days(1))),
        };
        let issue = |key: &str, status, summary: &str| SeedIssue {
            key: key.into(),
            status,
            summary: summary.into(),
        };
        TicketSeeds {
            servicenow: vec![
                change(
                    "CHG0030001",
                    Approval::Approved,
                    ChangeState::Implement,
                    "Teams Rooms client update, Lisbon and Oslo",
                ),
                change(
                    "CHG0030002",
                    Approval::Requested,
                    ChangeState::Authorize,
                    "Teams Rooms client update, every room",
                ),
            ],
            jira: vec![
                issue(
                    "CHG-1",
                    IssueStatus::Approved,
                    "Teams Rooms client update, Lisbon and Oslo",
                ),
                issue(
                    "CHG-2",
                    IssueStatus::WaitingForApproval,
                    "Teams Rooms client update, every room",
                ),
            ],
        }
    }

    pub(super) fn change_by_sys_id(&mut self, sys_id: &str) -> Option<&mut ChangeRequest> {
        self.changes.iter_mut().find(|c| c.sys_id == sys_id)
    }

    /// The issue by its key or its numeric ID, as Jira's paths take either.
    pub(super) fn issue(&mut self, id_or_key: &str) -> Option<&mut Issue> {
        self.issues
            .iter_mut()
            .find(|i| i.key == id_or_key || i.id == id_or_key)
    }

    /// The next comment's ID, unique on the site.
    pub(super) fn next_comment_id(&mut self) -> String {
        self.comments_made += 1;
        (10000 + self.comments_made).to_string()
    }

    pub(super) fn update_change(
        &mut self,
        number: &str,
        update: ChangeUpdate,
    ) -> Option<ChangeView> {
        let change = self.changes.iter_mut().find(|c| c.number == number)?;
        if let Some(approval) = update.approval {
            change.approval = approval;
        }
        if let Some(state) = update.state {
            change.state = state;
        }
        if let Some(start) = update.start_date {
            change.start_date = Some(start);
        }
        if let Some(end) = update.end_date {
            change.end_date = Some(end);
        }
        change.updated_on = GlideDateTime::now();
        change.updated_by = "admin".into();
        change.mod_count += 1;
        Some(change_view(change))
    }

    pub(super) fn update_issue(&mut self, key: &str, update: IssueUpdate) -> Option<IssueView> {
        let issue = self.issues.iter_mut().find(|i| i.key == key)?;
        issue.status = update.status;
        issue.updated = OffsetDateTime::now_utc();
        Some(issue_view(issue))
    }

    pub(super) fn view(&self) -> TicketsView {
        TicketsView {
            servicenow: self.changes.iter().map(change_view).collect(),
            jira: self.issues.iter().map(issue_view).collect(),
        }
    }
}

fn change_view(change: &ChangeRequest) -> ChangeView {
    let stored = |field: &str| change.stored(field).unwrap_or_default();
    ChangeView {
        number: change.number.clone(),
        sys_id: change.sys_id.clone(),
        approval: stored("approval"),
        state: stored("state"),
        state_label: change.state.label().into(),
        start_date: stored("start_date"),
        end_date: stored("end_date"),
        close_code: stored("close_code"),
        close_notes: change.close_notes.clone(),
        work_notes: change
            .work_notes
            .iter()
            .map(|n| NoteView {
                created_on: n.created_on.text(),
                created_by: n.created_by.clone(),
                text: n.value.clone(),
            })
            .collect(),
    }
}

fn issue_view(issue: &Issue) -> IssueView {
    IssueView {
        key: issue.key.clone(),
        id: issue.id.clone(),
        status: issue.status.name().into(),
        comments: issue
            .comments
            .iter()
            .map(|c| CommentView {
                id: c.id.clone(),
                created: super::jira_issue::jira_time(c.created),
                author: JIRA_EMAIL.into(),
                text: adf::plain_text(&c.body),
                body: c.body.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::change_request::sys_id_of;
    use super::*;

    #[test]
    fn seeding_replaces_by_number_and_key_and_keeps_ids() {
        let mut tickets = Tickets::default();
        tickets
            .add(Tickets::demo(OffsetDateTime::now_utc()))
            .unwrap();
        let first = tickets.view();
        assert_eq!(first.servicenow.len(), 2);
        assert_eq!(first.servicenow[0].sys_id, sys_id_of("CHG0030001"));
        assert_eq!(first.jira[1].id, "10002");
        let again = TicketSeeds {
            servicenow: vec![],
            jira: vec![SeedIssue {
                key: "CHG-1".into(),
                status: IssueStatus::Done,
                summary: String::new(),
            }],
        };
        tickets.add(again).unwrap();
        let view = tickets.view();
        assert_eq!(view.jira.len(), 2);
        assert_eq!(
            (view.jira[0].id.as_str(), view.jira[0].status.as_str()),
            ("10001", "Done")
        );
    }

    #[test]
    fn a_bad_key_or_sys_id_seeds_nothing() {
        let mut tickets = Tickets::default();
        for key in ["chg-1", "CHG1", "CHG-", "-1", "CHG-1a"] {
            let seeds = TicketSeeds {
                servicenow: vec![],
                jira: vec![SeedIssue {
                    key: key.into(),
                    status: IssueStatus::Approved,
                    summary: String::new(),
                }],
            };
            assert_eq!(tickets.add(seeds), Err(SeedError::IssueKey(key.into())));
        }
        let mut seeds = Tickets::demo(OffsetDateTime::now_utc());
        seeds.servicenow[1].sys_id = Some("ABC".into());
        assert_eq!(tickets.add(seeds), Err(SeedError::SysId("ABC".into())));
        assert_eq!(tickets.view().servicenow.len(), 0);
        assert_eq!(tickets.view().jira.len(), 0);
    }
}
