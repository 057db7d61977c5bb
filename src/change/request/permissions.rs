//! An app upgrade's `consentedPermissionSet`, checked permission by permission.

use super::fields::Fields;
use super::text;
use crate::change::action::{ConsentedPermissionSet, PermissionType, ResourceSpecificPermission};
use crate::change::field_error::FieldError;

/// `consentedPermissionSet`: at least one permission, each with its value and type.
pub(super) fn permission_set(fields: &mut Fields<'_>) -> Option<ConsentedPermissionSet> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::fields;

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
}
