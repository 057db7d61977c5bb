//! A change to many devices: the parent's table of its children, and the rules of a
//! rollout. The parent never goes to Graph itself; each device becomes a child change that
//! lives as a single change does (intent record, Graph call, sweeper). The sweeper, visiting
//! the parent, reads how its children stand and sends the next ones, at the rollout's pace,
//! until the failure budget is spent or every child is final.
//!
//! A child is assigned its change ID in the parent's table, and the table stored, before the
//! child's record is written and Graph called: so a sweeper that dies in between leaves an
//! assignment with no record, which, once its lease has passed, is plainly never sent, and
//! the device is pending again. A child is never sent twice.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ids::{ChangeId, DeviceId};
use super::inventory::DeviceFilter;
use super::rollout::Rollout;
use super::schedule::MAX_NOT_TAKEN;
use super::status::Status;
use super::verification::VerificationState;

/// Why a fleet stopped sending children before all were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stop {
    /// Too many children failed.
    FailureBudget,
    /// The caller cancelled the rest.
    Cancelled,
    /// The window did not open again before `notAfter`.
    Expired,
    /// The change's ticket stopped letting it go ahead.
    TicketWithdrawn,
}

impl Stop {
    /// How the devices not yet sent end.
    fn ends(self) -> Status {
        match self {
            Stop::Expired => Status::Expired,
            Stop::FailureBudget | Stop::Cancelled | Stop::TicketWithdrawn => Status::Cancelled,
        }
    }
}

/// One device of a fleet, as the parent last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Child {
    pub device_id: DeviceId,
    /// Assigned when the child is sent; absent while it waits (`scheduled`), or if it never
    /// was sent (`cancelled`, `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<ChangeId>,
    pub status: Status,
    /// When the child's change ID was assigned.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub assigned_at: Option<OffsetDateTime>,
    /// For a child that succeeded: whether its device shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationState>,
    /// How often Graph did not take the device (throttled past the retries, unreachable).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_taken: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Child {
    /// Sent, and either not final or still being verified: its record is worth reading.
    fn unsettled(&self) -> bool {
        self.in_flight() || self.verification == Some(VerificationState::Pending)
    }

    fn in_flight(&self) -> bool {
        self.change_id.is_some() && !self.status.is_terminal()
    }

    fn waiting(&self) -> bool {
        self.change_id.is_none() && self.status == Status::Scheduled
    }

    /// Whether the child was sent and did not succeed, or Graph would not take it at all.
    fn failed(&self) -> bool {
        match self.change_id {
            Some(_) => self.status.is_terminal() && self.status != Status::Succeeded,
            None => self.status == Status::Failed,
        }
    }
}

/// A parent's children, and what its rollout has done so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fleet {
    pub rollout: Rollout,
    /// The filter the devices were chosen by, when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<DeviceFilter>,
    pub children: Vec<Child>,
    /// When children were sent within the last minute: what the rate is measured on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sent: Vec<SentAt>,
    /// Graph asked graphgate to wait until then before sending more.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    paused_until: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    /// When the change's ticket last let the fleet go ahead, for a caller gated on its
    /// tickets: read again at least once a minute while children are being sent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    ticket_read: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct SentAt(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

const MINUTE: Duration = Duration::from_secs(60);

impl Fleet {
    pub fn new(devices: Vec<DeviceId>, rollout: Rollout, filter: Option<DeviceFilter>) -> Self {
        Fleet {
            rollout,
            filter,
            children: devices
                .into_iter()
                .map(|device_id| Child {
                    device_id,
                    change_id: None,
                    status: Status::Scheduled,
                    assigned_at: None,
                    verification: None,
                    not_taken: 0,
                })
                .collect(),
            sent: Vec::new(),
            paused_until: None,
            stopped: None,
            ticket_read: None,
        }
    }

