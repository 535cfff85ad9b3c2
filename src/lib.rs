//! keyrite: dual-control BYOK key ceremonies for AWS KMS.
//!
//! Layers: [`core`] is pure (no I/O): algorithms, the bundle manifest model, ceremony scripts, digests.
//! Around it thin adapters: [`fsio`] (files written new, whole and fsynced), [`hsm`] (PKCS#11 via
//! cryptoki), [`kms`] (aws-sdk-kms), and the drivers [`ceremony`], [`rehearse`] and [`cli`].

pub mod audit;
pub mod bundle;
pub mod ceremony;
pub mod ceremony_log;
pub mod cli;
pub mod core;
pub mod enrol;
pub mod error;
pub mod escrow;
pub mod fsio;
pub mod hsm;
pub mod kms;
pub mod kms_status_cli;
pub mod localkms;
pub mod quorum_gate;
pub mod rehearse;
pub mod replay;
pub mod tui;

pub use error::{Error, ExitCode};
