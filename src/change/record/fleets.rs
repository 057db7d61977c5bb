//! Fleets: a parent made for many devices, the child sent for each device, a child Graph did
//! not take, and the parent's rollout moving on.

use time::OffsetDateTime;

use super::{ChangeRecord, InvalidTransition};
use crate::change::failure_reason::FailureReason;
use crate::change::fleet::{Fleet, Stop};
use crate::change::ids::{ChangeId, DeviceId};
use crate::change::outcome::GraphFailure;
use crate::change::request::Requested;
use crate::change::rollout::{FleetDevices, FleetRequest};
use crate::change::schedule::Due;
use crate::change::status::Status;
use crate::change::window::Opening;

/// Constructors and transitions of a change to many devices.
impl ChangeRecord {
    /// A new change `id` to the fleet `devices` (in order), its rollout as the request asks;
    /// it starts at once, or when its window opens at `opening`. `None` for no devices: a
    /// fleet has at least one. The parent's own action names its first device.
    pub fn fleet_parent(
        id: ChangeId,
        request: Requested<FleetRequest>,
        caller: &str,
        now: OffsetDateTime,
        devices: Vec<DeviceId>,
        opening: Opening,
    ) -> Option<Self> {
        let asked = &request.target;
        let filter = match &asked.devices {
            FleetDevices::Filter(f) => Some(f.clone()),
            FleetDevices::Ids(_) => None,
        };
        let rollout = asked.rollout;
        let action = asked.action.on(devices.first()?.clone());
        let (status, due) = match opening {
            Opening::At(at) => (Status::Scheduled, Due::Open(at)),
            Opening::Now | Opening::Never => (Status::Running, Due::Poll(now)),
        };
        Some(ChangeRecord {
            id,
            status,
            due: Some(due),
            fleet: Some(Fleet::new(devices, rollout, filter)),
            ..Self::requested(request.with(action), caller, now)
        })
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
        let reports = parent
            .fleet
            .as_ref()
            .is_some_and(|f| f.rollout.child_callbacks);
        ChangeRecord {
            reference: parent.reference.clone(),
            requested_by: parent.requested_by.clone(),
            callback_url: parent.callback_url.clone().filter(|_| reports),
            status: Status::Submitting,
            parent: Some(parent.id.clone()),
            submitted_at: Some(now),
            due: Some(Due::Lease(lease_until)),
            ..Self::made(id, &parent.caller, parent.action.on_device(device), now)
        }
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
                FailureReason::NotTaken,
                "Graph did not take the change (throttled or unreachable); its fleet sends the device again as a new change",
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
                (_, Some(Stop::TicketWithdrawn)) => Some((
                    FailureReason::TicketWithdrawn,
                    "the change's ticket stopped letting it go ahead; the devices not yet sent were cancelled"
                        .to_owned(),
                )),
                (Status::Cancelled, _) => Some((
                    FailureReason::Cancelled,
                    "the caller cancelled the devices not yet sent".to_owned(),
                )),
                (Status::Expired, _) => Some((
                    FailureReason::Expired,
                    "the window did not open again before notAfter for the devices not yet sent"
                        .to_owned(),
                )),
                (_, Some(Stop::FailureBudget)) => Some((
                    FailureReason::FailureBudget,
                    format!(
                        "{failures} of {total} devices failed, which spent the failure budget; the devices not yet sent were cancelled"
                    ),
                )),
                (_, _) => Some((
                    FailureReason::ChildrenFailed,
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::*;
    use super::*;
    use crate::change::request::ChangeRequest;

    fn parent(child_callbacks: bool) -> ChangeRecord {
        let body = json!({"action": "restartDevice", "deviceIds": ["r1", "r2"],
            "reference": "CHG1", "callbackUrl": "https://itsm.example.com/hook",
            "rollout": {"childCallbacks": child_callbacks}});
        let devices = vec![
            DeviceId::parse("r1").unwrap(),
            DeviceId::parse("r2").unwrap(),
        ];
        let Ok(ChangeRequest::Fleet(request)) = ChangeRequest::parse(body.as_object().unwrap())
        else {
            panic!("a fleet change");
        };
        ChangeRecord::fleet_parent(ChangeId::new(), request, "itsm", T0, devices, Opening::Now)
            .unwrap()
    }

    #[test]
    fn a_fleet_parent_runs_at_once_with_every_device_waiting() {
        let parent = parent(false);
        assert_eq!(parent.status(), Status::Running);
        assert_eq!(parent.due(), Some(Due::Poll(T0)));
        let fleet = parent.fleet().unwrap();
        assert_eq!(fleet.children.len(), 2);
        assert!(fleet.has_waiting());
    }

    #[test]
    fn a_child_takes_its_parents_action_on_its_device_and_reports_only_if_asked() {
        let r2 = DeviceId::parse("r2").unwrap();
        let id = ChangeId::new();
        let quiet = ChangeRecord::child(&parent(false), r2.clone(), id.clone(), T0, T0 + SECS(55));
        assert_eq!(quiet.id(), &id);
        assert_eq!(quiet.action().device_id(), Some(&r2));
        assert_eq!(quiet.reference(), Some("CHG1"));
        assert_eq!(quiet.status(), Status::Submitting);
        assert_eq!(quiet.due(), Some(Due::Lease(T0 + SECS(55))));
        assert!(quiet.callback_url.is_none(), "its parent reports for it");
        let parent = parent(true);
        let told = ChangeRecord::child(&parent, r2, id, T0, T0 + SECS(55));
        assert_eq!(told.parent(), Some(parent.id()));
        assert!(told.callback_url.is_some());
    }
}
