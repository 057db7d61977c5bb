//! The Store conformance suite: every implementation must pass all of it.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use graphgate::change::{ChangeRecord, ChangeRequest, Status};
use graphgate::store::{DUE_INDEX, DynamoStore, SqliteStore, Store, StoreError};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::helpers::{dynamo_client, fresh_table};

fn new_record() -> ChangeRecord {
    let request = ChangeRequest::parse(
        json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware",
            "softwareVersion": "2.1", "reference": "CHG7"})
        .as_object()
        .unwrap(),
    )
    .unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    ChangeRecord::submitting(request, "itsm", now, now + Duration::seconds(55))
}

async fn round_trips_a_record(store: &dyn Store) {
    let record = new_record();
    store.insert(&record).await.unwrap();
    assert_eq!(store.get(&record.id).await.unwrap(), Some(record.clone()));
    assert_eq!(
        store
            .get(&graphgate::change::ChangeId::new())
            .await
            .unwrap(),
        None
    );
}

async fn refuses_a_duplicate_insert(store: &dyn Store) {
    let record = new_record();
    store.insert(&record).await.unwrap();
    let mut again = record.clone();
    again.caller = "someone-else".into();
    assert!(
        matches!(store.insert(&again).await, Err(StoreError::Duplicate(id)) if id == record.id)
    );
    assert_eq!(store.get(&record.id).await.unwrap().unwrap().caller, "itsm");
}

