//! A change as graphgate remembers it, and every way it may move on.
//!
//! The fields are private: a record changes only through the transitions below. Each takes
//! the time of the event (`now`) and returns the record the next write should store, or a
//! typed refusal; none reads a clock or does I/O. The store checks, by version, that nobody
//! wrote in between.
//!
//! The behaviour is split by stage of a change's life, one file each, as the sweeper splits
//! its jobs: [`made`] (constructors), [`sent`] (Graph's answer, polls, the claim and the
//! timeout), [`recovery`], [`windows`], [`fleets`] and [`reporting`] (callbacks, chat replies,
//! verification, settling). This file holds the record itself, its accessors, its stored
//! form, and the rules every transition shares.

mod fleets;
mod made;
mod recovery;
mod reporting;
mod sent;
mod windows;

#[cfg(test)]
mod fixtures;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::action::Action;
use super::callback_url::CallbackUrl;
use super::delivery::{CallbackDelivery, ChatReply, DeliveryStatus};
use super::failure_reason::FailureReason;
use super::fleet::Fleet;
use super::ids::ChangeId;
use super::outcome::{AppDefinition, GraphFailure, OperationReport};
use super::schedule::Due;
use super::status::Status;
use super::verification::Verification;
use super::window::Schedule;

/// Why a transition was refused: the record is not in a state it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    #[error("a {status} change cannot be {event}")]
    NotFrom { status: Status, event: &'static str },
    #[error("a change with nothing left to do cannot be claimed")]
    NothingDue,
    #[error("the change has not yet run past the operation timeout")]
    NotOverdue,
}

/// Serialized as the stores keep it. Every way of reading one (`from_json`, or serde directly)
/// gives a due time from records written before `Due` had names its meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct ChangeRecord {
    pub(super) id: ChangeId,
    /// The registered caller that created the change; only it may read the change.
    pub(super) caller: String,
    pub(super) action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) callback_url: Option<CallbackUrl>,
    pub(super) status: Status,
    /// The Graph operation to follow, once Graph accepted a device action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) location: Option<Url>,
    /// Graph's `request-id` for the action call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) graph_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) failure: Option<GraphFailure>,
    /// The Graph operation's status as last read, spelled as Graph spelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) operation_status: Option<String>,
    /// The Graph operation's id and timestamps as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) operation: Option<OperationReport>,
    /// For an app upgrade: the definition the installation ran when the change was recorded,
    /// so that recovery can tell whether a lost upgrade call took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) installed_before: Option<AppDefinition>,
    /// The report to `callback_url`, once the change has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) callback: Option<CallbackDelivery>,
    /// For a chat command: the report is a chat message, and where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) chat_reply: Option<ChatReply>,
    /// How many times the change was looked at without a final answer; spaces the looks out.
    #[serde(default)]
    polls: u32,
    /// Whether the sweeper already sent this change to Graph again, recovering it.
    #[serde(default)]
    resubmitted: bool,
    /// Whether its caller's ticket let it in (a caller gated on its tickets): the sweeper
    /// asks the ticket again before sending what the intake only scheduled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    gated: bool,
    /// When the change may go to Graph, as its caller asked.
    #[serde(default, skip_serializing_if = "Schedule::is_empty")]
    pub(super) schedule: Schedule,
    /// For a change to many devices: its children and its rollout. Such a parent is never
    /// sent to Graph itself; its `action` is the one each child takes, on its own device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fleet: Option<Fleet>,
    /// For a child of a fleet change: its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) parent: Option<ChangeId>,
    /// For a change that succeeded: whether its target shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) verification: Option<Verification>,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) created_at: OffsetDateTime,
    /// When the change was recorded to go to Graph: when it was made, or when its window
    /// opened. The operation timeout runs from here. Records from before windows had none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub(super) submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) updated_at: OffsetDateTime,
    /// Why and when the change is next visited; `None` once nothing is left to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due: Option<Due>,
    /// Records written before `Due` had names stored only its time; read, never written.
    #[serde(
        default,
        rename = "nextPollAt",
        skip_serializing,
        with = "time::serde::rfc3339::option"
    )]
    unnamed_due: Option<OffsetDateTime>,
    /// Bumped by every write; a write succeeds only over the version it read.
    version: u64,
}

/// Accessors: the record as it stands.
impl ChangeRecord {
    pub fn id(&self) -> &ChangeId {
        &self.id
    }

    pub fn caller(&self) -> &str {
        &self.caller
    }

    pub fn action(&self) -> &Action {
        &self.action
    }

    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn location(&self) -> Option<&Url> {
        self.location.as_ref()
    }

    pub fn graph_request_id(&self) -> Option<&str> {
        self.graph_request_id.as_deref()
    }

    pub fn installed_before(&self) -> Option<&AppDefinition> {
        self.installed_before.as_ref()
    }

    pub fn failure(&self) -> Option<&GraphFailure> {
        self.failure.as_ref()
    }

    pub fn operation_status(&self) -> Option<&str> {
        self.operation_status.as_deref()
    }

    pub fn chat_reply(&self) -> Option<&ChatReply> {
        self.chat_reply.as_ref()
    }

    pub fn callback(&self) -> Option<&CallbackDelivery> {
        self.callback.as_ref()
    }

    pub fn resubmitted(&self) -> bool {
        self.resubmitted
    }

    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    pub fn due(&self) -> Option<Due> {
        self.due
    }

