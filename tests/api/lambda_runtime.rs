//! The `intake` and `sweeper` binaries as Lambda runs them: each polls a Lambda Runtime API
//! (a fake one here, on loopback) for events, and posts its answers back.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
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

/// A running function, and what it has written to stdout: its metrics.
struct Function {
    _process: Running,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// The EMF documents written so far, each checked against the spec.
    fn metrics(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                let doc: Value = serde_json::from_str(line).expect("stdout carries JSON lines");
                check_emf(&doc).unwrap_or_else(|e| panic!("not EMF ({e}): {line}"));
                doc
            })
            .collect()
    }

    /// Waits until a line with `metric` has been read from stdout.
    async fn wait_for(&self, metric: &str) {
        eventually(metric, Duration::from_secs(5), || async {
            (!self.samples(metric).is_empty()).then_some(())
        })
        .await;
    }

    /// The values written for `metric`, with the dimension each carried (if any).
    fn samples(&self, metric: &str) -> Vec<(Option<(String, String)>, f64)> {
        self.metrics()
            .iter()
            .filter_map(|doc| {
                let value = doc.get(metric)?.as_f64()?;
                let dimension = ["Action", "Reason", "Call"]
                    .iter()
                    .find_map(|key| Some((key.to_string(), doc.get(*key)?.as_str()?.to_owned())));
                Some((dimension, value))
            })
            .collect()
    }
}

fn run_function(binary: &str, runtime: &str, env: &[(&'static str, String)]) -> Function {
    let mut child = Command::new(binary)
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .env_remove("GRAPHGATE_TABLE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "graphgate")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let collected = stdout.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            collected.lock().unwrap().push(line);
        }
    });
    Function {
        _process: Running(child),
        stdout,
    }
}

/// The units CloudWatch takes.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks `doc` against CloudWatch's Embedded Metric Format specification: the `_aws`
/// metadata with its timestamp and directives, and at the root a member for every dimension
/// key (a string) and every metric (a number, or up to 100 of them).
fn check_emf(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the root is not an object")?;
    let meta = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    meta.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not epoch milliseconds")?;
    let directives = meta
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no _aws.CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("no metric directive".into());
    }
    for directive in directives {
        let directive = directive
            .as_object()
            .ok_or("a directive is not an object")?;
        if let Some(extra) = directive
            .keys()
            .find(|k| !["Namespace", "Dimensions", "Metrics"].contains(&k.as_str()))
        {
            return Err(format!("a directive has a member {extra}"));
        }
        let member = |name: &str| directive.get(name).unwrap_or(&Value::Null);
        let namespace = member("Namespace").as_str().ok_or("no Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err("Namespace is not 1 to 255 characters".into());
        }
        let sets = member("Dimensions")
            .as_array()
            .ok_or("Dimensions is not an array")?;
        for set in sets {
            let keys = set.as_array().ok_or("a DimensionSet is not an array")?;
            if keys.len() > 30 {
                return Err("a DimensionSet has more than 30 keys".into());
            }
            for key in keys {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                if !root.get(key).is_some_and(Value::is_string) {
                    return Err(format!("dimension {key} has no string at the root"));
                }
            }
        }
        let metrics = member("Metrics")
            .as_array()
            .ok_or("Metrics is not an array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err("Metrics does not hold 1 to 100 definitions".into());
        }
        for metric in metrics {
            let metric = metric
                .as_object()
                .ok_or("a MetricDefinition is not an object")?;
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.len() <= 1024)
                .ok_or("a metric has no Name")?;
            if let Some(unit) = metric.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                return Err(format!("{name} has the unit {unit}"));
            }
            if let Some(resolution) = metric.get("StorageResolution")
                && !matches!(resolution.as_u64(), Some(1 | 60))
            {
                return Err(format!("{name} has the StorageResolution {resolution}"));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                _ => return Err(format!("{name} has no number at the root")),
            }
        }
    }
    Ok(())
}

async fn next_answer(answers: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(20), answers.recv())
        .await
        .expect("the function answered")
        .unwrap()
}

crate::on_every_store!(the_intake_binary_serves_api_gateway_events);

