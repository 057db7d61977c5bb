//! The Store conformance suite: the contract the `Store` trait documents, checked on every
//! implementation. Each scenario runs on a fresh, empty store of each kind.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use graphgate::change::{
    ActionOutcome, ChangeId, ChangeRecord, FailureReason, GraphFailure, IdempotencyKey, KeptAnswer,
    KeyedDelivery, OperationId, Pacing, Status,
};
use graphgate::store::{
    DUE_INDEX, DueShards, Durability, DynamoStore, SqliteStore, Store, StoreError,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::helpers::{Backend, SHARDS, dynamo_client, eventually, fresh_table, submitting};
use crate::least_privilege::{Noted, filing_client};

const RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// A fresh store of one kind, with the one thing the contract needs from each backend that
/// the trait cannot do: write a row that does not parse.
struct Fresh {
    store: Arc<dyn Store>,
    backing: Backing,
}

enum Backing {
    Sqlite(tempfile::TempDir),
    DynamoDb {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

impl Fresh {
    async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let store =
                    SqliteStore::open(&dir.path().join("conformance.db"), Durability::default())
                        .unwrap();
                Fresh {
                    store: Arc::new(store),
                    backing: Backing::Sqlite(dir),
                }
            }
            // Its requests are filed under the method sending them, for the least-privilege
            // check (tests/api/least_privilege.rs).
            Backend::DynamoDb | Backend::ShardedDynamoDb => {
                let client = dynamo_client().await;
                let table = fresh_table(&client).await;
                let mut filed = DynamoStore::new(filing_client().await, table.clone(), RETENTION);
                if matches!(backend, Backend::ShardedDynamoDb) {
                    filed = filed.with_due_shards(DueShards::new(SHARDS).unwrap());
                }
                Fresh {
                    store: Noted::new(Arc::new(filed)),
                    backing: Backing::DynamoDb { client, table },
                }
            }
        }
    }

    /// Stores a row under a new ID, due at `due`, whose record does not parse.
    async fn insert_corrupt(&self, due: OffsetDateTime) -> ChangeId {
        let record = submitting(firmware_update(), due, due);
        self.store.insert(&record).await.unwrap();
        let id = record.id().clone();
        match &self.backing {
            Backing::Sqlite(dir) => {
                rusqlite::Connection::open(dir.path().join("conformance.db"))
                    .unwrap()
                    .execute(
                        "UPDATE changes SET record = '{\"not\": \"a record\"}' WHERE id = ?1",
                        [id.as_ref()],
                    )
                    .unwrap();
            }
            Backing::DynamoDb { client, table } => {
                client
                    .update_item()
                    .table_name(table)
                    .key("id", AttributeValue::S(id.to_string()))
                    .update_expression("SET #record = :bad")
                    .expression_attribute_names("#record", "record")
                    .expression_attribute_values(":bad", AttributeValue::S("{}".into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
        id
    }

    /// Whether the corrupt row is still kept, for a person to look at.
    async fn still_kept(&self, id: &ChangeId) -> bool {
        match &self.backing {
            Backing::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("conformance.db"))
                .unwrap()
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM changes WHERE id = ?1)",
                    [id.as_ref()],
                    |r| r.get(0),
                )
                .unwrap(),
            Backing::DynamoDb { client, table } => client
                .get_item()
                .table_name(table)
                .key("id", AttributeValue::S(id.to_string()))
                .send()
                .await
                .unwrap()
                .item
                .is_some(),
        }
    }
}

fn firmware_update() -> serde_json::Value {
    json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware",
        "softwareVersion": "2.1", "reference": "CHG7"})
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

/// A new change, as the intake stores it, due when its lease ends at `now + lease`.
fn new_record(lease: Duration) -> ChangeRecord {
    let now = now();
    submitting(firmware_update(), now, now + lease)
}

fn queued_at_graph() -> ActionOutcome {
    ActionOutcome::Accepted {
        location: url::Url::parse(
            "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-1",
        )
        .unwrap(),
        request_id: None,
    }
}

async fn round_trips_a_record(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let record = new_record(Duration::seconds(55));
    store.insert(&record).await.unwrap();
    assert_eq!(store.get(record.id()).await.unwrap(), Some(record.clone()));
    assert_eq!(store.get(&ChangeId::new()).await.unwrap(), None);
}

async fn refuses_a_duplicate_insert(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let record = new_record(Duration::seconds(55));
    store.insert(&record).await.unwrap();
    let other = record.claim(now() + Duration::hours(1)).unwrap();
    assert!(
        matches!(store.insert(&other).await, Err(StoreError::Duplicate(id)) if &id == record.id())
    );
    assert_eq!(store.get(record.id()).await.unwrap(), Some(record));
}

