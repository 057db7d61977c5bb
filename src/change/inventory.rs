//! Teams devices as the inventory shows them: their type, health, and where each kind of
//! software stands; and the filter that narrows them, for a listing or a fleet change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::SoftwareType;
use super::field_error::FieldError;
use super::ids::DeviceId;
use super::outcome::GraphFailure;

/// Graph's `teamworkDeviceType` names, less `unknownFutureValue`.
pub const DEVICE_TYPES: [&str; 10] = [
    "unknown",
    "ipPhone",
    "teamsRoom",
    "surfaceHub",
    "collaborationBar",
    "teamsDisplay",
    "touchConsole",
    "lowCostPhone",
    "teamsPanel",
    "sip",
];

/// `text` as one of Graph's device types, or why it is none.
pub fn device_type(text: &str) -> Result<&'static str, String> {
    DEVICE_TYPES
        .into_iter()
        .find(|known| *known == text)
        .ok_or_else(|| {
            format!(
                "unknown device type {text:?}; expected one of {}",
                DEVICE_TYPES.join(", ")
            )
        })
}

/// Whether a device of type `found`, as Graph spelled it, is of type `wanted`.
pub fn same_device_type(wanted: &str, found: &str) -> bool {
    wanted.eq_ignore_ascii_case(found)
}

/// One Teams device, as Graph lists it, with where its software stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: DeviceId,
    /// Graph's `deviceType`, as Graph spelled it: a type added after graphgate was built is
    /// shown, not dropped.
    pub device_type: String,
    pub health_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_asset_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Each software type the device reports, from its `softwareUpdateHealth`; absent when
    /// that could not be read, and `softwareError` says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<SoftwareHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_error: Option<GraphFailure>,
}

/// A device's `softwareUpdateHealth`, by software type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SoftwareHealth(pub BTreeMap<SoftwareType, SoftwareStatus>);

/// Graph's `teamworkSoftwareUpdateStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoftwareStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_version: Option<String>,
    /// `latest`, `updateAvailable` or `unknown`, as Graph spelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_freshness: Option<String>,
}

impl SoftwareStatus {
    /// Whether Graph says a newer version is available. Graph's freshness decides when it
    /// says `latest` or `updateAvailable`; otherwise an available version that is not the
    /// current one does.
    pub fn update_available(&self) -> bool {
        match self.software_freshness.as_deref() {
            Some(f) if f.eq_ignore_ascii_case("latest") => false,
            Some(f) if f.eq_ignore_ascii_case("updateAvailable") => true,
            _ => self
                .available_version
                .as_ref()
                .is_some_and(|available| Some(available) != self.current_version.as_ref()),
        }
    }
}

impl SoftwareHealth {
    /// Reads Graph's `softwareUpdateHealth` object: one `{type}SoftwareUpdateStatus` member
    /// per software type. Members graphgate does not know are left out.
    pub fn from_graph(health: &Map<String, Value>) -> Self {
        let mut software = BTreeMap::new();
        for name in SoftwareType::NAMES {
            let Some(kind) = SoftwareType::parse(name) else {
                continue;
            };
            let member = format!("{name}SoftwareUpdateStatus");
            if let Some(status) = health
                .get(&member)
                .and_then(|v| serde_json::from_value::<SoftwareStatus>(v.clone()).ok())
            {
                software.insert(kind, status);
            }
        }
        Self(software)
    }

    pub fn get(&self, kind: SoftwareType) -> Option<&SoftwareStatus> {
        self.0.get(&kind)
    }
}

/// Which devices a listing or a fleet change takes: of one type, with an update available
/// for one software type, or both. Empty, it takes every device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_available: Option<SoftwareType>,
}

/// Whether a device is one a filter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Taken,
    Left,
    /// The filter asks about software the device's health does not say: it cannot be judged.
    Unknown,
}

