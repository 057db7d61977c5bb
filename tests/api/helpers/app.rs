//! `spawn_app`: a fresh graphgate per test, with its own database, fake Graph, fake token
//! endpoint and clock, and the `TestApp` handle the tests drive it through.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use graphgate::app::App;
use graphgate::change::{ChangeId, ChangeRecord, Pacing};
use graphgate::config::{ConnectionLimits, Settings};
use graphgate::graph::RetryPolicy;
use graphgate::local::Application;
use graphgate::outbound::TargetPolicy;
use graphgate::simulator::{self, SimulatorState};
use graphgate::store::{Durability, DynamoStore, SqliteStore, Store};
use graphgate::sweeper::{SweepReport, SweepSettings, Sweeper};
use serde_json::Value;
use time::OffsetDateTime;
use wiremock::{MockServer, Request};

use super::{
    CLIENT_SECRET, ManualClock, TOKEN, TOKEN_PATH, callers_json, dynamo_client, fresh_table,
    graph_fake, json_of, mount_token, soon,
};

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        graphgate::telemetry::init(graphgate::telemetry::Format::Text);
    }
});

pub struct TestApp {
    pub address: String,
    /// Fake Graph: `{uri}/beta/...` for devices, `{uri}/v1.0/...` for apps.
    pub graph: MockServer,
    /// Fake token endpoint.
    pub login: MockServer,
    /// The app's store: SQLite, or DynamoDB when `Options::table` names a table.
    pub store: Arc<dyn Store>,
    /// The DynamoDB table the app writes, when it uses DynamoDB.
    pub table: Option<String>,
    /// The SQLite file the app writes, when it uses SQLite.
    pub db: std::path::PathBuf,
    /// The app's own clients and settings, to build a sweeper or a Router over them.
    pub app: App,
    /// The app's clock: it stands still until a test moves it.
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Knobs a test may turn before the app starts.
pub struct Options {
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub token_lifetime_secs: u64,
    /// Mount the usual token endpoint answer.
    pub mount_token: bool,
    /// Send Graph calls here instead of to the fake Graph.
    pub graph_origin: Option<String>,
    /// What `GRAPH_BASE_URL` carries after the origin: nothing (each family of calls on its
    /// default version), or a version, as `GRAPH_BASE_URL` was written before.
    pub graph_path: &'static str,
    /// `GRAPH_CLOUD`, when not the default.
    pub cloud: Option<&'static str>,
    /// Ask for tokens here instead of at the fake token endpoint.
    pub login_origin: Option<String>,
    pub sweep: SweepSettings,
    pub pacing: Pacing,
    pub callback_policy: TargetPolicy,
    /// Keep records in this DynamoDB table instead of SQLite (see [`Backend::options`]).
    pub table: Option<String>,
    /// `GRAPHGATE_DUE_SHARDS`, with a table.
    pub due_shards: Option<u8>,
    /// The variables that give graphgate its credential: the client secret, unless a test
    /// signs in with a certificate or reads the credential by ARN.
    pub credential: Vec<(&'static str, String)>,
    /// Read the callers from this Secrets Manager secret instead of `GRAPHGATE_CALLERS`.
    pub callers_arn: Option<String>,
    pub connections: ConnectionLimits,
    /// Callers registered besides the usual ones.
    pub more_callers: Vec<Value>,
    /// Where the app's clock starts, when not at the present.
    pub clock_start: Option<OffsetDateTime>,
}

/// The store implementations, for tests that must pass on each.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    DynamoDb,
    /// DynamoDB with its due records spread over 4 shards of the due index.
    ShardedDynamoDb,
}

impl Backend {
    /// Default options on this backend; for DynamoDB, with a fresh table of its own.
    pub async fn options(self) -> Options {
        let table = match self {
            Backend::Sqlite => None,
            Backend::DynamoDb | Backend::ShardedDynamoDb => {
                Some(fresh_table(&dynamo_client().await).await)
            }
        };
        Options {
            table,
            due_shards: matches!(self, Backend::ShardedDynamoDb).then_some(SHARDS),
            ..Options::default()
        }
    }
}

/// The shards of [`Backend::ShardedDynamoDb`].
pub const SHARDS: u8 = 4;

/// Runs each named scenario, an `async fn(Backend)`, once on every store. Given a name
/// first (`on_every_store!(all_on_dynamodb; a, b)`), as the store's own contract is, it also
/// runs them on a sharded DynamoDB table, and defines `pub async fn all_on_dynamodb()`,
/// running them all on DynamoDB, one after another.
#[macro_export]
macro_rules! on_every_store {
    ($all:ident; $($scenario:ident),* $(,)?) => {
        pub async fn $all() {
            $(self::$scenario($crate::helpers::Backend::DynamoDb).await;)*
        }
        mod on_sharded_dynamodb {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario($crate::helpers::Backend::ShardedDynamoDb).await
            })*
        }
        $crate::on_every_store!($($scenario),*);
    };
    ($($scenario:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario($crate::helpers::Backend::Sqlite).await
            })*
        }
        mod on_dynamodb {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario($crate::helpers::Backend::DynamoDb).await
            })*
        }
    };
}