    /// How many children stand at each status.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for child in &self.children {
            *counts.entry(child.status.as_str()).or_default() += 1;
        }
        counts
    }

    /// How many children stand at each verification state.
    pub fn verification_counts(&self) -> BTreeMap<VerificationState, usize> {
        let mut counts = BTreeMap::new();
        for state in self.children.iter().filter_map(|c| c.verification) {
            *counts.entry(state).or_default() += 1;
        }
        counts
    }

    /// The children sent and not final yet.
    pub fn in_flight(&self) -> impl Iterator<Item = &Child> {
        self.children.iter().filter(|c| c.in_flight())
    }

    /// The children whose records may have moved on since: in flight, or being verified.
    pub fn unsettled(&self) -> impl Iterator<Item = &Child> {
        self.children.iter().filter(|c| c.unsettled())
    }

    pub fn failures(&self) -> usize {
        self.children.iter().filter(|c| c.failed()).count()
    }

    /// Whether every child is final, verification included: the parent is done.
    pub fn is_done(&self) -> bool {
        self.children
            .iter()
            .all(|c| c.status.is_terminal() && c.verification != Some(VerificationState::Pending))
    }

    /// The parent's end, once every child is final.
    pub fn outcome(&self) -> Status {
        if self.children.iter().all(|c| c.status == Status::Succeeded) {
            Status::Succeeded
        } else if matches!(self.stopped, Some(Stop::Cancelled | Stop::TicketWithdrawn))
            && self.failures() == 0
        {
            Status::Cancelled
        } else if self.stopped == Some(Stop::Expired) && self.failures() == 0 {
            Status::Expired
        } else {
            Status::Failed
        }
    }

    /// Takes what a child's record says now.
    pub fn observe(
        &mut self,
        id: &ChangeId,
        status: Status,
        verification: Option<VerificationState>,
    ) {
        if let Some(child) = self
            .children
            .iter_mut()
            .find(|c| c.change_id.as_ref() == Some(id))
        {
            child.status = status;
            child.verification = verification;
        }
    }

    /// Whether child `id` was assigned before `lease_start`: a sender still holding it is
    /// past its lease.
    pub fn assigned_before(&self, id: &ChangeId, lease_start: OffsetDateTime) -> bool {
        self.children.iter().any(|c| {
            c.change_id.as_ref() == Some(id) && c.assigned_at.is_none_or(|at| at < lease_start)
        })
    }

    /// Child `id` was never sent (Graph did not take it, or it was never recorded): its
    /// device waits again, to be sent as a new child, or ends as the fleet has stopped. A
    /// device Graph declined [`MAX_NOT_TAKEN`] times is `failed`.
    pub fn requeue(&mut self, id: &ChangeId) {
        let stopped = self.stopped.map(Stop::ends);
        if let Some(child) = self
            .children
            .iter_mut()
            .find(|c| c.change_id.as_ref() == Some(id))
        {
            child.change_id = None;
            child.assigned_at = None;
            child.not_taken += 1;
            child.status = match stopped {
                Some(status) => status,
                None if child.not_taken >= MAX_NOT_TAKEN => Status::Failed,
                None => Status::Scheduled,
            };
        }
    }

    /// Spends the failure budget: once it is spent, the children not yet sent are cancelled.
    pub fn check_budget(&mut self) {
        let failures = self.failures() as u64;
        let total = self.children.len() as u64;
        let by_count = self
            .rollout
            .stop_after_failures
            .is_some_and(|n| failures >= u64::from(n));
        let by_share = self
            .rollout
            .stop_after_percent
            .is_some_and(|p| failures * 100 >= u64::from(p) * total);
        if by_count || by_share {
            self.stop(Stop::FailureBudget);
        }
    }

    /// Stops sending: every child still waiting ends, cancelled or expired.
    pub fn stop(&mut self, why: Stop) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
        let status = why.ends();
        for child in self.children.iter_mut().filter(|c| c.waiting()) {
            child.status = status;
        }
    }

    /// Whether a gated caller's ticket is to be read again before children are sent at
    /// `now`: some are waiting, and it was last read a minute or more ago.
    pub fn ticket_due(&self, now: OffsetDateTime) -> bool {
        self.stopped.is_none()
            && self.children.iter().any(Child::waiting)
            && self.ticket_read.is_none_or(|read| now - read >= MINUTE)
    }

    /// The ticket let the fleet go ahead at `now`.
    pub fn ticket_allowed(&mut self, now: OffsetDateTime) {
        self.ticket_read = Some(now);
    }

    /// Graph throttled a child: send no more until `until`.
    pub fn pause(&mut self, until: OffsetDateTime) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }

    /// The children to send now, within the concurrency and the rate, each assigned a new
    /// change ID: `submitting` in the table from here on.
    pub fn assign(&mut self, now: OffsetDateTime) -> Vec<(DeviceId, ChangeId)> {
        self.sent.retain(|s| s.0 + MINUTE > now);
        if self.stopped.is_some() || self.paused_until.is_some_and(|p| p > now) {
            return Vec::new();
        }
        let in_flight = self.in_flight().count();
        let slots = (self.rollout.max_concurrent as usize).saturating_sub(in_flight);
        let rate = (self.rollout.per_minute as usize).saturating_sub(self.sent.len());
        let mut assigned = Vec::new();
        for child in self
            .children
            .iter_mut()
            .filter(|c| c.waiting())
            .take(slots.min(rate))
        {
            let id = ChangeId::new();
            child.change_id = Some(id.clone());
            child.status = Status::Submitting;
            child.assigned_at = Some(now);
            self.sent.push(SentAt(now));
            assigned.push((child.device_id.clone(), id));
        }
        assigned
    }

    /// Whether children wait to be sent.
    pub fn has_waiting(&self) -> bool {
        self.children.iter().any(Child::waiting)
    }

    /// When the parent should be visited next, seen from `now`: to follow its children
    /// (`follow` later), or as soon as the rate or a pause lets another child go.
    pub fn next_visit(&self, now: OffsetDateTime, follow: Duration) -> OffsetDateTime {
        let mut next = now + follow;
        if self.has_waiting() && self.stopped.is_none() {
            let in_flight = self.in_flight().count();
            let rate_full = self.sent.len() >= self.rollout.per_minute as usize;
            if in_flight < self.rollout.max_concurrent as usize {
                let free_at = if rate_full {
                    self.sent.first().map_or(now, |s| s.0 + MINUTE)
                } else {
                    now
                };
                let free_at = self.paused_until.map_or(free_at, |p| p.max(free_at));
                next = next.min(free_at.max(now));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn fleet(n: usize, rollout: Rollout) -> Fleet {
        let devices = (0..n)
            .map(|i| DeviceId::parse(format!("d{i}")).unwrap())
            .collect();
        Fleet::new(devices, rollout, None)
    }

    #[test]
    fn a_gated_fleets_ticket_is_read_once_a_minute_while_devices_wait() {
        let mut f = fleet(2, Rollout::default());
        assert!(f.ticket_due(T0), "never read");
        f.ticket_allowed(T0);
        assert!(!f.ticket_due(T0 + Duration::from_secs(59)));
        assert!(f.ticket_due(T0 + MINUTE));
        f.stop(Stop::TicketWithdrawn);
        assert!(!f.ticket_due(T0 + MINUTE), "stopped: nothing left to send");
        assert!(f.children.iter().all(|c| c.status == Status::Cancelled));
        assert_eq!(f.outcome(), Status::Cancelled);
    }

    #[test]
    fn children_go_within_the_concurrency_and_the_rate() {
        let mut f = fleet(
            10,
            Rollout {
                max_concurrent: 3,
                per_minute: 4,
                ..Rollout::default()
            },
        );
        assert_eq!(f.assign(T0).len(), 3, "three at once");
        assert!(f.assign(T0).is_empty(), "no slot is free");
        let first = f.children[0].change_id.clone().unwrap();
        f.observe(&first, Status::Succeeded, None);
        assert_eq!(f.assign(T0).len(), 1, "one slot freed");
        let second = f.children[1].change_id.clone().unwrap();
        f.observe(&second, Status::Succeeded, None);
        assert!(f.assign(T0).is_empty(), "four this minute already");
        assert_eq!(
            f.next_visit(T0, Duration::from_secs(15)),
            T0 + Duration::from_secs(15)
        );
        assert_eq!(f.assign(T0 + MINUTE).len(), 1);
        assert_eq!(f.counts()["scheduled"], 5);
        assert_eq!(f.counts()["submitting"], 3);
    }

    #[test]
    fn the_failure_budget_cancels_the_children_not_yet_sent() {
        let mut f = fleet(
            10,
            Rollout {
                max_concurrent: 4,
                stop_after_failures: Some(2),
                ..Rollout::default()
            },
        );
        let sent = f.assign(T0);
        f.observe(&sent[0].1, Status::Failed, None);
        f.check_budget();
        assert_eq!(f.stopped, None);
        f.observe(&sent[1].1, Status::Rejected, None);
        f.check_budget();
        assert_eq!(f.stopped, Some(Stop::FailureBudget));
        assert!(f.assign(T0 + MINUTE).is_empty());
        assert_eq!(f.counts()["cancelled"], 6);
        assert!(!f.is_done(), "two are still in flight");
        f.observe(&sent[2].1, Status::Succeeded, None);
        f.observe(&sent[3].1, Status::Succeeded, None);
        assert!(f.is_done());
        assert_eq!(f.outcome(), Status::Failed);
    }

    #[test]
    fn a_percentage_budget_counts_against_the_whole_fleet() {
        let mut f = fleet(
            10,
            Rollout {
                max_concurrent: 10,
                stop_after_percent: Some(20),
                ..Rollout::default()
            },
        );
        let sent = f.assign(T0);
        f.observe(&sent[0].1, Status::Failed, None);
        f.check_budget();
        assert_eq!(f.stopped, None, "10% failed");
        f.observe(&sent[1].1, Status::TimedOut, None);
        f.check_budget();
        assert_eq!(f.stopped, Some(Stop::FailureBudget), "20% failed");
    }

    #[test]
    fn a_child_never_sent_waits_again_or_ends_as_the_fleet_stopped() {
        let mut f = fleet(3, Rollout::default());
        let sent = f.assign(T0);
        assert!(!f.assigned_before(&sent[0].1, T0), "still leased");
        assert!(f.assigned_before(&sent[0].1, T0 + Duration::from_secs(1)));
        f.requeue(&sent[0].1);
        assert_eq!(f.children[0].status, Status::Scheduled);
        assert_eq!(f.children[0].change_id, None);
        // Once the fleet is cancelled, a child found never sent ends too: the fleet can end.
        f.stop(Stop::Cancelled);
        f.requeue(&sent[1].1);
        assert_eq!(f.children[1].status, Status::Cancelled);
        f.observe(&sent[2].1, Status::Succeeded, None);
        assert!(f.is_done());
        assert_eq!(f.outcome(), Status::Cancelled);
    }

    #[test]
    fn a_device_graph_keeps_declining_fails() {
        let mut f = fleet(1, Rollout::default());
        for _ in 0..MAX_NOT_TAKEN {
            let sent = f.assign(T0 + MINUTE * 10);
            f.requeue(&sent[0].1);
        }
        assert_eq!(f.children[0].status, Status::Failed);
        assert_eq!(f.failures(), 1);
        assert!(f.is_done());
        assert_eq!(f.outcome(), Status::Failed);
    }

    #[test]
    fn a_pause_holds_the_rest_back() {
        let mut f = fleet(3, Rollout::default());
        f.pause(T0 + Duration::from_secs(30));
        assert!(f.assign(T0).is_empty());
        assert_eq!(
            f.next_visit(T0, Duration::from_secs(60)),
            T0 + Duration::from_secs(30)
        );
        assert_eq!(f.assign(T0 + Duration::from_secs(30)).len(), 3);
    }

    #[test]
    fn a_cancelled_or_expired_fleet_ends_so() {
        let mut f = fleet(2, Rollout::default());
        f.stop(Stop::Cancelled);
        assert!(f.is_done());
        assert_eq!(f.outcome(), Status::Cancelled);
        let mut f = fleet(2, Rollout::default());
        f.stop(Stop::Expired);
        assert_eq!(f.outcome(), Status::Expired);
    }
}
