//! The top-level error and the documented exit codes.

use crate::core::custody::shares::QuorumError;
pub use crate::core::exit::ExitCode;
use crate::core::exit::Explained;
use crate::core::log::LogError;
use crate::core::receipt::ReceiptError;
use crate::core::script::ScriptError;
use crate::hsm::HsmError;
use crate::io::IoError;
use crate::io::bundle::BundleError;
use crate::io::fs::FsError;
use crate::io::log_file::AppendError;
use crate::kms::KmsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The quorum gate refused the custodians' shares or names, before any login.
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error(transparent)]
    Io(#[from] IoError),
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
            Error::Hsm(e) => e.exit_code(),
            Error::Kms(e) => e.exit_code(),
            Error::Log(LogError::TrustedKey(_)) => ExitCode::Usage,
            Error::Log(LogError::Signing(_)) => ExitCode::OperationFailed,
            Error::Log(_) => ExitCode::VerificationFailed,
            Error::Receipt(_) => ExitCode::VerificationFailed,
            Error::Io(e) => e.exit_code(),
            Error::Refused { .. } => ExitCode::Refused,
            Error::Quorum(_) => ExitCode::Refused,
            Error::Verification { .. } => ExitCode::VerificationFailed,
            Error::Environment { .. } => ExitCode::Environment,
            Error::NonCompliant { .. } => ExitCode::NonCompliant,
        }
    }
}

impl Explained for Error {
    fn exit_code(&self) -> ExitCode {
        Error::exit_code(self)
    }
}

impl<E: Into<Error>> From<AppendError<E>> for Error {
    fn from(e: AppendError<E>) -> Self {
        match e {
            AppendError::Sign(e) => e.into(),
            AppendError::Write(e) => e.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