async fn updates_only_over_the_version_read(store: &dyn Store) {
    let record = new_record();
    store.insert(&record).await.unwrap();
    let queued = record
        .moved_to(Status::Queued, OffsetDateTime::now_utc())
        .unwrap();
    let stored = store.update(&queued).await.unwrap();
    assert_eq!(stored.version, record.version + 1);
    assert_eq!(store.get(&record.id).await.unwrap(), Some(stored.clone()));

    // A writer still holding the first version loses, and changes nothing.
    let stale = record
        .moved_to(Status::Failed, OffsetDateTime::now_utc())
        .unwrap();
    assert!(matches!(
        store.update(&stale).await,
        Err(StoreError::Conflict { expected: 0, .. })
    ));
    assert_eq!(
        store.get(&record.id).await.unwrap().unwrap().status,
        Status::Queued
    );

    let missing = new_record();
    assert!(matches!(
        store.update(&missing).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn concurrent_writers_of_one_version_have_one_winner(store: Arc<dyn Store>) {
    let record = new_record();
    store.insert(&record).await.unwrap();
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let mut next = record
            .moved_to(Status::Running, OffsetDateTime::now_utc())
            .unwrap();
        next.graph_request_id = Some(format!("writer-{i}"));
        tokio::spawn(async move { store.update(&next).await })
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<ChangeRecord> = results
        .into_iter()
        .filter_map(|r| r.unwrap().ok())
        .collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(
        store.get(&record.id).await.unwrap(),
        Some(winners[0].clone())
    );
}

async fn lists_only_due_records_earliest_first(store: &dyn Store) {
    let now = OffsetDateTime::now_utc();
    let mut due = Vec::new();
    for offset in [-3, -1, 3600] {
        let mut record = new_record();
        record.next_poll_at = Some(now + Duration::seconds(offset));
        store.insert(&record).await.unwrap();
        due.push(record);
    }
    let finished = new_record();
    store.insert(&finished).await.unwrap();
    let finished = finished.moved_to(Status::Succeeded, now).unwrap();
    assert_eq!(finished.next_poll_at, None);
    store.update(&finished).await.unwrap();

    let listed = store.due(now, 10).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [due[0].id.clone(), due[1].id.clone()]);
    let first = store.due(now, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, due[0].id);
    // Once claimed into the future, a record is no longer due.
    let mut claimed = listed[0].clone();
    claimed.next_poll_at = Some(now + Duration::minutes(1));
    store.update(&claimed).await.unwrap();
    assert_eq!(store.due(now, 10).await.unwrap().len(), 1);
}

/// Every store must pass all of these. Each store gets a fresh, empty backing.
async fn conformance(store: Arc<dyn Store>) {
    lists_only_due_records_earliest_first(store.as_ref()).await;
    round_trips_a_record(store.as_ref()).await;
    refuses_a_duplicate_insert(store.as_ref()).await;
    updates_only_over_the_version_read(store.as_ref()).await;
    concurrent_writers_of_one_version_have_one_winner(store).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("conformance.db")).unwrap();
    conformance(Arc::new(store)).await;
}

#[tokio::test]
async fn dynamodb_store_conforms() {
    let client = dynamo_client().await;
    let table = fresh_table(&client).await;
    conformance(Arc::new(DynamoStore::new(client, table, RETENTION))).await;
}

const RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

#[tokio::test]
async fn dynamodb_items_leave_the_due_index_and_expire_when_finished() {
    let client = dynamo_client().await;
    let table = fresh_table(&client).await;
    let store = DynamoStore::new(client.clone(), table.clone(), RETENTION);
    let record = new_record();
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
    let pending = item(record.id.to_string()).await;
    assert_eq!(pending["due"], AttributeValue::S("due".into()));
    assert!(pending.contains_key("next_poll_at"));
    assert!(!pending.contains_key("expires_at"));

    let done = record
        .moved_to(Status::Succeeded, record.created_at)
        .unwrap();
    store.update(&done).await.unwrap();
    let finished = item(record.id.to_string()).await;
    assert!(!finished.contains_key("due") && !finished.contains_key("next_poll_at"));
    let expires: i64 = finished["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, (record.created_at + RETENTION).unix_timestamp());
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

#[tokio::test]
async fn sqlite_store_keeps_records_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let record = new_record();
    SqliteStore::open(&path)
        .unwrap()
        .insert(&record)
        .await
        .unwrap();
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.get(&record.id).await.unwrap(), Some(record));
}

#[tokio::test]
async fn a_corrupt_record_is_taken_out_of_the_due_set() {
    // SQLite
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::open(&path).unwrap();
    let good = new_record();
    store.insert(&good).await.unwrap();
    let mut bad = new_record();
    bad.next_poll_at = Some(OffsetDateTime::now_utc() - Duration::hours(1));
    store.insert(&bad).await.unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE changes SET record = '{\"not\": \"a record\"}' WHERE id = ?1",
            [bad.id.as_ref()],
        )
        .unwrap();
    let later = OffsetDateTime::now_utc() + Duration::hours(1);
    assert_eq!(
        store.due(later, 1).await.unwrap().len(),
        0,
        "the bad one came first"
    );
    assert_eq!(
        store.due(later, 1).await.unwrap()[0].id,
        good.id,
        "and is out of the way now"
    );

    // DynamoDB
    let client = dynamo_client().await;
    let table = fresh_table(&client).await;
    let store = DynamoStore::new(client.clone(), table.clone(), RETENTION);
    let good = new_record();
    store.insert(&good).await.unwrap();
    let bad = graphgate::change::ChangeId::new();
    let an_hour_ago = (OffsetDateTime::now_utc() - Duration::hours(1)).unix_timestamp() * 1000;
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::S(bad.to_string()))
        .item("record", AttributeValue::S("{}".into()))
        .item("version", AttributeValue::N("0".into()))
        .item("due", AttributeValue::S("due".into()))
        .item("next_poll_at", AttributeValue::N(an_hour_ago.to_string()))
        .send()
        .await
        .unwrap();
    assert_out_of_the_way(&store, later, &good).await;
    let kept = client
        .get_item()
        .table_name(&table)
        .key("id", AttributeValue::S(bad.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .expect("kept for a person to look at");
    assert!(
        !kept.contains_key("due") && !kept.contains_key("next_poll_at"),
        "{kept:?}"
    );
}

/// The bad record comes first in the due order; once met, it no longer takes a place.
async fn assert_out_of_the_way(store: &dyn Store, later: OffsetDateTime, good: &ChangeRecord) {
    let first = store.due(later, 1).await.unwrap();
    assert!(first.iter().all(|r| r.id == good.id), "{first:?}");
    let second = store.due(later, 1).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, good.id);
}
