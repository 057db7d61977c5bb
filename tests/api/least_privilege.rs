//! Each function's role grants exactly the DynamoDB actions its code sends, no more.
//!
//! Two facts are measured, against moto. Which store methods each function calls: its real
//! paths run over a store that notes every method called. Which DynamoDB actions each method
//! sends, on every branch (lost races, corrupt items): the store conformance suite runs on a
//! client whose interceptor files each request under the method that sent it. The template's
//! grants must be their product.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use graphgate::app::App;
use graphgate::change::{
    ActionOutcome, ChangeId, ChangeRecord, KeyedDelivery, OperationId, Status,
};
use graphgate::local::Application;
use graphgate::store::{DynamoStore, Store, StoreError};
use graphgate::sweeper::Sweeper;
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// Every request of the stores the conformance suite opens on DynamoDB, filed under the
/// store method that sent it.
static FILED: LazyLock<DynamoRequests> = LazyLock::new(DynamoRequests::default);

/// A client for moto whose requests are filed under the store method sending them.
pub async fn filing_client() -> aws_sdk_dynamodb::Client {
    FILED.client().await
}

/// A store that notes the methods called on it, and runs each under its name.
pub struct Noted {
    inner: Arc<dyn Store>,
    pub called: Mutex<BTreeSet<&'static str>>,
}

impl Noted {
    pub fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Noted {
            inner,
            called: Mutex::default(),
        })
    }

    async fn run<T>(&self, name: &'static str, work: impl Future<Output = T>) -> T {
        self.called.lock().unwrap().insert(name);
        STORE_METHOD.scope(name, work).await
    }
}

#[async_trait]
impl Store for Noted {
    async fn insert(&self, record: &ChangeRecord) -> Result<(), StoreError> {
        self.run("insert", self.inner.insert(record)).await
    }
    async fn get(&self, id: &ChangeId) -> Result<Option<ChangeRecord>, StoreError> {
        self.run("get", self.inner.get(id)).await
    }
    async fn update(&self, record: &ChangeRecord) -> Result<ChangeRecord, StoreError> {
        self.run("update", self.inner.update(record)).await
    }
    async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        self.run("due", self.inner.due(now, limit)).await
    }
    async fn own_operation(
        &self,
        operation: &OperationId,
        change: &ChangeRecord,
    ) -> Result<ChangeId, StoreError> {
        self.run("own_operation", self.inner.own_operation(operation, change))
            .await
    }
    async fn keep_delivery(
        &self,
        delivery: &KeyedDelivery,
        now: OffsetDateTime,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        self.run("keep_delivery", self.inner.keep_delivery(delivery, now))
            .await
    }
    async fn kept_delivery(
        &self,
        delivery: &KeyedDelivery,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        self.run("kept_delivery", self.inner.kept_delivery(delivery))
            .await
    }
    async fn answer_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        self.run("answer_delivery", self.inner.answer_delivery(delivery))
            .await
    }
    async fn forget_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        self.run("forget_delivery", self.inner.forget_delivery(delivery))
            .await
    }
}

