//! keyrite: dual-control BYOK key ceremonies for AWS KMS.
//!
//! Layers (README.md, "Layout", has the arrows): [`core`] is pure (no I/O); [`io`] writes files
//! new, whole and fsynced and reads the bundle; [`hsm`] (PKCS#11 via cryptoki) and [`kms`]
//! (aws-sdk-kms) are adapters that never import each other; [`app`] holds the use cases;
//! [`tui`] the operators' screens and [`cli`] the command line.
//!
//! Two builds: the `airgap` feature brings the HSM, the terminal UI, the ceremony, enrolment and
//! re-wrap; `connected` the KMS side (prepare, import, rollback, status); audit is in every build.
//! The default build has both (the rehearsal needs both).

pub mod app;
pub mod cli;
pub mod core;
#[cfg(feature = "airgap")]
pub mod hsm;
pub mod io;
#[cfg(feature = "connected")]
pub mod kms;
#[cfg(feature = "airgap")]
pub mod tui;

pub use app::error::{Error, ExitCode};
