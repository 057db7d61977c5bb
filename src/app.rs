//! What a graphgate process shares: its clients and settings, built once at start-up and
//! handed to the HTTP app and the sweeper alike.

use std::sync::Arc;

use crate::callback::CallbackSender;
use crate::callers::CallerRegistry;
use crate::config::{Settings, SweepSettings, Timing};
use crate::graph::GraphClient;
use crate::store::{self, Store, StoreError};
use crate::sweeper::Sweeper;

#[derive(Clone)]
pub struct AppState {
    pub graph: Arc<GraphClient>,
    pub store: Arc<dyn Store>,
    pub callers: Arc<CallerRegistry>,
    pub callbacks: Arc<CallbackSender>,
    pub timing: Timing,
    pub sweep: SweepSettings,
}

impl AppState {
    /// Builds the clients. Nothing here calls a service: the first Graph token is fetched by
    /// the first request that needs it, keeping cold starts short.
    pub async fn from_settings(settings: Settings) -> Result<Self, StoreError> {
        Ok(AppState {
            store: store::open(&settings.store).await?,
            graph: Arc::new(GraphClient::new(
                settings.graph.base,
                settings.graph.credentials,
                settings.graph.retry,
            )),
            callers: Arc::new(settings.callers),
            callbacks: Arc::new(CallbackSender::new(settings.callback_policy)),
            timing: settings.timing,
            sweep: settings.sweep,
        })
    }

    /// A sweeper over this process's clients and store.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(self.clone())
    }
}
