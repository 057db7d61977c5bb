//! A change as graphgate remembers it, and every way it may move on.
//!
//! The fields are private: a record changes only through the transitions below. Each takes
//! the time of the event (`now`) and returns the record the next write should store, or a
//! typed refusal; none reads a clock or does I/O. The store checks, by version, that nobody
//! wrote in between.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::action::Action;
use super::delivery::{AttemptOutcome, CallbackDelivery, ChatReply, DeliveryStatus};
use super::fleet::Fleet;
use super::ids::ChangeId;
use super::ids::DeviceId;
use super::outcome::{
    ActionOutcome, AppDefinition, DeviceOperation, GraphFailure, OperationReport, OperationStatus,
};
use super::request::{CallbackUrl, ChangeRequest};
use super::schedule::{Due, Pacing};
use super::status::Status;
use super::verification::{Reading, Verification, VerificationState};
use super::window::{Opening, Schedule};
use crate::metrics::{Dimension, Metric};

/// How often Graph may decline a change (throttled past the retries, unreachable) before
/// graphgate stops sending it again: a scheduled change, or a fleet's device.
pub const MAX_NOT_TAKEN: u32 = 5;

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
                .is_some_and(|f| f.http_status.is_none() && f.code == "notTaken")
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

    /// The metric that counts the change, by its action, if its status is an end that has
    /// one. Whoever stores that end counts it: the intake for a change Graph completed at
    /// once, the sweeper for the rest.
    pub fn end_metric(&self) -> Option<(Metric, Dimension<'static>)> {
        // A fleet parent's children are counted, each as a change; the parent is not. A
        // change its caller cancelled, or one Graph never took (a fleet sends its device
        // again), did not fail.
        let cancelled_here = self.failure.as_ref().is_some_and(|f| {
            f.http_status.is_none() && matches!(f.code.as_str(), "cancelled" | "notTaken")
        });
        if self.fleet.is_some() || cancelled_here {
            return None;
        }
        let metric = self.status.ended_metric()?;
        Some((metric, Dimension::Action(self.action.kind().as_str())))
    }

    /// A one-line account of the change, for a chat: what it is, where it stands, and what
    /// Graph said.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: change {} ({}) is {}",
            if self.status.is_terminal() {
                "done"
            } else {
                "accepted"
            },
            self.id,
            self.action.kind(),
            self.status.as_str()
        );
        if let Some(reference) = &self.reference {
            line += &format!(" for {reference}");
        }
        if let Some(location) = &self.location {
            line += &format!("; Graph operation {location}");
        }
        if let Some(failure) = &self.failure {
            line += &format!("; {}: {}", failure.code, failure.message);
        }
        line
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