impl DeviceFilter {
    pub const FIELDS: [&'static str; 2] = ["deviceType", "updateAvailable"];

    /// Reads a filter from an object of strings, naming every bad member under `prefix`.
    pub fn parse(fields: &Map<String, Value>, prefix: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut filter = DeviceFilter::default();
        let path = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        for (name, value) in fields {
            let error = |detail: String| FieldError {
                field: path(name),
                detail,
            };
            if value.is_null() {
                continue;
            }
            let Some(text) = value.as_str() else {
                errors.push(error("must be a string".into()));
                continue;
            };
            match name.as_str() {
                "deviceType" => match device_type(text) {
                    Ok(known) => filter.device_type = Some(known.to_owned()),
                    Err(why) => errors.push(error(why)),
                },
                "updateAvailable" => match SoftwareType::parse(text) {
                    Some(kind) => filter.update_available = Some(kind),
                    None => errors.push(error(format!(
                        "unknown software type {text:?}; expected one of {}",
                        SoftwareType::NAMES.join(", ")
                    ))),
                },
                _ => errors.push(error(format!(
                    "unknown filter; expected {}",
                    Self::FIELDS.join(" or ")
                ))),
            }
        }
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(errors)
        }
    }

    /// Whether the type alone leaves the device out; health need not be read for it.
    pub fn takes_type(&self, device_type: &str) -> bool {
        self.device_type
            .as_deref()
            .is_none_or(|wanted| same_device_type(wanted, device_type))
    }

    /// Whether the filter needs each device's software health to judge it.
    pub fn needs_health(&self) -> bool {
        self.update_available.is_some()
    }

    pub fn judge(&self, device: &Device) -> Judged {
        if !self.takes_type(&device.device_type) {
            return Judged::Left;
        }
        let Some(kind) = self.update_available else {
            return Judged::Taken;
        };
        match device.software.as_ref().and_then(|s| s.get(kind)) {
            Some(status) if status.update_available() => Judged::Taken,
            Some(_) => Judged::Left,
            None => Judged::Unknown,
        }
    }
}

/// The devices a filter took, and those it could not judge, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub devices: Vec<Device>,
    /// Devices left out because their software health could not be read, or does not name
    /// the software type the filter asks about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unjudged: Vec<Unjudged>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unjudged {
    pub id: DeviceId,
    pub reason: String,
}

impl Inventory {
    /// The inventory as `GET /v1/devices` and `graphgate devices --json` answer it: with the
    /// filter it was read with, and how many devices it took.
    pub fn to_json(&self, filter: &DeviceFilter) -> Value {
        let mut body = serde_json::to_value(self).unwrap_or_default();
        body["count"] = self.devices.len().into();
        body["filter"] = serde_json::to_value(filter).unwrap_or_default();
        body
    }

