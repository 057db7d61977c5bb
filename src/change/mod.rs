//! The domain: what a change asks for, and what became of it. No I/O lives here.

mod action;
mod ids;
mod record;
mod request;

pub use action::{
    Action, ActionKind, AppScope, ConsentedPermissionSet, PermissionType,
    ResourceSpecificPermission, SoftwareType, SoftwareVersion,
};
pub use ids::{
    ChangeId, ChatId, DeviceId, IdError, InstallationId, OperationId, TeamId, TenantId, UserId,
};
pub use record::{ChangeRecord, GraphFailure, Status};
pub use request::{CallbackUrl, ChangeRequest, FieldError};
