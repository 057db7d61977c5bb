//! `spawn_app`: a fresh graphgate per test, with its own database, fake Graph, fake token
//! endpoint and clock; and what the tests share: fixtures, fakes and sample events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use graphgate::app::App;
use graphgate::callback::TargetPolicy;
use graphgate::change::{ChangeId, ChangeRecord, ChangeRequest, Pacing};
use graphgate::config::{ConnectionLimits, Settings};
use graphgate::graph::RetryPolicy;
use graphgate::local::Application;
use graphgate::simulator::{self, SimulatorState};
use graphgate::store::{Durability, DynamoStore, SqliteStore, Store};
use graphgate::sweeper::{SweepReport, SweepSettings, Sweeper};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A caller allowed every action.
pub const TOKEN: &str = "itsm-token-0123456789abcdef0123456789";
/// A caller allowed only `restartDevice`.
pub const RESTART_ONLY_TOKEN: &str = "chatops-token-0123456789abcdef012345";
/// The token in the sample Lambda events under `events/`.
pub const EVENTS_TOKEN: &str = "sample-events-token-0123456789abcdef";
/// The `itsm` caller's callback signing secret.
pub const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const CLIENT_SECRET: &str = "client-secret-that-must-never-leak";
pub const TOKEN_PATH: &str = "/tenant-1/oauth2/v2.0/token";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        graphgate::telemetry::init(graphgate::telemetry::Format::Text);
    }
});

/// The `servicenow` caller's Standard Webhooks secret.
pub const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// The `jira` caller's `hmac-sha256` secret, and the header it signs in.
pub const HMAC_SECRET: &str = "jira-automation-shared-secret-0123";
pub const HMAC_HEADER: &str = "X-Hub-Signature";

/// The `slack` caller's signing secret, as Slack shows it.
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99b1f2e4c5a7";
/// The Slack workspace the `slack` caller admits.
pub const SLACK_TEAM: &str = "T0GRAPHG";
/// The `teams` caller's security token, as Teams shows it (base64).
pub const TEAMS_TOKEN: &str = "dGVhbXMtb3V0Z29pbmctd2ViaG9vay10b2tlbi0zMmI=";

pub fn callers_json() -> String {
    json!([
        {"name": "slack", "auth": {"scheme": "slack", "secret": SLACK_SECRET}, "allow": ["*"], "chat": {"teams": [SLACK_TEAM]}},
        {"name": "teams", "auth": {"scheme": "teams-outgoing-webhook", "secret": TEAMS_TOKEN}, "allow": ["restartDevice", "runDiagnostics"]},
        {"name": "itsm", "auth": {"scheme": "bearer", "token": TOKEN}, "allow": ["*"], "signingSecret": SIGNING_SECRET},
        {"name": "servicenow", "auth": {"scheme": "standard-webhooks", "secret": WEBHOOK_SECRET}, "allow": ["*"]},
        {"name": "jira", "auth": {"scheme": "hmac-sha256", "secret": HMAC_SECRET, "header": HMAC_HEADER}, "allow": ["restartDevice"]},
        {"name": "chatops", "auth": {"scheme": "bearer", "token": RESTART_ONLY_TOKEN}, "allow": ["restartDevice"]},
        {"name": "events", "auth": {"scheme": "bearer", "token": EVENTS_TOKEN}, "allow": ["*"]},
    ])
    .to_string()
}

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

/// A client for the DynamoDB-compatible server `scripts/test.sh` starts (moto).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect(
        "the DynamoDB tests need a DynamoDB-compatible server: run scripts/test.sh, which starts moto_server",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only talk to loopback, not {endpoint}"
    );
    aws_sdk_dynamodb::Client::new(graphgate::aws::config().await)
}

tokio::task_local! {
    /// The store method a DynamoDB request is sent for, when a test names it.
    pub static STORE_METHOD: &'static str;
}

/// One DynamoDB request: the store method it was sent for, if a test named one, and its
/// action (as the SDK names the operation, and IAM the action).
pub type DynamoRequest = (Option<&'static str>, String);

/// Every DynamoDB request a client sends.
#[derive(Debug, Clone, Default)]
pub struct DynamoRequests(pub Arc<Mutex<Vec<DynamoRequest>>>);

impl aws_sdk_dynamodb::config::Intercept for DynamoRequests {
    fn name(&self) -> &'static str {
        "DynamoRequests"
    }

    // The operation's metadata is in the bag from here on, not yet before execution.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .expect("every request names its operation");
        let method = STORE_METHOD.try_with(|m| *m).ok();
        self.0
            .lock()
            .unwrap()
            .push((method, operation.name().to_owned()));
        Ok(())
    }
}

impl DynamoRequests {
    /// A client for moto that notes its requests here.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        // The same loopback checks and endpoint as every other DynamoDB client of the tests.
        let config = dynamo_client()
            .await
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The actions sent so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// A new table with graphgate's key schema, as `template.yaml` declares it.
pub async fn fresh_table(client: &aws_sdk_dynamodb::Client) -> String {
    let name = format!("graphgate-test-{}", uuid::Uuid::new_v4().simple());
    DynamoStore::create_table(client, &name).await.unwrap();
    name
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

/// A fake Graph that, like Graph's front end, answers 411 Length Required to a POST with
/// neither `Content-Length` nor chunked encoding, whatever else is mounted. graphgate reaches
/// it over HTTP/1.1: on plain http, reqwest never tries HTTP/2 without prior knowledge.
pub async fn graph_fake() -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(|request: &Request| {
            !request.headers.contains_key("content-length")
                && !request.headers.contains_key("transfer-encoding")
        })
        .respond_with(ResponseTemplate::new(411).set_body_string("Length Required"))
        .with_priority(1)
        .named("411 for a POST without a length")
        .mount(&graph)
        .await;
    graph
}

/// A token endpoint that hands out a new token on every call.
pub async fn mount_token(login: &MockServer, lifetime_secs: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(move |_: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer",
                "expires_in": lifetime_secs,
                "access_token": format!("graph-token-{}", uuid::Uuid::new_v4()),
            }))
        })
        .mount(login)
        .await;
}

