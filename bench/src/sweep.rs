//! (d) Sweep efficiency: one pass over many pending operations while Graph takes a fixed time
//! to answer each call, at several concurrencies, against the ideal N × latency / C.
//!
//! The changes are made through `graphgate serve`, as callers make them, with Graph answering
//! at once. The pass then runs here, in the harness's process, through the same
//! `Sweeper::sweep_once` that the `serve` loop, `graphgate sweep --once` and the Lambda call,
//! configured from the same variables a user sets (`GRAPHGATE_SWEEP_CONCURRENCY`,
//! `GRAPHGATE_SWEEP_BATCH`). So the time measured is the pass's alone, not a process start.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use graphgate::app::App;
use graphgate::clock::SystemClock;
use graphgate::config::Settings;
use tokio::time::Instant;

use crate::process::{graphgate_env, start_serve};
use crate::requests::{Target, seed, set_graph_latency};
use crate::{Error, row, secs};

/// How big the pass is.
pub struct SweepScale {
    /// Operations pending when the pass starts.
    pub pending: usize,
    /// How long Graph takes to answer each call during the pass.
    pub latency: Duration,
    pub concurrency: &'static [usize],
}

/// The pass's rows, one per concurrency, each on a store of its own.
pub async fn rows(
    bin: &Path,
    graph: &str,
    dir: &Path,
    http: &reqwest::Client,
    devices: &AtomicUsize,
    scale: &SweepScale,
) -> Result<Vec<String>, Error> {
    let mut rows = Vec::new();
    for &concurrency in scale.concurrency {
        let pending = scale.pending;
        let mut env = graphgate_env(graph, &dir.join(format!("sweep-{concurrency}.db")));
        // Each change is first polled one poll interval after it was made.
        let first_poll = Duration::from_secs(1);
        env.push((
            "GRAPHGATE_POLL_INTERVAL_SECS",
            first_poll.as_secs().to_string(),
        ));
        {
            let (_serve, api) = start_serve(bin, &env)?;
            let through = Target::Graphgate { base: api };
            seed(http, &through, devices, pending, 64).await?;
        }
        let all_due = Instant::now() + first_poll + Duration::from_millis(100);
        env.push(("GRAPHGATE_SWEEP_CONCURRENCY", concurrency.to_string()));
        env.push(("GRAPHGATE_SWEEP_BATCH", pending.to_string()));
        let lookup = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        let sweeper = App::from_settings(Settings::from_lookup(&lookup, Arc::new(SystemClock))?)
            .await?
            .sweeper();
        tokio::time::sleep_until(all_due).await;

        set_graph_latency(http, graph, scale.latency).await?;
        let started = Instant::now();
        let pass = sweeper
            .sweep_once(started + Duration::from_secs(3600))
            .await;
        let took = started.elapsed();
        set_graph_latency(http, graph, Duration::ZERO).await?;
        let report = pass?;
        if report.due != pending || report.polled != pending || report.errors != 0 {
            return Err(format!("the pass did not poll every operation once: {report:?}").into());
        }

        let ideal = scale.latency * pending as u32 / concurrency as u32;
        rows.push(row(
            "d",
            &format!(
                "one sweep pass over {pending} pending operations, Graph answering in {} ms, C = {concurrency}",
                scale.latency.as_millis()
            ),
            &format!(
                "{} ({:.0} polls/s); ideal {}",
                secs(took),
                pending as f64 / took.as_secs_f64(),
                secs(ideal)
            ),
            &format!("{:.2}× the ideal", took.as_secs_f64() / ideal.as_secs_f64()),
            if concurrency == 64 { "≤ 1.2× ideal" } else { "" },
        ));
    }
    Ok(rows)
}
