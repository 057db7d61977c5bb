//! (a) Cold start: the `intake` binary exec'd under a Lambda Runtime API emulator on
//! loopback, timed from the exec to (1) its first `GET /runtime/invocation/next` and (2) its
//! response to that first invocation, against `bench/src/bin/hello_lambda.rs`, the smallest
//! `lambda_http` function, built with the same profile, and `bench/src/bin/hello_secrets.rs`, which
//! also reads the intake's secrets: the part of the start-up that is the AWS SDK's.
//!
//! The intake runs as deployed: the Graph credential and the callers read by ARN from
//! Secrets Manager, the table named, all served by moto. The first invocation is either a
//! `GET /healthz` or an authenticated `GET /v1/changes/{id}` of a stored change. What the
//! intake spends waiting for moto is measured apart, with the same requests sent from here
//! after each round of starts.
//!
//! The emulator is written here because it is a few routes of the Runtime API: `next` hands
//! out one event and then holds the poll, as Lambda does between invocations; `response` and
//! the two `error` routes record what came back.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{BEARER, Error, ms, percentile, row};

/// How many starts of each kind.
pub struct StartScale {
    pub starts: usize,
}

/// What the intake is given: the secrets' ARNs and the table, in moto; Graph, the simulator.
pub struct Deployment {
    pub env: Vec<(&'static str, String)>,
    /// A change the authenticated read finds.
    pub change_id: String,
}

impl Deployment {
    /// The Graph credential and the callers stored in moto's Secrets Manager, beside `table`.
    pub async fn in_moto(graph: &str, table: &str, change_id: String) -> Result<Self, Error> {
        let secrets = aws_sdk_secretsmanager::Client::new(graphgate::aws::config().await);
        let arn = |name: &'static str, value: String| {
            let secrets = secrets.clone();
            async move {
                let made = secrets
                    .create_secret()
                    .name(format!(
                        "graphgate-bench/{name}-{}",
                        uuid::Uuid::new_v4().simple()
                    ))
                    .secret_string(value)
                    .send()
                    .await?;
                made.arn
                    .ok_or_else(|| Error::from("moto made a secret without an ARN"))
            }
        };
        let credential = arn("graph-client-secret", "bench-secret".into()).await?;
        let callers = arn("callers", crate::process::bench_callers()).await?;
        Ok(Deployment {
            env: vec![
                ("GRAPH_TENANT_ID", "simulated-tenant".into()),
                ("GRAPH_CLIENT_ID", "graphgate-bench".into()),
                ("GRAPH_CLIENT_SECRET_ARN", credential),
                ("GRAPHGATE_CALLERS_SECRET_ARN", callers),
                ("GRAPHGATE_TABLE", table.to_owned()),
                ("GRAPH_BASE_URL", graph.to_owned()),
                (
                    "GRAPH_TOKEN_URL",
                    format!("{graph}/simulated-tenant/oauth2/v2.0/token"),
                ),
                ("RUST_LOG", "info".into()),
            ],
            change_id,
        })
    }
}

