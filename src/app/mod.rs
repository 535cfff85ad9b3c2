//! The use cases: the ceremony, enrolment, escrow re-wrap, audit, prepare, import, rollback,
//! status and the rehearsal. They drive the adapters ([`crate::hsm`], [`crate::kms`],
//! [`crate::io`]) around the pure [`crate::core`]; they never import the command line or the
//! screens.

pub mod audit;
#[cfg(feature = "airgap")]
pub mod ceremony;
#[cfg(feature = "airgap")]
pub mod enrol;
pub mod error;
#[cfg(feature = "airgap")]
pub mod escrow;
#[cfg(feature = "connected")]
pub mod import;
#[cfg(feature = "connected")]
pub mod inventory;
pub mod ledger;
pub mod ledger_error;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod localkms;
#[cfg(feature = "connected")]
pub mod prepare;
pub mod provenance;
pub mod provenance_error;
#[cfg(feature = "airgap")]
pub mod quorum;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod rehearse;
pub mod replay;
#[cfg(feature = "connected")]
pub mod rollback;
#[cfg(feature = "connected")]
pub mod status;
#[cfg(feature = "connected")]
pub mod verify_rotation;
#[cfg(any(feature = "airgap", feature = "connected"))]
pub mod witness;
