//! When a key's material last changed, from CloudTrail `LookupEvents`: the key's latest
//! successful ImportKeyMaterial or RotateKeyOnDemand (events are returned newest first, so the
//! lookup stops at the first). CloudTrail keeps 90 days of management events: no event means
//! "not within 90 days", not "never".

use jiff::Timestamp;
use serde::Serialize;

/// The operations that make imported material current.
pub const MATERIAL_EVENTS: [&str; 2] = ["ImportKeyMaterial", "RotateKeyOnDemand"];

/// What CloudTrail said about a key's material.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "lookup")]
pub enum TrailLookup {
    /// The latest successful event, if CloudTrail has one.
    Found {
        last_change: Option<Timestamp>,
        event: Option<String>,
    },
    /// LookupEvents failed here (not implemented by a local endpoint, or denied): the reason.
    Unavailable { reason: String },
}

// The lookups: CloudTrail's SDK client with the `resources` feature, a stand-in without it that
// answers every lookup with "not in this build" (reported as CloudTrail unavailable).
#[cfg(feature = "resources")]
mod lookup;
#[cfg(not(feature = "resources"))]
#[path = "cloudtrail/absent.rs"]
mod lookup;
pub use lookup::{CloudTrailClient, errors_since, last_material_change};