async fn updates_only_over_the_version_read(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let record = new_record(Duration::seconds(55));
    store.insert(&record).await.unwrap();
    let queued = record
        .submitted(&queued_at_graph(), now(), &Pacing::default())
        .unwrap();
    let stored = store.update(&queued).await.unwrap();
    assert_eq!(stored.version(), record.version() + 1);
    assert_eq!(store.get(record.id()).await.unwrap(), Some(stored.clone()));

    // A writer still holding the first version loses, and changes nothing.
    let stale = record
        .failed(
            GraphFailure::graphgate(FailureReason::OperationFailed, "y"),
            now(),
        )
        .unwrap();
    assert!(matches!(
        store.update(&stale).await,
        Err(StoreError::Conflict { expected: 0, .. })
    ));
    assert_eq!(
        store.get(record.id()).await.unwrap().unwrap().status(),
        Status::Queued
    );

    let missing = new_record(Duration::seconds(55));
    assert!(matches!(
        store.update(&missing).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn concurrent_writers_of_one_version_have_one_winner(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let record = new_record(Duration::seconds(55));
    store.insert(&record).await.unwrap();
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let next = record.claim(now() + Duration::seconds(60 + i)).unwrap();
        tokio::spawn(async move { store.update(&next).await })
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<ChangeRecord> = results
        .into_iter()
        .filter_map(|r| r.unwrap().ok())
        .collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(
        store.get(record.id()).await.unwrap(),
        Some(winners[0].clone())
    );
}

async fn lists_only_due_records_earliest_first(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let now = now();
    let mut due = Vec::new();
    for offset in [-3, -1, 3600] {
        let record = submitting(firmware_update(), now, now + Duration::seconds(offset));
        store.insert(&record).await.unwrap();
        due.push(record);
    }
    // A restart is not verified: once Graph has done it, nothing is left to do.
    let finished = submitting(
        json!({"action": "restartDevice", "deviceId": "d1"}),
        now,
        now - Duration::seconds(10),
    );
    store.insert(&finished).await.unwrap();
    let finished = finished
        .submitted(
            &ActionOutcome::Completed { request_id: None },
            now,
            &Pacing::default(),
        )
        .unwrap();
    assert_eq!(finished.due(), None);
    store.update(&finished).await.unwrap();

    let listed = store.due(now, 10).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|r| r.id().clone()).collect();
    assert_eq!(ids, [due[0].id().clone(), due[1].id().clone()]);
    let first = store.due(now, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id(), due[0].id());
    // Once claimed into the future, a record is no longer due.
    let claimed = listed[0].claim(now + Duration::minutes(1)).unwrap();
    store.update(&claimed).await.unwrap();
    assert_eq!(store.due(now, 10).await.unwrap().len(), 1);
}

async fn takes_a_corrupt_record_out_of_the_due_set(backend: Backend) {
    let fresh = Fresh::new(backend).await;
    let now = now();
    let good = submitting(firmware_update(), now, now - Duration::minutes(1));
    fresh.store.insert(&good).await.unwrap();
    let bad = fresh.insert_corrupt(now - Duration::hours(1)).await;

    // The bad one comes first in the due order; once met, it no longer takes a place.
    let first = fresh.store.due(now, 1).await.unwrap();
    assert!(first.iter().all(|r| r.id() == good.id()), "{first:?}");
    let second = fresh.store.due(now, 1).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id(), good.id());
    assert!(fresh.still_kept(&bad).await, "kept for a person to look at");
    assert!(matches!(
        fresh.store.get(&bad).await,
        Err(StoreError::Corrupt(_))
    ));
}

async fn the_first_claim_on_an_operation_holds_it(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let (first, second) = (new_record(Duration::ZERO), new_record(Duration::ZERO));
    let op = OperationId::parse("119eb06d-0c4b-4fb3-a754-33dd0d6b618c").unwrap();
    assert_eq!(store.own_operation(&op, &first).await.unwrap(), *first.id());
    // Claiming again is harmless for the holder, and futile for anyone else.
    assert_eq!(store.own_operation(&op, &first).await.unwrap(), *first.id());
    assert_eq!(
        store.own_operation(&op, &second).await.unwrap(),
        *first.id()
    );
    let other = OperationId::parse("op-2").unwrap();
    assert_eq!(
        store.own_operation(&other, &second).await.unwrap(),
        *second.id()
    );
    // Of many changes racing for one operation, exactly one holds it, and all agree which.
    let contested = OperationId::parse("op-contested").unwrap();
    let racers: Vec<ChangeRecord> = (0..12).map(|_| new_record(Duration::ZERO)).collect();
    let answers = futures::future::join_all(racers.iter().map(|r| {
        let (store, op) = (store.clone(), contested.clone());
        let r = r.clone();
        tokio::spawn(async move { store.own_operation(&op, &r).await.unwrap() })
    }))
    .await;
    let owners: std::collections::HashSet<ChangeId> =
        answers.into_iter().map(|a| a.unwrap()).collect();
    assert_eq!(owners.len(), 1);
    assert!(racers.iter().any(|r| owners.contains(r.id())));
    // A claim is not a change: it never shows up as due work.
    assert!(
        store
            .due(now() + Duration::days(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_first_delivery_under_a_key_is_kept_until_it_expires(backend: Backend) {
    let store = Fresh::new(backend).await.store;
    let key = IdempotencyKey::parse("CHG0050001").unwrap();
    let window = Duration::hours(24);
    let delivery = |body: &[u8]| {
        KeyedDelivery::new(
            "itsm",
            key.clone(),
            body,
            Some(ChangeId::new()),
            now(),
            window,
        )
    };
    let first = delivery(b"{\"a\":1}");
    assert_eq!(store.kept_delivery(&first).await.unwrap(), None);
    assert_eq!(store.keep_delivery(&first, now()).await.unwrap(), None);
    // A repeat finds the first, unanswered and then answered.
    let repeat = delivery(b"{\"a\":1}");
    assert_eq!(
        store.keep_delivery(&repeat, now()).await.unwrap(),
        Some(first.clone())
    );
    let answered = first.answered(KeptAnswer {
        status: 202,
        content_type: Some("application/json".into()),
        location: Some("https://graph.microsoft.com/beta/x".into()),
        body: "{}".into(),
    });
    assert_eq!(
        store.kept_delivery(&repeat).await.unwrap(),
        Some(first.clone())
    );
    store.answer_delivery(&answered).await.unwrap();
    assert_eq!(
        store.kept_delivery(&repeat).await.unwrap(),
        Some(answered.clone())
    );
    assert_eq!(
        store.keep_delivery(&repeat, now()).await.unwrap(),
        Some(answered.clone())
    );
    // The same key is another caller's own.
    let theirs = KeyedDelivery::new(
        "chatops",
        key.clone(),
        b"{}",
        Some(ChangeId::new()),
        now(),
        window,
    );
    assert_eq!(store.keep_delivery(&theirs, now()).await.unwrap(), None);
    // Once the window has passed, a new delivery takes the key.
    let later = now() + window + Duration::seconds(1);
    let fresh = KeyedDelivery::new(
        "itsm",
        key.clone(),
        b"{}",
        Some(ChangeId::new()),
        later,
        window,
    );
    assert_eq!(store.keep_delivery(&fresh, later).await.unwrap(), None);
    assert_eq!(
        store.keep_delivery(&repeat, later).await.unwrap(),
        Some(fresh.clone())
    );
    // A forgotten delivery frees its key at once.
    store.forget_delivery(&fresh).await.unwrap();
    assert_eq!(store.kept_delivery(&repeat).await.unwrap(), None);
    assert_eq!(store.keep_delivery(&repeat, later).await.unwrap(), None);
    // Of many deliveries racing for one key, exactly one is kept.
    let contested = IdempotencyKey::parse("contested").unwrap();
    let racers: Vec<KeyedDelivery> = (0..12)
        .map(|_| {
            KeyedDelivery::new(
                "itsm",
                contested.clone(),
                b"{}",
                Some(ChangeId::new()),
                now(),
                window,
            )
        })
        .collect();
    let kept = futures::future::join_all(racers.iter().map(|d| {
        let (store, d) = (store.clone(), d.clone());
        tokio::spawn(async move { store.keep_delivery(&d, now()).await.unwrap() })
    }))
    .await;
    assert_eq!(
        kept.into_iter()
            .filter(|k| k.as_ref().unwrap().is_none())
            .count(),
        1
    );
    // A kept delivery is not a change: it never shows up as due work.
    assert!(
        store
            .due(now() + Duration::days(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

crate::on_every_store!(
    all_on_dynamodb;
    the_first_delivery_under_a_key_is_kept_until_it_expires,
    the_first_claim_on_an_operation_holds_it,
    round_trips_a_record,
    refuses_a_duplicate_insert,
    updates_only_over_the_version_read,
    concurrent_writers_of_one_version_have_one_winner,
    lists_only_due_records_earliest_first,
    takes_a_corrupt_record_out_of_the_due_set,
);

#[tokio::test]
async fn dynamodb_items_leave_the_due_index_and_expire_when_finished() {
    let client = dynamo_client().await;
    let table = fresh_table(&client).await;
    let store = DynamoStore::new(client.clone(), table.clone(), RETENTION);
    // A restart: nothing is left to do once Graph has done it (an update is verified first).
    let now = now();
    let record = submitting(
        json!({"action": "restartDevice", "deviceId": "d1"}),
        now,
        now + Duration::seconds(55),
    );
    store.insert(&record).await.unwrap();
    let item = |id: String| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            client
                .get_item()
                .table_name(table)
                .key("id", AttributeValue::S(id))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let pending = item(record.id().to_string()).await;
    assert_eq!(pending["due"], AttributeValue::S("due".into()));
    assert!(pending.contains_key("next_poll_at"));
    assert!(!pending.contains_key("expires_at"));

    let done = record
        .submitted(
            &ActionOutcome::Completed { request_id: None },
            record.created_at(),
            &Pacing::default(),
        )
        .unwrap();
    store.update(&done).await.unwrap();
    let finished = item(record.id().to_string()).await;
    assert!(!finished.contains_key("due") && !finished.contains_key("next_poll_at"));
    let expires: i64 = finished["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, (record.created_at() + RETENTION).unix_timestamp());
}

#[tokio::test]
async fn a_sharded_table_spreads_due_records_and_still_hands_out_the_earliest_first() {
    let client = dynamo_client().await;
    let table = fresh_table(&client).await;
    let unsharded = DynamoStore::new(client.clone(), table.clone(), RETENTION);
    let sharded = DynamoStore::new(client.clone(), table.clone(), RETENTION)
        .with_due_shards(DueShards::new(SHARDS).unwrap());
    let now = now();
    // Due before sharding was turned on: in the first shard, which is the unsharded value.
    let earlier = submitting(firmware_update(), now, now - Duration::minutes(50));
    unsharded.insert(&earlier).await.unwrap();
    let mut records = vec![earlier];
    for minutes in (1..40).rev() {
        let record = submitting(firmware_update(), now, now - Duration::minutes(minutes));
        sharded.insert(&record).await.unwrap();
        records.push(record);
    }
    let mut shards = std::collections::BTreeSet::new();
    for record in &records[1..] {
        let item = client
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S(record.id().to_string()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        shards.insert(item["due"].as_s().unwrap().clone());
    }
    assert_eq!(
        shards,
        ["due", "due#1", "due#2", "due#3"].map(String::from).into(),
        "40 records reach every shard"
    );
    let ids = |listed: Vec<ChangeRecord>| listed.iter().map(|r| r.id().clone()).collect::<Vec<_>>();
    let all: Vec<ChangeId> = records.iter().map(|r| r.id().clone()).collect();
    assert_eq!(ids(sharded.due(now, 100).await.unwrap()), all);
    assert_eq!(ids(sharded.due(now, 7).await.unwrap()), all[..7]);
}

#[test]
fn the_sam_template_declares_the_schema_the_store_uses() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    for needle in [
        "AttributeName: id",
        "AttributeName: due",
        "AttributeName: next_poll_at",
        &format!("IndexName: {DUE_INDEX}"),
        "AttributeName: expires_at",
    ] {
        assert!(template.contains(needle), "template.yaml lacks {needle}");
    }
}

/// The log is copied into the database file by the store's own thread, with no checkpoint
/// asked for here and far fewer pages written than SQLite's automatic checkpoint waits for.
#[tokio::test]
async fn sqlite_checkpoints_its_log_beside_the_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    let store = SqliteStore::open(&path, Durability::default()).unwrap();
    let db_size = || std::fs::metadata(&path).unwrap().len();
    let before = db_size();
    for _ in 0..300 {
        store
            .insert(&new_record(Duration::seconds(55)))
            .await
            .unwrap();
    }
    eventually(
        "a checkpoint of the log",
        std::time::Duration::from_secs(5),
        || async { (db_size() >= before + 100_000).then_some(()) },
    )
    .await;
    assert_eq!(
        store
            .due(now() + Duration::days(1), 500)
            .await
            .unwrap()
            .len(),
        300
    );
}

#[tokio::test]
async fn sqlite_store_keeps_records_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let record = new_record(Duration::seconds(55));
    SqliteStore::open(&path, Durability::default())
        .unwrap()
        .insert(&record)
        .await
        .unwrap();
    // Either durability opens the same file.
    let reopened = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(reopened.get(record.id()).await.unwrap(), Some(record));
}