pub async fn rows(
    bin: &Path,
    deployment: &Deployment,
    scale: &StartScale,
) -> Result<Vec<String>, Error> {
    let hello = bin.join("hello_lambda");
    let secrets = bin.join("hello_secrets");
    let intake = bin.join("intake");
    let healthz = event("/healthz", None);
    let read = event(
        &format!("/v1/changes/{}", deployment.change_id),
        Some(BEARER),
    );
    let kinds = [
        (hello.as_path(), &[][..], &healthz),
        (&secrets, &deployment.env, &healthz),
        (&intake, &deployment.env, &healthz),
        (&intake, &deployment.env, &read),
    ];
    let mut starts: [Vec<Start>; 4] = Default::default();
    let moto = RoundTrips::to(deployment).await;
    // Warms the harness's own clients, whose round trips stand for moto's share.
    moto.once().await?;
    let (mut secret_trips, mut item_trips) = (Vec::new(), Vec::new());
    // In turn, so that whatever else the machine does, moto's pace included, falls on every
    // kind of start and on the round trips alike.
    for _ in 0..scale.starts {
        for (i, (binary, env, event)) in kinds.iter().enumerate() {
            starts[i].push(start_once(binary, env, event).await?);
        }
        let (secret, item) = moto.once().await?;
        secret_trips.push(secret);
        item_trips.push(item);
    }
    let [hello, secrets, health, read] = starts.map(|s| Starts::of(&s));
    let trips = Trips {
        secret: percentile(&mut secret_trips, 50.0),
        get_item: percentile(&mut item_trips, 50.0),
    };

    let mut rows = vec![row(
        "a",
        &format!(
            "cold start (1): exec to the first `/next`, median of {}",
            scale.starts
        ),
        &format!(
            "{} `intake`, {} hello-world; {} the secrets baseline",
            spread(&health.next),
            spread(&hello.next),
            spread(&secrets.next)
        ),
        &format!(
            "{:.2}×; the secrets baseline {:.2}×",
            ratio(health.next.0, hello.next.0),
            ratio(secrets.next.0, hello.next.0)
        ),
        "≤ 1.3×",
    )];
    for (what, intake, calls) in [
        // `/healthz` waits on moto for the secrets; the read, for the change as well.
        ("`GET /healthz`", &health, trips.secret),
        (
            "an authenticated `GET /v1/changes/{id}`",
            &read,
            trips.secret + trips.get_item,
        ),
    ] {
        rows.push(row(
            "a",
            &format!("cold start (2): exec to the response to {what}"),
            &format!(
                "{} `intake`, {} hello-world; moto round trips {}",
                spread(&intake.response),
                spread(&hello.response),
                ms(calls)
            ),
            &format!(
                "{:.2}× with the round trips; {:.2}× without",
                ratio(intake.response.0, hello.response.0),
                ratio(intake.response.0.saturating_sub(calls), hello.response.0)
            ),
            "≤ 1.3× plus the round trips",
        ));
    }
    // What the AWS SDK's read of the secrets costs, and what graphgate adds to it.
    rows.push(row(
        "a",
        "cold start (2): exec to the response to `GET /healthz`, against the secrets baseline \
         (`hello_secrets`: the hello-world that reads the same secrets by ARN)",
        &format!(
            "{} the secrets baseline, {} `intake`",
            spread(&secrets.response),
            spread(&health.response)
        ),
        &format!(
            "baseline {:.2}× hello-world; `intake` {:.2}× the baseline",
            ratio(secrets.response.0, hello.response.0),
            ratio(health.response.0, secrets.response.0)
        ),
        "reported",
    ));
    rows.push(row(
        "a",
        "moto round trips, as sent from the harness (median)",
        &format!(
            "both GetSecretValue at once {}, GetItem {}",
            ms(trips.secret),
            ms(trips.get_item)
        ),
        "",
        "reported",
    ));
    Ok(rows)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// A median with its lowest and highest.
fn spread(of: &(Duration, Duration, Duration)) -> String {
    format!("{} ({}–{})", ms(of.0), ms(of.1), ms(of.2))
}

/// The time to the first `/next` and to the first response, of one start.
struct Start {
    next: Duration,
    response: Duration,
}

/// The median, lowest and highest of each.
struct Starts {
    next: (Duration, Duration, Duration),
    response: (Duration, Duration, Duration),
}

impl Starts {
    fn of(starts: &[Start]) -> Self {
        let summary = |mut d: Vec<Duration>| {
            d.sort_unstable();
            (percentile(&mut d, 50.0), d[0], d[d.len() - 1])
        };
        Starts {
            next: summary(starts.iter().map(|s| s.next).collect()),
            response: summary(starts.iter().map(|s| s.response).collect()),
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) `GET` of `path`, as `events/` has them.
fn event(path: &str, bearer: Option<&str>) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../events/healthz.json")).expect("a sample event");
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    if let Some(token) = bearer {
        event["headers"]["authorization"] = format!("Bearer {token}").into();
    }
    event
}

/// One emulated start: what the emulator saw, from the exec on.
#[derive(Default)]
struct Emulator {
    event: Mutex<Option<Value>>,
    next: Mutex<Option<Instant>>,
    answer: Mutex<Option<(Instant, Result<Value, String>)>>,
    answered: Notify,
}

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

async fn next(State(emulator): State<Arc<Emulator>>) -> axum::response::Response {
    let Some(event) = emulator.event.lock().unwrap().take() else {
        // Lambda holds the poll until the next invocation; there is none.
        return std::future::pending().await;
    };
    *emulator.next.lock().unwrap() = Some(Instant::now());
    let deadline = std::time::SystemTime::now() + Duration::from_secs(29);
    let deadline_ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", REQUEST_ID.to_owned()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:intake".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
        ),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    (headers, axum::Json(event)).into_response()
}

async fn answer(emulator: &Emulator, answer: Result<Value, String>) -> &'static str {
    *emulator.answer.lock().unwrap() = Some((Instant::now(), answer));
    emulator.answered.notify_one();
    ""
}