/// The store methods the intake calls on its paths: a keyed change, its repeat, a repeat
/// that waits for the first, a keyed change Graph could not take (its key is freed), reading
/// a change back.
async fn intake_methods(app: &TestApp, store: Arc<Noted>) -> BTreeSet<&'static str> {
    let intake = App {
        store: store.clone(),
        ..app.app.clone()
    };
    let server = Application::bind(
        intake.router(),
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let address = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until_stopped());
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/d-busy/restart"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/d-slow/restart"))
        .respond_with(accepted("d-slow").set_delay(std::time::Duration::from_millis(300)))
        .mount(&app.graph)
        .await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let post = |key: &'static str, device: &str| {
        app.http
            .post(format!("{address}/v1/changes"))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(&restart(device))
            .send()
    };
    assert_eq!(post("busy", "d-busy").await.unwrap().status(), 503);
    let created = post("first", "d1").await.unwrap();
    assert_eq!(created.status(), 202);
    let id = created.json::<serde_json::Value>().await.unwrap()["changeId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(post("first", "d1").await.unwrap().status(), 202);
    // A repeat that comes while the first is with Graph waits for its answer.
    let (first, repeat) = tokio::join!(post("slow", "d-slow"), async {
        eventually(
            "Graph gets the first",
            std::time::Duration::from_secs(5),
            || async {
                let requests = app.graph_requests().await;
                requests
                    .iter()
                    .any(|r| r.url.path().ends_with("/d-slow/restart"))
                    .then_some(())
            },
        )
        .await;
        post("slow", "d-slow").await
    });
    assert_eq!(first.unwrap().status(), 202);
    let repeat = repeat.unwrap();
    assert_eq!(repeat.status(), 202);
    assert!(repeat.headers().contains_key("idempotent-replayed"));
    let read = app
        .http
        .get(format!("{address}/v1/changes/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    store.called.lock().unwrap().clone()
}

/// The store methods a sweep pass calls: following a queued change to its end, recovering
/// one whose submitter died after Graph took it, reporting a finished one.
async fn sweeper_methods(app: &TestApp, store: Arc<Noted>) -> BTreeSet<&'static str> {
    let now = app.now();
    let long_ago = now - time::Duration::hours(1);
    let location = app
        .graph_url("/teamwork/devices/d1/operations/op-1")
        .parse()
        .unwrap();
    let queued = submitting(restart("d1"), long_ago, long_ago)
        .submitted(
            &ActionOutcome::Accepted {
                location,
                request_id: None,
            },
            long_ago,
            &app.app.pacing,
        )
        .unwrap();
    // Its submitter's lease ran out; Graph lists the operation it started.
    let created = now - time::Duration::minutes(2);
    let stuck = submitting(
        restart("d2"),
        created,
        created + time::Duration::seconds(55),
    );
    let listed_at = (created + time::Duration::seconds(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/d1/operations/op-1"))
        .respond_with(operation("succeeded"))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/d2/operations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "op-7", "operationType": "deviceRestart", "status": "queued", "createdDateTime": listed_at}
        ]})))
        .mount(&app.graph)
        .await;
    for record in [&queued, &stuck] {
        app.store.insert(record).await.unwrap();
    }
    let sweeper = Sweeper {
        store: store.clone(),
        ..app.app.sweeper()
    };
    let report = sweeper.sweep_once(soon()).await.unwrap();
    // Due too: the two changes the intake's paths made.
    assert_eq!(
        (report.due, report.polled, report.recovered, report.errors),
        (4, 3, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        app.record(queued.id().as_ref()).await.status(),
        Status::Succeeded
    );
    store.called.lock().unwrap().clone()
}

/// The actions each store method sends, on every branch the conformance suite drives.
async fn actions_by_method() -> BTreeMap<&'static str, BTreeSet<String>> {
    crate::store::all_on_dynamodb().await;
    let mut by_method: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (method, action) in FILED.0.lock().unwrap().iter() {
        let method = method.expect("every request of a filed store comes from a store method");
        by_method
            .entry(method)
            .or_default()
            .insert(format!("dynamodb:{action}"));
    }
    by_method
}

#[tokio::test]
async fn each_function_is_granted_exactly_the_table_actions_its_code_sends() {
    let by_method = actions_by_method().await;
    let app = spawn_app_with(Options {
        table: Some(fresh_table(&dynamo_client().await).await),
        ..Options::default()
    })
    .await;
    let client = dynamo_client().await;
    let dynamo = |app: &TestApp| -> Arc<dyn Store> {
        Arc::new(DynamoStore::new(
            client.clone(),
            app.table.clone().unwrap(),
            std::time::Duration::from_secs(86_400),
        ))
    };
    let intake = intake_methods(&app, Noted::new(dynamo(&app))).await;
    let sweeper = sweeper_methods(&app, Noted::new(dynamo(&app))).await;
    let needed = |methods: &BTreeSet<&'static str>| -> BTreeSet<String> {
        methods
            .iter()
            .flat_map(|m| {
                by_method
                    .get(m)
                    .unwrap_or_else(|| panic!("the conformance suite never calls {m}"))
                    .clone()
            })
            .collect()
    };
    let granted = crate::template::granted();
    for (binary, methods) in [("intake", intake), ("sweeper", sweeper)] {
        let grants = &granted[binary];
        let table = grants
            .get(&json!({"Fn::GetAtt": ["ChangesTable", "Arn"]}).to_string())
            .cloned()
            .unwrap_or_default();
        let index = grants
            .get(&json!({"Fn::Sub": "${ChangesTable.Arn}/index/due-index"}).to_string())
            .cloned()
            .unwrap_or_default();
        let needed = needed(&methods);
        // A query reads the index; every other action acts on the table's items.
        let (queries, item_actions): (BTreeSet<String>, BTreeSet<String>) =
            needed.into_iter().partition(|a| a == "dynamodb:Query");
        assert_eq!(table, item_actions, "{binary} calls {methods:?}");
        assert_eq!(index, queries, "{binary} calls {methods:?}");
    }
}
