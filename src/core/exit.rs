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
    fn message_and_hint_come_apart() {
        let e = E("x is wrong\n  what to do: fix x");
        assert_eq!(e.message(), "x is wrong");
        assert_eq!(e.hint().as_deref(), Some("fix x"));
        let bare = E("x is wrong");
        assert_eq!(bare.message(), "x is wrong");
        assert_eq!(bare.hint(), None);
    }
}
