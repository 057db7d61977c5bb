//! The `intake` and `sweeper` binaries as Lambda runs them: each polls a Lambda Runtime API
//! (a fake one here, on loopback) for events, and posts its answers back.

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;
use wiremock::Mock;
use wiremock::matchers::method;

use crate::helpers::*;

#[derive(Clone)]
struct Runtime {
    events: Arc<Mutex<VecDeque<Value>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
    /// `Lambda-Runtime-Deadline-Ms` as sent, when not Lambda's own (30 s from now, in epoch
    /// milliseconds).
    deadline_header: Option<&'static str>,
}

fn sample(name: &str) -> Value {
    serde_json::from_str(&sample_event(name)).unwrap()
}

/// A Runtime API that hands out `events` in order, then keeps the function waiting.
async fn fake_runtime(events: Vec<Value>) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    fake_runtime_sending(events, None).await
}

/// As [`fake_runtime`], sending `deadline_header` as each invocation's deadline.
async fn fake_runtime_sending(
    events: Vec<Value>,
    deadline_header: Option<&'static str>,
) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = Runtime {
        events: Arc::new(Mutex::new(events.into())),
        answers: tx,
        deadline_header,
    };
    async fn next(State(rt): State<Runtime>) -> (HeaderMap, String) {
        let event = rt.events.lock().unwrap().pop_front();
        let Some(event) = event else {
            std::future::pending::<()>().await;
            unreachable!()
        };
        let deadline = SystemTime::now() + Duration::from_secs(30);
        let mut headers = HeaderMap::new();
        let id = uuid::Uuid::new_v4().to_string();
        headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
        let epoch_ms = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        headers.insert(
            "lambda-runtime-deadline-ms",
            rt.deadline_header.unwrap_or(&epoch_ms).parse().unwrap(),
        );
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:graphgate"
                .parse()
                .unwrap(),
        );
        (headers, event.to_string())
    }
    async fn answer(
        State(rt): State<Runtime>,
        Path((_, kind)): Path<(String, String)>,
        body: Bytes,
    ) -> &'static str {
        let _ = rt
            .answers
            .send((kind, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        "{}"
    }
    async fn init_error(State(rt): State<Runtime>, body: Bytes) -> &'static str {
        let _ = rt.answers.send((
            "init-error".into(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        ));
        "{}"
    }
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

fn run_function(binary: &str, runtime: &str, env: &[(&'static str, String)]) -> Running {
    let child = Command::new(binary)
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .env_remove("GRAPHGATE_TABLE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "graphgate")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Running(child)
}

async fn next_answer(answers: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(20), answers.recv())
        .await
        .expect("the function answered")
        .unwrap()
}

#[tokio::test]
async fn the_intake_binary_serves_api_gateway_events() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .respond_with(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let (runtime, mut answers) = fake_runtime(vec![
        sample("healthz.json"),
        sample("create-change-update-software.json"),
        sample("create-change-unauthenticated.json"),
    ])
    .await;
    // As deployed: the client secret and the caller registry live in Secrets Manager.
    let mut env = env_for(&app.graph, &app.login, &app.db, &Options::default());
    let secret_arn = crate::secrets::new_secret(CLIENT_SECRET).await;
    let callers_arn = crate::secrets::new_secret(&callers_json()).await;
    env.retain(|(name, _)| !matches!(*name, "GRAPH_CLIENT_SECRET" | "GRAPHGATE_CALLERS"));
    env.push(("GRAPH_CLIENT_SECRET_ARN", secret_arn));
    env.push(("GRAPHGATE_CALLERS_SECRET_ARN", callers_arn));
    let _intake = run_function(env!("CARGO_BIN_EXE_intake"), &runtime, &env);

    let (kind, health) = next_answer(&mut answers).await;
    assert_eq!(
        (kind.as_str(), health["statusCode"].as_u64()),
        ("response", Some(200))
    );

    let (kind, created) = next_answer(&mut answers).await;
    assert_eq!(kind, "response");
    assert_eq!(created["statusCode"], 202, "{created}");
    let location = created["headers"]["location"].as_str().unwrap();
    assert_eq!(
        location,
        app.graph_url("/teamwork/devices/0f3ce432-e432-0f3c-32e4-3c0f32e43c0f/operations/op-1")
    );
    let body: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "queued");
    // Written to the store the function was configured with.
    assert_eq!(
        app.record(body["changeId"].as_str().unwrap())
            .await
            .caller(),
        "events"
    );

    let (_, refused) = next_answer(&mut answers).await;
    assert_eq!(refused["statusCode"], 401);
    assert_eq!(
        refused["headers"]["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_sweeper_binary_runs_a_pass_for_either_schedule_payload() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .respond_with(accepted("d1"))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(operation("Successful"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let created: Value = app.post_change(restart("d1")).await.json().await.unwrap();
    let (runtime, mut answers) = fake_runtime(vec![
        sample("sweeper-eventbridge-rule.json"),
        sample("sweeper-scheduler.json"),
    ])
    .await;
    let mut env = env_for(&app.graph, &app.login, &app.db, &Options::default());
    // Due at once, like the in-process tests.
    env.push(("GRAPHGATE_POLL_INTERVAL_SECS", "0.001".into()));
    let _sweeper = run_function(env!("CARGO_BIN_EXE_sweeper"), &runtime, &env);

    let (kind, first) = next_answer(&mut answers).await;
    assert_eq!(kind, "response", "{first}");
    assert_eq!(
        (first["due"].as_u64(), first["finished"].as_u64()),
        (Some(1), Some(1)),
        "{first}"
    );
    let (kind, second) = next_answer(&mut answers).await;
    assert_eq!(kind, "response", "{second}");
    assert_eq!(second["due"], 0, "{second}");
    let record = app.record(created["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), graphgate::change::Status::Succeeded);
}

#[tokio::test]
async fn a_misconfigured_function_fails_its_init_without_leaking_secrets() {
    let (runtime, _answers) = fake_runtime(vec![]).await;
    let output = Command::new(env!("CARGO_BIN_EXE_intake"))
        .env_remove("GRAPHGATE_CALLERS")
        .env("AWS_LAMBDA_RUNTIME_API", &runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "graphgate")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("GRAPH_TENANT_ID", "t1")
        .env("GRAPH_CLIENT_ID", "app")
        .env("GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let logs = String::from_utf8_lossy(&output.stderr);
    let line = logs
        .lines()
        .find(|l| l.contains("bad configuration"))
        .expect("a JSON log line");
    let logged: Value = serde_json::from_str(line).unwrap();
    assert!(
        logged["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("GRAPHGATE_CALLERS is required")
    );
    assert!(!logs.contains(CLIENT_SECRET));
}

/// `cargo lambda watch` (1.9) sends `Lambda-Runtime-Deadline-Ms: 600000`, a duration where
/// Lambda sends an epoch time. Both functions then go by their configured timeouts instead of
/// finding no time left.
#[tokio::test]
async fn both_functions_work_under_cargo_lambdas_deadline_header() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .respond_with(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
        .expect(1)
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .mount(&app.graph)
        .await;
    let mut env = env_for(&app.graph, &app.login, &app.db, &Options::default());
    // The change is due for its first poll at once.
    env.push(("GRAPHGATE_POLL_INTERVAL_SECS", "0.001".into()));

    let (runtime, mut answers) = fake_runtime_sending(
        vec![sample("create-change-restart-device.json")],
        Some("600000"),
    )
    .await;
    let _intake = run_function(env!("CARGO_BIN_EXE_intake"), &runtime, &env);
    let (kind, created) = next_answer(&mut answers).await;
    assert_eq!(kind, "response");
    assert_eq!(created["statusCode"], 202, "{created}");
    assert_eq!(app.graph_requests().await.len(), 1, "Graph was called");

    let (runtime, mut answers) =
        fake_runtime_sending(vec![sample("sweeper-scheduler.json")], Some("600000")).await;
    let _sweeper = run_function(env!("CARGO_BIN_EXE_sweeper"), &runtime, &env);
    let (kind, report) = next_answer(&mut answers).await;
    assert_eq!(kind, "response", "{report}");
    assert_eq!(report["finished"], 1, "{report}");
}
