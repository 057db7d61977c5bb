//! The report of a finished change to its caller's `callbackUrl`, as the record keeps it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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

/// How one callback attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this HTTP status; any 2xx is delivery.
    Answered(u16),
    /// No answer came; why, in words fit for the record (no URL, no secret).
    NoAnswer(String),
}

impl AttemptOutcome {
    pub fn delivered(&self) -> bool {
        matches!(self, AttemptOutcome::Answered(status) if (200..300).contains(status))
    }

    fn recorded(&self) -> String {
        match self {
            AttemptOutcome::Answered(status) => status.to_string(),
            AttemptOutcome::NoAnswer(reason) => reason.clone(),
        }
    }
}

impl CallbackDelivery {
    pub(super) fn pending() -> Self {
        CallbackDelivery {
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
        }
    }

    /// Records an attempt; returns how many have been made.
    pub(super) fn record(&mut self, outcome: &AttemptOutcome, at: OffsetDateTime) -> u32 {
        self.attempts.push(CallbackAttempt {
            at,
            outcome: outcome.recorded(),
        });
        u32::try_from(self.attempts.len()).unwrap_or(u32::MAX)
    }
}