async fn start_once(binary: &Path, env: &[(&str, String)], event: &Value) -> Result<Start, Error> {
    let emulator = Arc::new(Emulator {
        event: Mutex::new(Some(event.clone())),
        ..Emulator::default()
    });
    let router = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            // The runtime posts JSON without saying so in a content type.
            post(|State(e): State<Arc<Emulator>>, body: String| async move {
                let parsed = serde_json::from_str(&body).map_err(|_| body);
                answer(&e, parsed).await
            }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|State(e): State<Arc<Emulator>>, body: String| async move {
                answer(&e, Err(body)).await
            }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(e): State<Arc<Emulator>>, body: String| async move {
                answer(&e, Err(body)).await
            }),
        )
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let runtime_api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let answered = emulator.answered.notified();

    let started = Instant::now();
    let child = Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "intake")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/intake")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _running = crate::process::Running::from(child);
    let waited = tokio::time::timeout(Duration::from_secs(10), answered).await;
    server.abort();
    waited.map_err(|_| format!("{} never answered its first invocation", binary.display()))?;

    let next = emulator.next.lock().unwrap().ok_or("no /next poll")?;
    let (at, answer) = emulator.answer.lock().unwrap().take().ok_or("no answer")?;
    let body = answer.map_err(|e| format!("{} failed: {e}", binary.display()))?;
    // Every first invocation here is answered 200, in API Gateway's response payload 2.0.
    if body["statusCode"] != 200 {
        return Err(format!("{} answered {body}", binary.display()).into());
    }
    Ok(Start {
        next: next - started,
        response: at - started,
    })
}

/// The moto requests a first invocation makes, sent from here on warm clients.
struct RoundTrips {
    secrets: aws_sdk_secretsmanager::Client,
    dynamo: aws_sdk_dynamodb::Client,
    arns: [String; 2],
    table: String,
    change_id: String,
}

/// The median of each.
struct Trips {
    /// Both secrets, read at once.
    secret: Duration,
    get_item: Duration,
}

impl RoundTrips {
    async fn to(deployment: &Deployment) -> Self {
        let config = graphgate::aws::config().await;
        let value = |name: &str| {
            deployment
                .env
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        RoundTrips {
            secrets: aws_sdk_secretsmanager::Client::new(config),
            dynamo: aws_sdk_dynamodb::Client::new(config),
            arns: ["GRAPH_CLIENT_SECRET_ARN", "GRAPHGATE_CALLERS_SECRET_ARN"].map(value),
            table: value("GRAPHGATE_TABLE"),
            change_id: deployment.change_id.clone(),
        }
    }

    /// Both secrets at once, as the intake reads them; then the change.
    async fn once(&self) -> Result<(Duration, Duration), Error> {
        let started = Instant::now();
        let both = self
            .arns
            .iter()
            .map(|arn| self.secrets.get_secret_value().secret_id(arn).send());
        for read in futures::future::join_all(both).await {
            read?;
        }
        let secret = started.elapsed();
        let started = Instant::now();
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S(self.change_id.clone()),
            )
            .consistent_read(true)
            .send()
            .await?;
        Ok((secret, started.elapsed()))
    }
}
