//! `GET /v1/devices`: the Teams devices Graph lists, with where each one's software stands,
//! narrowed by `deviceType` and `updateAvailable`, and to the caller's own devices when the
//! registry limits it to some.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Map, Value};

use super::extract::{Authenticated, Deadline};
use super::{ApiError, Intake};
use crate::change::{DeviceFilter, FieldError};

pub async fn list(
    State(intake): State<Intake>,
    Authenticated(caller): Authenticated,
    Deadline(deadline): Deadline,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    if !caller.may_read_devices() {
        return Err(ApiError::InventoryForbidden {
            caller: caller.name().to_owned(),
        });
    }
    let filter = filter_of(query.as_deref().unwrap_or_default())?;
    let inventory = intake
        .graph
        .inventory_within(&filter, caller.devices(), deadline)
        .await
        .map_err(|source| ApiError::GraphRead {
            what: "the device inventory",
            source,
        })?;
    Ok(Json(inventory.to_json(&filter)))
}

/// The filter a query string asks for. A parameter given twice, or one that is not a
/// filter, is refused, as is a value that names nothing Graph knows.
fn filter_of(query: &str) -> Result<DeviceFilter, ApiError> {
    let mut fields = Map::new();
    let mut errors = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if fields
            .insert(name.clone().into_owned(), Value::String(value.into_owned()))
            .is_some()
        {
            errors.push(FieldError {
                field: name.into_owned(),
                detail: "given more than once".into(),
            });
        }
    }
    let filter = DeviceFilter::parse(&fields, "");
    if let Err(bad) = &filter {
        errors.extend(bad.iter().cloned());
    }
    match filter {
        Ok(filter) if errors.is_empty() => Ok(filter),
        _ => Err(ApiError::InvalidQuery(errors)),
    }
}
