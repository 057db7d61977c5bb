//! The native JSON change request, parsed into domain types.
//!
//! Parsing is done by hand over a JSON object rather than with `#[derive(Deserialize)]`,
//! because serde stops at the first error and a caller fixing a rejected request deserves
//! to hear about every bad field at once.

mod fields;
mod fleet;
mod permissions;

use serde_json::{Map, Value};

use self::fields::Fields;
use self::fleet::fleet;
use self::permissions::permission_set;
use super::action::{Action, ActionKind, AppScope, SoftwareType, SoftwareVersion};
use super::callback_url::CallbackUrl;
use super::field_error::FieldError;
use super::ids::{ChatId, DeviceId, IdError, InstallationId, TeamId, UserId};
use super::rollout::FleetRequest;
use super::window::{DailyWindow, Schedule, TimeOfDay, check_zone, rfc3339};

/// A change request past validation: nothing in it can be invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub action: Action,
    /// The caller's own name for the change, such as a ticket number.
    pub reference: Option<String>,
    pub requested_by: Option<String>,
    pub callback_url: Option<CallbackUrl>,
    /// Only check the change, and say what would be sent: nothing is recorded or called.
    pub dry_run: bool,
    /// When the change may go to Graph.
    pub schedule: Schedule,
    /// For a change to many devices: which, and how to roll it out. `action` then names the
    /// first device listed (or, for a filter, a placeholder until the filter is read).
    pub fleet: Option<FleetRequest>,
}

pub(super) const TARGET_FIELDS: [&str; 11] = [
    "deviceId",
    "deviceIds",
    "devices",
    "rollout",
    "softwareType",
    "softwareVersion",
    "teamId",
    "chatId",
    "userId",
    "installationId",
    "consentedPermissionSet",
];
const MAX_TEXT_LEN: usize = 256;

impl ChangeRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = Fields::new(body, "");
        let kind = r.required("action", |s| {
            ActionKind::parse(s).ok_or_else(|| {
                let known: Vec<_> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown action {s:?}; expected one of {}", known.join(", "))
            })
        });
        let reference = r.optional("reference", text);
        let requested_by = r.optional("requestedBy", text);
        let callback_url = r.optional("callbackUrl", CallbackUrl::parse);
        let dry_run = r.optional_bool("dryRun").unwrap_or(false);
        let schedule = schedule(&mut r);

        let (fleet, fleet_device) = match kind {
            Some(kind) if kind.on_device() => fleet(&mut r),
            _ => (None, Target::One),
        };
        let action = match kind {
            Some(kind) => parse_action(&mut r, kind, fleet_device),
            None => {
                // Without a known action the target fields cannot be judged; only strangers are.
                r.mark_seen(&TARGET_FIELDS);
                None
            }
        };
        r.reject_unseen(kind);

        match (r.finish(), action) {
            (Ok(()), Some(action)) => Ok(ChangeRequest {
                action,
                reference,
                requested_by,
                callback_url,
                dry_run,
                schedule: schedule.unwrap_or_default(),
                fleet,
            }),
            (Err(errors), _) => Err(errors),
            (Ok(()), None) => unreachable!("an action is only missing when an error says why"),
        }
    }
}

/// What a device action is for: one device, or a fleet, which names the device standing in
/// for all of them, or was asked for and is bad.
pub(super) enum Target {
    One,
    Fleet(DeviceId),
    BadFleet,
}

/// The device a device action names: `deviceId`, or for a fleet the device standing in for
/// all of them.
fn device(r: &mut Fields<'_>, target: Target) -> Option<DeviceId> {
    let fleet = match target {
        Target::One => return r.required("deviceId", id(DeviceId::parse)),
        Target::Fleet(device) => Some(device),
        Target::BadFleet => None,
    };
    if r.is_present("deviceId") {
        r.take("deviceId");
        r.error("deviceId", "not allowed together with deviceIds or devices");
    }
    fleet
}

