//! What a caller sends: one change at a time for the latency figure, many clients at once for
//! the throughput figure, and the same change straight to the simulator as their baseline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{BEARER, Error, Scale, ms, percentile, row};

/// p50 and p99 of one request at a time, straight to Graph and through graphgate in turn.
pub struct Latency {
    straight: (Duration, Duration),
    through: (Duration, Duration),
}

impl Latency {
    pub fn rows(&self, setting: &str) -> Vec<String> {
        [
            ("p50", self.straight.0, self.through.0),
            ("p99", self.straight.1, self.through.1),
        ]
        .into_iter()
        .map(|(p, base, gate)| {
            row(
                "b",
                &format!("added latency, {p}, {setting}"),
                &format!(
                    "{} through graphgate, {} straight to Graph",
                    ms(gate),
                    ms(base)
                ),
                &format!("adds {}", ms(gate.saturating_sub(base))),
                if p == "p99" { "adds ≤ 1 ms" } else { "" },
            )
        })
        .collect()
    }
}

pub async fn latency(
    http: &reqwest::Client,
    straight: &Target,
    through: &Target,
    devices: &AtomicUsize,
    scale: &Scale,
) -> Result<Latency, Error> {
    for _ in 0..scale.warm_up {
        straight.send(http, devices).await?;
        through.send(http, devices).await?;
    }
    let (mut base, mut gate) = (Vec::new(), Vec::new());
    for _ in 0..scale.requests {
        base.push(straight.send(http, devices).await?);
        gate.push(through.send(http, devices).await?);
    }
    Ok(Latency {
        straight: (percentile(&mut base, 50.0), percentile(&mut base, 99.0)),
        through: (percentile(&mut gate, 50.0), percentile(&mut gate, 99.0)),
    })
}

/// Where a restart is sent: Graph's own action, or graphgate's API.
pub enum Target {
    Graph { base: String, token: String },
    Graphgate { base: String },
}

impl Target {
    /// Sends one restart of a device no request used before (Graph answers 409 for a device
    /// with an operation queued), and answers how long it took.
    pub async fn send(
        &self,
        http: &reqwest::Client,
        devices: &AtomicUsize,
    ) -> Result<Duration, Error> {
        let device = format!("bench-{}", devices.fetch_add(1, Ordering::Relaxed));
        let request = match self {
            Target::Graph { base, token } => http
                .post(format!("{base}/beta/teamwork/devices/{device}/restart"))
                .bearer_auth(token)
                .header("content-length", "0"),
            Target::Graphgate { base } => http
                .post(format!("{base}/v1/changes"))
                .bearer_auth(BEARER)
                .json(&json!({"action": "restartDevice", "deviceId": device})),
        };
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        response.bytes().await?;
        let took = started.elapsed();
        if status != reqwest::StatusCode::ACCEPTED {
            return Err(format!("expected 202, got {status}").into());
        }
        Ok(took)
    }
}

/// Requests answered per second by `target` from the scale's clients, each sending one
/// after another for the scale's time.
pub async fn throughput(
    http: &reqwest::Client,
    target: &Target,
    devices: &AtomicUsize,
    scale: &Scale,
) -> Result<f64, Error> {
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let client = || async {
        while started.elapsed() < scale.throughput_for {
            target.send(http, devices).await?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok::<(), Error>(())
    };
    let results = futures::future::join_all((0..scale.clients).map(|_| client())).await;
    for result in results {
        result?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

pub async fn graph_token(http: &reqwest::Client, graph: &str) -> Result<String, Error> {
    let grant: serde_json::Value = http
        .post(format!("{graph}/simulated-tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "graphgate-bench"),
            ("client_secret", "bench-secret"),
            ("scope", &format!("{graph}/.default")),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(grant["access_token"]
        .as_str()
        .ok_or("no token from the simulator")?
        .to_owned())
}

/// Sends `count` changes through `target` from `clients` clients at once.
pub async fn seed(
    http: &reqwest::Client,
    target: &Target,
    devices: &AtomicUsize,
    count: usize,
    clients: usize,
) -> Result<(), Error> {
    let next = AtomicUsize::new(0);
    let client = || async {
        while next.fetch_add(1, Ordering::Relaxed) < count {
            target.send(http, devices).await?;
        }
        Ok::<(), Error>(())
    };
    for result in futures::future::join_all((0..clients).map(|_| client())).await {
        result?;
    }
    Ok(())
}

/// Makes the simulator wait `latency` before answering each Graph call, from now on.
pub async fn set_graph_latency(
    http: &reqwest::Client,
    graph: &str,
    latency: Duration,
) -> Result<(), Error> {
    http.put(format!("{graph}/_simulator/faults"))
        .json(&json!({"latencyMs": latency.as_millis() as u64}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
