//! What the ceremony reports while it works inside the HSM, for whoever drives it: the terminal
//! UI (which must not have lines written behind it), a line-mode display, or a headless run.
//!
//! A [`Progress`] holds names, labels, check values and digests — never key material, a PIN or a
//! share.

/// One thing the ceremony did, in the order it did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The custodians' quorum opened the HSM.
    QuorumMet {
        names: Vec<String>,
        custodians_total: usize,
        mode: String,
    },
    /// The capability probe ran before any key was generated.
    Probed { result: String },
    /// A step of one key (`index` in the bundle's order, `key` its name in the bundle).
    Key {
        index: usize,
        key: String,
        step: KeyStep,
    },
    /// The manifest was replaced and the log closed: the ceremony is complete.
    Finished { keys: usize },
}

/// The steps of one key, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStep {
    /// Generated inside the HSM (or, re-wrapping, the escrowed key found) under this label.
    Generated { hsm_label: String },
    /// Its check value taken (and, re-wrapping, compared with the escrow's).
    CheckValue { check_value: String },
    /// Wrapped under the KMS wrapping key.
    Wrapped,
    /// EncryptedKeyMaterial.bin written.
    Written,
    /// Read back from the medium.
    ReadBack,
    /// What was read back is what was written; logged.
    Verified { sha256: String },
}

impl KeyStep {
    /// The step as a short verb phrase, for a progress line.
    pub fn describe(&self) -> String {
        match self {
            KeyStep::Generated { hsm_label } => format!("generated as {hsm_label}"),
            KeyStep::CheckValue { check_value } => format!("check value {check_value}"),
            KeyStep::Wrapped => "wrapped for KMS".into(),
            KeyStep::Written => "EncryptedKeyMaterial.bin written".into(),
            KeyStep::ReadBack => "read back".into(),
            KeyStep::Verified { sha256 } => format!("verified, sha256 {sha256}"),
        }
    }

    /// 1-based position among a key's steps (for "step 3 of 6").
    pub fn position(&self) -> usize {
        match self {
            KeyStep::Generated { .. } => 1,
            KeyStep::CheckValue { .. } => 2,
            KeyStep::Wrapped => 3,
            KeyStep::Written => 4,
            KeyStep::ReadBack => 5,
            KeyStep::Verified { .. } => 6,
        }
    }

    /// How many steps a key has.
    pub const COUNT: usize = 6;
}

/// Where a ceremony's progress goes. `None` (a headless run): the lines a headless run has
/// always printed go to stderr. `Some`: every [`Progress`] goes to the function, and nothing is
/// written to the terminal (a terminal UI may be on it).
#[derive(Clone, Copy, Default)]
pub struct ProgressSink<'a>(Option<&'a (dyn Fn(Progress) + Sync)>);

impl<'a> ProgressSink<'a> {
    /// Lines on stderr, as a headless run prints them.
    pub fn lines() -> ProgressSink<'static> {
        ProgressSink(None)
    }

    /// Every step to `f`; nothing printed.
    pub fn to(f: &'a (dyn Fn(Progress) + Sync)) -> ProgressSink<'a> {
        ProgressSink(Some(f))
    }

    pub fn emit(&self, p: Progress) {
        match self.0 {
            Some(f) => f(p),
            None => {
                if let Progress::QuorumMet {
                    names,
                    custodians_total,
                    mode,
                } = &p
                {
                    crate::say!(
                        "quorum met: {} of {} ({}); the HSM is open",
                        names.join(", "),
                        custodians_total,
                        mode
                    );
                }
            }
        }
    }

    pub(crate) fn key(&self, index: usize, key: &str, step: KeyStep) {
        self.emit(Progress::Key {
            index,
            key: key.to_string(),
            step,
        });
    }
}
