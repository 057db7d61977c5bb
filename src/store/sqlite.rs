//! The embedded store for `graphgate serve`: one SQLite file.
//!
//! A record is kept whole as JSON beside the few columns that queries need. `next_poll_at`
//! (the record's due time) is NULL once a change needs nothing more, and the partial index
//! over it holds only the changes still pending, so finding due work does not grow with
//! history.
//!
//! Checkpoints (copying the write-ahead log into the database file, two fsyncs) run on a
//! thread of their own, not in whichever commit fills the log: a request that happened to
//! trigger one waited for the disk, which was most of the p99 of `POST /v1/changes`
//! (BENCHMARKS.md).

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{Store, StoreError, backend, due_ms, unix_ms};
use crate::change::{ChangeId, ChangeRecord, KeyedDelivery, OperationId};

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

/// What a commit survives (`GRAPHGATE_SQLITE_SYNCHRONOUS`). In WAL mode, both survive the
/// process crashing; only `Full` also survives the machine losing power or the OS crashing,
/// at the cost of an fsync per commit (BENCHMARKS.md has the price).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = NORMAL`: a power loss may undo the last commits (never corrupting).
    #[default]
    Normal,
    /// `synchronous = FULL`: a commit is on disk before it returns.
    Full,
}

impl Durability {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "normal" => Some(Durability::Normal),
            "full" => Some(Durability::Full),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "PRAGMA synchronous = NORMAL;",
            Durability::Full => "PRAGMA synchronous = FULL;",
        }
    }
}

impl SqliteStore {
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch(durability.pragma()).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA wal_autocheckpoint = 0;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS changes (
                 id           TEXT PRIMARY KEY,
                 caller       TEXT NOT NULL,
                 status       TEXT NOT NULL,
                 next_poll_at INTEGER,
                 version      INTEGER NOT NULL,
                 record       TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS changes_due ON changes (next_poll_at)
                 WHERE next_poll_at IS NOT NULL;
             CREATE TABLE IF NOT EXISTS operation_owners (
                 operation_id TEXT PRIMARY KEY,
                 change_id    TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS deliveries (
                 slot       TEXT PRIMARY KEY,
                 json       TEXT NOT NULL,
                 expires_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS deliveries_expiry ON deliveries (expires_at);",
        )
        .map_err(backend)?;
        let conn = Arc::new(Mutex::new(conn));
        let checkpoints = Connection::open(path).map_err(backend)?;
        let store = Arc::downgrade(&conn);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_while_open(&checkpoints, &store))
            .map_err(backend)?;
        Ok(Self { conn })
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&conn)
        })
        .await
        .map_err(backend)?
    }
}

/// How often the log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints the log on `conn`, its own connection, until the store is dropped. A passive
/// checkpoint never blocks a writer; one that fails (the disk is full, say) is tried again
/// next time, the log growing meanwhile.
fn checkpoint_while_open(conn: &Connection, store: &Weak<Mutex<Connection>>) {
    while store.strong_count() > 0 {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "could not checkpoint the SQLite log; trying again");
        }
    }
}

struct Row {
    json: String,
    next_poll_at: Option<i64>,
}

