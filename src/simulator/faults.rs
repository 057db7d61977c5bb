//! The faults the simulator applies to the next Graph calls, and the permissions of the
//! tokens it issues: Graph's bad days, on demand.

use serde::{Deserialize, Serialize};

/// Faults applied to the next Graph calls, and the permissions of the tokens issued from now
/// on. Set with `PUT /_simulator/faults`, or with the same-named flags of
/// `graphgate simulate-graph`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// Answer the next N Graph calls with 429.
    #[arg(long, default_value_t = 0)]
    pub throttle: u32,
    /// Retry-After sent with each 429, in (fractional) seconds.
    #[arg(long, default_value_t = 2.128)]
    pub retry_after_secs: f64,
    /// Answer the next N requests inside `$batch` calls with 429 (and `retryAfterSecs`),
    /// while the batch itself succeeds.
    #[arg(long, default_value_t = 0)]
    pub throttle_batch_items: u32,
    /// Answer the next N Graph calls (after throttled ones) with 503.
    #[arg(long, default_value_t = 0)]
    pub unavailable: u32,
    /// Delay every Graph call by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Mark the device APIs deprecated: their answers carry `Deprecation`, `Sunset` and a
    /// `Link` to the notice, as Graph's gateway adds them.
    #[arg(long)]
    pub deprecated: bool,
    /// Act as Graph once the device APIs are removed: every device call answers 400
    /// "Resource not found for the segment 'devices'", as v1.0 does today.
    #[arg(long)]
    pub retired: bool,
    /// The application permissions (`roles`) of the tokens issued from now on, comma
    /// separated; Graph answers 403 to a call they do not allow. Unset: the least-privileged
    /// permissions for every action, consent included.
    #[arg(long, value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
}
