//! Why signing, countersigning or checking a bundle's signatures failed, with the exit code of
//! each (README "Exit codes").

use std::path::PathBuf;

use crate::core::exit::ExitCode;
use crate::core::provenance::{self, ProvenanceProblem, TooFewSigners};

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error(
        "{}: {problem}\n  what to do: pass a P-256 private key in PKCS#8 PEM (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signer.pem; chmod 600 signer.pem`), or a pkcs11: URI",
        path.display()
    )]
    SignerKey { path: PathBuf, problem: String },
    #[error(
        "--sign-with {uri}: this build of keyrite has no PKCS#11 support (it is the connected-only build)\n  what to do: sign with the full build (both halves), or with a file key"
    )]
    SignerNeedsToken { uri: String },
    #[error(
        "--sign-with {uri}: the URI names no object (the label of the signing key pair)\n  what to do: add ;object=<label> after the token label"
    )]
    SignerNoObject { uri: String },
    #[error(
        "--sign-with pkcs11:token={token}: the URI names no pin-source\n  what to do: add ?pin-source=file:/path (a file only its owner may read)"
    )]
    SignerNoPin { token: String },
    #[error(
        "{}: {problem}\n  what to do: the bundle's signatures do not hold: do not use it. Ask its preparer to prepare and sign a new one, and find out who changed it",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        problem: ProvenanceProblem,
    },
    #[error(
        "{}: the ceremony script requires the bundle to be signed ({required} of its [provenance] signers), and the bundle has no {file}\n  what to do: the preparer signs with `keyrite kms prepare --sign-with`, a second person countersigns with `keyrite kms cosign`; do not run the ceremony on an unsigned bundle",
        dir.display(),
        file = provenance::FILE_NAME
    )]
    Unsigned { dir: PathBuf, required: usize },
    #[error(
        "{}: {problem}\n  what to do: stop: the bundle was not signed by the people the script trusts. Have the missing signers check and countersign it (`keyrite kms cosign`), or find out who signed it",
        dir.display()
    )]
    TooFew {
        dir: PathBuf,
        problem: TooFewSigners,
    },
    #[error(
        "[provenance] signer {}: {problem}\n  what to do: name each signer by the SHA-256 `keyrite kms prepare --sign-with` printed, or by the path of its public key PEM",
        path.display()
    )]
    SignerPem { path: PathBuf, problem: String },
    #[error(
        "{}: {signer} has signed this bundle already\n  what to do: a countersignature is another person's: have them run `keyrite kms cosign` with their own key",
        dir.display()
    )]
    AlreadySigned { dir: PathBuf, signer: String },
    #[error(
        "{}: this bundle has been through a ceremony; signatures vouch for a prepared bundle\n  what to do: countersign bundles before their ceremony",
        dir.display()
    )]
    AfterCeremony { dir: PathBuf },
    #[error(
        "{}: the bundle's signatures changed after the checks before the ceremony\n  what to do: stop, and find out who is changing the bundle while the ceremony runs",
        dir.display()
    )]
    ChangedSincePreflight { dir: PathBuf },
    #[error(
        "the ceremony script has no [provenance] section: keyrite requires the bundle signed by its preparer and countersigned by a second person\n  what to do: add [provenance] with signers = [\"<preparer's key SHA-256 or PEM path>\", \"<countersigner's>\"] and required = 2; for a rehearsal or test only, required = 0 with reason = \"why no signatures\" (written into the ceremony log)"
    )]
    NoSection,
    #[error(
        "{}: {problem}\n  what to do: the preparer signs with `keyrite kms prepare --sign-with`, a second person checks the keys and countersigns with `keyrite kms cosign` using a key of their own",
        dir.display()
    )]
    Roles {
        dir: PathBuf,
        problem: provenance::RolesNotMet,
    },
    #[error(
        "not countersigned: the answer was not yes\n  what to do: check the keys with the preparer; sign only what you checked"
    )]
    Declined,
}

impl ProvenanceError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ProvenanceError::SignerKey { .. }
            | ProvenanceError::SignerNeedsToken { .. }
            | ProvenanceError::SignerNoObject { .. }
            | ProvenanceError::SignerNoPin { .. }
            | ProvenanceError::SignerPem { .. }
            | ProvenanceError::NoSection => ExitCode::Usage,
            ProvenanceError::Invalid { .. }
            | ProvenanceError::Unsigned { .. }
            | ProvenanceError::TooFew { .. }
            | ProvenanceError::Roles { .. }
            | ProvenanceError::ChangedSincePreflight { .. } => ExitCode::VerificationFailed,
            ProvenanceError::AlreadySigned { .. }
            | ProvenanceError::AfterCeremony { .. }
            | ProvenanceError::Declined => ExitCode::Refused,
        }
    }
}
