//! What Graph made of a change, in the domain's terms: an action taken, an operation as last
//! read, or a refusal. The Graph client turns Graph's answers into these.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::failure_reason::FailureReason;

/// What Graph made of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// A device action was queued; follow `location` to see it finish.
    Accepted {
        location: Url,
        request_id: Option<String>,
    },
    /// An app upgrade is done: Graph answers it synchronously.
    Completed { request_id: Option<String> },
}

/// Where a Graph operation stands, with every spelling seen in Graph's docs folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// A status graphgate does not know; treated as still running.
    Unknown,
}

impl OperationStatus {
    /// Graph's own documentation disagrees with itself on the spelling, so statuses compare
    /// case-insensitively and several words mean the same.
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "queued" | "scheduled" | "notstarted" | "pending" => OperationStatus::Queued,
            "inprogress" | "running" | "started" => OperationStatus::Running,
            "succeeded" | "successful" | "success" | "completed" => OperationStatus::Succeeded,
            "failed" | "failure" => OperationStatus::Failed,
            "cancelled" | "canceled" => OperationStatus::Cancelled,
            _ => OperationStatus::Unknown,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OperationStatus::Succeeded | OperationStatus::Failed | OperationStatus::Cancelled
        )
    }
}

/// A `teamworkDeviceOperation` as graphgate read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOperation {
    pub id: Option<String>,
    pub status: OperationStatus,
    /// The status exactly as Graph wrote it.
    pub raw_status: String,
    pub operation_type: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub times: OperationTimes,
}

/// Graph's own timestamps of an operation, as Graph names them. A change record keeps them
/// beside graphgate's `createdAt` and `updatedAt`, which are graphgate's clock, not Graph's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationTimes {
    #[serde(
        rename = "createdDateTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created: Option<OffsetDateTime>,
    #[serde(
        rename = "startedDateTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub started: Option<OffsetDateTime>,
    #[serde(
        rename = "completedDateTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub completed: Option<OffsetDateTime>,
    #[serde(
        rename = "lastActionDateTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_action: Option<OffsetDateTime>,
}

/// What a change keeps of its Graph operation: the operation's `id` and Graph's timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub times: OperationTimes,
}

/// The app definition an installation runs, as Graph's `teamsAppInstallation` expands it:
/// `teamsAppDefinition`'s `id` (one per published version) and `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDefinition {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Why a change did not do what was asked: Graph's own words, or graphgate's where Graph
/// said nothing (a timeout, a lost submission). `code` is Graph's free-form error code, or a
/// [`FailureReason`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphFailure {
    /// Graph's HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl GraphFailure {
    /// A failure graphgate itself names, with no Graph answer behind it.
    pub fn graphgate(reason: FailureReason, message: impl Into<String>) -> Self {
        GraphFailure {
            http_status: None,
            code: reason.as_str().into(),
            message: message.into(),
            request_id: None,
        }
    }

    /// graphgate's own reason, for a failure with no Graph answer behind it.
    pub fn reason(&self) -> Option<FailureReason> {
        self.http_status
            .is_none()
            .then(|| FailureReason::parse(&self.code))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_compare_case_insensitively() {
        for (raw, status) in [
            ("queued", OperationStatus::Queued),
            ("Queued", OperationStatus::Queued),
            ("Scheduled", OperationStatus::Queued),
            ("InProgress", OperationStatus::Running),
            ("inProgress", OperationStatus::Running),
            ("succeeded", OperationStatus::Succeeded),
            ("Successful", OperationStatus::Succeeded),
            ("failed", OperationStatus::Failed),
            ("Cancelled", OperationStatus::Cancelled),
            ("unknownFutureValue", OperationStatus::Unknown),
            ("", OperationStatus::Unknown),
        ] {
            assert_eq!(OperationStatus::parse(raw), status, "{raw}");
        }
        assert!(!OperationStatus::Unknown.is_terminal());
    }
}
