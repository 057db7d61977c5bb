//! A Teams device as the simulator knows it: its type, health and software versions, and an
//! installed update on its way to showing in the device's health.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::change::SoftwareType;

/// What the simulator knows about one device.
#[derive(Debug, Clone)]
pub(super) struct SimDevice {
    pub(super) device_type: String,
    pub(super) health_status: String,
    pub(super) software: BTreeMap<SoftwareType, Versions>,
    /// A version an update installed, and how many more health reads pass before it shows.
    pub(super) installing: Option<(SoftwareType, String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Versions {
    pub current_version: String,
    pub available_version: String,
}

/// A device to seed, as `PUT /_simulator/devices` takes it; what is left out is as for a
/// device that was never seeded.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedDevice {
    pub id: String,
    #[serde(default)]
    pub device_type: Option<String>,
    #[serde(default)]
    pub health_status: Option<String>,
    #[serde(default)]
    pub software: BTreeMap<SoftwareType, Versions>,
}

impl SimDevice {
    /// A Teams Room one Teams client update behind, with current firmware.
    pub(super) fn standard() -> Self {
        let versions = |current: &str, available: &str| Versions {
            current_version: current.into(),
            available_version: available.into(),
        };
        SimDevice {
            device_type: "teamsRoom".into(),
            health_status: "healthy".into(),
            software: BTreeMap::from([
                (
                    SoftwareType::TeamsClient,
                    versions("1.0.96.20", "1.0.96.22"),
                ),
                (SoftwareType::Firmware, versions("8.1.2", "8.1.2")),
            ]),
            installing: None,
        }
    }

    pub(super) fn seeded(seed: SeedDevice) -> Self {
        let mut device = SimDevice::standard();
        if let Some(t) = seed.device_type {
            device.device_type = t;
        }
        if let Some(h) = seed.health_status {
            device.health_status = h;
        }
        device.software.extend(seed.software);
        device
    }

    pub(super) fn listed(&self, id: &str) -> Value {
        json!({
            "id": id,
            "deviceType": self.device_type,
            "healthStatus": self.health_status,
            "activityState": "idle",
            "companyAssetTag": null,
            "hardwareDetail": {"manufacturer": "Simulated", "model": format!("{} 1", self.device_type)},
            "createdDateTime": "2026-01-05T09:00:00Z",
        })
    }

    /// The device's health, as a read shows it; the read moves a pending install on.
    pub(super) fn read_health(&mut self, id: &str) -> Value {
        match self.installing.take() {
            Some((kind, version, 0)) => {
                if let Some(v) = self.software.get_mut(&kind) {
                    v.current_version = version;
                } else {
                    self.software.insert(
                        kind,
                        Versions {
                            current_version: version.clone(),
                            available_version: version,
                        },
                    );
                }
            }
            Some((kind, version, reads)) => self.installing = Some((kind, version, reads - 1)),
            None => {}
        }
        let statuses: serde_json::Map<String, Value> = self
            .software
            .iter()
            .map(|(kind, v)| {
                let name = serde_json::to_value(kind)
                    .ok()
                    .and_then(|n| n.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let freshness = if v.current_version == v.available_version {
                    "latest"
                } else {
                    "updateAvailable"
                };
                (
                    format!("{name}SoftwareUpdateStatus"),
                    json!({
                        "currentVersion": v.current_version,
                        "availableVersion": v.available_version,
                        "softwareFreshness": freshness,
                    }),
                )
            })
            .collect();
        json!({
            "id": id,
            "connection": {"connectionStatus": "connected"},
            "softwareUpdateHealth": statuses,
        })
    }
}