fn parse_action(r: &mut Fields<'_>, kind: ActionKind, fleet_device: Target) -> Option<Action> {
    match kind {
        ActionKind::UpdateSoftware => {
            let device_id = device(r, fleet_device);
            let software_type = r.required("softwareType", |s| {
                SoftwareType::parse(s).ok_or_else(|| {
                    format!(
                        "unknown software type {s:?}; expected one of {}",
                        SoftwareType::NAMES.join(", ")
                    )
                })
            });
            let software_version = r.required("softwareVersion", |s| {
                SoftwareVersion::parse(s).map_err(str::to_owned)
            });
            Some(Action::UpdateSoftware {
                device_id: device_id?,
                software_type: software_type?,
                software_version: software_version?,
            })
        }
        ActionKind::RestartDevice => Some(Action::RestartDevice {
            device_id: device(r, fleet_device)?,
        }),
        ActionKind::RunDiagnostics => Some(Action::RunDiagnostics {
            device_id: device(r, fleet_device)?,
        }),
        ActionKind::UpgradeApp => {
            let team = r.optional("teamId", id(TeamId::parse)).map(AppScope::Team);
            let chat = r.optional("chatId", id(ChatId::parse)).map(AppScope::Chat);
            let user = r.optional("userId", id(UserId::parse)).map(AppScope::User);
            let present: Vec<&str> = ["teamId", "chatId", "userId"]
                .into_iter()
                .filter(|f| r.is_present(f))
                .collect();
            match present.len() {
                0 => r.error(
                    "teamId",
                    "upgradeApp needs exactly one of teamId, chatId or userId",
                ),
                1 => {}
                _ => {
                    for f in &present[1..] {
                        r.error(f, &format!("not allowed together with {}", present[0]));
                    }
                }
            }
            let installation_id = r.required("installationId", id(InstallationId::parse));
            let consent = r.optional_value("consentedPermissionSet", permission_set);
            let scope = if present.len() == 1 {
                team.or(chat).or(user)
            } else {
                None
            };
            Some(Action::UpgradeApp {
                scope: scope?,
                installation_id: installation_id?,
                consented_permission_set: consent,
            })
        }
    }
}

/// `notBefore`, `notAfter` and `window`; `None` when one of them is bad.
fn schedule(r: &mut Fields<'_>) -> Option<Schedule> {
    let not_before = r.optional("notBefore", rfc3339);
    let not_after = r.optional("notAfter", rfc3339);
    let window = r.optional_value("window", |w| {
        let start = w.required("start", TimeOfDay::parse);
        let end = w.required("end", TimeOfDay::parse);
        let zone = w.required("timeZone", |z| check_zone(z).map(|()| z.to_owned()));
        w.reject_unseen(None);
        let made = DailyWindow::new(start?, end?, &zone?);
        made.map_err(|detail| w.error("end", &detail)).ok()
    });
    if let (Some(first), Some(last)) = (not_before, not_after)
        && last <= first
    {
        r.error("notAfter", "must be after notBefore");
        return None;
    }
    let bad = |name: &str, parsed: bool| r.is_present(name) && !parsed;
    if bad("notBefore", not_before.is_some())
        || bad("notAfter", not_after.is_some())
        || bad("window", window.is_some())
    {
        return None;
    }
    Some(Schedule {
        not_before,
        not_after,
        window,
    })
}

fn id<T>(parse: fn(String) -> Result<T, IdError>) -> impl Fn(&str) -> Result<T, String> {
    move |s| parse(s.to_owned()).map_err(|e| e.to_string())
}

