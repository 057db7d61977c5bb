//! A Jira issue as the simulator keeps it, in the change project's workflow: its status, the
//! transitions out of each status, its comments, and the JSON Jira's REST API v3 shows of
//! them (`self` links under the address the request came to).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A status of the change project's workflow, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssueStatus {
    #[serde(rename = "Waiting for approval")]
    WaitingForApproval,
    Approved,
    Declined,
    Done,
    Failed,
}

/// A way out of a status.
#[derive(Debug, Clone, Copy)]
pub(super) struct Transition {
    pub(super) id: &'static str,
    name: &'static str,
    pub(super) to: IssueStatus,
}

const fn transition(id: &'static str, name: &'static str, to: IssueStatus) -> Transition {
    Transition { id, name, to }
}

const FROM_WAITING: &[Transition] = &[
    transition("11", "Approve", IssueStatus::Approved),
    transition("21", "Decline", IssueStatus::Declined),
];

const FROM_APPROVED: &[Transition] = &[
    transition("31", "Done", IssueStatus::Done),
    transition("41", "Failed", IssueStatus::Failed),
];

impl IssueStatus {
    pub(super) fn name(self) -> &'static str {
        match self {
            IssueStatus::WaitingForApproval => "Waiting for approval",
            IssueStatus::Approved => "Approved",
            IssueStatus::Declined => "Declined",
            IssueStatus::Done => "Done",
            IssueStatus::Failed => "Failed",
        }
    }

    fn id(self) -> &'static str {
        match self {
            IssueStatus::WaitingForApproval => "10010",
            IssueStatus::Approved => "10011",
            IssueStatus::Declined => "10012",
            IssueStatus::Done => "10013",
            IssueStatus::Failed => "10014",
        }
    }

    /// The status category: its id, key, colour and name, as Jira has them.
    fn category(self) -> (u32, &'static str, &'static str, &'static str) {
        match self {
            IssueStatus::WaitingForApproval => (2, "new", "blue-gray", "To Do"),
            IssueStatus::Approved => (4, "indeterminate", "yellow", "In Progress"),
            IssueStatus::Declined | IssueStatus::Done | IssueStatus::Failed => {
                (3, "done", "green", "Done")
            }
        }
    }

    /// The transitions out of this status.
    pub(super) fn transitions(self) -> &'static [Transition] {
        match self {
            IssueStatus::WaitingForApproval => FROM_WAITING,
            IssueStatus::Approved => FROM_APPROVED,
            IssueStatus::Declined | IssueStatus::Done | IssueStatus::Failed => &[],
        }
    }

    pub(super) fn json(self, base: &str) -> Value {
        let (category_id, key, colour, category) = self.category();
        json!({
            "self": format!("{base}/rest/api/3/status/{}", self.id()),
            "description": "",
            "iconUrl": format!("{base}/"),
            "name": self.name(),
            "id": self.id(),
            "statusCategory": {
                "self": format!("{base}/rest/api/3/statuscategory/{category_id}"),
                "id": category_id,
                "key": key,
                "colorName": colour,
                "name": category,
            },
        })
    }
}

impl Transition {
    pub(super) fn json(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "to": self.to.json(base),
            "hasScreen": false,
            "isGlobal": false,
            "isInitial": false,
            "isAvailable": true,
            "isConditional": false,
            "isLooped": false,
        })
    }
}

/// Jira's timestamps: `2026-12-08T01:15:27.123+0000`.
pub(super) fn jira_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// A comment, by the one user the simulated site has.
#[derive(Debug, Clone)]
pub(super) struct Comment {
    pub(super) id: String,
    pub(super) body: Value,
    pub(super) created: OffsetDateTime,
}

/// An issue of the change project.
#[derive(Debug, Clone)]
pub(super) struct Issue {
    pub(super) id: String,
    pub(super) key: String,
    pub(super) summary: String,
    pub(super) status: IssueStatus,
    pub(super) comments: Vec<Comment>,
    pub(super) created: OffsetDateTime,
    pub(super) updated: OffsetDateTime,
}

