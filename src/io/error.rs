//! The io layer's error: a file, the bundle, or the receipt file on disk.

use std::path::PathBuf;

use crate::core::exit::{ExitCode, Explained};
use crate::core::receipt::ReceiptError;
use crate::io::bundle::BundleError;
use crate::io::fs::FsError;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle's existing import receipt (or the ceremony log it continues) does not hold.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error(
        "{} has no {log}\n  what to do: the import receipt continues the ceremony log: import only bundles a ceremony wrote",
        dir.display()
    )]
    NoCeremonyLog { dir: PathBuf, log: &'static str },
}

impl IoError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            IoError::Fs(e) => e.exit_code(),
            IoError::Bundle(e) => e.exit_code(),
            IoError::Receipt(_) => ExitCode::VerificationFailed,
            IoError::NoCeremonyLog { .. } => ExitCode::Refused,
        }
    }
}

impl Explained for IoError {
    fn exit_code(&self) -> ExitCode {
        IoError::exit_code(self)
    }
}