/// Transitions: each returns the record to store next, or why it does not apply.
impl ChangeRecord {
    /// A new change, about to be sent to Graph by a submitter holding it until `lease_until`.
    pub fn submitting(
        request: ChangeRequest,
        caller: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            status: Status::Submitting,
            submitted_at: Some(now),
            due: Some(Due::Lease(lease_until)),
            ..Self::made(request, caller, now)
        }
    }

    /// A new change that waits for its window, which opens at `opens_at`.
    pub fn scheduled(
        request: ChangeRequest,
        caller: &str,
        now: OffsetDateTime,
        opens_at: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            status: Status::Scheduled,
            due: Some(Due::Open(opens_at)),
            ..Self::made(request, caller, now)
        }
    }

    /// A new change to the fleet `devices` (in order), its rollout as the request asks; it
    /// starts at once, or when its window opens at `opening`.
    pub fn fleet_parent(
        request: ChangeRequest,
        caller: &str,
        now: OffsetDateTime,
        devices: Vec<DeviceId>,
        opening: Opening,
    ) -> Self {
        let (rollout, filter) = match &request.fleet {
            Some(fleet) => (
                fleet.rollout,
                match &fleet.devices {
                    super::fleet::FleetDevices::Filter(f) => Some(f.clone()),
                    super::fleet::FleetDevices::Ids(_) => None,
                },
            ),
            None => Default::default(),
        };
        let action = match devices.first() {
            Some(first) => request.action.on_device(first.clone()),
            None => request.action.clone(),
        };
        let (status, due) = match opening {
            Opening::At(at) => (Status::Scheduled, Due::Open(at)),
            Opening::Now | Opening::Never => (Status::Running, Due::Poll(now)),
        };
        ChangeRecord {
            action,
            status,
            due: Some(due),
            fleet: Some(Fleet::new(devices, rollout, filter)),
            ..Self::made(request, caller, now)
        }
    }

    /// A fleet's child `id`, for `device`, about to be sent to Graph by a sweeper holding it
    /// until `lease_until`. Its parent reports for it; it reports to the parent's callback
    /// URL itself too only when the rollout asks for `childCallbacks`.
    pub fn child(
        parent: &ChangeRecord,
        device: DeviceId,
        id: ChangeId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            id,
            caller: parent.caller.clone(),
            action: parent.action.on_device(device),
            reference: parent.reference.clone(),
            requested_by: parent.requested_by.clone(),
            callback_url: parent.callback_url.clone().filter(|_| {
                parent
                    .fleet
                    .as_ref()
                    .is_some_and(|f| f.rollout.child_callbacks)
            }),
            status: Status::Submitting,
            location: None,
            graph_request_id: None,
            failure: None,
            operation_status: None,
            operation: None,
            installed_before: None,
            callback: None,
            chat_reply: None,
            polls: 0,
            resubmitted: false,
            schedule: Schedule::default(),
            fleet: None,
            parent: Some(parent.id.clone()),
            verification: None,
            created_at: now,
            submitted_at: Some(now),
            updated_at: now,
            due: Some(Due::Lease(lease_until)),
            unnamed_due: None,
            version: 0,
        }
    }

    fn made(request: ChangeRequest, caller: &str, now: OffsetDateTime) -> Self {
        ChangeRecord {
            id: ChangeId::new(),
            caller: caller.to_owned(),
            action: request.action,
            reference: request.reference,
            requested_by: request.requested_by,
            callback_url: request.callback_url,
            status: Status::Scheduled,
            location: None,
            graph_request_id: None,
            failure: None,
            operation_status: None,
            operation: None,
            installed_before: None,
            callback: None,
            chat_reply: None,
            polls: 0,
            resubmitted: false,
            schedule: request.schedule,
            fleet: None,
            parent: None,
            verification: None,
            created_at: now,
            submitted_at: None,
            updated_at: now,
            due: None,
            unnamed_due: None,
            version: 0,
        }
    }

    /// Makes the report of a chat command's change a chat message: to `first` while
    /// `reply` says it is valid, then to `reply`'s fallback. Before the record is first
    /// stored.
    pub fn with_chat_reply(self, first: Option<CallbackUrl>, reply: ChatReply) -> Self {
        let owed = first.is_some() || reply.fallback.is_some();
        ChangeRecord {
            callback_url: first.or_else(|| reply.fallback.clone()),
            chat_reply: Some(reply).filter(|_| owed),
            ..self
        }
    }

    /// Notes, before the record is first stored, the definition the app installation runs
    /// now.
    pub fn with_installed_before(self, definition: AppDefinition) -> Self {
        ChangeRecord {
            installed_before: Some(definition),
            ..self
        }
    }

    /// Recovering an app upgrade whose answer was lost: the installation no longer runs the
    /// definition it ran when the change was recorded, so the upgrade took effect.
    pub fn found_upgraded(
        &self,
        installed: &AppDefinition,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "found upgraded")?;
        if self
            .installed_before
            .as_ref()
            .is_none_or(|before| before == installed)
        {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "found upgraded while the installation is unchanged",
            });
        }
        let mut next = self.moved_to(Status::Succeeded, now)?;
        // The look that found it upgraded is the verification.
        next.verification = Some(Verification {
            state: VerificationState::Verified,
            reported_version: installed.version.clone(),
            reason: None,
            checked_at: Some(now),
            until: now,
            checks: 1,
        });
        Ok(next)
    }

    /// When, seen from `now`, a scheduled change may go to Graph.
    pub fn opening(&self, now: OffsetDateTime) -> Opening {
        self.schedule.opening(now)
    }

    /// A scheduled change's window opened: it goes to Graph now, held by its sender until
    /// `lease_until`.
    pub fn opened(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "opened")?;
        let mut next = self.moved_to(Status::Submitting, now)?;
        next.submitted_at = Some(now);
        next.due = Some(Due::Lease(lease_until));
        Ok(next)
    }

    /// A scheduled change waits again, for its window to open at `opens_at`.
    pub fn waiting(&self, opens_at: OffsetDateTime) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "rescheduled")?;
        Ok(ChangeRecord {
            due: Some(Due::Open(opens_at)),
            ..self.clone()
        })
    }

    /// A fleet child Graph clearly did not take (throttled, unreachable, or no time was left
    /// to ask): it ends here, and its fleet sends the device again as a new child, when the
    /// fleet's pace, window and budget allow.
    pub fn not_taken(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "not taken")?;
        // Nothing happened to report: the device's next child reports for it.
        let quiet = ChangeRecord {
            callback_url: None,
            ..self.clone()
        };
        quiet.ended(
            Status::Cancelled,
            GraphFailure::graphgate(
                "notTaken",
                "Graph did not take the change (throttled or unreachable); its fleet sends the device again as a new change",
            ),
            now,
        )
    }

    /// A scheduled change Graph clearly did not take when its window opened: it waits again,
    /// and is sent when its window next allows, from `at` on; at most [`MAX_NOT_TAKEN`] times.
    pub fn reopened(
        &self,
        now: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "scheduled again")?;
        if self.schedule.is_empty() || self.resubmitted || self.polls >= MAX_NOT_TAKEN {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "scheduled again without a window, or too often",
            });
        }
        Ok(ChangeRecord {
            status: Status::Scheduled,
            submitted_at: None,
            due: Some(Due::Open(at)),
            polls: self.polls + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The change's window did not open before its `notAfter`: it never reached Graph.
    pub fn expired(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "expired")?;
        self.ended(
            Status::Expired,
            GraphFailure::graphgate(
                "expired",
                "the change's window did not open before its notAfter, so it was not sent to Graph",
            ),
            now,
        )
    }

    /// A fleet parent's rollout moved on to `fleet`: it ends once every child has, and
    /// otherwise is visited again to follow its children at `follow`, and to send more as
    /// soon as its window, its rate and any pause allow.
    pub fn fleet_advanced(
        &self,
        fleet: Fleet,
        now: OffsetDateTime,
        follow: std::time::Duration,
    ) -> Result<Self, InvalidTransition> {
        if self.fleet.is_none() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "advanced as a fleet",
            });
        }
        self.only_from(&[Status::Scheduled, Status::Running], "advanced")?;
        let mut next = self.clone();
        if fleet.is_done() {
            let outcome = fleet.outcome();
            let failures = fleet.failures();
            let total = fleet.children.len();
            let stopped = fleet.stopped;
            next.fleet = Some(fleet);
            let mut done = next.moved_to(outcome, now)?;
            let ended = match (outcome, stopped) {
                (Status::Succeeded, _) => None,
                (Status::Cancelled, _) => Some((
                    "cancelled",
                    "the caller cancelled the devices not yet sent".to_owned(),
                )),
                (Status::Expired, _) => Some((
                    "expired",
                    "the window did not open again before notAfter for the devices not yet sent"
                        .to_owned(),
                )),
                (_, Some(super::fleet::Stop::FailureBudget)) => Some((
                    "failureBudget",
                    format!(
                        "{failures} of {total} devices failed, which spent the failure budget; the devices not yet sent were cancelled"
                    ),
                )),
                (_, _) => Some((
                    "childrenFailed",
                    format!("{failures} of {total} devices did not succeed"),
                )),
            };
            if let Some((code, message)) = ended {
                done.failure = Some(GraphFailure::graphgate(code, message));
            }
            return Ok(done);
        }
        let started = fleet.children.iter().any(|c| c.change_id.is_some());
        // Children in flight, or being verified, are followed even while the window is shut.
        let in_flight = fleet.unsettled().next().is_some();
        let opening = self.schedule.opening(now);
        let due = match opening {
            Opening::At(at) if !in_flight => Due::Open(at),
            Opening::At(at) => Due::Poll((now + follow).min(at)),
            Opening::Now | Opening::Never => Due::Poll(fleet.next_visit(now, follow)),
        };
        next.fleet = Some(fleet);
        if started || opening == Opening::Now {
            next = next.moved_to(Status::Running, now)?;
        }
        next.due = Some(due);
        next.updated_at = now;
        Ok(next)
    }

    /// The caller cancelled a change that had not reached Graph; for a fleet, the children
    /// not yet sent (those sent go on, and the parent ends when they have).
    pub fn cancelled(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if let Some(fleet) = &self.fleet {
            self.only_from(&[Status::Scheduled, Status::Running], "cancelled")?;
            let mut fleet = fleet.clone();
            fleet.stop(super::fleet::Stop::Cancelled);
            let mut next = self.fleet_advanced(fleet, now, std::time::Duration::ZERO)?;
            if !next.status.is_terminal() {
                next.due = Some(Due::Poll(now));
            }
            return Ok(next);
        }
        self.only_from(&[Status::Scheduled], "cancelled")?;
        self.ended(
            Status::Cancelled,
            GraphFailure::graphgate(
                "cancelled",
                "the caller cancelled the change before it reached Graph",
            ),
            now,
        )
    }

    /// The change's target was looked at: verified, a mismatch once the verification timeout
    /// has passed, or looked at again later. A verification with its answer lets the report
    /// go.
    pub fn verified(
        &self,
        reading: &Reading,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        let Some(verification) = self.verification.as_ref().filter(|v| v.is_pending()) else {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "verified with no verification pending",
            });
        };
        let read = verification.read(&self.action, self.installed_before.as_ref(), reading, now);
        let mut next = self.clone();
        next.updated_at = now;
        next.due = if read.is_pending() {
            let wait = pacing.poll_wait(read.checks(), None);
            Some(Due::Verify((now + wait).min(read.until)))
        } else if self
            .callback
            .as_ref()
            .is_some_and(|c| c.status == DeliveryStatus::Pending)
        {
            Some(Due::Callback(now))
        } else {
            None
        };
        next.verification = Some(read);
        Ok(next)
    }

    /// A sweeper takes the change until `until`; a second sweeper's claim on the same version
    /// loses in the store.
    pub fn claim(&self, until: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if self.due.is_none() {
            return Err(InvalidTransition::NothingDue);
        }
        Ok(ChangeRecord {
            due: Some(Due::Claim(until)),
            ..self.clone()
        })
    }

    /// Graph took the action: a device action is queued, to be polled `pacing.first_poll`
    /// later; an app upgrade is done.
    pub fn submitted(
        &self,
        outcome: &ActionOutcome,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "submitted")?;
        Ok(match outcome {
            ActionOutcome::Accepted {
                location,
                request_id,
            } => {
                let mut next = self.moved_to(Status::Queued, now)?;
                next.graph_request_id = request_id.clone();
                next.location = Some(location.clone());
                next.due = Some(Due::Poll(now + pacing.first_poll));
                next
            }
            ActionOutcome::Completed { request_id } => {
                let mut next = self.moved_to(Status::Succeeded, now)?;
                next.graph_request_id = request_id.clone();
                next.start_verification(now, pacing)
            }
        })
    }

    /// Graph refused the change as asked (a 4xx, or an operation already queued) when it was
    /// submitted, or resubmitted. The refusal's `request-id` is kept as the action call's.
    pub fn rejected(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "rejected")?;
        self.answered(Status::Rejected, failure, now)
    }

    /// Submitting (or resubmitting) the change did not carry it out: Graph failed, or could
    /// not be asked. An answer's `request-id` is kept as the action call's.
    pub fn submission_failed(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "failed at submission")?;
        self.answered(Status::Failed, failure, now)
    }

    /// The change cannot be carried out, for the reason `failure` gives.
    pub fn failed(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.ended(Status::Failed, failure, now)
    }

    /// The operation was read: the change takes its status, and is polled again later
    /// unless that status is final.
    pub fn observed(
        &self,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Queued, Status::Running], "observed")?;
        let mut next = self.clone();
        next.polls += 1;
        next.apply(operation, now, pacing)
    }

    /// A change left `submitting` turns out to have started `operation`, at `location`.
    pub fn adopted(
        &self,
        location: Url,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "adopted")?;
        let mut next = self.moved_to(Status::Queued, now)?;
        next.location = Some(location);
        next.apply(operation, now, pacing)
    }

    /// Graph could not be asked, or did not say (throttled, unreachable): look again later,
    /// when Graph's `Retry-After` says or after the backoff.
    pub fn retry_later(
        &self,
        retry_after: Option<std::time::Duration>,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(
            &[Status::Submitting, Status::Queued, Status::Running],
            "retried",
        )?;
        let mut next = self.clone();
        next.polls += 1;
        next.due = Some(Due::Poll(now + pacing.poll_wait(next.polls, retry_after)));
        Ok(next)
    }

    /// The change is sent to Graph again, recovering it. Stored before the call, so that a
    /// sweeper dying after Graph's answer cannot send it a third time.
    pub fn resubmitting(&self) -> Result<Self, InvalidTransition> {
        if self.resubmitted {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "resubmitted twice",
            });
        }
        self.only_from(&[Status::Submitting], "resubmitted")?;
        Ok(ChangeRecord {
            resubmitted: true,
            ..self.clone()
        })
    }

    /// Graph clearly did not take the resubmission (throttled, unreachable): it may be sent
    /// again, later.
    pub fn resubmission_not_taken(
        &self,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        let mut next = self.retry_later(None, now, pacing)?;
        next.resubmitted = false;
        Ok(next)
    }

    /// The change was resubmitted once already and Graph still shows no operation for it.
    pub fn submission_lost(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if !self.resubmitted {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "lost before it was resubmitted",
            });
        }
        self.ended(
            Status::Failed,
            GraphFailure::graphgate(
                "lostSubmission",
                "the change was resubmitted after its submitter stopped, and Graph shows no operation for it",
            ),
            now,
        )
    }

    /// The change has run past the operation timeout without a final status.
    pub fn timed_out(
        &self,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        // A fleet parent ends with its children, each of which times out on its own.
        if self.status.is_terminal() || self.status == Status::Scheduled || self.fleet.is_some() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "timed out",
            });
        }
        if !pacing.overdue(self.submitted_at(), now) {
            return Err(InvalidTransition::NotOverdue);
        }
        let failure = if self.status == Status::Submitting {
            GraphFailure::graphgate(
                "unconfirmed",
                "graphgate could not confirm with Graph whether the change was carried out",
            )
        } else {
            let hours = pacing.operation_timeout.as_secs_f64() / 3600.0;
            GraphFailure::graphgate(
                "timedOut",
                format!("the operation had no final status after {hours:.1} h"),
            )
        };
        self.ended(Status::TimedOut, failure, now)
    }

    /// One callback attempt was made. Delivered, or out of attempts, the change leaves the
    /// due set; otherwise it is due again after the retry wait.
    pub fn callback_attempted(
        &self,
        outcome: &AttemptOutcome,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        if self.pending_callback().is_none() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "reported with no report owed",
            });
        }
        let mut next = self.clone();
        let delivery = next.callback.as_mut().expect("a pending callback");
        let attempts = delivery.record(outcome, now);
        next.due = if outcome.delivered() {
            delivery.status = DeliveryStatus::Delivered;
            None
        } else if matches!(outcome, AttemptOutcome::Undeliverable(_)) {
            delivery.status = DeliveryStatus::Failed;
            None
        } else {
            match pacing.callback_wait(attempts) {
                Some(wait) => Some(Due::Callback(now + wait)),
                None => {
                    delivery.status = DeliveryStatus::Failed;
                    None
                }
            }
        };
        // A chat's reply goes before the verification ends: the verification goes on.
        if next.verifying() && next.due.is_none() {
            next.due = Some(Due::Verify(now));
        }
        Ok(next)
    }

    /// A finished change with no report owed leaves the due set.
    pub fn settled(&self) -> Result<Self, InvalidTransition> {
        if !self.status.is_terminal() || self.pending_callback().is_some() || self.verifying() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "settled with work left",
            });
        }
        Ok(ChangeRecord {
            due: None,
            ..self.clone()
        })
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

    /// Takes the status `operation` reports; a status graphgate does not know changes nothing.
    fn apply(
        mut self,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.operation_status = Some(operation.raw_status.clone());
        self.operation = Some(OperationReport {
            id: operation.id.clone(),
            times: operation.times.clone(),
        });
        let status = match operation.status {
            OperationStatus::Queued => Status::Queued,
            OperationStatus::Running => Status::Running,
            OperationStatus::Succeeded => Status::Succeeded,
            OperationStatus::Failed => Status::Failed,
            OperationStatus::Cancelled => Status::Cancelled,
            OperationStatus::Unknown => self.status,
        };
        let mut next = self.moved_to(status, now)?;
        if status == Status::Failed {
            next.failure = Some(GraphFailure {
                http_status: None,
                code: operation
                    .error_code
                    .clone()
                    .unwrap_or_else(|| "operationFailed".into()),
                message: operation.error_message.clone().unwrap_or_default(),
                request_id: None,
            });
        }
        if !status.is_terminal() {
            next.due = Some(Due::Poll(now + pacing.poll_wait(next.polls, None)));
        }
        Ok(next.start_verification(now, pacing))
    }

    /// A change that just succeeded starts its verification, if its target can show it: a
    /// device reports its software's version, and an installation whose definition before the
    /// upgrade is known shows whether it moved on.
    fn start_verification(mut self, now: OffsetDateTime, pacing: &Pacing) -> Self {
        let verifiable = match &self.action {
            Action::UpdateSoftware { .. } => true,
            Action::UpgradeApp { .. } => self.installed_before.is_some(),
            Action::RestartDevice { .. } | Action::RunDiagnostics { .. } => false,
        };
        if self.status != Status::Succeeded || !verifiable || self.verification.is_some() {
            return self;
        }
        self.verification = Some(Verification::pending(now + pacing.verify_timeout));
        self.due = Some(Due::Verify(now + pacing.poll_base));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::change::{Opening, OperationStatus};

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;
    const SECS: fn(u64) -> Duration = Duration::from_secs;

    fn request(body: serde_json::Value) -> ChangeRequest {
        ChangeRequest::parse(body.as_object().unwrap()).unwrap()
    }

    fn submitting(callback: bool) -> ChangeRecord {
        let mut body = json!({"action": "restartDevice", "deviceId": "d1"});
        if callback {
            body["callbackUrl"] = json!("https://itsm.example.com/hook");
        }
        ChangeRecord::submitting(request(body), "itsm", T0, T0 + SECS(55))
    }

    fn accepted() -> ActionOutcome {
        ActionOutcome::Accepted {
            location: Url::parse(
                "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-1",
            )
            .unwrap(),
            request_id: Some("req-1".into()),
        }
    }

    fn operation(status: &str) -> DeviceOperation {
        DeviceOperation {
            id: Some("op-1".into()),
            status: OperationStatus::parse(status),
            raw_status: status.into(),
            operation_type: Some("deviceRestart".into()),
            error_code: None,
            error_message: None,
            times: Default::default(),
        }
    }

    fn queued(pacing: &Pacing) -> ChangeRecord {
        submitting(false)
            .submitted(&accepted(), T0, pacing)
            .unwrap()
    }

    #[test]
    fn a_new_change_is_held_by_its_submitter_for_the_lease() {
        let record = submitting(false);
        assert_eq!(record.status(), Status::Submitting);
        assert_eq!(record.due(), Some(Due::Lease(T0 + SECS(55))));
    }

    #[test]
    fn an_accepted_action_is_first_polled_after_the_first_poll_wait() {
        let pacing = Pacing::default();
        let record = queued(&pacing);
        assert_eq!(record.status(), Status::Queued);
        assert_eq!(record.due(), Some(Due::Poll(T0 + pacing.first_poll)));
        assert_eq!(record.graph_request_id(), Some("req-1"));
        assert!(record.location().is_some());
    }

    #[test]
    fn a_completed_upgrade_is_done_and_owes_its_report_at_once() {
        let record = submitting(true)
            .submitted(
                &ActionOutcome::Completed { request_id: None },
                T0 + SECS(1),
                &Pacing::default(),
            )
            .unwrap();
        assert_eq!(record.status(), Status::Succeeded);
        assert_eq!(record.due(), Some(Due::Callback(T0 + SECS(1))));
        assert!(record.pending_callback().is_some());
    }

    #[test]
    fn polls_space_out_and_a_final_status_ends_them() {
        let pacing = Pacing::default();
        let mut record = queued(&pacing);
        let mut now = T0;
        let mut waits = Vec::new();
        for status in ["queued", "InProgress", "InProgress", "unknownFutureValue"] {
            now += SECS(1000);
            record = record.observed(&operation(status), now, &pacing).unwrap();
            waits.push((record.due().unwrap().at() - now).whole_seconds());
        }
        assert_eq!(waits, [15, 30, 60, 120]);
        assert_eq!(
            record.status(),
            Status::Running,
            "an unknown status is not final"
        );
        assert_eq!(record.operation_status(), Some("unknownFutureValue"));
        let done = record
            .observed(&operation("Successful"), now, &pacing)
            .unwrap();
        assert_eq!(done.status(), Status::Succeeded);
        assert_eq!(done.due(), None);
        assert_eq!(done.updated_at(), now);
    }

    #[test]
    fn a_failed_operation_keeps_graphs_error() {
        let pacing = Pacing::default();
        let mut op = operation("failed");
        op.error_code = Some("DeviceOffline".into());
        op.error_message = Some("The device did not respond.".into());
        let failed = queued(&pacing).observed(&op, T0, &pacing).unwrap();
        assert_eq!(failed.status(), Status::Failed);
        let failure = failed.failure().unwrap();
        assert_eq!(
            (failure.code.as_str(), failure.message.as_str()),
            ("DeviceOffline", "The device did not respond.")
        );
    }

    #[test]
    fn retry_after_sets_the_next_poll() {
        let pacing = Pacing::default();
        let later = queued(&pacing)
            .retry_later(Some(Duration::from_millis(7500)), T0, &pacing)
            .unwrap();
        assert_eq!(
            later.due(),
            Some(Due::Poll(T0 + Duration::from_millis(7500)))
        );
        assert_eq!(later.status(), Status::Queued);
    }

    #[test]
    fn a_claim_holds_the_change_until_it_ends() {
        let pacing = Pacing::default();
        let claimed = queued(&pacing).claim(T0 + SECS(60)).unwrap();
        assert_eq!(claimed.due(), Some(Due::Claim(T0 + SECS(60))));
        let done = claimed
            .observed(&operation("succeeded"), T0, &pacing)
            .unwrap();
        assert_eq!(done.claim(T0), Err(InvalidTransition::NothingDue));
    }

    #[test]
    fn the_operation_timeout_applies_only_once_it_has_passed() {
        let pacing = Pacing {
            operation_timeout: SECS(3600),
            ..Pacing::default()
        };
        let record = queued(&pacing);
        assert_eq!(
            record.timed_out(T0 + SECS(3600), &pacing),
            Err(InvalidTransition::NotOverdue)
        );
        let late = record.timed_out(T0 + SECS(3601), &pacing).unwrap();
        assert_eq!(late.status(), Status::TimedOut);
        assert_eq!(late.failure().unwrap().code, "timedOut");
        assert_eq!(
            late.failure().unwrap().message,
            "the operation had no final status after 1.0 h"
        );
        let stuck = submitting(false)
            .timed_out(T0 + SECS(3601), &pacing)
            .unwrap();
        assert_eq!(stuck.failure().unwrap().code, "unconfirmed");
    }

    #[test]
    fn a_change_is_resubmitted_at_most_once() {
        let pacing = Pacing::default();
        let marked = submitting(false).resubmitting().unwrap();
        assert!(marked.resubmitted());
        assert!(marked.resubmitting().is_err());
        assert_eq!(
            marked.submission_lost(T0).unwrap().failure().unwrap().code,
            "lostSubmission"
        );
        let again = marked.resubmission_not_taken(T0, &pacing).unwrap();
        assert!(
            !again.resubmitted(),
            "Graph did not take it, so it may be sent again"
        );
        assert_eq!(again.due(), Some(Due::Poll(T0 + pacing.poll_base)));
        assert!(submitting(false).submission_lost(T0).is_err());
    }

    #[test]
    fn an_adopted_operation_makes_the_change_queued_at_its_location() {
        let pacing = Pacing::default();
        let location =
            Url::parse("https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-7")
                .unwrap();
        let adopted = submitting(false)
            .adopted(location.clone(), &operation("InProgress"), T0, &pacing)
            .unwrap();
        assert_eq!(adopted.status(), Status::Running);
        assert_eq!(adopted.location(), Some(&location));
        assert_eq!(adopted.due(), Some(Due::Poll(T0 + pacing.poll_base)));
    }

    #[test]
    fn callbacks_are_retried_on_schedule_then_given_up() {
        let pacing = Pacing {
            callback_attempts: 3,
            ..Pacing::default()
        };
        let mut record = submitting(true)
            .rejected(GraphFailure::graphgate("Conflict", "busy"), T0)
            .unwrap();
        let mut now = T0;
        let failing = AttemptOutcome::Answered(500);
        record = record.callback_attempted(&failing, now, &pacing).unwrap();
        assert_eq!(record.due(), Some(Due::Callback(now + SECS(30))));
        now += SECS(30);
        record = record
            .callback_attempted(
                &AttemptOutcome::NoAnswer("connection refused".into()),
                now,
                &pacing,
            )
            .unwrap();
        assert_eq!(record.due(), Some(Due::Callback(now + SECS(60))));
        record = record.callback_attempted(&failing, now, &pacing).unwrap();
        let delivery = record.callback().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Failed);
        let outcomes: Vec<_> = delivery
            .attempts
            .iter()
            .map(|a| a.outcome.as_str())
            .collect();
        assert_eq!(outcomes, ["500", "connection refused", "500"]);
        assert_eq!(record.due(), None);
        assert!(record.callback_attempted(&failing, now, &pacing).is_err());
    }

    #[test]
    fn a_delivered_callback_ends_the_changes_work() {
        let pacing = Pacing::default();
        let done = submitting(true)
            .submitted(&ActionOutcome::Completed { request_id: None }, T0, &pacing)
            .unwrap()
            .callback_attempted(&AttemptOutcome::Answered(204), T0, &pacing)
            .unwrap();
        assert_eq!(done.callback().unwrap().status, DeliveryStatus::Delivered);
        assert_eq!(done.due(), None);
        assert!(done.settled().is_ok());
    }

    #[test]
    fn only_answers_to_an_action_call_give_the_change_its_request_id() {
        let pacing = Pacing::default();
        let answer = GraphFailure {
            request_id: Some("req-409".into()),
            ..GraphFailure::graphgate("Conflict", "busy")
        };
        let rejected = submitting(false).rejected(answer.clone(), T0).unwrap();
        assert_eq!(rejected.graph_request_id(), Some("req-409"));
        let failed = submitting(false)
            .submission_failed(answer.clone(), T0)
            .unwrap();
        assert_eq!(failed.graph_request_id(), Some("req-409"));
        let poll_404 = queued(&pacing).failed(answer, T0).unwrap();
        assert_eq!(
            poll_404.graph_request_id(),
            Some("req-1"),
            "still the action call's"
        );
    }

    #[test]
    fn terminal_states_are_final() {
        let pacing = Pacing::default();
        let done = queued(&pacing)
            .observed(&operation("succeeded"), T0, &pacing)
            .unwrap();
        assert!(done.observed(&operation("failed"), T0, &pacing).is_err());
        assert!(done.failed(GraphFailure::graphgate("x", "y"), T0).is_err());
        assert!(done.timed_out(T0 + SECS(86_400), &pacing).is_err());
        assert!(done.retry_later(None, T0, &pacing).is_err());
        assert!(
            queued(&pacing)
                .rejected(GraphFailure::graphgate("x", "y"), T0)
                .is_err()
        );
        assert!(queued(&pacing).submitted(&accepted(), T0, &pacing).is_err());
    }

    #[test]
    fn a_scheduled_change_opens_waits_expires_or_is_cancelled() {
        let pacing = Pacing::default();
        let mut body = json!({"action": "restartDevice", "deviceId": "d1",
            "callbackUrl": "https://itsm.example.com/hook",
            "notAfter": "1970-01-02T00:00:00Z",
            "window": {"start": "10:00", "end": "12:00", "timeZone": "UTC"}});
        let opens = T0 + SECS(10 * 3600);
        let scheduled = ChangeRecord::scheduled(request(body.clone()), "itsm", T0, opens);
        assert_eq!(scheduled.status(), Status::Scheduled);
        assert_eq!(scheduled.due(), Some(Due::Open(opens)));
        assert_eq!(scheduled.opening(T0), Opening::At(opens));
        assert_eq!(
            scheduled.timed_out(T0 + SECS(86_400 * 30), &pacing),
            Err(InvalidTransition::NotFrom {
                status: Status::Scheduled,
                event: "timed out"
            }),
            "a change waiting for its window does not time out"
        );
        // The window opens: it goes to Graph, and the operation timeout runs from then.
        let opened = scheduled.opened(opens, opens + SECS(60)).unwrap();
        assert_eq!(opened.status(), Status::Submitting);
        assert_eq!(opened.due(), Some(Due::Lease(opens + SECS(60))));
        assert_eq!(opened.submitted_at(), opens);
        assert!(
            opened
                .timed_out(opens + pacing.operation_timeout, &pacing)
                .is_err()
        );
        assert!(opened.expired(opens).is_err());
        assert!(opened.cancelled(opens).is_err());
        // Past notAfter it expires, owing its report.
        let expired = scheduled.expired(T0 + SECS(86_400)).unwrap();
        assert_eq!(expired.status(), Status::Expired);
        assert_eq!(expired.failure().unwrap().code, "expired");
        assert!(expired.pending_callback().is_some());
        let cancelled = scheduled.cancelled(T0).unwrap();
        assert_eq!(cancelled.status(), Status::Cancelled);
        assert_eq!(cancelled.failure().unwrap().code, "cancelled");
        assert_eq!(
            scheduled.claim(T0).unwrap().waiting(opens).unwrap().due(),
            Some(Due::Open(opens))
        );
        body["dryRun"] = json!(false);
        let round = ChangeRecord::scheduled(request(body), "itsm", T0, opens);
        assert_eq!(ChangeRecord::from_json(&round.to_json()).unwrap(), round);
    }

    #[test]
    fn a_scheduled_change_graph_keeps_declining_is_not_scheduled_again_forever() {
        let body = json!({"action": "restartDevice", "deviceId": "d1",
            "window": {"start": "10:00", "end": "12:00", "timeZone": "UTC"}});
        let opens = T0 + SECS(10 * 3600);
        let mut record = ChangeRecord::scheduled(request(body), "itsm", T0, opens);
        for _ in 0..MAX_NOT_TAKEN {
            let opened = record.opened(opens, opens + SECS(60)).unwrap();
            record = opened.reopened(opens, opens + SECS(5)).unwrap();
            assert_eq!(record.status(), Status::Scheduled);
            assert_eq!(record.due(), Some(Due::Open(opens + SECS(5))));
        }
        let opened = record.opened(opens, opens + SECS(60)).unwrap();
        assert!(opened.reopened(opens, opens + SECS(5)).is_err());
        assert!(
            submitting(false).reopened(T0, T0).is_err(),
            "a change without a window is never scheduled again"
        );
    }

    #[test]
    fn a_chat_reply_does_not_wait_for_the_verification() {
        let pacing = Pacing::default();
        let update = json!({"action": "updateSoftware", "deviceId": "d1",
            "softwareType": "teamsClient", "softwareVersion": "1.0.96.22",
            "callbackUrl": "https://itsm.example.com/hook"});
        let made = ChangeRecord::submitting(request(update), "itsm", T0, T0 + SECS(55));
        let done = |record: ChangeRecord| {
            record
                .submitted(&accepted(), T0, &pacing)
                .unwrap()
                .observed(&operation("succeeded"), T0, &pacing)
                .unwrap()
        };
        let webhook = done(made.clone());
        assert!(webhook.verifying());
        assert!(webhook.pending_callback().is_none(), "the report waits");
        let chat = done(made.with_chat_reply(
            Some(CallbackUrl::parse("https://hooks.slack.com/commands/T1/1/x").unwrap()),
            ChatReply {
                tool: super::super::delivery::ChatTool::Slack,
                valid_until: Some(T0 + SECS(1800)),
                fallback: None,
            },
        ));
        assert!(chat.verifying());
        assert!(chat.pending_callback().is_some(), "the chat hears at once");
        let told = chat
            .callback_attempted(&AttemptOutcome::Answered(200), T0, &pacing)
            .unwrap();
        assert_eq!(
            told.due(),
            Some(Due::Verify(T0)),
            "the verification goes on"
        );
    }

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
