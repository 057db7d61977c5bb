//! (e) Store cost: the DynamoDB requests of one change's life, and of one sweep pass with N
//! changes due among M in the table, counted by an SDK interceptor on the store's client.
//! The server is moto, as in the tests; its speed is not the figure, the count is.
//!
//! The intake and the sweeper run here, in the harness's process, as `App` builds them from
//! the variables a user sets, with two stand-ins: the store's client carries the counting
//! interceptor, and the clock is moved on by hand, so a pass finds the changes due without
//! the harness waiting out the poll intervals. Graph is the simulator process.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use futures::{StreamExt, TryStreamExt};
use graphgate::app::App;
use graphgate::change::{ChangeId, ChangeRecord};
use graphgate::clock::Clock;
use graphgate::config::Settings;
use graphgate::outbound::TargetPolicy;
use graphgate::store::{DueShards, DynamoStore, Store};
use serde_json::json;
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::process::graphgate_env;
use crate::requests::{Target, seed};
use crate::{BEARER, Error, row};

/// How big the passes are.
pub struct StoreScale {
    /// Changes due in each pass.
    pub due: usize,
    /// The table sizes (M) a pass is counted at.
    pub tables: &'static [usize],
    /// The shards of the last, sharded, count.
    pub shards: u8,
    /// The M of the sharded count.
    pub sharded_at: usize,
}

/// How long a finished change stays: what the template deploys by default.
const RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// DynamoDB requests sent, by action (the SDK's operation name, which is also IAM's).
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    // The operation's metadata is in the bag from serialization on.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let action = cfg
            .load::<Metadata>()
            .ok_or("a request without its operation's name")?
            .name()
            .to_owned();
        *self.0.lock().unwrap().entry(action).or_default() += 1;
        Ok(())
    }
}

impl Requests {
    /// The counts so far, which start again from zero.
    fn take(&self) -> Counts {
        Counts(std::mem::take(&mut *self.0.lock().unwrap()))
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Counts(BTreeMap<String, usize>);

impl Counts {
    fn total(&self) -> usize {
        self.0.values().sum()
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let each: Vec<String> = self.0.iter().map(|(a, n)| format!("{a} {n}")).collect();
        write!(f, "{} ({})", self.total(), each.join(", "))
    }
}

/// The system's time plus what the harness has moved it on by.
#[derive(Debug, Default)]
struct MovedClock(Mutex<time::Duration>);

impl Clock for MovedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.0.lock().unwrap()
    }
}

