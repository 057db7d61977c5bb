//! The report of a finished change to its caller's `callbackUrl`, or to the chat it came
//! from, as the record keeps it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::callback_url::CallbackUrl;

/// The chat tool a command came from, which the final result goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChatTool {
    Slack,
    Teams,
}

/// Where a chat command's final result goes: the change's `callbackUrl` (Slack's
/// `response_url`) while it is valid, then the caller's configured webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatReply {
    pub tool: ChatTool,
    /// When the `callbackUrl` stops taking messages (Slack: 30 minutes after the command).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub valid_until: Option<OffsetDateTime>,
    /// Where the result goes afterwards: a Slack incoming webhook or a Teams Workflows URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<CallbackUrl>,
}

impl ChatReply {
    /// Where a message sent at `now` goes, given the change's `callbackUrl`: there while it
    /// is valid, then to the fallback, if there is one.
    pub fn target<'a>(
        &'a self,
        callback_url: &'a CallbackUrl,
        now: OffsetDateTime,
    ) -> Option<&'a CallbackUrl> {
        match self.valid_until {
            Some(until) if now >= until => self.fallback.as_ref(),
            _ => Some(callback_url),
        }
    }
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

/// How one callback attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this HTTP status; any 2xx is delivery.
    Answered(u16),
    /// No answer came; why, in words fit for the record (no URL, no secret).
    NoAnswer(String),
    /// There is nowhere to send it, and there never will be (a chat's reply URL expired with
    /// no fallback): recorded once, and the delivery fails without more attempts.
    Undeliverable(String),
}

impl AttemptOutcome {
    pub fn delivered(&self) -> bool {
        matches!(self, AttemptOutcome::Answered(status) if (200..300).contains(status))
    }

    fn recorded(&self) -> String {
        match self {
            AttemptOutcome::Answered(status) => status.to_string(),
            AttemptOutcome::NoAnswer(reason) | AttemptOutcome::Undeliverable(reason) => {
                reason.clone()
            }
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
