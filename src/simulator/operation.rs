//! An operation a device action started, and how each poll moves it on.

use time::OffsetDateTime;

use crate::change::SoftwareType;

/// What Graph keeps of an operation on a device.
pub(super) struct Operation {
    pub(super) device_id: String,
    pub(super) operation_type: &'static str,
    /// What a software update installs.
    pub(super) update: Option<(SoftwareType, String)>,
    pub(super) created: OffsetDateTime,
    pub(super) polls: u32,
}

/// The poll at which an operation reports its final status.
pub(super) const FINAL_POLL: u32 = 3;

impl Operation {
    /// Each poll moves the operation on: queued, then InProgress, then succeeded (or, on a
    /// `failing…` device, failed).
    pub(super) fn status(&self) -> &'static str {
        match self.polls {
            0 | 1 => "queued",
            2 => "InProgress",
            _ if self.device_id.starts_with("failing") => "failed",
            _ => "succeeded",
        }
    }

    pub(super) fn is_final(&self) -> bool {
        self.polls >= FINAL_POLL
    }
}
