//! The cost of a sweep pass follows the due work, not the size of the table: counted in
//! DynamoDB requests, against a real DynamoDB-compatible server.

use std::sync::Arc;
use std::time::Duration;

use graphgate::change::ActionOutcome;
use graphgate::store::{DueShards, DynamoStore, Store};
use graphgate::sweeper::Sweeper;
use time::OffsetDateTime;
use wiremock::Mock;
use wiremock::matchers::method;

use crate::helpers::*;

/// The DynamoDB requests of one pass over 3 due changes and `history` finished ones, the due
/// records spread over `shards`.
async fn requests_of_a_pass(history: usize, shards: u8) -> Vec<String> {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .expect(3)
        .mount(&app.graph)
        .await;
    let requests = DynamoRequests::default();
    let client = requests.client().await;
    let table = fresh_table(&dynamo_client().await).await;
    let store: Arc<dyn Store> = Arc::new(
        DynamoStore::new(client, table, Duration::from_secs(86_400))
            .with_due_shards(DueShards::new(shards).unwrap()),
    );

    let now = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    for chunk in (0..history).collect::<Vec<_>>().chunks(50) {
        futures::future::join_all(chunk.iter().map(|i| {
            let store = store.clone();
            let pacing = &app.app.pacing;
            async move {
                let done = submitting(restart(&format!("old-{i}")), now, now)
                    .submitted(&ActionOutcome::Completed { request_id: None }, now, pacing)
                    .unwrap();
                store.insert(&done).await.unwrap();
            }
        }))
        .await;
    }
    for i in 0..3 {
        let location = app
            .graph_url(&format!("/teamwork/devices/dev-{i}/operations/op"))
            .parse()
            .unwrap();
        let accepted = ActionOutcome::Accepted {
            location,
            request_id: None,
        };
        let queued = submitting(restart(&format!("dev-{i}")), now, now)
            .submitted(&accepted, now, &app.app.pacing)
            .unwrap();
        store.insert(&queued).await.unwrap();
    }
    requests.clear();

    let sweeper = Sweeper {
        store,
        ..app.app.sweeper()
    };
    let report = sweeper.sweep_once(soon()).await.unwrap();
    assert_eq!((report.due, report.finished), (3, 3));
    requests.actions()
}

#[tokio::test]
async fn a_sweep_pass_costs_the_due_work_not_the_table_size() {
    let empty = requests_of_a_pass(0, 1).await;
    let full = requests_of_a_pass(400, 1).await;
    let count = |requests: &[String], name: &str| requests.iter().filter(|r| *r == name).count();
    // One query of the sparse index, then a claim and a result for each due change.
    assert_eq!(count(&full, "Query"), 1, "{full:?}");
    assert_eq!(count(&full, "PutItem"), 2 * 3, "{full:?}");
    assert_eq!(count(&full, "Scan"), 0);
    assert_eq!(full.len(), 1 + 2 * 3, "{full:?}");
    assert_eq!(
        empty.len(),
        full.len(),
        "400 finished changes cost nothing: {empty:?} vs {full:?}"
    );
}

#[tokio::test]
async fn a_sharded_pass_costs_one_query_per_shard_beside_the_due_work() {
    let requests = requests_of_a_pass(100, SHARDS).await;
    let count = |name: &str| requests.iter().filter(|r| *r == name).count();
    assert_eq!(count("Query"), usize::from(SHARDS), "{requests:?}");
    assert_eq!(count("PutItem"), 2 * 3, "{requests:?}");
    assert_eq!(requests.len(), usize::from(SHARDS) + 2 * 3, "{requests:?}");
}