fn row(record: &ChangeRecord) -> Row {
    Row {
        json: record.to_json(),
        next_poll_at: due_ms(record),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, record: &ChangeRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.with_conn(move |conn| {
            let row = row(&record);
            let inserted = conn
                .execute(
                    "INSERT INTO changes (id, caller, status, next_poll_at, version, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                    params![
                        record.id().as_ref(),
                        record.caller(),
                        record.status().as_str(),
                        row.next_poll_at,
                        record.version() as i64,
                        row.json
                    ],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::Duplicate(record.id().clone()));
            }
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &ChangeId) -> Result<Option<ChangeRecord>, StoreError> {
        let id = id.clone();
        self.with_conn(move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT record FROM changes WHERE id = ?1",
                    [id.as_ref()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            json.map(|j| ChangeRecord::from_json(&j).map_err(StoreError::Corrupt))
                .transpose()
        })
        .await
    }

    async fn update(&self, record: &ChangeRecord) -> Result<ChangeRecord, StoreError> {
        let stored = record.next_version();
        self.with_conn(move |conn| {
            let row = row(&stored);
            let updated = conn
                .execute(
                    "UPDATE changes SET status = ?1, next_poll_at = ?2, version = ?3, record = ?4
                     WHERE id = ?5 AND version = ?6",
                    params![
                        stored.status().as_str(),
                        row.next_poll_at,
                        stored.version() as i64,
                        row.json,
                        stored.id().as_ref(),
                        (stored.version() - 1) as i64
                    ],
                )
                .map_err(backend)?;
            if updated == 1 {
                return Ok(stored);
            }
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM changes WHERE id = ?1)",
                    [stored.id().as_ref()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let id = stored.id().clone();
            Err(if exists {
                StoreError::Conflict {
                    expected: stored.version() - 1,
                    id,
                }
            } else {
                StoreError::NotFound(id)
            })
        })
        .await
    }

    async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, record FROM changes
                     WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?1
                     ORDER BY next_poll_at LIMIT ?2",
                )
                .map_err(backend)?;
            let rows: Vec<(String, String)> = statement
                .query_map(params![unix_ms(now), limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let mut records = Vec::new();
            for (id, json) in rows {
                match ChangeRecord::from_json(&json) {
                    Ok(record) => records.push(record),
                    Err(e) => {
                        // Taken out of the due set, so bad records cannot crowd out good ones.
                        tracing::error!(change_id = id, error = %e, "a stored change does not parse; no longer sweeping it");
                        conn.execute("UPDATE changes SET next_poll_at = NULL WHERE id = ?1", [&id])
                            .map_err(backend)?;
                    }
                }
            }
            Ok(records)
        })
        .await
    }

    async fn own_operation(
        &self,
        operation: &OperationId,
        change: &ChangeRecord,
    ) -> Result<ChangeId, StoreError> {
        let (operation, change) = (operation.to_string(), change.id().to_string());
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO operation_owners (operation_id, change_id) VALUES (?1, ?2)",
                params![operation, change],
            )
            .map_err(backend)?;
            let owner: String = conn
                .query_row(
                    "SELECT change_id FROM operation_owners WHERE operation_id = ?1",
                    params![operation],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            ChangeId::parse(owner).map_err(backend)
        })
        .await
    }

    async fn keep_delivery(
        &self,
        delivery: &KeyedDelivery,
        now: OffsetDateTime,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        let slot = delivery.slot();
        let json = serde_json::to_string(delivery).map_err(StoreError::Corrupt)?;
        let expires = delivery.expires_at.unix_timestamp();
        let now = now.unix_timestamp();
        self.with_conn(move |conn| {
            // Every expired key goes, not only this one: most keys (chat ids, body digests)
            // are never seen again, and SQLite has no TTL to remove them.
            conn.execute(
                "DELETE FROM deliveries WHERE expires_at <= ?1",
                params![now],
            )
            .map_err(backend)?;
            let kept = conn
                .execute(
                    "INSERT OR IGNORE INTO deliveries (slot, json, expires_at) VALUES (?1, ?2, ?3)",
                    params![slot, json, expires],
                )
                .map_err(backend)?;
            if kept == 1 {
                return Ok(None);
            }
            let held: String = conn
                .query_row(
                    "SELECT json FROM deliveries WHERE slot = ?1",
                    params![slot],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            serde_json::from_str(&held)
                .map(Some)
                .map_err(StoreError::Corrupt)
        })
        .await
    }

    async fn kept_delivery(
        &self,
        delivery: &KeyedDelivery,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        let slot = delivery.slot();
        self.with_conn(move |conn| {
            let held: Option<String> = conn
                .query_row(
                    "SELECT json FROM deliveries WHERE slot = ?1",
                    params![slot],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            held.map(|json| serde_json::from_str(&json).map_err(StoreError::Corrupt))
                .transpose()
        })
        .await
    }

    async fn answer_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        let slot = delivery.slot();
        let json = serde_json::to_string(delivery).map_err(StoreError::Corrupt)?;
        self.with_conn(move |conn| {
            conn.execute(
                "UPDATE deliveries SET json = ?2 WHERE slot = ?1",
                params![slot, json],
            )
            .map(drop)
            .map_err(backend)
        })
        .await
    }

    async fn forget_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        let slot = delivery.slot();
        self.with_conn(move |conn| {
            conn.execute("DELETE FROM deliveries WHERE slot = ?1", params![slot])
                .map(drop)
                .map_err(backend)
        })
        .await
    }
}
