//! A fleet change's request: `deviceIds` or `devices`, and `rollout`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::Fields;
use crate::change::ids::DeviceId;
use crate::change::inventory::DeviceFilter;
use crate::change::rollout::{FleetDevices, MAX_DEVICES, Rollout};

/// Which devices a device action is for: the one `deviceId` names, or a fleet, or a fleet
/// asked for badly.
pub(super) enum Devices {
    One,
    Fleet(FleetDevices, Rollout),
    BadFleet,
}

/// `deviceIds` or `devices`, and `rollout`: the devices a device action is for. Its errors
/// are noted.
pub(super) fn devices(r: &mut Fields<'_>) -> Devices {
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
        return Devices::One;
    }
    if listed && filtered {
        r.error("devices", "not allowed together with deviceIds");
        return Devices::BadFleet;
    }
    if r.is_present("rollout") && rollout.is_none() {
        return Devices::BadFleet;
    }
    let rollout = rollout.unwrap_or_default();
    match (ids, filter) {
        (Some(ids), _) => Devices::Fleet(FleetDevices::Ids(ids), rollout),
        (_, Some(filter)) => Devices::Fleet(FleetDevices::Filter(filter), rollout),
        _ => Devices::BadFleet,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{fields, parse};
    use super::*;
    use crate::change::action::ActionKind;
    use crate::change::request::ChangeRequest;
    use crate::change::rollout::FleetRequest;

    /// A request for a fleet.
    fn fleet_of(v: Value) -> FleetRequest {
        match parse(v).unwrap() {
            ChangeRequest::Fleet(request) => request.target,
            other => panic!("not a fleet: {other:?}"),
        }
    }

    #[test]
    fn a_fleet_is_a_list_or_a_filter_with_a_rollout() {
        let fleet = fleet_of(json!({"action":"updateSoftware","deviceIds":["r1","r2"],
            "softwareType":"teamsClient","softwareVersion":"1.0.96.22",
            "rollout":{"maxConcurrent":5,"perMinute":20,"stopAfterFailures":3}}));
        assert_eq!(
            fleet.devices,
            FleetDevices::Ids(vec![
                DeviceId::parse("r1").unwrap(),
                DeviceId::parse("r2").unwrap()
            ])
        );
        assert_eq!(fleet.rollout.max_concurrent, 5);
        assert_eq!(fleet.rollout.stop_after_failures, Some(3));
        assert_eq!(fleet.action.kind(), ActionKind::UpdateSoftware);

        let fleet = fleet_of(json!({"action":"restartDevice",
            "devices":{"deviceType":"teamsRoom","updateAvailable":"teamsClient"}}));
        assert!(matches!(fleet.devices, FleetDevices::Filter(_)));
        assert_eq!(fleet.rollout, Rollout::default());
        assert!(matches!(
            parse(json!({"action":"restartDevice","deviceId":"d1"})),
            Ok(ChangeRequest::One(_))
        ));
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
}
