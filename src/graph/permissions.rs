//! Which application permission each thing graphgate asks of Graph needs, from the
//! permission tables of Graph's API reference. The preflight check reads a token's `roles`
//! against it, and the simulator enforces it.

use serde::Serialize;

use super::version::ApiFamily;
use crate::change::{Action, ActionKind, AppScope};

/// Something graphgate asks Graph to do, as far as permissions and clouds are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Capability {
    /// `updateSoftware`, `restartDevice` or `runDiagnostics`.
    DeviceAction(ActionKind),
    /// Reading a device's operations, which recovery does after a crash.
    ListOperations,
    /// Listing devices and reading their health: the inventory.
    ReadDevices,
    /// `upgradeApp` in one scope, with or without a `consentedPermissionSet`.
    UpgradeApp { scope: ScopeKind, consent: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScopeKind {
    Team,
    Chat,
    User,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 3] = [ScopeKind::Team, ScopeKind::Chat, ScopeKind::User];

    pub fn of(scope: &AppScope) -> Self {
        match scope {
            AppScope::Team(_) => ScopeKind::Team,
            AppScope::Chat(_) => ScopeKind::Chat,
            AppScope::User(_) => ScopeKind::User,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Team => "team",
            ScopeKind::Chat => "chat",
            ScopeKind::User => "user",
        }
    }
}

/// The application permissions that allow one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The least-privileged permission that allows it for every target: the one to grant.
    pub grant: &'static str,
    /// Every permission that allows it for every target.
    pub sufficient: &'static [&'static str],
    /// Permissions that allow it only for some targets, with which.
    pub limited: &'static [(&'static str, &'static str)],
}

const ONLY_OWN_APP: &str = "only graphgate's own app, not the apps it is asked to upgrade";
const ONLY_SELECTED: &str = "only the apps an admin selected for this registration";

macro_rules! upgrade {
    ($scope:literal) => {
        (
            Requirement {
                grant: concat!("TeamsAppInstallation.ReadWriteFor", $scope, ".All"),
                sufficient: &[
                    concat!("TeamsAppInstallation.ReadWriteFor", $scope, ".All"),
                    concat!(
                        "TeamsAppInstallation.ReadWriteAndConsentFor",
                        $scope,
                        ".All"
                    ),
                ],
                limited: &[
                    (
                        concat!("TeamsAppInstallation.ReadWriteSelfFor", $scope, ".All"),
                        ONLY_OWN_APP,
                    ),
                    (
                        concat!(
                            "TeamsAppInstallation.ReadWriteAndConsentSelfFor",
                            $scope,
                            ".All"
                        ),
                        ONLY_OWN_APP,
                    ),
                    (
                        concat!("TeamsAppInstallation.ManageSelectedFor", $scope, ".All"),
                        ONLY_SELECTED,
                    ),
                ],
            },
            // The plain permissions cannot consent to resource-specific permissions.
            Requirement {
                grant: concat!(
                    "TeamsAppInstallation.ReadWriteAndConsentFor",
                    $scope,
                    ".All"
                ),
                sufficient: &[concat!(
                    "TeamsAppInstallation.ReadWriteAndConsentFor",
                    $scope,
                    ".All"
                )],
                limited: &[(
                    concat!(
                        "TeamsAppInstallation.ReadWriteAndConsentSelfFor",
                        $scope,
                        ".All"
                    ),
                    ONLY_OWN_APP,
                )],
            },
        )
    };
}

const TEAM: (Requirement, Requirement) = upgrade!("Team");
const CHAT: (Requirement, Requirement) = upgrade!("Chat");
const USER: (Requirement, Requirement) = upgrade!("User");

const DEVICE_WRITE: Requirement = Requirement {
    grant: "TeamworkDevice.ReadWrite.All",
    sufficient: &["TeamworkDevice.ReadWrite.All"],
    limited: &[],
};

/// Listing operations needs only read access, but graphgate cannot act on devices without
/// `ReadWrite`, so that is the one to grant.
const DEVICE_READ: Requirement = Requirement {
    grant: "TeamworkDevice.ReadWrite.All",
    sufficient: &["TeamworkDevice.ReadWrite.All", "TeamworkDevice.Read.All"],
    limited: &[],
};

/// The inventory only reads, so read access is all it asks for.
const DEVICE_INVENTORY: Requirement = Requirement {
    grant: "TeamworkDevice.Read.All",
    sufficient: &["TeamworkDevice.Read.All", "TeamworkDevice.ReadWrite.All"],
    limited: &[],
};

impl Capability {
    /// Every capability, in the order the check reports them.
    pub fn all() -> Vec<Capability> {
        let mut all: Vec<Capability> = ActionKind::ALL
            .into_iter()
            .filter(|k| *k != ActionKind::UpgradeApp)
            .map(Capability::DeviceAction)
            .collect();
        all.push(Capability::ListOperations);
        all.push(Capability::ReadDevices);
        for consent in [false, true] {
            for scope in ScopeKind::ALL {
                all.push(Capability::UpgradeApp { scope, consent });
            }
        }
        all
    }

    /// The family of Graph calls this takes, and so the API version it is on.
    pub fn family(self) -> ApiFamily {
        match self {
            Capability::UpgradeApp { .. } => ApiFamily::App,
            Capability::DeviceAction(_) | Capability::ListOperations | Capability::ReadDevices => {
                ApiFamily::Device
            }
        }
    }

    /// Whether it carries out a change, rather than only reading.
    pub fn changes_something(self) -> bool {
        !matches!(self, Capability::ListOperations | Capability::ReadDevices)
    }