/// Graph accepts every action and reports every operation with `status`.
pub async fn graph_finishing_with(app: &TestApp, status: &str) {
    Mock::given(method("POST"))
        .respond_with(accepted("d1"))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(operation(status))
        .mount(&app.graph)
        .await;
}

/// Graph accepting a device action with its documented relative Location.
pub fn accepted(device: &str) -> ResponseTemplate {
    ResponseTemplate::new(202)
        .insert_header(
            "Location",
            format!("/teamwork/devices/{device}/operations/op-1").as_str(),
        )
        .insert_header("request-id", "graph-request-1")
}

/// Graph's answer to `GET` on an operation, with `status` spelled as given.
pub fn operation(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "op-1", "operationType": "deviceRestart", "status": status,
        "createdDateTime": "2026-11-23T10:00:00Z", "error": null}))
}

/// Sends `request` and reads its JSON body, whatever the status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

pub fn graph_error(status: u16, code: &str, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", request_id)
        .set_body_json(
            json!({"error": {"code": code, "message": format!("simulated {code}"),
            "innerError": {"request-id": request_id, "date": "2026-11-23T10:00:00"}}}),
        )
}

/// A clock that stands still until a test moves it on, so timing rules are tested without
/// sleeping.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn starting_at(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl graphgate::clock::Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Asks `check` every 20 ms until it answers `Some`, for at most `within`, and panics naming
/// `what` if it never does: for what happens in its own time, in another task, thread or
/// process, so that a test waits exactly as long as that takes rather than a guessed sleep.
pub async fn eventually<T, F>(what: &str, within: Duration, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A pass deadline far enough off that no test meets it by accident.
pub fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
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

/// Reads a problem+json answer, checking its shape.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:graphgate:problem:")
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
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

pub fn restart(device: &str) -> Value {
    json!({"action": "restartDevice", "deviceId": device})
}

/// A change request as the intake parses it.
pub fn request(body: Value) -> ChangeRequest {
    ChangeRequest::parse(body.as_object().expect("a JSON object")).expect("a valid request")
}

/// A record as the intake writes it before calling Graph: made at `created` by `itsm`, its
/// submitter's lease running until `lease_until`.
pub fn submitting(
    body: Value,
    created: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> ChangeRecord {
    ChangeRecord::submitting(request(body), "itsm", created, lease_until)
}

/// The sample Lambda event `events/{name}`, as text.
pub fn sample_event(name: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// A token from the simulator's token endpoint, to call it as graphgate does.
pub async fn sim_token(http: &reqwest::Client, token_url: &str, graph_origin: &str) -> String {
    let grant = json_of(http.post(token_url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "tests"),
        ("client_secret", "secret"),
        ("scope", &format!("{graph_origin}/.default")),
    ]))
    .await;
    grant["access_token"].as_str().unwrap().to_owned()
}

pub fn bearer(request: &Request) -> String {
    request.headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Kills the child when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `graphgate` binary with `args` and `env` (and no graphgate variables from the
/// test's own environment), collecting stdout lines until `done` says enough.
pub fn start(
    args: &[&str],
    dir: &std::path::Path,
    env: &[(&str, String)],
    done: impl Fn(&[String]) -> bool,
) -> (Running, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphgate"));
    command.args(args);
    start_command(command, dir, env, done)
}

/// As [`start`], for a command that runs the binary some other way (through a shell that
/// sets a limit first, say).
pub fn start_command(
    mut command: Command,
    dir: &std::path::Path,
    env: &[(&str, String)],
    done: impl Fn(&[String]) -> bool,
) -> (Running, Vec<String>) {
    let mut child = command
        .current_dir(dir)
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end even once the test stops listening: a closed pipe would be a
        // different situation from the one under test.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let running = Running(child);
    let mut lines = Vec::new();
    while !done(&lines) {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("graphgate printed only {lines:?}"));
        lines.push(line);
    }
    (running, lines)
}

pub fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix))
}

/// Runs the `graphgate` binary with `args` against the Graph (and token endpoint) at
/// `origin`, as the simulator serves them, with nothing else in its environment; its exit
/// code and stdout. Neither output may show the client secret or a token.
pub async fn run_cli(origin: &str, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphgate"));
    command
        .args(args)
        .env_clear()
        .env("GRAPH_BASE_URL", origin)
        .env(
            "GRAPH_TOKEN_URL",
            format!("{origin}/simulated-tenant/oauth2/v2.0/token"),
        )
        .env("GRAPH_CLIENT_ID", "graphgate-cli")
        .env("GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        .env("RUST_LOG", "debug");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    for printed in [&stdout, &stderr] {
        assert!(
            !printed.contains(CLIENT_SECRET),
            "the secret leaked: {printed}"
        );
        assert!(!printed.contains("eyJ"), "a token leaked: {printed}");
    }
    (output.status.code().unwrap(), stdout)
}