    /// While `scheduled`: when its window next opens and it goes to Graph.
    /// Whether its caller's ticket let it in.
    pub fn gated(&self) -> bool {
        self.gated
    }

    /// The record of a change its caller's ticket let in.
    pub fn let_in_by_ticket(self) -> Self {
        ChangeRecord {
            gated: true,
            ..self
        }
    }

    pub fn opens_at(&self) -> Option<OffsetDateTime> {
        match self.due {
            Some(Due::Open(at)) => Some(at),
            _ => None,
        }
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    pub fn parent(&self) -> Option<&ChangeId> {
        self.parent.as_ref()
    }

    pub fn verification(&self) -> Option<&Verification> {
        self.verification.as_ref()
    }

    /// Whether the change ended because Graph did not take it (a fleet sends its device again).
    pub fn not_taken_by_graph(&self) -> bool {
        self.status == Status::Cancelled
            && self
                .failure
                .as_ref()
                .is_some_and(|f| f.reason() == Some(FailureReason::NotTaken))
    }

    /// Whether the change succeeded and its target is still to show it.
    pub fn verifying(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(Verification::is_pending)
    }

    /// When the change was sent to Graph, or is to be; the operation timeout runs from it.
    pub fn submitted_at(&self) -> OffsetDateTime {
        self.submitted_at.unwrap_or(self.created_at)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Where to report the finished change, while a report is still owed. For a chat
    /// command, [`ChatReply::target`] says where the message goes at the time it is sent.
    pub fn pending_callback(&self) -> Option<&CallbackUrl> {
        let pending = self
            .callback
            .as_ref()
            .is_some_and(|c| c.status == DeliveryStatus::Pending);
        // A report waits until the verification has its answer; a chat's reply does not,
        // since the chat's own reply URL expires sooner.
        let held = self.verifying() && self.chat_reply.is_none();
        self.callback_url
            .as_ref()
            .filter(|_| pending && self.status.is_terminal() && !held)
    }
}

impl Serialize for ChangeRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ChangeRecord::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for ChangeRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut record = ChangeRecord::deserialize(deserializer)?;
        if let Some(at) = record.unnamed_due.take() {
            record.due = record.due.or(Some(Due::implied(record.status, at)));
        }
        Ok(record)
    }
}

/// Storage: the stores keep a record as JSON and bump its version on every write.
impl ChangeRecord {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a change record serializes")
    }

    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The record as a store writes it over `self`: one version later.
    pub(crate) fn next_version(&self) -> ChangeRecord {
        ChangeRecord {
            version: self.version + 1,
            ..self.clone()
        }
    }
}
/// The rules the transitions share.
impl ChangeRecord {
    fn only_from(&self, allowed: &[Status], event: &'static str) -> Result<(), InvalidTransition> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(InvalidTransition::NotFrom {
                status: self.status,
                event,
            })
        }
    }

    /// Moves to `next`, keeping what is already known. A change that finishes leaves the due
    /// set, unless it owes its caller a report: then the report is due at once.
    fn moved_to(&self, next: Status, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if !self.status.can_become(next) {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: next.as_str(),
            });
        }
        let mut moved = self.clone();
        moved.status = next;
        moved.updated_at = now;
        if next.is_terminal() {
            moved.due = None;
            if moved.callback_url.is_some() && moved.callback.is_none() {
                moved.callback = Some(CallbackDelivery::pending());
                moved.due = Some(Due::Callback(now));
            }
        }
        Ok(moved)
    }

    /// Ends the change on Graph's answer to an action call, keeping that answer's `request-id`.
    fn answered(
        &self,
        status: Status,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        let request_id = failure.request_id.clone();
        let mut next = self.ended(status, failure, now)?;
        next.graph_request_id = request_id;
        Ok(next)
    }

    fn ended(
        &self,
        status: Status,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        let mut next = self.moved_to(status, now)?;
        next.failure = Some(failure);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::change::schedule::Pacing;

    #[test]
    fn records_round_trip_through_json() {
        let pacing = Pacing::default();
        let r = queued(&pacing).claim(T0 + SECS(60)).unwrap().next_version();
        assert_eq!(ChangeRecord::from_json(&r.to_json()).unwrap(), r);
    }

    #[test]
    fn a_record_written_before_due_had_names_reads_with_its_due_time_named() {
        let json = r#"{"id":"6023af45-0471-4fe3-9c09-cead2855db3d","caller":"itsm",
            "action":{"action":"restartDevice","deviceId":"d1"},"status":"queued",
            "location":"https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-1",
            "polls":2,"resubmitted":false,"createdAt":"2026-11-23T10:00:00Z",
            "updatedAt":"2026-11-23T10:01:00Z","nextPollAt":"2026-11-23T10:02:00Z","version":3}"#;
        let record = ChangeRecord::from_json(json).unwrap();
        let through_serde: ChangeRecord = serde_json::from_str(json).unwrap();
        assert_eq!(through_serde, record);
        let at = OffsetDateTime::parse(
            "2026-11-23T10:02:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(record.due(), Some(Due::Poll(at)));
        assert!(!record.to_json().contains("nextPollAt"));
        assert!(
            record
                .to_json()
                .contains(r#""due":{"for":"poll","at":"2026-11-23T10:02:00Z"}"#)
        );
    }
}
