//! Where change records live. Every implementation passes the one conformance suite in
//! `tests/api/store.rs`.

mod dynamodb;
mod sqlite;

pub use dynamodb::{DUE_INDEX, DynamoStore};
pub use sqlite::SqliteStore;

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::change::{ChangeId, ChangeRecord};
use crate::config::StoreSettings;

/// Opens the store the settings name.
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match settings {
        StoreSettings::Sqlite { path } => Arc::new(SqliteStore::open(path)?),
        StoreSettings::DynamoDb { table, retention } => {
            let client = aws_sdk_dynamodb::Client::new(crate::aws::config().await);
            Arc::new(DynamoStore::new(client, table.clone(), *retention))
        }
    })
}

pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Milliseconds since the epoch: how both stores order `next_poll_at`.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("change {0} already exists")]
    Duplicate(ChangeId),
    /// Somebody else wrote the record since it was read; re-read and decide again.
    #[error("change {id} was changed by someone else (expected version {expected})")]
    Conflict { id: ChangeId, expected: u64 },
    #[error("change {0} does not exist")]
    NotFound(ChangeId),
    #[error("a stored change record does not parse")]
    Corrupt(#[source] serde_json::Error),
    #[error("the store failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a new record; fails with `Duplicate` if its ID is taken.
    async fn insert(&self, record: &ChangeRecord) -> Result<(), StoreError>;

    async fn get(&self, id: &ChangeId) -> Result<Option<ChangeRecord>, StoreError>;

    /// Replaces the stored record with `record` if the stored version is still
    /// `record.version`, and returns what was stored (with the version bumped).
    async fn update(&self, record: &ChangeRecord) -> Result<ChangeRecord, StoreError>;

    /// Up to `limit` records whose `next_poll_at` is at or before `now`, earliest first. Only
    /// pending records are indexed, so this costs in proportion to the due work, not history.
    async fn due(&self, now: OffsetDateTime, limit: usize)
    -> Result<Vec<ChangeRecord>, StoreError>;
}
