//! A graphgate process's parts: its clients, built once at start-up, and the two things made
//! of them, the HTTP API and the sweeper.

use std::sync::Arc;

use axum::Router;

use crate::callback::CallbackSender;
use crate::callers::CallerSource;
use crate::change::Pacing;
use crate::clock::Clock;
use crate::config::Settings;
use crate::graph::GraphClient;
use crate::intake::{self, InFlight, Intake, IntakeSettings};
use crate::outbound::Outbound;
use crate::store::{self, Store, StoreError};
use crate::sweeper::{SweepSettings, Sweeper};
use crate::tickets::TicketClient;

#[derive(Clone)]
pub struct App {
    pub graph: Arc<GraphClient>,
    pub store: Arc<dyn Store>,
    pub callers: Arc<dyn CallerSource>,
    pub callbacks: Arc<CallbackSender>,
    /// Ticket systems are called through the same outbound client as callbacks, under the
    /// same rules.
    pub tickets: Arc<TicketClient>,
    pub clock: Arc<dyn Clock>,
    pub intake: IntakeSettings,
    pub sweep: SweepSettings,
    pub pacing: Pacing,
    /// The keyed deliveries this process is handling now: one map for every router made
    /// here, so repeats wait on each other whichever router took them.
    pub deliveries: InFlight,
}

impl App {
    /// Builds the clients, on the settings' clock. Nothing here calls a service: the first
    /// Graph token is fetched by the first request that needs it, keeping cold starts short.
    pub async fn from_settings(settings: Settings) -> Result<Self, StoreError> {
        let store = store::open(&settings.store).await?;
        Ok(Self::with_store(settings, store))
    }

    /// As [`App::from_settings`], over a store already opened from `settings.store`.
    pub fn with_store(settings: Settings, store: Arc<dyn Store>) -> Self {
        let outbound = Arc::new(Outbound::new(settings.callback_policy));
        App {
            store,
            graph: Arc::new(settings.graph.client()),
            callers: settings.callers,
            callbacks: Arc::new(CallbackSender::new(outbound.clone())),
            tickets: Arc::new(TicketClient::new(outbound)),
            clock: settings.clock,
            intake: settings.intake,
            sweep: settings.sweep,
            pacing: settings.pacing,
            deliveries: InFlight::default(),
        }
    }

    /// The HTTP API over this process's clients.
    pub fn router(&self) -> Router {
        intake::router(Intake {
            graph: self.graph.clone(),
            store: self.store.clone(),
            callers: self.callers.clone(),
            callbacks: self.callbacks.clone(),
            tickets: self.tickets.clone(),
            settings: self.intake,
            pacing: self.pacing,
            clock: self.clock.clone(),
            deliveries: self.deliveries.clone(),
        })
    }

    /// A sweeper over this process's clients and store.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper {
            store: self.store.clone(),
            graph: self.graph.clone(),
            callbacks: self.callbacks.clone(),
            callers: self.callers.clone(),
            tickets: self.tickets.clone(),
            settings: self.sweep,
            pacing: self.pacing,
            clock: self.clock.clone(),
        }
    }
}