pub(super) fn text(s: &str) -> Result<String, String> {
    if s.len() > MAX_TEXT_LEN {
        return Err(format!("must be at most {MAX_TEXT_LEN} characters"));
    }
    if s.chars().any(super::text::is_unsafe) {
        return Err(super::text::UNSAFE.into());
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn parse(v: Value) -> Result<ChangeRequest, Vec<FieldError>> {
        ChangeRequest::parse(v.as_object().unwrap())
    }

    pub(super) fn fields(v: Value) -> Vec<String> {
        parse(v).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn parses_every_action() {
        let update = parse(json!({"action":"updateSoftware","deviceId":"d1","softwareType":"teamsClient",
            "softwareVersion":"1.0.96.22","reference":"CHG0031234","requestedBy":"alice@contoso.com",
            "callbackUrl":"https://itsm.example.com/hooks/graphgate"}))
        .unwrap();
        assert_eq!(update.action.kind(), ActionKind::UpdateSoftware);
        assert_eq!(update.reference.as_deref(), Some("CHG0031234"));

        for action in ["restartDevice", "runDiagnostics"] {
            let req = parse(json!({"action": action, "deviceId": "d1"})).unwrap();
            assert_eq!(req.action.device_id().unwrap().as_ref(), "d1");
        }

        let upgrade = parse(
            json!({"action":"upgradeApp","chatId":"19:abc@thread.v2","installationId":"aW5zdA==",
            "consentedPermissionSet":{"resourceSpecificPermissions":[
                {"permissionValue":"ChatMessage.Read.Chat","permissionType":"application"}]}}),
        )
        .unwrap();
        match upgrade.action {
            Action::UpgradeApp {
                scope: AppScope::Chat(chat),
                consented_permission_set: Some(set),
                ..
            } => {
                assert_eq!(chat.as_ref(), "19:abc@thread.v2");
                assert_eq!(set.resource_specific_permissions.len(), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_dry_run_is_asked_for_with_a_boolean() {
        let req = parse(json!({"action":"restartDevice","deviceId":"d1","dryRun":true})).unwrap();
        assert!(req.dry_run);
        let req = parse(json!({"action":"restartDevice","deviceId":"d1"})).unwrap();
        assert!(!req.dry_run);
        let errors =
            parse(json!({"action":"restartDevice","deviceId":"d1","dryRun":"yes"})).unwrap_err();
        assert_eq!(errors[0].field, "dryRun");
        assert_eq!(errors[0].detail, "must be true or false");
    }

    #[test]
    fn a_schedule_is_read_and_checked() {
        let req = parse(json!({"action":"restartDevice","deviceId":"d1",
            "notBefore":"2026-11-28T20:00:00Z","notAfter":"2026-11-29T06:00:00+01:00",
            "window":{"start":"22:00","end":"05:00","timeZone":"Europe/Berlin"}}))
        .unwrap();
        assert!(req.schedule.not_before.is_some() && req.schedule.not_after.is_some());
        assert_eq!(
            req.schedule.window.unwrap().to_string(),
            "22:00-05:00 Europe/Berlin"
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceId":"d1",
                "notBefore":"tomorrow","notAfter":"2026-11-29 06:00",
                "window":{"start":"25:00","end":"05:00","timeZone":"Berlin","colour":1}})),
            [
                "notBefore",
                "notAfter",
                "window.start",
                "window.timeZone",
                "window.colour"
            ]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceId":"d1",
                "notBefore":"2026-11-29T06:00:00Z","notAfter":"2026-11-29T06:00:00Z"})),
            ["notAfter"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceId":"d1",
                "window":{"start":"05:00","end":"05:00","timeZone":"UTC"}})),
            ["window.end"]
        );
    }

    #[test]
    fn null_optional_fields_count_as_absent() {
        let req = parse(
            json!({"action":"restartDevice","deviceId":"d1","reference":null,"callbackUrl":null}),
        )
        .unwrap();
        assert_eq!(req.reference, None);
        assert_eq!(req.callback_url, None);
    }

    #[test]
    fn names_every_bad_field_at_once() {
        let got = fields(
            json!({"action":"updateSoftware","deviceId":"a/b","softwareType":"unknownFutureValue",
            "softwareVersion":"","teamId":"t1","colour":"blue"}),
        );
        assert_eq!(
            got,
            [
                "deviceId",
                "softwareType",
                "softwareVersion",
                "colour",
                "teamId"
            ]
        );
    }

    #[test]
    fn target_fields_of_other_actions_are_refused() {
        let errors = parse(json!({"action":"restartDevice","deviceId":"d1","softwareVersion":"1"}))
            .unwrap_err();
        assert_eq!(errors[0].field, "softwareVersion");
        assert_eq!(errors[0].detail, "not allowed for action restartDevice");
    }

    #[test]
    fn unknown_or_missing_action() {
        let errors = parse(json!({"action":"reboot","deviceId":"d1"})).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].detail.contains("unknown action \"reboot\""));
        assert_eq!(fields(json!({"deviceId":"d1"})), ["action"]);
        assert_eq!(fields(json!({"action":7})), ["action"]);
    }

    #[test]
    fn upgrade_needs_exactly_one_scope() {
        assert_eq!(
            fields(json!({"action":"upgradeApp","installationId":"i"})),
            ["teamId"]
        );
        assert_eq!(
            fields(
                json!({"action":"upgradeApp","teamId":"t","chatId":"c","userId":"u","installationId":"i"})
            ),
            ["chatId", "userId"]
        );
        assert_eq!(
            fields(json!({"action":"upgradeApp","teamId":"t","deviceId":"d"})),
            ["installationId", "deviceId"]
        );
    }
}