impl Default for Options {
    fn default() -> Self {
        Options {
            request_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                min_attempt_time: Duration::from_millis(250),
            },
            token_lifetime_secs: 3599,
            mount_token: true,
            graph_origin: None,
            graph_path: "",
            cloud: None,
            login_origin: None,
            credential: vec![("GRAPH_CLIENT_SECRET", CLIENT_SECRET.to_owned())],
            callers_arn: None,
            connections: ConnectionLimits::default(),
            more_callers: Vec::new(),
            clock_start: None,
            sweep: SweepSettings {
                claim_lease: Duration::from_secs(10),
                ..SweepSettings::default()
            },
            // A queued change is due at once, so a test can sweep right after submitting;
            // from there on, the production pace, on the test's clock.
            pacing: Pacing {
                first_poll: Duration::ZERO,
                ..Pacing::default()
            },
            // The fakes listen on plain http on loopback, as a local receiver would.
            callback_policy: TargetPolicy::AllowLoopbackHttp,
            table: None,
            due_shards: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Settings as the environment would give them, pointing at the fakes, on `clock`; secrets
/// named by ARN are read from moto.
pub async fn settings_for(
    graph: &MockServer,
    login: &MockServer,
    db: &std::path::Path,
    options: &Options,
    clock: Arc<ManualClock>,
) -> Settings {
    let vars: HashMap<&str, String> = env_for(graph, login, db, options).into_iter().collect();
    let mut settings = Settings::load_from(&|k: &str| vars.get(k).cloned(), clock)
        .await
        .expect("test settings are valid");
    settings.graph.retry = options.retry.clone();
    settings.sweep = options.sweep;
    settings.pacing = options.pacing;
    settings.callback_policy = options.callback_policy;
    settings
}

/// The environment that points graphgate at the fakes, for the app or the binary.
pub fn env_for(
    graph: &MockServer,
    login: &MockServer,
    db: &std::path::Path,
    options: &Options,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "GRAPH_BASE_URL",
            format!(
                "{}{}",
                options.graph_origin.clone().unwrap_or(graph.uri()),
                options.graph_path
            ),
        ),
        (
            "GRAPH_TOKEN_URL",
            format!(
                "{}{TOKEN_PATH}",
                options.login_origin.clone().unwrap_or(login.uri())
            ),
        ),
        ("GRAPH_CLIENT_ID", "graphgate-tests".to_owned()),
        match &options.callers_arn {
            Some(arn) => ("GRAPHGATE_CALLERS_SECRET_ARN", arn.clone()),
            None => ("GRAPHGATE_CALLERS", {
                let mut callers: Vec<Value> = serde_json::from_str(&callers_json()).unwrap();
                callers.extend(options.more_callers.iter().cloned());
                Value::Array(callers).to_string()
            }),
        },
        ("GRAPHGATE_DB", db.display().to_string()),
        (
            "GRAPHGATE_REQUEST_TIMEOUT_SECS",
            options.request_timeout.as_secs_f64().to_string(),
        ),
    ];
    env.extend(options.credential.iter().cloned());
    if let Some(table) = &options.table {
        env.push(("GRAPHGATE_TABLE", table.clone()));
    }
    if let Some(shards) = options.due_shards {
        env.push(("GRAPHGATE_DUE_SHARDS", shards.to_string()));
    }
    if let Some(cloud) = options.cloud {
        env.push(("GRAPH_CLOUD", cloud.to_owned()));
    }
    env
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    LazyLock::force(&TRACING);
    let graph = graph_fake().await;
    let login = MockServer::start().await;
    if options.mount_token {
        mount_token(&login, options.token_lifetime_secs).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("graphgate.db");
    let clock = Arc::new(ManualClock::starting_at(
        options.clock_start.unwrap_or_else(OffsetDateTime::now_utc),
    ));
    let settings = settings_for(&graph, &login, &db, &options, clock.clone()).await;
    let app = App::from_settings(settings).await.unwrap();
    let application = Application::bind(
        app.router(),
        "127.0.0.1:0".parse().unwrap(),
        options.connections,
    )
    .await
    .unwrap();
    let address = format!("http://{}", application.local_addr());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        store: app.store.clone(),
        table: options.table.clone(),
        db,
        app,
        clock,
        graph,
        login,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl TestApp {
    /// One sweep pass by the app's own sweeper, with ten seconds to run.
    pub async fn sweep(&self) -> SweepReport {
        self.app.sweeper().sweep_once(soon()).await.unwrap()
    }

    /// Sends `request` through the app's own Router, with no socket between, as
    /// `lambda_http::run` does; answers the status and the JSON body (`null` if none).
    pub async fn through_router(&self, request: lambda_http::Request) -> (u16, Value) {
        use tower::ServiceExt;
        let response = self.app.router().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Moves the app's clock on, as time passing would.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn now(&self) -> OffsetDateTime {
        graphgate::clock::Clock::now(self.clock.as_ref())
    }

    /// A sweeper as another process would run it: its own handle on the same storage.
    pub async fn second_sweeper(&self) -> Sweeper {
        Sweeper {
            store: self.second_store().await,
            ..self.app.sweeper()
        }
    }

    /// A second handle on the app's storage, as another process would open it.
    async fn second_store(&self) -> Arc<dyn Store> {
        match &self.table {
            Some(table) => Arc::new(DynamoStore::new(
                dynamo_client().await,
                table.clone(),
                Duration::from_secs(86_400),
            )),
            None => Arc::new(SqliteStore::open(&self.db, Durability::default()).unwrap()),
        }
    }

    pub async fn post_change(&self, body: Value) -> reqwest::Response {
        self.post_change_as(TOKEN, body).await
    }

    pub async fn post_change_as(&self, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/changes", self.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_change(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/changes/{id}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The change as `GET /v1/changes/{id}` shows it to the usual caller.
    pub async fn view(&self, id: &str) -> Value {
        json_of(
            self.http
                .get(format!("{}/v1/changes/{id}", self.address))
                .bearer_auth(TOKEN),
        )
        .await
    }

    pub async fn cancel_change(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/changes/{id}/cancel", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn record(&self, id: &str) -> ChangeRecord {
        self.store
            .get(&ChangeId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("the change is stored")
    }

    /// Requests the fake Graph received.
    pub async fn graph_requests(&self) -> Vec<Request> {
        self.graph.received_requests().await.unwrap_or_default()
    }

    pub async fn token_requests(&self) -> Vec<Request> {
        self.login.received_requests().await.unwrap_or_default()
    }

    pub fn graph_url(&self, path: &str) -> String {
        format!("{}/beta{path}", self.graph.uri())
    }
}

/// The built-in simulator on a random loopback port, and graphgate pointed at it.
pub async fn spawn_simulated_app(options: Options) -> (TestApp, SimulatorState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let state = SimulatorState::default();
    tokio::spawn(simulator::serve(listener, state.clone()));
    let app = spawn_app_with(Options {
        graph_origin: Some(origin.clone()),
        login_origin: Some(origin),
        mount_token: false,
        ..options
    })
    .await;
    (app, state)
}
