//! The Store conformance suite: every implementation must pass all of it.

use std::sync::Arc;

use graphgate::change::{ChangeRecord, ChangeRequest, Status};
use graphgate::store::{SqliteStore, Store, StoreError};
use serde_json::json;
use time::{Duration, OffsetDateTime};

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

async fn conformance(store: Arc<dyn Store>) {
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
