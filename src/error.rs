//! The top-level error and the documented exit codes.

use crate::{
    bundle::BundleError, core::log::LogError, core::quorum::QuorumError,
    core::receipt::ReceiptError, core::script::ScriptError, fsio::FsError, hsm::HsmError,
    kms::KmsError,
};

/// Exit codes, documented in README.md. Stable: scripts and schedulers rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    /// Something unexpected: a bug. Please report it.
    Internal = 1,
    /// The command line, a script or an answers file is wrong.
    Usage = 2,
    /// A hash, fingerprint or check value did not match: evidence does not hold.
    VerificationFailed = 3,
    /// The environment failed: a file, the PKCS#11 module, the network.
    Environment = 4,
    /// The request was refused before anything changed: wrong key state, expired parameters,
    /// an existing output or HSM label.
    Refused = 5,
    /// The HSM or KMS rejected an operation part way.
    OperationFailed = 6,
    /// `kms status`: at least one key's material is older than the policy allows.
    NonCompliant = 7,
}

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
            Error::Refused { .. } => ExitCode::Refused,
            Error::Quorum(_) => ExitCode::Refused,
            Error::Verification { .. } => ExitCode::VerificationFailed,
            Error::Environment { .. } => ExitCode::Environment,
            Error::NonCompliant { .. } => ExitCode::NonCompliant,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
