//! The native JSON change request, parsed into domain types.
//!
//! Parsing is done by hand over a JSON object rather than with `#[derive(Deserialize)]`,
//! because serde stops at the first error and a caller fixing a rejected request deserves
//! to hear about every bad field at once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::action::{
    Action, ActionKind, AppScope, ConsentedPermissionSet, PermissionType,
    ResourceSpecificPermission, SoftwareType, SoftwareVersion,
};
use super::ids::{ChatId, DeviceId, IdError, InstallationId, TeamId, UserId};
use super::window::{DailyWindow, Schedule, TimeOfDay, check_zone, rfc3339};

/// A bad field in a request, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

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
}

/// Where to report the outcome: an absolute `http(s)` URL without credentials. Which hosts
/// may be called is decided when the callback is sent, where the deployment is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CallbackUrl(Url);

impl CallbackUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        // The URL parser would silently drop a tab or newline, or trim a space: the URL
        // stored would not be the one the caller sent.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".into());
        }
        let url = Url::parse(raw).map_err(|_| "must be an absolute http(s) URL".to_owned())?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("must be an http(s) URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CallbackUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

const TARGET_FIELDS: [&str; 8] = [
    "deviceId",
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

        let action = match kind {
            Some(kind) => parse_action(&mut r, kind),
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
            }),
            (Err(errors), _) => Err(errors),
            (Ok(()), None) => unreachable!("an action is only missing when an error says why"),
        }
    }
}

