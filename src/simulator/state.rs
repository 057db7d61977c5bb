//! What the simulator remembers between calls: tokens issued, operations, app upgrades,
//! devices, the faults still to apply, and the ticket systems' tickets.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::device::SimDevice;
use super::faults::Faults;
use super::operation::Operation;
use super::tickets::Tickets;

/// The simulator's memory behind its lock.
pub(super) struct Inner {
    pub(super) faults: Faults,
    pub(super) token_lifetime: Duration,
    /// Each issued token's expiry and application permissions.
    pub(super) tokens: HashMap<String, (Instant, Vec<String>)>,
    pub(super) operations: BTreeMap<String, Operation>,
    /// How many times each app installation (by path) has been upgraded.
    pub(super) upgrades: HashMap<String, u32>,
    pub(super) devices: BTreeMap<String, SimDevice>,
    pub(super) tickets: Tickets,
}

/// The simulator's memory; clone it to look inside from a test.
#[derive(Clone)]
pub struct SimulatorState(Arc<Mutex<Inner>>);

impl SimulatorState {
    pub fn new(token_lifetime: Duration, faults: Faults) -> Self {
        SimulatorState(Arc::new(Mutex::new(Inner {
            faults,
            token_lifetime,
            tokens: HashMap::new(),
            operations: BTreeMap::new(),
            upgrades: HashMap::new(),
            devices: BTreeMap::new(),
            tickets: Tickets::default(),
        })))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// The faults still to be applied.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// How many tokens the token endpoint has issued.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens.len()
    }
}

impl Default for SimulatorState {
    fn default() -> Self {
        Self::new(Duration::from_secs(3599), Faults::default())
    }
}
