//! Reading the fleet: every Teams device Graph lists, and where each one's software stands.
//! Listing needs only `TeamworkDevice.Read.All`.

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::client::GraphClient;
use super::error::GraphError;
use super::version::ApiFamily;
use crate::change::{
    Device, DeviceFilter, DeviceId, DeviceScope, GraphFailure, Inventory, SoftwareHealth,
};

/// Pages of the device list read before giving up on following `@odata.nextLink`: far more
/// than any tenant's rooms and phones, at Graph's page sizes.
const MAX_DEVICE_PAGES: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphDevice {
    id: String,
    device_type: Option<String>,
    health_status: Option<String>,
    activity_state: Option<String>,
    company_asset_tag: Option<String>,
    hardware_detail: Option<HardwareDetail>,
}

#[derive(Deserialize)]
struct HardwareDetail {
    manufacturer: Option<String>,
    model: Option<String>,
}

impl GraphClient {
    /// Every device Graph lists (`GET /teamwork/devices`, every page), without health.
    pub async fn list_devices(&self, deadline: Instant) -> Result<Vec<Device>, GraphError> {
        let items = self
            .get_pages(
                "listDevices",
                self.base.devices_url(),
                "the device list",
                MAX_DEVICE_PAGES,
                deadline,
            )
            .await?;
        Ok(items.into_iter().filter_map(device).collect())
    }

    /// One device, with its software health (`softwareError` when that could not be read).
    /// Graph's 404 for the device itself comes back as `GraphError::Refused`.
    pub async fn device(&self, id: &DeviceId, deadline: Instant) -> Result<Device, GraphError> {
        let item = self
            .get_json("getDevice", &self.base.device_url(id), "a device", deadline)
            .await?;
        let mut device = device(item).ok_or_else(|| GraphError::Unexpected {
            what: "a device",
            source: <serde_json::Error as serde::de::Error>::custom(
                "not a device graphgate can act on",
            ),
        })?;
        match self
            .get_json(
                "getDeviceHealth",
                &self.base.health_url(id),
                "a device's health",
                deadline,
            )
            .await
        {
            Ok(health) => device.software = Some(software_of(&health)),
            Err(e) => device.software_error = Some(e.failure()),
        }
        Ok(device)
    }

    /// One device's `softwareUpdateHealth`. One attempt: it is a look during verification,
    /// which comes back later anyway.
    pub async fn device_health(
        &self,
        id: &DeviceId,
        deadline: Instant,
    ) -> Result<SoftwareHealth, GraphError> {
        let health = self
            .get_once(
                "getDeviceHealth",
                &self.base.health_url(id),
                "a device's health",
                deadline,
            )
            .await?;
        Ok(software_of(&health))
    }

    /// Each device's `softwareUpdateHealth` (`GET /teamwork/devices/{id}/health`), read in
    /// `$batch`es, in the order given: a device whose health Graph refused or kept
    /// throttling gets that failure.
    pub async fn software_health(
        &self,
        devices: &[DeviceId],
        deadline: Instant,
    ) -> Result<Vec<Result<SoftwareHealth, GraphFailure>>, GraphError> {
        let urls: Vec<_> = devices.iter().map(|d| self.base.health_url(d)).collect();
        let answers = self
            .get_batched("getDeviceHealth", ApiFamily::Device, &urls, deadline)
            .await?;
        Ok(answers
            .into_iter()
            .map(|answer| answer.map(|health| software_of(&health)))
            .collect())
    }

    /// The devices `filter` takes, each with its software health. Health is read only for
    /// devices of the type asked for.
    pub async fn inventory(
        &self,
        filter: &DeviceFilter,
        deadline: Instant,
    ) -> Result<Inventory, GraphError> {
        self.inventory_within(filter, None, deadline).await
    }

    /// The devices `filter` takes among those of `scope` (a caller's own), each with its
    /// software health. Health is read only for devices of the scope and the type asked for,
    /// so no other device is read or named.
    pub async fn inventory_within(
        &self,
        filter: &DeviceFilter,
        scope: Option<&DeviceScope>,
        deadline: Instant,
    ) -> Result<Inventory, GraphError> {
        let mut devices: Vec<Device> = self
            .list_devices(deadline)
            .await?
            .into_iter()
            .filter(|d| {
                filter.takes_type(&d.device_type)
                    && scope.is_none_or(|s| s.matches(&d.id, &d.device_type))
            })
            .collect();
        let ids: Vec<DeviceId> = devices.iter().map(|d| d.id.clone()).collect();
        let health = self.software_health(&ids, deadline).await?;
        for (device, health) in devices.iter_mut().zip(health) {
            match health {
                Ok(software) => device.software = Some(software),
                Err(failure) => device.software_error = Some(failure),
            }
        }
        Ok(Inventory::of(devices, filter))
    }
}

/// A device as Graph lists it; one whose ID graphgate could not act on is left out.
fn device(item: Value) -> Option<Device> {
    let graph: GraphDevice = serde_json::from_value(item)
        .inspect_err(|e| tracing::warn!(error = %e, "skipping a device that does not parse"))
        .ok()?;
    let id = DeviceId::parse(graph.id.clone())
        .inspect_err(
            |e| tracing::warn!(error = %e, "skipping a device whose ID graphgate cannot use"),
        )
        .ok()?;
    let hardware = graph.hardware_detail;
    Some(Device {
        id,
        device_type: graph.device_type.unwrap_or_else(|| "unknown".into()),
        health_status: graph.health_status.unwrap_or_else(|| "unknown".into()),
        activity_state: graph.activity_state,
        company_asset_tag: graph.company_asset_tag,
        manufacturer: hardware.as_ref().and_then(|h| h.manufacturer.clone()),
        model: hardware.and_then(|h| h.model),
        software: None,
        software_error: None,
    })
}

/// The `softwareUpdateHealth` of a `teamworkDeviceHealth`; none reported reads as empty.
fn software_of(health: &Value) -> SoftwareHealth {
    health
        .get("softwareUpdateHealth")
        .and_then(Value::as_object)
        .map(SoftwareHealth::from_graph)
        .unwrap_or_default()
}
