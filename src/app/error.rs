//! The top-level error and the documented exit codes.

use crate::core::custody::shares::QuorumError;
pub use crate::core::exit::ExitCode;
use crate::core::log::LogError;
use crate::core::receipt::ReceiptError;
use crate::core::script::ScriptError;
#[cfg(feature = "airgap")]
use crate::hsm::HsmError;
use crate::io::bundle::BundleError;
use crate::io::fs::FsError;
#[cfg(feature = "connected")]
use crate::kms::KmsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[cfg(feature = "airgap")]
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[cfg(feature = "connected")]
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The quorum gate refused the custodians' shares or names, before any login.
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("{what}\n  what to do: {hint}")]
    Usage { what: String, hint: String },
    #[error("{what}\n  what to do: {hint}")]
    Refused { what: String, hint: String },
    #[error("{what}\n  what to do: {hint}")]
    Verification { what: String, hint: String },
    #[error("{what}\n  what to do: {hint}")]
    Environment { what: String, hint: String },
    #[error("{what}\n  what to do: {hint}")]
    NonCompliant { what: String, hint: String },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Bundle(e) => e.exit_code(),
            Error::Script(_) | Error::Usage { .. } => ExitCode::Usage,
            Error::Fs(e) => e.exit_code(),
            #[cfg(feature = "airgap")]
            Error::Hsm(e) => e.exit_code(),
            #[cfg(feature = "connected")]
            Error::Kms(e) => e.exit_code(),
            Error::Log(LogError::TrustedKey(_)) => ExitCode::Usage,
            Error::Log(LogError::Signing(_)) => ExitCode::OperationFailed,
            Error::Log(_) => ExitCode::VerificationFailed,
            Error::Receipt(_) => ExitCode::VerificationFailed,
            Error::Refused { .. } => ExitCode::Refused,
            Error::Quorum(_) => ExitCode::Refused,
            Error::Verification { .. } => ExitCode::VerificationFailed,
            Error::Environment { .. } => ExitCode::Environment,
            Error::NonCompliant { .. } => ExitCode::NonCompliant,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
