//! Where a change stands, and which moves between statuses are possible.

use serde::{Deserialize, Serialize};

/// `[scheduled →] submitting → queued|running → succeeded|failed|cancelled|timedOut`, and
/// `rejected` when Graph refused the change. A `scheduled` change waits for its window, and
/// ends `expired` if it never opens, or `cancelled` if its caller cancels it. DESIGN.md's
/// `accepted` has no state of its own: a change is stored as `submitting` straight away,
/// before Graph is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Scheduled,
    Submitting,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Rejected,
    Expired,
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
                | Status::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Submitting => "submitting",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::TimedOut => "timedOut",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }

    /// Whether a change in `self` may move to `next`. Terminal states are final; a change
    /// may stay where it is (a poll that saw no progress still records the attempt).
    pub(super) fn can_become(self, next: Status) -> bool {
        use Status::*;
        match self {
            // A fleet parent runs from `scheduled`, without being submitted itself.
            Scheduled => {
                matches!(next, Scheduled | Submitting | Running | Cancelled | Expired)
                    || next.is_terminal()
            }
            Submitting => !matches!(next, Scheduled | Expired),
            Queued | Running => !matches!(next, Scheduled | Submitting | Rejected),
            Succeeded | Failed | Cancelled | TimedOut | Rejected | Expired => false,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
