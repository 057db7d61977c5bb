//! The national clouds Graph runs in: where each has Graph and its sign-in, and what Graph
//! offers applications there.

use super::permissions::{Capability, ScopeKind};

/// The national clouds Graph runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    Dod,
    China,
}

impl Cloud {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "global" => Some(Cloud::Global),
            "usgov" => Some(Cloud::UsGov),
            "dod" => Some(Cloud::Dod),
            "china" => Some(Cloud::China),
            _ => None,
        }
    }

    pub fn graph_origin(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::Dod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// Whether Graph offers `capability`, in app-only context, in this cloud. From each action's
    /// "national cloud deployments" table and Microsoft's "Teams API implementation
    /// differences in national clouds" (checked 2026-11):
    /// - the device actions: every cloud;
    /// - upgrading a user's app: not in application context in GCC High (`usgov`) and DoD;
    /// - app installations in China: the team and user pages say not offered, and the
    ///   national-cloud page says app-installation APIs work in no scope there, although the
    ///   chat page marks China available. graphgate follows the national-cloud page, so that
    ///   no upgrade is sent where Graph documents it as unsupported.
    pub fn offers(self, capability: Capability) -> bool {
        match (self, capability) {
            (
                _,
                Capability::DeviceAction(_) | Capability::ListOperations | Capability::ReadDevices,
            ) => true,
            (Cloud::Global, Capability::UpgradeApp { .. }) => true,
            (Cloud::China, Capability::UpgradeApp { .. }) => false,
            (Cloud::UsGov | Cloud::Dod, Capability::UpgradeApp { scope, .. }) => {
                scope != ScopeKind::User
            }
        }
    }

    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, AppScope, ChatId, DeviceId, InstallationId, TeamId, UserId};

    #[test]
    fn each_cloud_offers_what_microsoft_documents_for_it() {
        let device = Action::RunDiagnostics {
            device_id: DeviceId::parse("d1").unwrap(),
        };
        let upgrade = |scope| Action::UpgradeApp {
            scope,
            installation_id: InstallationId::parse("i1").unwrap(),
            consented_permission_set: None,
        };
        let team = upgrade(AppScope::Team(TeamId::parse("t").unwrap()));
        let chat = upgrade(AppScope::Chat(ChatId::parse("c").unwrap()));
        let user = upgrade(AppScope::User(UserId::parse("u").unwrap()));
        let offered = |cloud: Cloud| {
            [&device, &team, &chat, &user].map(|action| cloud.offers(Capability::of(action)))
        };
        assert_eq!(offered(Cloud::Global), [true, true, true, true]);
        assert_eq!(offered(Cloud::UsGov), [true, true, true, false]);
        assert_eq!(offered(Cloud::Dod), [true, true, true, false]);
        assert_eq!(offered(Cloud::China), [true, false, false, false]);
    }
}
