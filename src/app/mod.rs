//! The use cases: the ceremony, enrolment, escrow re-wrap, audit, prepare, import, rollback,
//! status and the rehearsal. They drive the adapters ([`crate::hsm`], [`crate::kms`],
//! [`crate::io`]) around the pure [`crate::core`]; they never import the command line or the
//! screens.

pub mod audit;
pub mod ceremony;
pub mod enrol;
pub mod error;
pub mod escrow;
pub mod import;
pub mod inventory;
pub mod localkms;
pub mod prepare;
pub mod quorum;
pub mod rehearse;
pub mod replay;
pub mod rollback;
pub mod status;
pub mod verify_rotation;
