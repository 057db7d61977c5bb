//! Where change records live. Every implementation passes the one conformance suite in
//! `tests/api/store.rs`.

mod due_index;
mod dynamodb;
mod sqlite;

pub use due_index::{DUE_INDEX, DueShards};
pub use dynamodb::DynamoStore;
pub use sqlite::{Durability, SqliteStore};

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::change::{ChangeId, ChangeRecord, KeyedDelivery, OperationId};

/// Where change records are kept: DynamoDB when `GRAPHGATE_TABLE` is set, else SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    Sqlite {
        path: std::path::PathBuf,
        durability: Durability,
    },
    DynamoDb {
        table: String,
        /// How long a finished change stays before the table's TTL removes it.
        retention: std::time::Duration,
        due_shards: DueShards,
    },
}

/// Opens the store the settings name.
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match settings {
        StoreSettings::Sqlite { path, durability } => {
            Arc::new(SqliteStore::open(path, *durability)?)
        }
        StoreSettings::DynamoDb {
            table,
            retention,
            due_shards,
        } => {
            let client = aws_sdk_dynamodb::Client::new(crate::aws::config().await);
            Arc::new(
                DynamoStore::new(client, table.clone(), *retention).with_due_shards(*due_shards),
            )
        }
    })
}

pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Milliseconds since the epoch: how both stores order the time a record is due.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// When `record` is due, as both stores index it.
pub(crate) fn due_ms(record: &ChangeRecord) -> Option<i64> {
    record.due().map(|due| unix_ms(due.at()))
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

/// The contract every store keeps; `tests/api/store.rs` checks each one against it.
///
/// - A record is kept whole. `get` returns exactly what the last successful write stored.
/// - Every write is conditional: `insert` only where the ID is free, `update` only over the
///   version it read. Of concurrent writers of one version, exactly one wins.
/// - Only records with a [`due`](ChangeRecord::due) time are in the due set, so finding due
///   work costs in proportion to the due work, not to the history the store holds.
/// - A stored record that no longer parses is taken out of the due set the first time
///   `due` meets it, and kept for a person to look at: one bad record never crowds out the
///   good ones, and is not met again.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a new record; fails with `Duplicate` if its ID is taken.
    async fn insert(&self, record: &ChangeRecord) -> Result<(), StoreError>;

    async fn get(&self, id: &ChangeId) -> Result<Option<ChangeRecord>, StoreError>;

    /// Replaces the stored record with `record` if the stored version is still
    /// `record.version()`, and returns what was stored (one version later). Fails with
    /// `Conflict` when someone wrote in between, `NotFound` when there is no such record.
    async fn update(&self, record: &ChangeRecord) -> Result<ChangeRecord, StoreError>;

    /// Up to `limit` records due at or before `now`, earliest first. Records that do not
    /// parse are taken out of the due set instead of being returned (see above).
    async fn due(&self, now: OffsetDateTime, limit: usize)
    -> Result<Vec<ChangeRecord>, StoreError>;

    /// Records that Graph operation `operation` belongs to `change`, unless a change holds it
    /// already, and answers the change that holds it. The first claim wins, atomically: a
    /// recovered change never adopts an operation another change started. A claim outlives
    /// the change's own retention.
    async fn own_operation(
        &self,
        operation: &OperationId,
        change: &ChangeRecord,
    ) -> Result<ChangeId, StoreError>;

    /// Keeps `delivery` under its caller and key unless a delivery kept there has not expired
    /// at `now`; answers that delivery, or `None` when `delivery` was kept. Of concurrent
    /// deliveries under one key, exactly one is kept.
    async fn keep_delivery(
        &self,
        delivery: &KeyedDelivery,
        now: OffsetDateTime,
    ) -> Result<Option<KeyedDelivery>, StoreError>;

    /// The delivery kept under `delivery`'s caller and key, expired or not, if any: what a
    /// repeat waiting for the first delivery's answer reads, without writing.
    async fn kept_delivery(
        &self,
        delivery: &KeyedDelivery,
    ) -> Result<Option<KeyedDelivery>, StoreError>;

    /// Stores `delivery`, now answered, over the one kept under its key.
    async fn answer_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError>;

    /// Frees `delivery`'s key: it did nothing, so a repeat may try again.
    async fn forget_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError>;
}