impl MovedClock {
    fn move_on(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

/// graphgate's intake and sweeper over a fresh table, counted.
struct Counted {
    app: App,
    clock: Arc<MovedClock>,
    requests: Requests,
    table: String,
    api: String,
    server: JoinHandle<()>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Counted {
    async fn start(graph: &str, dir: &std::path::Path, shards: u8) -> Result<Self, Error> {
        let plain = plain_client().await;
        let table = format!("graphgate-bench-{}", uuid::Uuid::new_v4().simple());
        DynamoStore::create_table(&plain, &table).await?;
        let mut env = graphgate_env(graph, &dir.join("unused.db"));
        env.push(("GRAPHGATE_TABLE", table.clone()));
        env.push(("GRAPHGATE_DUE_SHARDS", shards.to_string()));
        let lookup = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        let clock = Arc::new(MovedClock::default());
        let mut settings = Settings::from_lookup(&lookup, clock.clone())?;
        // The receiver is the harness, on loopback.
        settings.callback_policy = TargetPolicy::AllowLoopbackHttp;
        let mut app = App::from_settings(settings).await?;
        let requests = Requests::default();
        let counting = aws_sdk_dynamodb::Client::from_conf(
            plain
                .config()
                .to_builder()
                .interceptor(requests.clone())
                .build(),
        );
        let shards = DueShards::new(shards).ok_or("no such number of shards")?;
        app.store =
            Arc::new(DynamoStore::new(counting, table.clone(), RETENTION).with_due_shards(shards));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = format!("http://{}", listener.local_addr()?);
        let router = app.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Counted {
            app,
            clock,
            requests,
            table,
            api,
            server,
        })
    }

    /// One sweep pass, an hour on from the last: every change the pass may visit is due.
    async fn pass(&self) -> Result<graphgate::sweeper::SweepReport, Error> {
        self.clock.move_on(time::Duration::hours(1));
        Ok(self
            .app
            .sweeper()
            .sweep_once(Instant::now() + Duration::from_secs(600))
            .await?)
    }
}

async fn plain_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(graphgate::aws::config().await)
}

/// A change the lifecycle left in its table, finished.
pub struct Stored {
    pub table: String,
    pub change_id: String,
}

/// The figure's rows, and the change whose life was counted; only the life without `passes`.
pub async fn rows(
    graph: &str,
    dir: &std::path::Path,
    http: &reqwest::Client,
    devices: &AtomicUsize,
    scale: &StoreScale,
    passes: bool,
) -> Result<(Vec<String>, Stored), Error> {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        return Err(
            "(e) needs a DynamoDB-compatible server: run scripts/bench.sh, which starts moto"
                .into(),
        );
    }
    let mut rows = Vec::new();
    let (life, finished, stored) = lifecycle(graph, dir, http, devices).await?;
    rows.push(row(
        "e",
        "DynamoDB requests of one change's life: a restart with an `Idempotency-Key` and a `callbackUrl`, through the intake, then sweep passes until it is reported",
        &format!(
            "intake {}; sweeper {} over {} passes",
            life.intake, life.sweeper, life.passes
        ),
        &format!("{} in all: the baseline", life.intake.total() + life.sweeper.total()),
        "",
    ));
    if !passes {
        return Ok((rows, stored));
    }

    let mut passes = Vec::new();
    let counts = scale.tables.iter().map(|&m| (m, 1));
    for (total, shards) in counts.chain([(scale.sharded_at, scale.shards)]) {
        let count = pass_among(
            graph, dir, http, devices, &finished, scale.due, total, shards,
        )
        .await?;
        rows.push(row(
            "e",
            &format!(
                "DynamoDB requests of one sweep pass, {} due among {total} changes, {shards} shard{}",
                scale.due,
                if shards == 1 { "" } else { "s" }
            ),
            &count.to_string(),
            &format!(
                "{:.2} per due change; the life's sweeper share is {:.2} per pass",
                count.total() as f64 / scale.due as f64,
                life.sweeper.total() as f64 / life.passes as f64
            ),
            if shards == 1 { "flat in M" } else { "one query per shard" },
        ));
        passes.push((total, shards, count));
    }
    let unsharded: Vec<usize> = passes
        .iter()
        .filter(|(_, shards, _)| *shards == 1)
        .map(|(_, _, c)| c.total())
        .collect();
    let flat = unsharded.windows(2).all(|w| w[0] == w[1]);
    rows.push(row(
        "e",
        "the pass's cost as M grows",
        &format!("{unsharded:?} requests"),
        if flat { "flat" } else { "NOT flat" },
        "flat in M",
    ));
    Ok((rows, stored))
}

/// What one change's life cost.
struct Life {
    intake: Counts,
    sweeper: Counts,
    passes: usize,
}

