//! Running graphgate on one machine: `graphgate serve` (the intake Router on a local socket,
//! a sweep loop beside it, optionally the simulator) and `graphgate sweep --once`.

mod server;

pub use server::Application;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::app::App;
use crate::change::DeviceFilter;
use crate::clock::SystemClock;
use crate::config::{CREDENTIAL_VARS, GraphSettings, Settings, process_env};
use crate::intake::{IntakeSettings, Readiness};
use crate::outbound::{Outbound, TargetPolicy};
use crate::simulator::{self, SimulatorState};
use crate::store::StoreSettings;
use crate::sweeper::Sweeper;
use crate::telemetry::{error_chain, show};
use crate::tickets::TicketClient;

/// Settings for a process on one machine, where a local receiver (a script, a test
/// listener) may take callbacks over plain http on loopback. Against a DynamoDB table the
/// process works on the deployment's changes, so the deployment's strict rules stay.
fn local(mut settings: Settings) -> Settings {
    if matches!(settings.store, StoreSettings::Sqlite { .. }) {
        settings.callback_policy = TargetPolicy::AllowLoopbackHttp;
    }
    settings
}

/// Runs `graphgate check`: the preflight check, as text or JSON; with callers configured,
/// of their ticket systems too. Returns whether this registration can do anything at all.
pub async fn check(json: bool) -> Result<bool, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + IntakeSettings::default().request_timeout;
    let callers_set = ["GRAPHGATE_CALLERS", "GRAPHGATE_CALLERS_SECRET_ARN"]
        .iter()
        .any(|name| process_env(name).is_some());
    // Ticket systems are reached under the rules `serve` or the deployment would use.
    let (graph, policy, registry) = if callers_set {
        let settings = local(Settings::load().await?);
        let registry = settings.callers.current().await;
        (
            settings.graph.client(),
            settings.callback_policy,
            Some(registry),
        )
    } else {
        (
            GraphSettings::load().await?.client(),
            TargetPolicy::PublicHttpsOnly,
            None,
        )
    };
    let tickets = TicketClient::new(Arc::new(Outbound::new(policy)));
    let callers = registry.iter().flat_map(|r| r.callers());
    let readiness = Readiness::check(&graph, &tickets, callers, deadline).await;
    let text = if json {
        serde_json::to_string_pretty(&readiness)?
    } else {
        readiness.to_text()
    };
    writeln!(std::io::stdout(), "{}", text.trim_end())?;
    Ok(readiness.graph.ready)
}

/// Runs `graphgate devices`: the inventory `filter` takes, as text or JSON, read straight
/// from Graph with the configured credentials.
pub async fn devices(
    filter: &[(&str, Option<String>)],
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let fields = filter
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), value.clone()?.into())))
        .collect();
    let filter = DeviceFilter::parse(&fields, "").map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("--{}: {}", kebab(&e.field), e.detail))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let graph = GraphSettings::load().await?.client();
    let inventory = graph
        .inventory(&filter, Instant::now() + INVENTORY_BUDGET)
        .await?;
    let text = if json {
        serde_json::to_string_pretty(&inventory.to_json(&filter))?
    } else {
        inventory.to_text()
    };
    writeln!(std::io::stdout(), "{}", text.trim_end())?;
    Ok(())
}

/// How long `graphgate devices` may spend reading a large fleet.
const INVENTORY_BUDGET: Duration = Duration::from_secs(300);

