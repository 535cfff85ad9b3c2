//! keyrite: dual-control BYOK key ceremonies for AWS KMS.
//!
//! Layers (README.md, "Layout", has the arrows): [`core`] is pure (no I/O); [`io`] writes files
//! new, whole and fsynced and reads the bundle; [`hsm`] (PKCS#11 via cryptoki) and [`kms`]
//! (aws-sdk-kms) are adapters that never import each other; [`app`] holds the use cases;
//! [`tui`] the operators' screens and [`cli`] the command line.

pub mod app;
pub mod cli;
pub mod core;
pub mod hsm;
pub mod io;
pub mod kms;
pub mod tui;

pub use app::error::{Error, ExitCode};