/// On both stores, since the function opens a table while it reads its secrets, and SQLite after.
async fn the_intake_binary_serves_api_gateway_events(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    every_post(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
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
    let store = Options {
        table: app.table.clone(),
        ..Options::default()
    };
    let mut env = env_for(&app.graph, &app.login, &app.db, &store);
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
    every_post(accepted("d1")).mount(&app.graph).await;
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
    every_post(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
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

/// Each function writes its metrics as EMF lines on stdout, which CloudWatch Logs turns into
/// metrics: what the template's alarms watch.
#[tokio::test]
async fn both_functions_write_their_metrics_as_embedded_metric_format() {
    let app = spawn_app().await;
    // Throttled once, then accepted.
    every_post(wiremock::ResponseTemplate::new(429).insert_header("Retry-After", "0.05"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .mount(&app.graph)
        .await;
    let mut env = env_for(&app.graph, &app.login, &app.db, &Options::default());
    env.push(("GRAPHGATE_POLL_INTERVAL_SECS", "0.001".into()));
    env.push(("GRAPHGATE_METRICS_NAMESPACE", "graphgate/test".into()));

    let (runtime, mut answers) = fake_runtime(vec![
        sample("create-change-update-software.json"),
        sample("create-change-unauthenticated.json"),
    ])
    .await;
    let intake = run_function(env!("CARGO_BIN_EXE_intake"), &runtime, &env);
    assert_eq!(next_answer(&mut answers).await.1["statusCode"], 202);
    assert_eq!(next_answer(&mut answers).await.1["statusCode"], 401);
    // A change to report to a loopback URL, which a deployed sweeper refuses to call.
    let hooks = wiremock::MockServer::start().await;
    let callback = format!("{}/hook", hooks.uri());
    let created = app
        .post_change(serde_json::json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": callback}))
        .await;
    assert_eq!(created.status(), 202);
    // A change whose submitter died before Graph got it: the sweeper resubmits it.
    let created_at = app.now() - time::Duration::seconds(70);
    let stuck = submitting(
        restart("d3"),
        created_at,
        created_at + time::Duration::seconds(55),
    );
    app.store.insert(&stuck).await.unwrap();
    Mock::given(method("GET"))
        .and(wiremock::matchers::path(
            "/beta/teamwork/devices/d3/operations",
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": []})),
        )
        .with_priority(1)
        .mount(&app.graph)
        .await;
    let graph_calls = app.graph_requests().await.len();

    let (runtime, mut answers) = fake_runtime(vec![sample("sweeper-scheduler.json")]).await;
    let sweeper = run_function(env!("CARGO_BIN_EXE_sweeper"), &runtime, &env);
    let (_, report) = next_answer(&mut answers).await;
    assert_eq!(
        (
            report["due"].as_u64(),
            report["finished"].as_u64(),
            report["recovered"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{report}"
    );
    let graph_sent = app.graph_requests().await.len() - graph_calls;
    // Lines are read from the pipe as they come: wait for each function's last.
    intake.wait_for("ChangesRejected").await;
    sweeper.wait_for("SweepDuration").await;

    for function in [&intake, &sweeper] {
        for doc in function.metrics() {
            assert_eq!(
                doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                "graphgate/test"
            );
        }
    }
    let action = |a: &str| Some(("Action".to_owned(), a.to_owned()));
    assert_eq!(
        intake.samples("ChangesAccepted"),
        [(action("updateSoftware"), 1.0)]
    );
    assert_eq!(
        intake.samples("ChangesRejected"),
        [(Some(("Reason".to_owned(), "unauthorized".to_owned())), 1.0)]
    );
    let call = |c: &str| Some(("Call".to_owned(), c.to_owned()));
    assert_eq!(
        intake.samples("GraphThrottles"),
        [(call("updateSoftware"), 1.0)]
    );
    let waited = intake.samples("GraphRetryAfterWaited");
    assert_eq!(waited.len(), 1);
    assert!((waited[0].1 - 0.05).abs() < 1e-9, "{waited:?}");
    // Two round trips to Graph, the throttled attempt and the accepted one; sign-in is not
    // Graph, and is not counted.
    let latencies = intake.samples("GraphLatency");
    assert_eq!(latencies.len(), 2, "{latencies:?}");
    assert!(
        latencies
            .iter()
            .all(|(d, ms)| *d == call("updateSoftware") && *ms >= 0.0)
    );

    let mut ended = sweeper.samples("ChangesSucceeded");
    ended.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        ended,
        [
            (action("restartDevice"), 1.0),
            (action("updateSoftware"), 1.0)
        ]
    );
    // The resubmission is a change Graph accepted, counted where it was sent.
    assert_eq!(
        sweeper.samples("ChangesAccepted"),
        [(action("restartDevice"), 1.0)]
    );
    let latencies = sweeper.samples("GraphLatency");
    assert_eq!(latencies.len(), graph_sent, "{latencies:?}");
    let calls: std::collections::BTreeSet<_> = latencies.into_iter().map(|(d, _)| d).collect();
    assert_eq!(
        calls,
        [
            call("getOperation"),
            call("listOperations"),
            call("restartDevice")
        ]
        .into()
    );
    assert_eq!(sweeper.samples("CallbacksFailed"), [(None, 1.0)]);
    assert_eq!(sweeper.samples("SweepDue"), [(None, 3.0)]);
    let backlog = sweeper.samples("SweepBacklogAge");
    assert!(
        backlog.len() == 1 && backlog[0].1 >= 0.0 && backlog[0].1 < 60.0,
        "{backlog:?}"
    );
    assert_eq!(sweeper.samples("SweepDuration").len(), 1);
    for function in [&intake, &sweeper] {
        assert!(function.samples("ChangesFailed").is_empty());
        assert!(function.samples("ChangesTimedOut").is_empty());
    }
}

#[test]
fn the_emf_check_refuses_what_cloudwatch_would() {
    let good = serde_json::json!({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [["Action"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
        "Action": "a", "M": 1
    });
    assert_eq!(check_emf(&good), Ok(()));
    for (path, bad) in [
        ("/M", serde_json::json!("1")),
        ("/Action", serde_json::json!(3)),
        ("/_aws/Timestamp", serde_json::json!("now")),
        (
            "/_aws/CloudWatchMetrics/0/Metrics/0/Unit",
            serde_json::json!("Counts"),
        ),
        ("/_aws/CloudWatchMetrics/0/Namespace", serde_json::json!("")),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        assert!(check_emf(&doc).is_err(), "{path}");
    }
}
