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
use super::fleet::{FleetDevices, FleetRequest, MAX_DEVICES, Rollout};
use super::ids::{ChatId, DeviceId, IdError, InstallationId, TeamId, UserId};
use super::inventory::DeviceFilter;
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
    /// For a change to many devices: which, and how to roll it out. `action` then names the
    /// first device listed (or, for a filter, a placeholder until the filter is read).
    pub fleet: Option<FleetRequest>,
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

const TARGET_FIELDS: [&str; 11] = [
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
enum Target {
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

/// `deviceIds` or `devices`, and `rollout`: the fleet a device action is for, and the
/// device that stands in for it in `action`. Its errors are noted.
fn fleet(r: &mut Fields<'_>) -> (Option<FleetRequest>, Target) {
    let listed = r.is_present("deviceIds");
    let filtered = r.is_present("devices");
    let ids = r.take("deviceIds").and_then(|value| device_list(r, value));
    let filter = r.take("devices").and_then(|value| match value.as_object() {
        // Every device in the tenant is never the default of a typo.
        Some(fields) if fields.values().all(Value::is_null) => {
            r.error(
                "devices",
                "must name deviceType, updateAvailable, or both; list deviceIds to take devices one by one",
            );
            None
        }
        Some(fields) => DeviceFilter::parse(fields, "devices")
            .map_err(|errors| r.errors.extend(errors))
            .ok(),
        None => {
            r.error(
                "devices",
                "must be an object: {deviceType, updateAvailable}",
            );
            None
        }
    });
    let rollout = r.optional_value("rollout", rollout);
    if !listed && !filtered {
        if r.is_present("rollout") {
            r.error("rollout", "only for a fleet change (deviceIds or devices)");
        }
        return (None, Target::One);
    }
    if listed && filtered {
        r.error("devices", "not allowed together with deviceIds");
        return (None, Target::BadFleet);
    }
    if r.is_present("rollout") && rollout.is_none() {
        return (None, Target::BadFleet);
    }
    let rollout = rollout.unwrap_or_default();
    match (ids, filter) {
        (Some(ids), _) => {
            let first = ids[0].clone();
            let devices = FleetDevices::Ids(ids);
            (
                Some(FleetRequest { devices, rollout }),
                Target::Fleet(first),
            )
        }
        (_, Some(filter)) => {
            let devices = FleetDevices::Filter(filter);
            let placeholder = DeviceId::parse("fleet").expect("a valid ID");
            (
                Some(FleetRequest { devices, rollout }),
                Target::Fleet(placeholder),
            )
        }
        _ => (None, Target::BadFleet),
    }
}

/// `deviceIds`: 1 to [`MAX_DEVICES`] device IDs, none twice.
fn device_list(r: &mut Fields<'_>, value: &Value) -> Option<Vec<DeviceId>> {
    let Some(items) = value.as_array() else {
        r.error("deviceIds", "must be an array of device IDs");
        return None;
    };
    if items.is_empty() || items.len() > MAX_DEVICES {
        r.error(
            "deviceIds",
            &format!(
                "must list 1 to {MAX_DEVICES} devices; split a larger fleet into several changes"
            ),
        );
        return None;
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut seen = BTreeSet::new();
    let mut bad = false;
    for (i, item) in items.iter().enumerate() {
        let field = format!("deviceIds[{i}]");
        match item.as_str().map(|s| DeviceId::parse(s.to_owned())) {
            Some(Ok(id)) if seen.insert(id.as_ref().to_owned()) => ids.push(id),
            Some(Ok(_)) => {
                r.error(&field, "listed twice");
                bad = true;
            }
            Some(Err(e)) => {
                r.error(&field, &e.to_string());
                bad = true;
            }
            None => {
                r.error(&field, "must be a string");
                bad = true;
            }
        }
    }
    (!bad).then_some(ids)
}

fn rollout(f: &mut Fields<'_>) -> Option<Rollout> {
    let defaults = Rollout::default();
    let max_concurrent = f.optional_count("maxConcurrent", 1, Rollout::MAX_CONCURRENT);
    let per_minute = f.optional_count("perMinute", 1, Rollout::MAX_PER_MINUTE);
    let stop_after_failures = f.optional_count("stopAfterFailures", 1, MAX_DEVICES as u32);
    let stop_after_percent = f.optional_count("stopAfterPercent", 1, 100);
    let child_callbacks = f.optional_bool("childCallbacks");
    f.reject_unseen(None);
    let ok = |name: &str, parsed: bool| !f.is_present(name) || parsed;
    if !(ok("maxConcurrent", max_concurrent.is_some())
        && ok("perMinute", per_minute.is_some())
        && ok("stopAfterFailures", stop_after_failures.is_some())
        && ok("stopAfterPercent", stop_after_percent.is_some())
        && ok("childCallbacks", child_callbacks.is_some()))
    {
        return None;
    }
    Some(Rollout {
        max_concurrent: max_concurrent.unwrap_or(defaults.max_concurrent),
        per_minute: per_minute.unwrap_or(defaults.per_minute),
        stop_after_failures,
        stop_after_percent,
        child_callbacks: child_callbacks.unwrap_or(false),
    })
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

    /// A whole number from `min` to `max`.
    fn optional_count(&mut self, name: &str, min: u32, max: u32) -> Option<u32> {
        let value = self.take(name)?;
        match value
            .as_u64()
            .filter(|n| (u64::from(min)..=u64::from(max)).contains(n))
        {
            Some(n) => Some(n as u32),
            None => {
                self.error(name, &format!("must be a whole number from {min} to {max}"));
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
    fn a_fleet_is_a_list_or_a_filter_with_a_rollout() {
        let listed = parse(json!({"action":"updateSoftware","deviceIds":["r1","r2"],
            "softwareType":"teamsClient","softwareVersion":"1.0.96.22",
            "rollout":{"maxConcurrent":5,"perMinute":20,"stopAfterFailures":3}}))
        .unwrap();
        let fleet = listed.fleet.unwrap();
        assert_eq!(
            fleet.devices,
            FleetDevices::Ids(vec![
                DeviceId::parse("r1").unwrap(),
                DeviceId::parse("r2").unwrap()
            ])
        );
        assert_eq!(fleet.rollout.max_concurrent, 5);
        assert_eq!(fleet.rollout.stop_after_failures, Some(3));
        assert_eq!(listed.action.device_id().unwrap().as_ref(), "r1");

        let filtered = parse(json!({"action":"restartDevice",
            "devices":{"deviceType":"teamsRoom","updateAvailable":"teamsClient"}}))
        .unwrap();
        let fleet = filtered.fleet.unwrap();
        assert!(matches!(fleet.devices, FleetDevices::Filter(_)));
        assert_eq!(fleet.rollout, Rollout::default());
        assert!(
            parse(json!({"action":"restartDevice","deviceId":"d1"}))
                .unwrap()
                .fleet
                .is_none()
        );
    }

    #[test]
    fn a_bad_fleet_names_each_problem() {
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceIds":["a","a/b","a",3]})),
            ["deviceIds[1]", "deviceIds[2]", "deviceIds[3]"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceIds":[]})),
            ["deviceIds"]
        );
        let many: Vec<String> = (0..501).map(|i| format!("d{i}")).collect();
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceIds":many})),
            ["deviceIds"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceIds":["a"],"deviceId":"b"})),
            ["deviceId"]
        );
        assert_eq!(
            fields(
                json!({"action":"restartDevice","deviceIds":["a"],"devices":{"deviceType":"sip"}})
            ),
            ["devices"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","devices":{"deviceType":"toaster"}})),
            ["devices.deviceType"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","devices":{}})),
            ["devices"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceId":"a","rollout":{"maxConcurrent":2}})),
            ["rollout"]
        );
        assert_eq!(
            fields(json!({"action":"restartDevice","deviceIds":["a"],
                "rollout":{"maxConcurrent":0,"perMinute":1.5,"stopAfterPercent":101,"pace":1}})),
            [
                "rollout.maxConcurrent",
                "rollout.perMinute",
                "rollout.stopAfterPercent",
                "rollout.pace"
            ]
        );
        let errors = parse(
            json!({"action":"upgradeApp","teamId":"t","installationId":"i",
            "deviceIds":["a"]}),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "deviceIds");
        assert_eq!(errors[0].detail, "not allowed for action upgradeApp");
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