fn parse_action(r: &mut Fields<'_>, kind: ActionKind) -> Option<Action> {
    match kind {
        ActionKind::UpdateSoftware => {
            let device_id = r.required("deviceId", id(DeviceId::parse));
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
            device_id: r.required("deviceId", id(DeviceId::parse))?,
        }),
        ActionKind::RunDiagnostics => Some(Action::RunDiagnostics {
            device_id: r.required("deviceId", id(DeviceId::parse))?,
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

fn text(s: &str) -> Result<String, String> {
    if s.len() > MAX_TEXT_LEN {
        return Err(format!("must be at most {MAX_TEXT_LEN} characters"));
    }
    if s.chars().any(super::text::is_unsafe) {
        return Err(super::text::UNSAFE.into());
    }
    Ok(s.to_owned())
}

fn permission_set(fields: &mut Fields<'_>) -> Option<ConsentedPermissionSet> {
    let list = fields.required_array("resourceSpecificPermissions")?;
    if list.is_empty() {
        fields.error(
            "resourceSpecificPermissions",
            "must list at least one permission",
        );
        return None;
    }
    let path = fields.path("resourceSpecificPermissions");
    let mut permissions = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(obj) = item.as_object() else {
            fields.errors.push(FieldError {
                field: item_path,
                detail: "must be an object".into(),
            });
            continue;
        };
        let mut f = Fields::new(obj, &item_path);
        let value = f.required("permissionValue", |s| {
            if s.trim().is_empty() {
                Err("must not be empty".into())
            } else {
                text(s)
            }
        });
        let kind = f.required("permissionType", |s| match s {
            "application" => Ok(PermissionType::Application),
            "delegated" => Ok(PermissionType::Delegated),
            other => Err(format!(
                "unknown permission type {other:?}; expected application or delegated"
            )),
        });
        f.reject_unseen(None);
        fields.errors.extend(f.errors);
        if let (Some(permission_value), Some(permission_type)) = (value, kind) {
            permissions.push(ResourceSpecificPermission {
                permission_value,
                permission_type,
            });
        }
    }
    fields.reject_unseen(None);
    (permissions.len() == list.len()).then_some(ConsentedPermissionSet {
        resource_specific_permissions: permissions,
    })
}

/// Reads fields out of one JSON object, remembering which it read and every error it met.
struct Fields<'a> {
    body: &'a Map<String, Value>,
    prefix: String,
    seen: BTreeSet<&'a str>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(body: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            body,
            prefix: prefix.to_owned(),
            seen: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    fn error(&mut self, name: &str, detail: &str) {
        self.errors.push(FieldError {
            field: self.path(name),
            detail: detail.to_owned(),
        });
    }

    fn is_present(&self, name: &str) -> bool {
        self.body.get(name).is_some_and(|v| !v.is_null())
    }

    fn mark_seen(&mut self, names: &[&str]) {
        for name in names {
            if let Some((k, _)) = self.body.get_key_value(*name) {
                self.seen.insert(k.as_str());
            }
        }
    }

    /// The field's value; `null` counts as absent, as ticketing systems send it for blanks.
    fn take(&mut self, name: &str) -> Option<&'a Value> {
        let (key, value) = self.body.get_key_value(name)?;
        self.seen.insert(key.as_str());
        (!value.is_null()).then_some(value)
    }

    fn string(&mut self, name: &str) -> Option<&'a str> {
        let value = self.take(name)?;
        match value.as_str() {
            Some(s) => Some(s),
            None => {
                self.error(name, "must be a string");
                None
            }
        }
    }

    fn optional_bool(&mut self, name: &str) -> Option<bool> {
        let value = self.take(name)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(name, "must be true or false");
                None
            }
        }
    }

    fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.string(name)?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(detail) => {
                self.error(name, &detail);
                None
            }
        }
    }

    fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if !self.is_present(name) {
            self.take(name);
            self.error(name, "is required");
            return None;
        }
        self.optional(name, parse)
    }

    fn required_array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        match self.take(name) {
            None => {
                self.error(name, "is required");
                None
            }
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.error(name, "must be an array");
                None
            }
        }
    }

    fn optional_value<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&mut Fields<'a>) -> Option<T>,
    ) -> Option<T> {
        let value = self.take(name)?;
        let Some(obj) = value.as_object() else {
            self.error(name, "must be an object");
            return None;
        };
        let mut nested = Fields::new(obj, &self.path(name));
        let parsed = parse(&mut nested);
        self.errors.extend(nested.errors);
        parsed
    }

    /// Every field not read is an error: unknown here, or belonging to another action.
    fn reject_unseen(&mut self, kind: Option<ActionKind>) {
        let unseen: Vec<&str> = self
            .body
            .keys()
            .map(String::as_str)
            .filter(|k| !self.seen.contains(k))
            .collect();
        for name in unseen {
            let detail = match kind {
                Some(kind) if TARGET_FIELDS.contains(&name) => {
                    format!("not allowed for action {kind}")
                }
                _ => "unknown field".to_owned(),
            };
            self.error(name, &detail);
        }
    }

    fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ChangeRequest, Vec<FieldError>> {
        ChangeRequest::parse(v.as_object().unwrap())
    }

    fn fields(v: Value) -> Vec<String> {
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

    #[test]
    fn permission_sets_are_checked_field_by_field() {
        let got = fields(
            json!({"action":"upgradeApp","teamId":"t","installationId":"i",
            "consentedPermissionSet":{"resourceSpecificPermissions":[
                {"permissionValue":"","permissionType":"both","extra":1}, 3], "other": true}}),
        );
        assert_eq!(
            got,
            [
                "consentedPermissionSet.resourceSpecificPermissions[0].permissionValue",
                "consentedPermissionSet.resourceSpecificPermissions[0].permissionType",
                "consentedPermissionSet.resourceSpecificPermissions[0].extra",
                "consentedPermissionSet.resourceSpecificPermissions[1]",
                "consentedPermissionSet.other",
            ]
        );
    }

    #[test]
    fn callback_urls_must_be_plain_http_urls() {
        for bad in [
            "not a url",
            "ftp://x/y",
            "https://user:pw@x/y",
            "https://x/y#frag",
        ] {
            assert!(CallbackUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(CallbackUrl::parse("https://itsm.example.com/hook?x=1").is_ok());
    }
}
