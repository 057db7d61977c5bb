//! The faults the simulator applies to its ticket systems: ServiceNow or Jira down, or slow,
//! so graphgate's "ticket system unavailable" can be tried and tested.

use serde::{Deserialize, Serialize};

/// A ticket system the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TicketSystem {
    ServiceNow,
    Jira,
}

/// Faults applied to the next calls to each ticket system (the Graph faults are apart). Set
/// with `PUT /_simulator/tickets/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TicketFaults {
    pub servicenow: SystemFaults,
    pub jira: SystemFaults,
}

/// One ticket system's bad day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SystemFaults {
    /// Answer the next N calls with 503.
    pub unavailable: u32,
    /// Delay every call by this many milliseconds.
    pub latency_ms: u64,
}

impl TicketFaults {
    pub(super) fn of(&mut self, system: TicketSystem) -> &mut SystemFaults {
        match system {
            TicketSystem::ServiceNow => &mut self.servicenow,
            TicketSystem::Jira => &mut self.jira,
        }
    }
}