/// `updateAvailable` as its command-line flag spells it: `update-available`.
fn kebab(field: &str) -> String {
    field
        .chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['-', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Runs `graphgate sweep --once`: one pass, its report printed as JSON.
pub async fn sweep_once() -> Result<(), Box<dyn std::error::Error>> {
    let app = App::from_settings(local(Settings::load().await?)).await?;
    let deadline = Instant::now() + app.sweep.pass_budget();
    let report = app.sweeper().sweep_once(deadline).await?;
    writeln!(std::io::stdout(), "{}", serde_json::to_string(&report)?)?;
    Ok(())
}

/// Runs `graphgate serve`, with a sweep loop beside it. With `simulate`, Graph is the built-in simulator on a free
/// loopback port, the Graph credentials default to placeholders, and when no callers are
/// configured a demo caller is made and its token printed.
pub async fn serve(listen: SocketAddr, simulate: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (settings, demo, simulator_addr) = if simulate {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let simulated = SimulatorState::default();
        simulated.seed_demo_fleet();
        simulated.seed_demo_tickets();
        tokio::spawn(simulator::serve(listener, simulated));
        let demo = process_env("GRAPHGATE_CALLERS")
            .is_none()
            .then(|| Demo::new(&format!("http://{addr}")));
        let demo_callers = demo.as_ref().map(Demo::callers);
        let overlay = |name: &str| match name {
            "GRAPH_BASE_URL" => Some(format!("http://{addr}")),
            "GRAPH_TOKEN_URL" => Some(format!("http://{addr}/simulated-tenant/oauth2/v2.0/token")),
            "GRAPH_CLIENT_ID" => process_env(name).or(Some("graphgate-simulator".into())),
            // A placeholder secret, unless a credential of either kind is given.
            "GRAPH_CLIENT_SECRET" => {
                let given = CREDENTIAL_VARS.iter().any(|v| process_env(v).is_some());
                (!given)
                    .then(|| "simulated-secret".into())
                    .or_else(|| process_env(name))
            }
            "GRAPHGATE_CALLERS" => process_env(name).or(demo_callers.clone()),
            _ => process_env(name),
        };
        (
            Settings::load_from(&overlay, Arc::new(SystemClock)).await?,
            demo,
            Some(addr),
        )
    } else {
        (Settings::load().await?, None, None)
    };
    let interval = settings.sweep_interval;
    let limits = settings.connections;
    let app = App::from_settings(local(settings)).await?;
    tokio::spawn(run_forever(app.sweeper(), interval));
    let application = Application::bind(app.router(), listen, limits).await?;
    let addr = application.local_addr();
    let mut banner = format!("graphgate listening on http://{addr}\n");
    if let Some(sim) = simulator_addr {
        banner += &format!(
            "Graph simulator on http://{sim} (faults: PUT http://{sim}/_simulator/faults)\n"
        );
    }
    if let Some(demo) = demo {
        banner += &demo.banner(addr);
    }
    show(&banner);
    application.run_until_stopped().await?;
    Ok(())
}

/// The callers `serve --simulate` makes when none are configured: `demo`, which may do
/// anything, and two gated on the simulator's ServiceNow and Jira, so the gate can be seen
/// refusing a change whose ticket is not approved. Each has a token of its own, made now.
struct Demo {
    simulator: String,
    token: String,
    servicenow_token: String,
    jira_token: String,
}

impl Demo {
    fn new(simulator: &str) -> Self {
        let token = || hex::encode(rand::random::<[u8; 24]>());
        Demo {
            simulator: simulator.to_owned(),
            token: token(),
            servicenow_token: token(),
            jira_token: token(),
        }
    }

    fn callers(&self) -> String {
        let Demo {
            simulator,
            token,
            servicenow_token,
            jira_token,
        } = self;
        serde_json::json!([
            {"name": "demo", "auth": {"scheme": "bearer", "token": token}, "allow": ["*"]},
            {"name": "demo-servicenow", "auth": {"scheme": "bearer", "token": servicenow_token},
             "allow": ["*"],
             "ticket": {"system": "servicenow", "url": simulator,
                "user": simulator::SERVICENOW_USER, "password": simulator::SERVICENOW_PASSWORD,
                "gate": true}},
            {"name": "demo-jira", "auth": {"scheme": "bearer", "token": jira_token},
             "allow": ["*"],
             "ticket": {"system": "jira", "url": simulator, "user": simulator::JIRA_EMAIL,
                "apiToken": simulator::JIRA_API_TOKEN, "approvedStatuses": ["Approved"],
                "gate": true}},
        ])
        .to_string()
    }

    fn banner(&self, addr: SocketAddr) -> String {
        let restart = |token: &str, reference: &str| {
            format!(
                "  curl -si http://{addr}/v1/changes -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    \
                 -d '{{\"action\":\"restartDevice\",\"deviceId\":\"demo-device-1\",\"reference\":\"{reference}\"}}'\n"
            )
        };
        format!(
            "demo caller token: {token}\ntry:\n  curl -si http://{addr}/v1/changes -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    \
             -d '{{\"action\":\"updateSoftware\",\"deviceId\":\"demo-device-1\",\"softwareType\":\"teamsClient\",\"softwareVersion\":\"1.0.96.22\",\"reference\":\"CHG0031234\"}}'\n\
             gated on the simulated ServiceNow (caller demo-servicenow, token {snow}): CHG0030001 is approved, CHG0030002 is not:\n{approved}{refused}\
             gated on the simulated Jira (caller demo-jira, token {jira}): CHG-1 is approved, CHG-2 is not\n\
             the tickets, and the notes written to them: {sim}/_simulator/tickets\n",
            token = self.token,
            snow = self.servicenow_token,
            jira = self.jira_token,
            approved = restart(&self.servicenow_token, "CHG0030001"),
            refused = restart(&self.servicenow_token, "CHG0030002"),
            sim = self.simulator,
        )
    }
}

/// Runs a pass every `interval` until the process ends; for `graphgate serve`. Each pass is
/// its own task, so a pass that fails, or panics, costs that pass and not the loop.
pub async fn run_forever(sweeper: Sweeper, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // A pass ends well within the claims it takes.
        let deadline = Instant::now() + sweeper.settings.pass_budget();
        let pass = sweeper.clone();
        match tokio::spawn(async move { pass.sweep_once(deadline).await }).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %error_chain(&e), "sweep pass failed; trying again next interval")
            }
            Err(e) => {
                tracing::error!(error = %e, "sweep pass panicked; trying again next interval")
            }
        }
    }
}
