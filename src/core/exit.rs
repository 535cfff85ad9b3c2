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
    /// `audit verify`: every record verifies, but the ceremony was aborted (no key to import).
    CeremonyAborted = 8,
    /// `audit verify`: every record present verifies, but the log has no end or aborted record
    /// (an interrupted ceremony never taken up again, or a log cut short).
    CeremonyUnfinished = 9,
    /// The report is partial: `kms status` could not read at least one key (and every key it
    /// could read is within the policy), or `kms inventory` / `kms status --resources` could not
    /// read a service's resources in a Region; each is named, with AWS's error code.
    StatusPartial = 10,
}

impl ExitCode {
    /// Every code, in order: what the manual pages' EXIT STATUS and README's table list.
    pub const ALL: [ExitCode; 11] = [
        ExitCode::Ok,
        ExitCode::Internal,
        ExitCode::Usage,
        ExitCode::VerificationFailed,
        ExitCode::Environment,
        ExitCode::Refused,
        ExitCode::OperationFailed,
        ExitCode::NonCompliant,
        ExitCode::CeremonyAborted,
        ExitCode::CeremonyUnfinished,
        ExitCode::StatusPartial,
    ];

    /// What the code means, in one sentence (README.md's table says the same).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Ok => "done, everything checked",
            ExitCode::Internal => "an unexpected internal error (a bug: please report it)",
            ExitCode::Usage => "usage: the command line, a script or an answers file is wrong",
            ExitCode::VerificationFailed => {
                "verification failed: a hash, fingerprint, check value or signature does not match, a log signed by another key than the one trusted, a binary other than --expect-binary, or a --require-quorum / --require-complete not met"
            }
            ExitCode::Environment => {
                "environment: a file, the PKCS#11 module, the network or the local KMS failed"
            }
            ExitCode::Refused => {
                "refused before anything changed: wrong key state, expired parameters, an existing output or label"
            }
            ExitCode::OperationFailed => "the HSM or KMS rejected an operation",
            ExitCode::NonCompliant => {
                "kms status: at least one key's material is older than the policy allows"
            }
            ExitCode::CeremonyAborted => {
                "audit verify: every record verifies, but the ceremony was aborted (no key to import)"
            }
            ExitCode::CeremonyUnfinished => {
                "audit verify: every record present verifies, but the log has no end or aborted record (an interrupted ceremony)"
            }
            ExitCode::StatusPartial => {
                "partial: kms status could not read at least one key (the keys it could read are within the policy), or kms inventory / kms status --resources could not read a service's resources in a Region; each is named, with AWS's error code"
            }
        }
    }
}

/// What every layer's error says of a failure, each part on its own: the exit code, what is
/// wrong (the message) and what to do (the hint). Its `Display` is the message, then the hint on a
/// line of its own after [`HINT_MARK`].
pub trait Explained: std::fmt::Display {
    fn exit_code(&self) -> ExitCode;

    /// What is wrong, without the hint.
    fn message(&self) -> String {
        let text = self.to_string();
        match text.split_once(HINT_MARK) {
            Some((message, _)) => message.to_string(),
            None => text,
        }
    }

    /// What to do, when the error says.
    fn hint(&self) -> Option<String> {
        let text = self.to_string();
        text.split_once(HINT_MARK).map(|(_, hint)| hint.to_string())
    }
}

/// Separates a message from its hint in every error's text.
pub const HINT_MARK: &str = "\n  what to do: ";

#[cfg(test)]
mod tests {
    use super::*;

    struct E(&'static str);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Explained for E {
        fn exit_code(&self) -> ExitCode {
            ExitCode::Usage
        }
    }

    #[test]
    fn every_code_is_listed_once_in_order_with_a_meaning() {
        for (i, c) in ExitCode::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert!(!c.meaning().is_empty());
        }
    }

    #[test]
    fn message_and_hint_come_apart() {
        let e = E("x is wrong\n  what to do: fix x");
        assert_eq!(e.message(), "x is wrong");
        assert_eq!(e.hint().as_deref(), Some("fix x"));
        let bare = E("x is wrong");
        assert_eq!(bare.message(), "x is wrong");
        assert_eq!(bare.hint(), None);
    }
}