    pub fn of(action: &Action) -> Self {
        match action {
            Action::UpgradeApp {
                scope,
                consented_permission_set,
                ..
            } => Capability::UpgradeApp {
                scope: ScopeKind::of(scope),
                consent: consented_permission_set.is_some(),
            },
            other => Capability::DeviceAction(other.kind()),
        }
    }

    pub fn requirement(self) -> Requirement {
        match self {
            Capability::DeviceAction(_) => DEVICE_WRITE,
            Capability::ListOperations => DEVICE_READ,
            Capability::ReadDevices => DEVICE_INVENTORY,
            Capability::UpgradeApp { scope, consent } => {
                let (plain, with_consent) = match scope {
                    ScopeKind::Team => TEAM,
                    ScopeKind::Chat => CHAT,
                    ScopeKind::User => USER,
                };
                if consent { with_consent } else { plain }
            }
        }
    }

    /// How the check names it: `restartDevice`, `upgradeApp (chat, with consent)`.
    pub fn label(self) -> String {
        match self {
            Capability::DeviceAction(kind) => kind.as_str().to_owned(),
            Capability::ListOperations => "listOperations (recovery)".to_owned(),
            Capability::ReadDevices => "readDevices (inventory)".to_owned(),
            Capability::UpgradeApp { scope, consent } => format!(
                "upgradeApp ({}{})",
                scope.as_str(),
                if consent { ", with consent" } else { "" }
            ),
        }
    }
}

/// Whether graphgate can do one thing: judged from a token's `roles`, or known otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum Verdict {
    Permitted {
        by: String,
    },
    Limited {
        by: String,
        limit: String,
        grant: String,
    },
    Missing {
        grant: String,
    },
    /// The token's permissions could not be read; this is the permission it needs.
    Unknown {
        grant: String,
    },
    /// Graph does not offer it in the configured cloud.
    NotInCloud,
    /// Graph no longer serves the API it needs.
    Retired,
}

impl Verdict {
    /// Whether it can be done, at least for some targets.
    pub fn usable(&self) -> bool {
        matches!(self, Verdict::Permitted { .. } | Verdict::Limited { .. })
    }
}

impl Requirement {
    pub fn judge(&self, roles: &[String]) -> Verdict {
        let held = |p: &str| roles.iter().any(|r| r == p);
        if let Some(by) = self.sufficient.iter().find(|p| held(p)) {
            return Verdict::Permitted { by: (*by).into() };
        }
        if let Some((by, limit)) = self.limited.iter().find(|(p, _)| held(p)) {
            return Verdict::Limited {
                by: (*by).into(),
                limit: (*limit).into(),
                grant: self.grant.into(),
            };
        }
        Verdict::Missing {
            grant: self.grant.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_capability_asks_for_its_least_privileged_permission() {
        let grants: Vec<(String, &str)> = Capability::all()
            .into_iter()
            .map(|c| (c.label(), c.requirement().grant))
            .collect();
        let expected = [
            ("updateSoftware", "TeamworkDevice.ReadWrite.All"),
            ("restartDevice", "TeamworkDevice.ReadWrite.All"),
            ("runDiagnostics", "TeamworkDevice.ReadWrite.All"),
            ("listOperations (recovery)", "TeamworkDevice.ReadWrite.All"),
            ("readDevices (inventory)", "TeamworkDevice.Read.All"),
            (
                "upgradeApp (team)",
                "TeamsAppInstallation.ReadWriteForTeam.All",
            ),
            (
                "upgradeApp (chat)",
                "TeamsAppInstallation.ReadWriteForChat.All",
            ),
            (
                "upgradeApp (user)",
                "TeamsAppInstallation.ReadWriteForUser.All",
            ),
            (
                "upgradeApp (team, with consent)",
                "TeamsAppInstallation.ReadWriteAndConsentForTeam.All",
            ),
            (
                "upgradeApp (chat, with consent)",
                "TeamsAppInstallation.ReadWriteAndConsentForChat.All",
            ),
            (
                "upgradeApp (user, with consent)",
                "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
            ),
        ];
        let expected: Vec<(String, &str)> =
            expected.iter().map(|(l, g)| (l.to_string(), *g)).collect();
        assert_eq!(grants, expected);
    }

    #[test]
    fn a_self_permission_is_limited_and_consent_needs_its_own_permission() {
        let team = Capability::UpgradeApp {
            scope: ScopeKind::Team,
            consent: false,
        };
        let with_consent = Capability::UpgradeApp {
            scope: ScopeKind::Team,
            consent: true,
        };
        let plain = roles(&["TeamsAppInstallation.ReadWriteForTeam.All"]);
        assert!(matches!(
            team.requirement().judge(&plain),
            Verdict::Permitted { .. }
        ));
        assert_eq!(
            with_consent.requirement().judge(&plain),
            Verdict::Missing {
                grant: "TeamsAppInstallation.ReadWriteAndConsentForTeam.All".into()
            }
        );
        let own = roles(&["TeamsAppInstallation.ReadWriteSelfForTeam.All"]);
        assert!(matches!(
            team.requirement().judge(&own),
            Verdict::Limited { limit, .. } if limit == ONLY_OWN_APP
        ));
        let read_only = roles(&["TeamworkDevice.Read.All"]);
        assert!(matches!(
            Capability::ListOperations.requirement().judge(&read_only),
            Verdict::Permitted { .. }
        ));
        assert!(matches!(
            Capability::DeviceAction(ActionKind::RestartDevice)
                .requirement()
                .judge(&read_only),
            Verdict::Missing { .. }
        ));
    }
}