/// One change through its whole life; answers its counts, and its final item, which the
/// passes' tables are filled with, and where that is.
async fn lifecycle(
    graph: &str,
    dir: &std::path::Path,
    http: &reqwest::Client,
    devices: &AtomicUsize,
) -> Result<(Life, HashMap<String, AttributeValue>, Stored), Error> {
    let counted = Counted::start(graph, dir, 1).await?;
    let (receiver, received) = callback_receiver().await?;
    counted.requests.take();
    let device = format!("bench-{}", devices.fetch_add(1, Ordering::Relaxed));
    let answer = http
        .post(format!("{}/v1/changes", counted.api))
        .bearer_auth(BEARER)
        .header("Idempotency-Key", format!("bench-{device}"))
        .json(&json!({
            "action": "restartDevice",
            "deviceId": device,
            "callbackUrl": format!("http://{receiver}/callback"),
        }))
        .send()
        .await?;
    if answer.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!("the change was answered {}", answer.status()).into());
    }
    let body: serde_json::Value = answer.json().await?;
    let id = ChangeId::parse(body["changeId"].as_str().unwrap_or_default().to_owned())?;
    let intake = counted.requests.take();

    let plain = DynamoStore::new(plain_client().await, counted.table.clone(), RETENTION);
    let mut passes = 0;
    let mut sweeper = Counts(BTreeMap::new());
    loop {
        counted.pass().await?;
        passes += 1;
        for (action, n) in counted.requests.take().0 {
            *sweeper.0.entry(action).or_default() += n;
        }
        let record: ChangeRecord = plain.get(&id).await?.ok_or("the change is gone")?;
        if record.due().is_none() {
            break;
        }
        if passes == 20 {
            return Err(format!("the change is still not done after 20 passes: {record:?}").into());
        }
    }
    if received.load(Ordering::Relaxed) != 1 {
        return Err("the callback did not arrive once".into());
    }
    let item = plain_client()
        .await
        .get_item()
        .table_name(&counted.table)
        .key("id", AttributeValue::S(id.to_string()))
        .send()
        .await?
        .item
        .ok_or("the finished change has no item")?;
    Ok((
        Life {
            intake,
            sweeper,
            passes,
        },
        item,
        Stored {
            table: counted.table.clone(),
            change_id: id.to_string(),
        },
    ))
}

/// A receiver of callbacks on loopback that answers 200 and counts them.
async fn callback_receiver() -> Result<(SocketAddr, Arc<AtomicUsize>), Error> {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let router = axum::Router::new().route(
        "/callback",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((address, received))
}

/// The requests of one pass over `due` changes made through the intake, in a table that also
/// holds finished changes (copies of `finished` under new IDs) up to `total`.
#[allow(clippy::too_many_arguments)]
async fn pass_among(
    graph: &str,
    dir: &std::path::Path,
    http: &reqwest::Client,
    devices: &AtomicUsize,
    finished: &HashMap<String, AttributeValue>,
    due: usize,
    total: usize,
    shards: u8,
) -> Result<Counts, Error> {
    let counted = Counted::start(graph, dir, shards).await?;
    fill(&counted.table, finished, total.saturating_sub(due)).await?;
    let through = Target::Graphgate {
        base: counted.api.clone(),
    };
    seed(http, &through, devices, due, 16).await?;
    counted.requests.take();
    let report = counted.pass().await?;
    if report.due != due || report.errors != 0 {
        return Err(format!("the pass did not take the {due} due changes: {report:?}").into());
    }
    Ok(counted.requests.take())
}

/// Writes `count` copies of the item `finished`, each under a new change ID, 25 to a
/// `BatchWriteItem`, 8 at once.
async fn fill(
    table: &str,
    finished: &HashMap<String, AttributeValue>,
    count: usize,
) -> Result<(), Error> {
    let client = plain_client().await;
    let id = finished
        .get("id")
        .and_then(|v| v.as_s().ok())
        .ok_or("the finished item has no id")?;
    let record = finished
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or("the finished item has no record")?;
    let copy = || {
        let new = ChangeId::new().to_string();
        let mut item = finished.clone();
        item.insert("id".into(), AttributeValue::S(new.clone()));
        item.insert("record".into(), AttributeValue::S(record.replace(id, &new)));
        let put = PutRequest::builder().set_item(Some(item)).build()?;
        Ok::<_, Error>(WriteRequest::builder().put_request(put).build())
    };
    let batches = (0..count.div_ceil(25))
        .map(|b| (0..25.min(count - b * 25)).map(|_| copy()).collect())
        .collect::<Result<Vec<Vec<WriteRequest>>, Error>>()?;
    futures::stream::iter(batches)
        .map(|mut batch| {
            let client = client.clone();
            async move {
                while !batch.is_empty() {
                    let written = client
                        .batch_write_item()
                        .request_items(table, batch)
                        .send()
                        .await?;
                    batch = written
                        .unprocessed_items
                        .and_then(|mut left| left.remove(table))
                        .unwrap_or_default();
                }
                Ok::<(), Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
