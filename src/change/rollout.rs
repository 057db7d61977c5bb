//! What a fleet change asks for: which devices, and how to roll the change out to them.

use serde::{Deserialize, Serialize};

use super::action::DeviceAction;
use super::ids::DeviceId;
use super::inventory::DeviceFilter;

/// The most devices one fleet change may take.
pub const MAX_DEVICES: usize = 500;

/// How a fleet change is rolled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Children sent to Graph and not final yet, at most.
    pub max_concurrent: u32,
    /// Children sent to Graph in any one minute, at most.
    pub per_minute: u32,
    /// Stop sending more once this many children have failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after_failures: Option<u32>,
    /// Stop sending more once this percentage of the fleet has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after_percent: Option<u32>,
    /// Each child reports to the parent's `callbackUrl` too, when it ends; otherwise only the
    /// parent reports, once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child_callbacks: bool,
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            max_concurrent: 10,
            per_minute: 60,
            stop_after_failures: None,
            stop_after_percent: None,
            child_callbacks: false,
        }
    }
}

impl Rollout {
    pub const MAX_CONCURRENT: u32 = 100;
    pub const MAX_PER_MINUTE: u32 = 600;
}

/// Which devices a fleet change names: a list, or a filter of the inventory, resolved to a
/// list when the change is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetDevices {
    Ids(Vec<DeviceId>),
    Filter(DeviceFilter),
}

/// What a fleet change asks for: one device action, taken by each of its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRequest {
    pub action: DeviceAction,
    pub devices: FleetDevices,
    pub rollout: Rollout,
}
