//! Why closing the ledger, cosigning it as a witness or checking its evidence failed, with the
//! exit code of each (README "Exit codes").

use std::path::PathBuf;

use crate::core::exit::ExitCode;
use crate::core::ledger::LedgerError as Problem;
use crate::core::ledger::cosignature::CosignatureProblem;
use crate::core::ledger::witness::WitnessRefusal;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "{}: {problem}\n  what to do: the token's ledger does not hold: do not run a ceremony with it. Restore the ledger directory from its last copy (every bundle carries one) and find out who changed it",
        path.display()
    )]
    Ledger { path: PathBuf, problem: Problem },
    #[error(
        "{}: the ledger has {entries} entries but the last checkpoint the log key signed counts {size} with another root: the ledger was cut or changed since\n  what to do: restore the ledger directory from the newest bundle's ledger.jsonl, and find out who changed it",
        path.display()
    )]
    Cut {
        path: PathBuf,
        entries: u64,
        size: u64,
    },
    #[error(
        "{}: {problem}\n  what to do: the bundle's ledger evidence does not hold: do not accept the ceremony as the only one; find out who changed the bundle",
        bundle.display()
    )]
    Evidence { bundle: PathBuf, problem: Problem },
    #[error(
        "{}: the bundle has no ledger proof ({file})\n  what to do: the ceremony was run without the token's ledger (`--ledger`, or a roster's ledger directory); it cannot be shown to be the only one",
        bundle.display(),
        file = crate::core::ledger::proof::PROOF_FILE
    )]
    NoEvidence { bundle: PathBuf },
    #[error(
        "{}: the ledger counts {} of the log key up to this ceremony, and {} of them you were not shown:{}\n  what to do: ask for the bundle of each (its ceremony.log); a closing nobody can produce is a ceremony someone hid",
        bundle.display(),
        crate::core::terminal::counted_u64(*size, "closing"),
        unshown.len(),
        unshown.iter().map(|u| format!("\n    leaf {}: {} {} closed {} (final record sha256 {})", u.index, u.entry.kind.as_str(), crate::core::terminal::one_line(&u.entry.subject), u.entry.time, u.entry.final_record_sha256)).collect::<String>()
    )]
    Unshown {
        bundle: PathBuf,
        size: u64,
        unshown: Vec<crate::core::ledger::UnshownClosing>,
    },
    #[error(
        "{0}\n  what to do: do not cosign; show both checkpoints to the log's operators and auditors: one of them was not meant for you"
    )]
    SplitView(Box<WitnessRefusal>),
    #[error(
        "{}: {problem}\n  what to do: pass a witness verifier key as `keyrite witness init` printed it (name+keyid+base64), or a file holding one",
        what
    )]
    WitnessKey {
        what: String,
        problem: CosignatureProblem,
    },
    #[error(
        "{}: not a keyrite witness key file ({problem})\n  what to do: pass the key file `keyrite witness init` wrote",
        path.display()
    )]
    WitnessKeyFile { path: PathBuf, problem: String },
    #[error(
        "{}: {problem}\n  what to do: the witness state file is damaged; restore it from its backup (never start a new one for a log you cosigned: that forgets what you saw)",
        path.display()
    )]
    WitnessState {
        path: PathBuf,
        problem: WitnessRefusal,
    },
    #[error(
        "{}: the witness key is in token {token:?}\n  what to do: name the token with --token 'pkcs11:token=LABEL?pin-source=file:/path' (and its module with --module)",
        path.display()
    )]
    WitnessNeedsToken { path: PathBuf, token: String },
    #[error(
        "{}: the witness key is in token {named:?}, but --token names {given:?}\n  what to do: name the token the descriptor names; a descriptor is bound to its token",
        path.display()
    )]
    WitnessOtherToken {
        path: PathBuf,
        named: String,
        given: String,
    },
    #[error(
        "token {token:?} has no PIN pad or PED, and the token URI has no pin-source\n  what to do: add ?pin-source=file:/path (the PIN on its first line, mode 0600) to --token"
    )]
    WitnessNoPin { token: String },
    #[error(
        "a witness key in a PKCS#11 token needs the HSM half, which this build does not have\n  what to do: use the air-gap or the full build of keyrite, or a witness key file"
    )]
    WitnessNeedsHsm,
    #[error(
        "{0}\n  what to do: do not use this witness key: it does not sign as its public key says"
    )]
    Cosign(CosignatureProblem),
    #[error(
        "the random number generator failed: {0}\n  what to do: check the operating system's entropy source"
    )]
    Random(String),
    #[error(
        "--witnesses {required} but only {} named\n  what to do: name at least as many witness keys as you require",
        crate::core::terminal::counted(*named, "--witness key")
    )]
    WitnessCount { required: usize, named: usize },
}

impl LedgerError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LedgerError::Ledger { .. }
            | LedgerError::Cut { .. }
            | LedgerError::Evidence { .. }
            | LedgerError::NoEvidence { .. }
            | LedgerError::Unshown { .. }
            | LedgerError::SplitView(_) => ExitCode::VerificationFailed,
            LedgerError::WitnessKey { .. }
            | LedgerError::WitnessKeyFile { .. }
            | LedgerError::WitnessCount { .. }
            | LedgerError::WitnessNeedsToken { .. }
            | LedgerError::WitnessOtherToken { .. }
            | LedgerError::WitnessNoPin { .. }
            | LedgerError::WitnessNeedsHsm => ExitCode::Usage,
            LedgerError::Cosign(_) => ExitCode::VerificationFailed,
            LedgerError::WitnessState { .. } | LedgerError::Random(_) => ExitCode::Environment,
        }
    }
}
