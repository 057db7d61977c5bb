//! What the two Lambda functions share: start-up (JSON logs, EMF metrics, settings, clients; a
//! bad setting is logged once, plainly, and ends the process), and the sweeper's scheduled
//! invocation.
//!
//! The start-up's AWS work (the SDK's configuration, the secrets read by ARN, the clients)
//! runs beside the runtime's wait for its first event, once it has let the runtime send that
//! poll ([`after_first_poll`]): the function is ready to take its first invocation as soon as
//! the runtime is, and that invocation waits only for what is left of the start-up. A table's
//! client is made while the secrets are read. BENCHMARKS.md measures each.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use crate::app::App;
use crate::clock::invocation_time_left;
use crate::config::Settings;
use crate::metrics;
use crate::store::{self, Store, StoreError, StoreSettings};
use crate::sweeper::{SweepReport, Sweeper};
use crate::telemetry::{self, error_chain};

/// What a function serves with (its router, or its sweeper), made from the [`App`] once the
/// start-up is done; cheap to clone, so each invocation holds its own handle.
#[derive(Clone)]
pub struct Starting<T: Clone>(Shared<BoxFuture<'static, T>>);

impl<T: Clone + Send + Sync + 'static> Starting<T> {
    /// Starts the logs at once and the rest of the start-up in the background. A start-up that
    /// fails is logged and ends the process, which Lambda reports as the function's failure.
    pub fn begin(make: fn(&App) -> T) -> Self {
        telemetry::init(telemetry::Format::Json);
        let started = tokio::spawn(async move {
            after_first_poll().await;
            match std::panic::AssertUnwindSafe(start()).catch_unwind().await {
                Ok(Some(app)) => make(&app),
                // The reason is logged already; a panic's, by the panic hook.
                _ => std::process::exit(1),
            }
        });
        // The task ends the process rather than fail, so it always joins.
        Starting(
            started
                .map(|joined| joined.unwrap_or_else(|_| std::process::exit(1)))
                .boxed()
                .shared(),
        )
    }

    /// What the function serves with, once the start-up is done.
    pub async fn ready(&self) -> T {
        self.0.clone().await
    }
}

/// Lets the Lambda runtime send its first poll before the caller goes on. On a runtime with one
/// thread (`intake`'s) a task that is ready runs before the I/O the runtime waits on is polled,
/// so the start-up would otherwise run first and hold the poll back by its whole first step.
/// A yielding task resumes only after the runtime has polled its I/O; the poll goes out on the
/// third turn with `lambda_runtime` 1.5 (measured with BENCHMARKS.md's cold start), and the
/// rest leave room. Each turn costs one `epoll_wait` that does not wait.
pub async fn after_first_poll() {
    const TURNS: usize = 8;
    for _ in 0..TURNS {
        tokio::task::yield_now().await;
    }
}

async fn start() -> Option<App> {
    let (settings, table) = tokio::join!(Settings::load(), open_table());
    let settings = settings
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))
        .ok()?;
    metrics::install(settings.metrics_namespace.clone());
    let store = match table {
        Some(table) => table,
        None => store::open(&settings.store)
            .await
            .inspect_err(|e| tracing::error!(error = %error_chain(e), "cannot open the store"))
            .ok()?,
    };
    Some(App::with_store(settings, store))
}

/// The store, if it is a DynamoDB table, made while Secrets Manager answers: a table's client
/// needs no secret and opens nothing, and making it parses the SDK's endpoint rules. A SQLite
/// file is opened only once every setting is known to be good, since opening creates it.
async fn open_table() -> Option<Arc<dyn Store>> {
    match StoreSettings::load() {
        Ok(table @ StoreSettings::DynamoDb { .. }) => store::open(&table).await.ok(),
        _ => None,
    }
}

/// What invoked the `sweeper` Lambda function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge rule: its `Scheduled Event` envelope.
    Rule { time: Option<String> },
    /// EventBridge Scheduler, which sends the payload the schedule names (any JSON).
    Scheduler,
}

impl Trigger {
    pub fn of(payload: &serde_json::Value) -> Self {
        let field = |name: &str| payload.get(name).and_then(serde_json::Value::as_str);
        if field("source") == Some("aws.events") && field("detail-type").is_some() {
            Trigger::Rule {
                time: field("time").map(str::to_owned),
            }
        } else {
            Trigger::Scheduler
        }
    }
}

/// One invocation of the `sweeper` Lambda function: a pass that stops `margin` before the
/// invocation's deadline.
pub async fn on_schedule(
    sweeper: &Sweeper,
    payload: &serde_json::Value,
    invocation_deadline: SystemTime,
    margin: Duration,
) -> Result<SweepReport, StoreError> {
    let trigger = Trigger::of(payload);
    let left = invocation_time_left(invocation_deadline, margin)
        .unwrap_or_else(|| sweeper.settings.pass_budget());
    tracing::info!(?trigger, seconds_left = left.as_secs_f64(), "sweep invoked");
    sweeper.sweep_once(Instant::now() + left).await
}
