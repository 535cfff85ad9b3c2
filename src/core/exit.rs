//! The documented exit codes (README.md, "Exit codes"): every layer's error maps to one.

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