/// The issue's fields in the order Jira lists them when all are asked for.
const FIELDS: &[&str] = &[
    "summary",
    "status",
    "issuetype",
    "project",
    "created",
    "updated",
    "comment",
];

/// Which fields the `fields` parameter asks for: absent, `*all` or `*navigable` for all,
/// names, and `-name` to leave one out.
pub(super) fn fields_asked(param: Option<&str>) -> Vec<&'static str> {
    let items: Vec<&str> = param
        .unwrap_or("*all")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let all = items.is_empty() || items.iter().any(|i| matches!(*i, "*all" | "*navigable"));
    FIELDS
        .iter()
        .copied()
        .filter(|f| !items.contains(&format!("-{f}").as_str()))
        .filter(|f| all || items.contains(f))
        .collect()
}

impl Issue {
    /// The issue as `GET /rest/api/3/issue/{key}` shows it, with `fields`.
    pub(super) fn json(&self, base: &str, user: &Value, fields: &[&str]) -> Value {
        let project = self.key.split('-').next().unwrap_or_default();
        let shown: serde_json::Map<String, Value> = fields
            .iter()
            .map(|field| {
                let value = match *field {
                    "summary" => json!(self.summary),
                    "status" => self.status.json(base),
                    "issuetype" => json!({"id": "10002", "name": "Change", "subtask": false}),
                    "project" => json!({
                        "self": format!("{base}/rest/api/3/project/{project}"),
                        "key": project,
                        "name": "Changes",
                    }),
                    "created" => json!(jira_time(self.created)),
                    "updated" => json!(jira_time(self.updated)),
                    _ => {
                        let comments: Vec<Value> = self
                            .comments
                            .iter()
                            .map(|c| self.comment_json(c, base, user))
                            .collect();
                        json!({"comments": comments, "self": format!("{base}/rest/api/3/issue/{}/comment", self.id),
                               "maxResults": comments.len(), "total": comments.len(), "startAt": 0})
                    }
                };
                ((*field).to_owned(), value)
            })
            .collect();
        json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": self.id,
            "self": format!("{base}/rest/api/3/issue/{}", self.id),
            "key": self.key,
            "fields": shown,
        })
    }

    pub(super) fn comment_json(&self, comment: &Comment, base: &str, user: &Value) -> Value {
        json!({
            "self": format!("{base}/rest/api/3/issue/{}/comment/{}", self.id, comment.id),
            "id": comment.id,
            "author": user,
            "body": comment.body,
            "updateAuthor": user,
            "created": jira_time(comment.created),
            "updated": jira_time(comment.created),
            "jsdPublic": true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_asked_for() {
        assert_eq!(fields_asked(Some("status")), ["status"]);
        assert_eq!(
            fields_asked(Some("status,nope, summary")),
            ["summary", "status"]
        );
        assert_eq!(fields_asked(None), FIELDS);
        assert_eq!(
            fields_asked(Some("*navigable,-comment")).len(),
            FIELDS.len() - 1
        );
    }

    #[test]
    fn the_workflow_moves_from_approval_to_an_end() {
        let approved = IssueStatus::WaitingForApproval.transitions()[0].to;
        assert_eq!(approved, IssueStatus::Approved);
        let ends: Vec<_> = approved
            .transitions()
            .iter()
            .map(|t| (t.id, t.to))
            .collect();
        assert_eq!(
            ends,
            [("31", IssueStatus::Done), ("41", IssueStatus::Failed)]
        );
        assert!(IssueStatus::Done.transitions().is_empty());
        assert_eq!(
            serde_json::to_value(IssueStatus::WaitingForApproval).unwrap(),
            "Waiting for approval"
        );
    }

    #[test]
    fn jira_times_have_milliseconds_and_a_bare_offset() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_765_156_527_123_000_000).unwrap();
        assert_eq!(jira_time(at), "2025-12-08T01:15:27.123+0000");
    }
}
