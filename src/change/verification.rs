//! Whether a change that succeeded in Graph shows on its target: the device reports the
//! version an update asked for, or the app installation runs a new definition. Graph's
//! operation says the update was carried out; only the device's own report says it took.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::action::Action;
use super::inventory::SoftwareHealth;
use super::outcome::AppDefinition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VerificationState {
    /// Not shown yet; looked at again until the verification timeout.
    Pending,
    /// The target reports what the change asked for.
    Verified,
    /// The verification timeout passed, and the target still does not.
    Mismatch,
}

/// A change's verification as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub state: VerificationState,
    /// The version the target reported at the last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_version: Option<String>,
    /// Why the target could not show it, when Graph refused to show the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the target was last looked at, successfully.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub checked_at: Option<OffsetDateTime>,
    /// Past this, a target that does not show the change is a mismatch.
    #[serde(with = "time::serde::rfc3339")]
    pub(super) until: OffsetDateTime,
    /// Looks so far; spaces them out.
    #[serde(default)]
    pub(super) checks: u32,
}

/// What a look at the target found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The device's software health.
    Software(SoftwareHealth),
    /// The definition the app installation runs.
    App(AppDefinition),
    /// Graph would not say just now.
    Unreadable,
    /// Graph refused to show the target (404, 403, a retired API): it never will, so the
    /// verification ends, unverified, with Graph's words.
    Refused(String),
}

impl Verification {
    pub(super) fn pending(until: OffsetDateTime) -> Self {
        Verification {
            state: VerificationState::Pending,
            reported_version: None,
            reason: None,
            checked_at: None,
            until,
            checks: 0,
        }
    }

    /// Takes a look at the target, for `action`, made at `now`. `before` is what an app
    /// installation ran before its upgrade.
    pub(super) fn read(
        &self,
        action: &Action,
        before: Option<&AppDefinition>,
        reading: &Reading,
        now: OffsetDateTime,
    ) -> Self {
        let mut next = self.clone();
        next.checks += 1;
        let shown = match (action, reading) {
            (
                Action::UpdateSoftware {
                    software_type,
                    software_version,
                    ..
                },
                Reading::Software(health),
            ) => {
                let reported = health
                    .get(*software_type)
                    .and_then(|s| s.current_version.clone());
                let shown = reported.as_deref() == Some(software_version.as_ref());
                next.reported_version = reported;
                next.checked_at = Some(now);
                shown
            }
            (Action::UpgradeApp { .. }, Reading::App(definition)) => {
                next.reported_version = definition.version.clone();
                next.checked_at = Some(now);
                before.is_some_and(|b| b != definition)
            }
            (_, Reading::Refused(why)) => {
                next.reason = Some(why.clone());
                next.state = VerificationState::Mismatch;
                return next;
            }
            _ => false,
        };
        next.state = if shown {
            VerificationState::Verified
        } else if now >= self.until {
            VerificationState::Mismatch
        } else {
            VerificationState::Pending
        };
        next
    }

    pub fn is_pending(&self) -> bool {
        self.state == VerificationState::Pending
    }

    pub(super) fn checks(&self) -> u32 {
        self.checks
    }
}
