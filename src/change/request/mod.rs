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
use self::fleet::{Devices, devices};
use self::permissions::permission_set;
use super::action::{Action, ActionKind, AppScope, DeviceAction, SoftwareType, SoftwareVersion};
use super::callback_url::CallbackUrl;
use super::field_error::FieldError;
use super::ids::{ChatId, DeviceId, IdError, InstallationId, TeamId, UserId};
use super::rollout::FleetRequest;
use super::window::{DailyWindow, Schedule, TimeOfDay, check_zone, rfc3339};

/// A change request past validation: nothing in it can be invalid. It is for one target, or
/// for a fleet of devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRequest {
    /// One action on its target.
    One(Requested<Action>),
    /// One device action on each device of a fleet, rolled out as asked.
    Fleet(Requested<FleetRequest>),
}

/// What a change request asks: its target (`T`: an [`Action`], or a [`FleetRequest`]), and
/// how the change is to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested<T> {
    pub target: T,
    /// The caller's own name for the change, such as a ticket number.
    pub reference: Option<String>,
    pub requested_by: Option<String>,
    pub callback_url: Option<CallbackUrl>,
    /// Only check the change, and say what would be sent: nothing is recorded or called.
    pub dry_run: bool,
    /// When the change may go to Graph.
    pub schedule: Schedule,
}

impl<T> Requested<T> {
    /// The same request, for `target`.
    pub fn with<U>(self, target: U) -> Requested<U> {
        Requested {
            target,
            reference: self.reference,
            requested_by: self.requested_by,
            callback_url: self.callback_url,
            dry_run: self.dry_run,
            schedule: self.schedule,
        }
    }
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
        let target = match kind {
            Some(ActionKind::UpgradeApp) => upgrade_app(&mut r).map(Parsed::One),
            Some(ActionKind::UpdateSoftware) => device_target(&mut r, update_software),
            Some(ActionKind::RestartDevice) => {
                device_target(&mut r, |_| Some(DeviceAction::RestartDevice))
            }
            Some(ActionKind::RunDiagnostics) => {
                device_target(&mut r, |_| Some(DeviceAction::RunDiagnostics))
            }
            None => {
                // Without a known action the target fields cannot be judged; only strangers are.
                r.mark_seen(&TARGET_FIELDS);
                None
            }
        };
        r.reject_unseen(kind);

        let asked = Requested {
            target: (),
            reference,
            requested_by,
            callback_url,
            dry_run,
            schedule: schedule.unwrap_or_default(),
        };
        match (r.finish(), target) {
            (Ok(()), Some(Parsed::One(action))) => Ok(ChangeRequest::One(asked.with(action))),
            (Ok(()), Some(Parsed::Fleet(fleet))) => Ok(ChangeRequest::Fleet(asked.with(fleet))),
            (Err(errors), _) => Err(errors),
            (Ok(()), None) => unreachable!("a target is only missing when an error says why"),
        }
    }
}

/// A request's target as read, before what else it asks is joined to it.
enum Parsed {
    One(Action),
    Fleet(FleetRequest),
}

/// A device action's target: `deviceId`, or a fleet (which refuses `deviceId`), and what
/// the action takes besides its device, as `action` reads it.
fn device_target(
    r: &mut Fields<'_>,
    action: impl FnOnce(&mut Fields<'_>) -> Option<DeviceAction>,
) -> Option<Parsed> {
    let devices = devices(r);
    let device = match devices {
        Devices::One => r.required("deviceId", id(DeviceId::parse)),
        Devices::Fleet(..) | Devices::BadFleet => {
            if r.is_present("deviceId") {
                r.take("deviceId");
                r.error("deviceId", "not allowed together with deviceIds or devices");
            }
            None
        }
    };
    let action = action(r)?;
    match devices {
        Devices::One => Some(Parsed::One(action.on(device?))),
        Devices::Fleet(devices, rollout) => Some(Parsed::Fleet(FleetRequest {
            action,
            devices,
            rollout,
        })),
        Devices::BadFleet => None,
    }
}

/// `updateSoftware` besides its device: `softwareType` and `softwareVersion`.
fn update_software(r: &mut Fields<'_>) -> Option<DeviceAction> {
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
    Some(DeviceAction::UpdateSoftware {
        software_type: software_type?,
        software_version: software_version?,
    })
}

/// `upgradeApp`'s target: exactly one of `teamId`, `chatId` or `userId`, and the installation.
fn upgrade_app(r: &mut Fields<'_>) -> Option<Action> {
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
        made.map_err(|e| w.error("end", &e.to_string())).ok()
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

    /// A request for one target.
    fn one(v: Value) -> Requested<Action> {
        match parse(v).unwrap() {
            ChangeRequest::One(request) => request,
            other => panic!("not one target: {other:?}"),
        }
    }

    pub(super) fn fields(v: Value) -> Vec<String> {
        parse(v).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn parses_every_action() {
        let update = one(
            json!({"action":"updateSoftware","deviceId":"d1","softwareType":"teamsClient",
            "softwareVersion":"1.0.96.22","reference":"CHG0031234","requestedBy":"alice@contoso.com",
            "callbackUrl":"https://itsm.example.com/hooks/graphgate"}),
        );
        assert_eq!(update.target.kind(), ActionKind::UpdateSoftware);
        assert_eq!(update.reference.as_deref(), Some("CHG0031234"));

        for action in ["restartDevice", "runDiagnostics"] {
            let req = one(json!({"action": action, "deviceId": "d1"}));
            assert_eq!(req.target.device_id().unwrap().as_ref(), "d1");
        }

        let upgrade = one(
            json!({"action":"upgradeApp","chatId":"19:abc@thread.v2","installationId":"aW5zdA==",
            "consentedPermissionSet":{"resourceSpecificPermissions":[
                {"permissionValue":"ChatMessage.Read.Chat","permissionType":"application"}]}}),
        );
        match upgrade.target {
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
        let req = one(json!({"action":"restartDevice","deviceId":"d1","dryRun":true}));
        assert!(req.dry_run);
        let req = one(json!({"action":"restartDevice","deviceId":"d1"}));
        assert!(!req.dry_run);
        let errors =
            parse(json!({"action":"restartDevice","deviceId":"d1","dryRun":"yes"})).unwrap_err();
        assert_eq!(errors[0].field, "dryRun");
        assert_eq!(errors[0].detail, "must be true or false");
    }

    #[test]
    fn a_schedule_is_read_and_checked() {
        let req = one(json!({"action":"restartDevice","deviceId":"d1",
            "notBefore":"2026-11-28T20:00:00Z","notAfter":"2026-11-29T06:00:00+01:00",
            "window":{"start":"22:00","end":"05:00","timeZone":"Europe/Berlin"}}));
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
        let req = one(
            json!({"action":"restartDevice","deviceId":"d1","reference":null,"callbackUrl":null}),
        );
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
