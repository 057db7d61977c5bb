//! graphgate's own reasons for a change's failure, where Graph gave none: an enum, stored
//! and shown as the same strings a change's `failure.code` has always held. Graph's own
//! error codes stay free text beside them (see [`super::GraphFailure`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why graphgate ended a change, or failed a call, without Graph's own error behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureReason {
    NotTaken,
    Expired,
    Cancelled,
    FailureBudget,
    ChildrenFailed,
    LostSubmission,
    Unconfirmed,
    TimedOut,
    OperationFailed,
    LostLocation,
    UnusableLocation,
    UnusableOperationList,
    GraphUnavailable,
    GraphTimeout,
    BadLocation,
    GraphUnreachable,
    GraphSignInRefused,
    GraphApiRetired,
    TicketWithdrawn,
}

impl FailureReason {
    pub const ALL: [FailureReason; 19] = [
        FailureReason::NotTaken,
        FailureReason::Expired,
        FailureReason::Cancelled,
        FailureReason::FailureBudget,
        FailureReason::ChildrenFailed,
        FailureReason::LostSubmission,
        FailureReason::Unconfirmed,
        FailureReason::TimedOut,
        FailureReason::OperationFailed,
        FailureReason::LostLocation,
        FailureReason::UnusableLocation,
        FailureReason::UnusableOperationList,
        FailureReason::GraphUnavailable,
        FailureReason::GraphTimeout,
        FailureReason::BadLocation,
        FailureReason::GraphUnreachable,
        FailureReason::GraphSignInRefused,
        FailureReason::GraphApiRetired,
        FailureReason::TicketWithdrawn,
    ];

    /// The code as stored and shown: `failure.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::NotTaken => "notTaken",
            FailureReason::Expired => "expired",
            FailureReason::Cancelled => "cancelled",
            FailureReason::FailureBudget => "failureBudget",
            FailureReason::ChildrenFailed => "childrenFailed",
            FailureReason::LostSubmission => "lostSubmission",
            FailureReason::Unconfirmed => "unconfirmed",
            FailureReason::TimedOut => "timedOut",
            FailureReason::OperationFailed => "operationFailed",
            FailureReason::LostLocation => "lostLocation",
            FailureReason::UnusableLocation => "unusableLocation",
            FailureReason::UnusableOperationList => "unusableOperationList",
            FailureReason::GraphUnavailable => "graphUnavailable",
            FailureReason::GraphTimeout => "graphTimeout",
            FailureReason::BadLocation => "badLocation",
            FailureReason::GraphUnreachable => "graphUnreachable",
            FailureReason::GraphSignInRefused => "graphSignInRefused",
            FailureReason::GraphApiRetired => "graphApiRetired",
            FailureReason::TicketWithdrawn => "ticketWithdrawn",
        }
    }

    /// Why a change ends with this reason, in one line: the failure codes table of
    /// `docs/src/calling/changes.md` says exactly this (`tests/api/docs.rs` holds it to it).
    pub fn meaning(self) -> &'static str {
        match self {
            FailureReason::NotTaken => {
                "a fleet's child Graph clearly did not take (throttled past the retries, unreachable); its device is sent again as a new child (see Fleet changes)"
            }
            FailureReason::Expired => {
                "its window did not open before its `notAfter` (see Maintenance windows)"
            }
            FailureReason::Cancelled => "its caller cancelled it before it reached Graph",
            FailureReason::FailureBudget => "a fleet's parent: its failure budget was spent",
            FailureReason::ChildrenFailed => {
                "a fleet's parent: some of its children did not succeed"
            }
            FailureReason::LostSubmission => {
                "it was resubmitted after its submitter stopped, and Graph shows no operation for it (see Recovery)"
            }
            FailureReason::Unconfirmed => {
                "it was still `submitting` that long: graphgate could not confirm with Graph whether it was carried out"
            }
            FailureReason::TimedOut => {
                "its operation had no final status `GRAPHGATE_OPERATION_TIMEOUT_SECS` after it went to Graph"
            }
            FailureReason::OperationFailed => {
                "Graph's operation ended `failed` without an error code of its own"
            }
            FailureReason::LostLocation => "a queued change had no operation to follow",
            FailureReason::UnusableLocation => {
                "Graph accepted it, but the operation Location it gave is not one graphgate can follow"
            }
            FailureReason::UnusableOperationList => {
                "Graph's list of the device's operations continued outside the Graph origin, so graphgate could not tell whether Graph started it"
            }
            FailureReason::GraphUnavailable => {
                "Graph stayed throttled or unreachable until the deadline"
            }
            FailureReason::GraphTimeout => "Graph did not answer before the deadline",
            FailureReason::BadLocation => "Graph accepted the action, but its Location is unusable",
            FailureReason::GraphUnreachable => {
                "graphgate could not talk to Graph, or could not read its answer"
            }
            FailureReason::GraphSignInRefused => {
                "the token endpoint refused graphgate's credentials"
            }
            FailureReason::GraphApiRetired => {
                "Graph no longer serves the action's API (see the retirement)"
            }
            FailureReason::TicketWithdrawn => {
                "its ticket stopped letting it go ahead (no longer approved, cancelled or closed) before it reached Graph: a scheduled change when its window opened, a fleet's devices not yet sent (see Ticket systems)"
            }
        }
    }

    /// The reason a stored code names, if it is one of graphgate's.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_is_stored_as_its_code() {
        for reason in FailureReason::ALL {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, serde_json::Value::from(reason.as_str()));
            assert_eq!(FailureReason::parse(reason.as_str()), Some(reason));
            assert!(!reason.meaning().is_empty());
        }
        assert_eq!(FailureReason::parse("DeviceOffline"), None);
    }
}
