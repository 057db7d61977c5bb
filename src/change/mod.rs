//! The domain: what a change asks for, what Graph made of it, and every way its life may move
//! on. No I/O, and no clock: time comes in as `now`.

mod action;
mod callback_url;
mod command;
mod delivery;
mod device_scope;
mod failure_reason;
mod field_error;
mod fleet;
mod idempotency;
mod ids;
mod inventory;
mod outcome;
mod record;
mod request;
mod rollout;
mod schedule;
mod status;
mod text;
mod verification;
mod view;
mod window;

pub use action::{
    Action, ActionKind, AppScope, ConsentedPermissionSet, DeviceAction, PermissionType,
    ResourceSpecificPermission, SoftwareType, SoftwareVersion,
};
pub use callback_url::{BadCallbackUrl, CallbackUrl, WrittenUrl};
pub use command::{Command, CommandError, USAGE};
pub use delivery::{
    AttemptOutcome, CallbackAttempt, CallbackDelivery, ChatReply, ChatTool, DeliveryStatus,
};
pub use device_scope::{DeviceScope, DeviceScopeError};
pub use failure_reason::FailureReason;
pub use field_error::FieldError;
pub use fleet::{Child, Fleet, Stop};
pub use idempotency::{IdempotencyKey, KeptAnswer, KeyedDelivery};
pub use ids::{
    ChangeId, ChatId, DeviceId, IdError, InstallationId, OperationId, TeamId, TenantId, UserId,
};
pub use inventory::{
    DEVICE_TYPES, Device, DeviceFilter, Inventory, Judged, SoftwareHealth, SoftwareStatus, Unjudged,
};
pub use outcome::{
    ActionOutcome, AppDefinition, DeviceOperation, GraphFailure, OperationReport, OperationStatus,
    OperationTimes,
};
pub use record::{ChangeRecord, InvalidTransition};
pub use request::{ChangeRequest, Requested};
pub use rollout::{FleetDevices, FleetRequest, MAX_DEVICES, Rollout};
pub use schedule::{Due, Pacing};
pub use status::Status;
pub use verification::{Reading, Verification, VerificationState};
pub use view::ChangeView;
pub use window::{DailyWindow, Opening, Schedule, ScheduleError, TimeOfDay};