    /// The inventory as `graphgate devices` prints it: a line per device, then those left
    /// unjudged.
    pub fn to_text(&self) -> String {
        let width = |f: fn(&Device) -> usize| self.devices.iter().map(f).max().unwrap_or(0);
        let id_width = width(|d| d.id.as_ref().len()).max(2);
        let type_width = width(|d| d.device_type.len()).max(4);
        let health_width = width(|d| d.health_status.len()).max(6);
        let mut out = format!(
            "{:id_width$}  {:type_width$}  {:health_width$}  SOFTWARE\n",
            "ID", "TYPE", "HEALTH"
        );
        for d in &self.devices {
            let software = match (&d.software, &d.software_error) {
                (Some(software), _) => software
                    .0
                    .iter()
                    .map(|(kind, status)| {
                        let name = serde_json::to_value(kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let current = status.current_version.as_deref().unwrap_or("?");
                        match &status.available_version {
                            Some(available) if status.update_available() => {
                                format!("{name} {current} -> {available}")
                            }
                            _ => format!("{name} {current}"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                (None, Some(e)) => format!("unreadable: {} {}", e.code, e.message),
                (None, None) => "-".into(),
            };
            out += &format!(
                "{:id_width$}  {:type_width$}  {:health_width$}  {software}\n",
                d.id.as_ref(),
                d.device_type,
                d.health_status
            );
        }
        out += &format!("{} device(s)\n", self.devices.len());
        for u in &self.unjudged {
            out += &format!("left out: {} ({})\n", u.id, u.reason);
        }
        out
    }

    /// Sorts `devices` by `filter`, in the order given.
    pub fn of(devices: Vec<Device>, filter: &DeviceFilter) -> Self {
        let mut inventory = Inventory::default();
        for device in devices {
            match filter.judge(&device) {
                Judged::Taken => inventory.devices.push(device),
                Judged::Left => {}
                Judged::Unknown => inventory.unjudged.push(Unjudged {
                    reason: match &device.software_error {
                        Some(e) => format!("its software health could not be read: {}", e.code),
                        None => "its software health does not report this software type".into(),
                    },
                    id: device.id,
                }),
            }
        }
        inventory
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device(device_type: &str, health: Value) -> Device {
        Device {
            id: DeviceId::parse("d1").unwrap(),
            device_type: device_type.into(),
            health_status: "healthy".into(),
            activity_state: None,
            company_asset_tag: None,
            manufacturer: None,
            model: None,
            software: health
                .as_object()
                .map(SoftwareHealth::from_graph)
                .filter(|_| !health.is_null()),
            software_error: None,
        }
    }

    fn filter(v: Value) -> Result<DeviceFilter, Vec<FieldError>> {
        DeviceFilter::parse(v.as_object().unwrap(), "devices")
    }

    #[test]
    fn software_health_is_read_by_type() {
        let health = json!({
            "teamsClientSoftwareUpdateStatus": {"currentVersion": "1.0.96.20", "availableVersion": "1.0.96.22", "softwareFreshness": "updateAvailable"},
            "firmwareSoftwareUpdateStatus": {"currentVersion": "8.1", "availableVersion": null, "softwareFreshness": "latest"},
            "futureThingSoftwareUpdateStatus": {"currentVersion": "1"},
        });
        let software = SoftwareHealth::from_graph(health.as_object().unwrap());
        assert_eq!(software.0.len(), 2);
        assert!(
            software
                .get(SoftwareType::TeamsClient)
                .unwrap()
                .update_available()
        );
        assert!(
            !software
                .get(SoftwareType::Firmware)
                .unwrap()
                .update_available()
        );
        assert_eq!(
            serde_json::to_value(&software).unwrap()["teamsClient"]["currentVersion"],
            "1.0.96.20"
        );
    }

    #[test]
    fn without_freshness_versions_decide() {
        let status = |current: Option<&str>, available: Option<&str>| SoftwareStatus {
            current_version: current.map(Into::into),
            available_version: available.map(Into::into),
            software_freshness: Some("unknown".into()),
        };
        assert!(status(Some("1"), Some("2")).update_available());
        assert!(!status(Some("2"), Some("2")).update_available());
        assert!(!status(Some("2"), None).update_available());
    }

    #[test]
    fn filters_take_by_type_and_update() {
        let behind =
            json!({"teamsClientSoftwareUpdateStatus": {"softwareFreshness": "updateAvailable"}});
        let current = json!({"teamsClientSoftwareUpdateStatus": {"softwareFreshness": "latest"}});
        let f =
            filter(json!({"deviceType": "teamsRoom", "updateAvailable": "teamsClient"})).unwrap();
        assert_eq!(f.judge(&device("teamsRoom", behind.clone())), Judged::Taken);
        assert_eq!(f.judge(&device("teamsRoom", current)), Judged::Left);
        assert_eq!(f.judge(&device("ipPhone", behind)), Judged::Left);
        assert_eq!(f.judge(&device("teamsRoom", json!({}))), Judged::Unknown);
        assert_eq!(
            DeviceFilter::default().judge(&device("sip", Value::Null)),
            Judged::Taken
        );
    }

    #[test]
    fn bad_filters_name_each_field() {
        let errors =
            filter(json!({"deviceType": "toaster", "updateAvailable": 3, "colour": "red"}))
                .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "devices.colour",
                "devices.deviceType",
                "devices.updateAvailable"
            ]
        );
        assert!(errors[1].detail.contains("teamsRoom"));
    }
}
