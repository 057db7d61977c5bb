//! The domain: what a change asks for, and what became of it. No I/O lives here.

mod action;
mod ids;
mod record;
mod request;
mod view;

pub use action::{
    Action, ActionKind, AppScope, ConsentedPermissionSet, PermissionType,
    ResourceSpecificPermission, SoftwareType, SoftwareVersion,
};
pub use ids::{
    ChangeId, ChatId, DeviceId, IdError, InstallationId, OperationId, TeamId, TenantId, UserId,
};
pub use record::{
    CallbackAttempt, CallbackDelivery, ChangeRecord, DeliveryStatus, GraphFailure, Status,
};
pub use request::{CallbackUrl, ChangeRequest, FieldError};
pub use view::ChangeView;
