//! Every error the HTTP API returns, named by what went wrong; what each tells the client is
//! in `catalog.rs`, `graph.rs` and `ticket.rs`.

use crate::callers::Route;
use crate::change::{Action, ActionKind, ChangeId, DeviceId, FieldError, GraphFailure, Status};
use crate::graph::GraphError;
use crate::store::StoreError;
use crate::tickets::GateError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the change request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the query has invalid parameters")]
    InvalidQuery(Vec<FieldError>),
    #[error("the body is not valid JSON")]
    MalformedJson(#[source] serde_json::Error),
    #[error("the body holds an object with a duplicate key")]
    DuplicateKey(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("the delivery key was used for another body")]
    IdempotencyKeyReused { key: String },
    /// The first delivery with this key stopped before it was answered (a dropped
    /// connection, a panic): what Graph did is for the sweeper to find out.
    #[error("the first delivery with this key was interrupted")]
    Interrupted { change_id: ChangeId },
    #[error("the first delivery with this key is in flight")]
    DeliveryInFlight { change_id: Option<ChangeId> },
    #[error("the body could not be read")]
    UnreadableBody,
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the content type must be application/json")]
    UnsupportedMediaType,
    /// No proof that `route` takes, from any registered caller.
    #[error("missing or invalid credentials")]
    Unauthorized(Route),
    #[error("caller {caller} is not allowed to {action}")]
    Forbidden { caller: String, action: ActionKind },
    /// The registry limits the caller to its devices, and `device` (and `others`) are not
    /// among them, or Graph does not know them.
    #[error("caller {caller} may not change device {device}")]
    DeviceForbidden {
        caller: String,
        device: DeviceId,
        others: Vec<DeviceId>,
    },
    #[error("caller {caller} may act on no device, so may not read the inventory")]
    InventoryForbidden { caller: String },
    #[error("Graph did not give {what}")]
    GraphRead {
        what: &'static str,
        #[source]
        source: GraphError,
    },
    #[error("the fleet's filter takes {found} devices")]
    FleetSize { found: usize },
    #[error("Graph does not know {target}")]
    TargetNotFound {
        target: String,
        failure: GraphFailure,
    },
    #[error("Graph does not offer {action} in the {cloud} cloud")]
    NotInCloud {
        action: ActionKind,
        cloud: &'static str,
    },
    #[error("no such change")]
    ChangeNotFound,
    #[error("change {change_id} is {status}: it can no longer be cancelled")]
    NotCancellable { change_id: ChangeId, status: Status },
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("Graph did not carry out the change")]
    Graph {
        change_id: ChangeId,
        action: Box<Action>,
        #[source]
        source: GraphError,
    },
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("the change store is unavailable")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Panic,
}
