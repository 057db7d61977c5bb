//! A change as graphgate remembers it, and the rules for how its status may move.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::action::Action;
use super::ids::ChangeId;
use super::request::{CallbackUrl, ChangeRequest};

/// Where a change stands: `submitting → queued|running → succeeded|failed|cancelled|timedOut`,
/// and `rejected` when Graph refused it. DESIGN.md's `accepted` has no state of its own: a
/// change is stored as `submitting` straight away, before Graph is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Submitting,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Rejected,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Succeeded
                | Status::Failed
                | Status::Cancelled
                | Status::TimedOut
                | Status::Rejected
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitting => "submitting",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::TimedOut => "timedOut",
            Status::Rejected => "rejected",
        }
    }

    /// Whether a change in `self` may move to `next`. Terminal states are final; a change
    /// may stay where it is (a poll that saw no progress still records the attempt).
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        match self {
            Submitting => true,
            Queued | Running => !matches!(next, Submitting | Rejected),
            Succeeded | Failed | Cancelled | TimedOut | Rejected => false,
        }
    }
}

/// Why Graph did not do what was asked, in Graph's own words.
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

/// Where the report to the caller's `callbackUrl` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackAttempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The receiver's HTTP status, or why there was none.
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackDelivery {
    pub status: DeliveryStatus,
    pub attempts: Vec<CallbackAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} change cannot become {to}")]
pub struct InvalidTransition {
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub id: ChangeId,
    /// The registered caller that created the change; only it may read the change.
    pub caller: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<CallbackUrl>,
    pub status: Status,
    /// The Graph operation to follow, once Graph accepted a device action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Url>,
    /// Graph's `request-id` for the action call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<GraphFailure>,
    /// The Graph operation's status as last read, spelled as Graph spelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_status: Option<String>,
    /// The report to `callback_url`, once the change has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackDelivery>,
    /// How many times the operation has been polled; spaces the polls out.
    #[serde(default)]
    pub polls: u32,
    /// Whether the sweeper already sent this change to Graph again, recovering it.
    #[serde(default)]
    pub resubmitted: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the change should next be looked at; `None` once nothing is left to do. While
    /// `submitting`, the end of the submitter's lease: past it, the submitter is presumed dead
    /// and the sweeper takes over.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_poll_at: Option<OffsetDateTime>,
    /// Bumped by every write; a write succeeds only over the version it read.
    pub version: u64,
}

impl ChangeRecord {
    /// A new change, about to be sent to Graph by a submitter holding it until `lease_until`.
    pub fn submitting(
        request: ChangeRequest,
        caller: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            id: ChangeId::new(),
            caller: caller.to_owned(),
            action: request.action,
            reference: request.reference,
            requested_by: request.requested_by,
            callback_url: request.callback_url,
            status: Status::Submitting,
            location: None,
            graph_request_id: None,
            failure: None,
            operation_status: None,
            callback: None,
            polls: 0,
            resubmitted: false,
            created_at: now,
            updated_at: now,
            next_poll_at: Some(lease_until),
            version: 0,
        }
    }

    /// Moves the change to `next`, keeping what is already known. Returns the record as the
    /// next write should store it; the store checks that nobody wrote in between.
    pub fn moved_to(
        &self,
        next: Status,
        now: OffsetDateTime,
    ) -> Result<ChangeRecord, InvalidTransition> {
        if !self.status.can_become(next) {
            return Err(InvalidTransition {
                from: self.status.as_str(),
                to: next.as_str(),
            });
        }
        let mut moved = self.clone();
        moved.status = next;
        moved.updated_at = now;
        if next.is_terminal() {
            // A finished change is looked at again only to report to its caller.
            moved.next_poll_at = None;
            if moved.callback_url.is_some() && moved.callback.is_none() {
                moved.callback = Some(CallbackDelivery {
                    status: DeliveryStatus::Pending,
                    attempts: Vec::new(),
                });
                moved.next_poll_at = Some(now);
            }
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> ChangeRecord {
        let request = ChangeRequest::parse(
            json!({"action":"restartDevice","deviceId":"d1"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let now = OffsetDateTime::UNIX_EPOCH;
        ChangeRecord::submitting(request, "itsm", now, now + time::Duration::seconds(60))
    }

    #[test]
    fn terminal_states_are_final() {
        let done = record()
            .moved_to(Status::Succeeded, OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(done.next_poll_at, None);
        for next in [Status::Queued, Status::Failed, Status::Submitting] {
            assert!(done.moved_to(next, OffsetDateTime::UNIX_EPOCH).is_err());
        }
    }

    #[test]
    fn a_queued_change_cannot_be_rejected_or_resubmitted() {
        let queued = record()
            .moved_to(Status::Queued, OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert!(
            queued
                .moved_to(Status::Rejected, OffsetDateTime::UNIX_EPOCH)
                .is_err()
        );
        assert!(
            queued
                .moved_to(Status::Submitting, OffsetDateTime::UNIX_EPOCH)
                .is_err()
        );
        assert!(
            queued
                .moved_to(Status::Running, OffsetDateTime::UNIX_EPOCH)
                .is_ok()
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = record();
        let back: ChangeRecord = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
