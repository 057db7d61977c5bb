//! The Graph actions graphgate can take, each holding only what it needs.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{ChatId, DeviceId, InstallationId, TeamId, UserId};

/// What a change does, with its target. Built from a request by [`super::ChangeRequest::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    UpdateSoftware {
        device_id: DeviceId,
        software_type: SoftwareType,
        software_version: SoftwareVersion,
    },
    RestartDevice {
        device_id: DeviceId,
    },
    RunDiagnostics {
        device_id: DeviceId,
    },
    UpgradeApp {
        #[serde(flatten)]
        scope: AppScope,
        installation_id: InstallationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consented_permission_set: Option<ConsentedPermissionSet>,
    },
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::UpdateSoftware { .. } => ActionKind::UpdateSoftware,
            Action::RestartDevice { .. } => ActionKind::RestartDevice,
            Action::RunDiagnostics { .. } => ActionKind::RunDiagnostics,
            Action::UpgradeApp { .. } => ActionKind::UpgradeApp,
        }
    }

    /// The same action on another device; an app upgrade stays as it is.
    pub fn on_device(&self, device: DeviceId) -> Action {
        let mut action = self.clone();
        match &mut action {
            Action::UpdateSoftware { device_id, .. }
            | Action::RestartDevice { device_id }
            | Action::RunDiagnostics { device_id } => *device_id = device,
            Action::UpgradeApp { .. } => {}
        }
        action
    }

    /// The device a device action targets; `None` for app upgrades.
    pub fn device_id(&self) -> Option<&DeviceId> {
        match self {
            Action::UpdateSoftware { device_id, .. }
            | Action::RestartDevice { device_id }
            | Action::RunDiagnostics { device_id } => Some(device_id),
            Action::UpgradeApp { .. } => None,
        }
    }
}

/// A device action with its device left open: what each device of a fleet is to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAction {
    UpdateSoftware {
        software_type: SoftwareType,
        software_version: SoftwareVersion,
    },
    RestartDevice,
    RunDiagnostics,
}

impl DeviceAction {
    /// The action on `device_id`.
    pub fn on(&self, device_id: DeviceId) -> Action {
        match self {
            DeviceAction::UpdateSoftware {
                software_type,
                software_version,
            } => Action::UpdateSoftware {
                device_id,
                software_type: *software_type,
                software_version: software_version.clone(),
            },
            DeviceAction::RestartDevice => Action::RestartDevice { device_id },
            DeviceAction::RunDiagnostics => Action::RunDiagnostics { device_id },
        }
    }

    pub fn kind(&self) -> ActionKind {
        match self {
            DeviceAction::UpdateSoftware { .. } => ActionKind::UpdateSoftware,
            DeviceAction::RestartDevice => ActionKind::RestartDevice,
            DeviceAction::RunDiagnostics => ActionKind::RunDiagnostics,
        }
    }
}

/// The name of an action, as callers write it and as `allow` lists name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    UpdateSoftware,
    RestartDevice,
    RunDiagnostics,
    UpgradeApp,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::UpdateSoftware,
        ActionKind::RestartDevice,
        ActionKind::RunDiagnostics,
        ActionKind::UpgradeApp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::UpdateSoftware => "updateSoftware",
            ActionKind::RestartDevice => "restartDevice",
            ActionKind::RunDiagnostics => "runDiagnostics",
            ActionKind::UpgradeApp => "upgradeApp",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the action is taken on a Teams device (rather than on an app installation).
    pub fn on_device(self) -> bool {
        self != ActionKind::UpgradeApp
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `teamworkSoftwareType`, less `unknownFutureValue`, which names no software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SoftwareType {
    AdminAgent,
    OperatingSystem,
    TeamsClient,
    Firmware,
    PartnerAgent,
    CompanyPortal,
}

impl SoftwareType {
    pub const NAMES: [&'static str; 6] = [
        "adminAgent",
        "operatingSystem",
        "teamsClient",
        "firmware",
        "partnerAgent",
        "companyPortal",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

/// A software version as Graph takes it: free text, but never blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SoftwareVersion(String);

impl SoftwareVersion {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: impl Into<String>) -> Result<Self, &'static str> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err("must not be empty");
        }
        if value.len() > Self::MAX_LEN {
            return Err("must be at most 128 characters");
        }
        if value.trim() != value {
            return Err("must not start or end with whitespace");
        }
        if value.chars().any(super::text::is_unsafe) {
            return Err(super::text::UNSAFE);
        }
        Ok(Self(value))
    }
}

impl AsRef<str> for SoftwareVersion {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SoftwareVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Where an app installation lives. Written as the request names it: `teamId`, `chatId` or `userId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppScope {
    #[serde(rename = "teamId")]
    Team(TeamId),
    #[serde(rename = "chatId")]
    Chat(ChatId),
    #[serde(rename = "userId")]
    User(UserId),
}

/// Graph's `teamsAppPermissionSet`, as the upgrade action takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentedPermissionSet {
    pub resource_specific_permissions: Vec<ResourceSpecificPermission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpecificPermission {
    pub permission_value: String,
    pub permission_type: PermissionType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionType {
    Application,
    Delegated,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_types_are_graphs_names() {
        for name in SoftwareType::NAMES {
            let parsed = SoftwareType::parse(name).expect(name);
            assert_eq!(serde_json::to_value(parsed).unwrap(), name);
        }
        assert_eq!(SoftwareType::parse("unknownFutureValue"), None);
        assert_eq!(SoftwareType::parse("TeamsClient"), None);
    }

    #[test]
    fn software_version_is_never_blank() {
        assert!(SoftwareVersion::parse("1.0.96.22").is_ok());
        for bad in ["", "   ", " 1.0", "1.0\n", &"9".repeat(129)] {
            assert!(SoftwareVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn action_names_round_trip() {
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ActionKind::parse("reboot"), None);
    }
}
