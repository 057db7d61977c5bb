//! A bad field in a request, as every parser of a request names it.

use serde::Serialize;

/// A bad field in a request, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}
