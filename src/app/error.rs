//! The top-level error and the documented exit codes.

use std::path::PathBuf;

use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::custody::shares::QuorumError;
use crate::core::custody::{EnrolScriptError, RosterError};
pub use crate::core::exit::ExitCode;
use crate::core::exit::Explained;
use crate::core::import_progress::ProgressError;
use crate::core::log::LogError;
use crate::core::names::KeyRefError;
use crate::core::plan::PlanError;
use crate::core::receipt::ReceiptError;
use crate::core::script::ScriptError;
use crate::core::wrapping_key::WrappingKeyError;
#[cfg(feature = "airgap")]
use crate::hsm::HsmError;
use crate::io::IoError;
use crate::io::bundle::BundleError;
use crate::io::fs::FsError;
use crate::io::log_file::AppendError;
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
    #[error(transparent)]
    Io(#[from] IoError),
    /// The bundle's signatures (`provenance.json`): signing, countersigning, checking.
    #[error(transparent)]
    Provenance(#[from] crate::app::provenance_error::ProvenanceError),
    /// The token's ledger, its evidence in a bundle, a witness.
    #[error(transparent)]
    Ledger(Box<crate::app::ledger_error::LedgerError>),
    // --- Usage: the command line, a script, an answers file or a roster is wrong. ---
    #[error("{}: {problem}\n  what to do: pass the roster.json written by `keyrite quorum enroll`", path.display())]
    RosterFile { path: PathBuf, problem: RosterError },
    #[error("{}: {problem}\n  what to do: fix the enrolment script; see ceremony-scripts/enroll.toml", path.display())]
    EnrolScript {
        path: PathBuf,
        problem: EnrolScriptError,
    },
    #[error("{}: {problem}\n  what to do: fix the plan; see `keyrite kms prepare --help`", path.display())]
    Plan {
        path: PathBuf,
        problem: Box<PlanError>,
    },
    #[error("{0}\n  what to do: see `keyrite kms prepare --help`")]
    KeyRef(KeyRefError),
    #[error(
        "token {token:?} has no PIN pad or PED to enforce the quorum, and the token URI has no pin-source\n  what to do: use the HSM's own authentication device, or (rehearsals) add ?pin-source=file:/path to --token"
    )]
    NoPinPadNoUriPinSource { token: String },
    #[error(
        "token {token:?} has no PIN pad or PED to enforce the quorum\n  what to do: use the HSM's own authentication device, or (rehearsals) pass --pin-source <file>"
    )]
    NoPinPadNoPinSource { token: String },
    #[error(
        "cannot use the terminal (/dev/tty) to show the shares: {detail}\n  what to do: run the enrolment at a terminal, or (tests and rehearsals) use --headless with a share_file per custodian"
    )]
    ShareTerminal { detail: String },
    #[error(
        "the enrolment was left before every custodian confirmed their share: nothing was written (no roster, no log public key); token {label:?} is initialised but nobody can use it, and every share written down during it opens nothing\n  what to do: each custodian who wrote down a share destroys that paper now; initialise the token again before enrolling it (SoftHSM2: softhsm2-util --delete-token --token {label:?}; an HSM: its security officer's procedure), then run `keyrite quorum enroll` again with every custodian present"
    )]
    EnrolmentLeft { label: String },
    #[error("the directory of out {} does not exist\n  what to do: create it first, or name another out in the enrolment script", out.display())]
    EnrolOutDirMissing { out: PathBuf },
    #[error("the directory of share_file {} does not exist\n  what to do: create it first (each custodian's own medium)", file.display())]
    ShareDirMissing { file: PathBuf },
    #[error(
        "custodian {name:?} has no share_file\n  what to do: give every custodian a share_file for --headless"
    )]
    NoShareFile { name: String },
    #[error(
        "{key}: a rehearsal script names keys by alias\n  what to do: use alias/<name> in the rehearsal script"
    )]
    RehearsalKeyNotAlias { key: String },
    #[error(
        "--so-pin-source cannot be combined with --roster: the quorum login and the security officer's step need separate login states\n  what to do: run the ceremony without --so-pin-source"
    )]
    SoPinSourceWithRoster,
    #[error(
        "the security officer's step (--so-pin-source) cannot follow a quorum login: the token holds one login state\n  what to do: run this ceremony without --so-pin-source, or with a pin-source instead of --roster"
    )]
    SoStepAfterQuorum,
    #[error(
        "the answers name custodians, but no --roster was given\n  what to do: pass --roster roster.json (from `keyrite quorum enroll`)"
    )]
    CustodiansWithoutRoster,
    #[error(
        "the token URI has no pin-source, and no --roster was given\n  what to do: open the HSM by quorum with --roster roster.json, or (rehearsals and tests) add ?pin-source=file:/path to --token"
    )]
    NoPinSource,
    #[error(
        "the token URI names a pin-source, but the roster holds the PIN as custodians' shares\n  what to do: drop ?pin-source from --token: the custodians' shares open the HSM"
    )]
    PinSourceWithShares,
    #[error(
        "--answers is read only by a headless run; at the terminal the operators type the answers\n  what to do: add --headless, or drop --answers"
    )]
    AnswersWithoutHeadless,
    #[error(
        "--from-aws-cli holds the parameters of one key; name exactly one --key\n  what to do: prepare each key whose parameters were fetched with the AWS CLI on its own"
    )]
    AwsCliOneKey,
    #[error(
        "{flag} {value:?} is not an RFC 3339 time: {detail}\n  what to do: write it like 2027-06-30T00:00:00Z"
    )]
    NotATime {
        flag: &'static str,
        value: String,
        detail: String,
    },
    #[error(
        "--parameters-valid-to contradicts the ParametersValidTo of the AWS CLI's JSON\n  what to do: drop --parameters-valid-to: the JSON says when the parameters expire"
    )]
    ParametersValidToContradicts,
    #[error(
        "--valid-to was given with KEY_MATERIAL_DOES_NOT_EXPIRE\n  what to do: add --expiration-model KEY_MATERIAL_EXPIRES, or drop --valid-to"
    )]
    ValidToWithoutExpiry,
    #[error(
        "KEY_MATERIAL_EXPIRES needs --valid-to\n  what to do: add --valid-to 2027-06-30T00:00:00Z (at most 365 days ahead)"
    )]
    ExpiryWithoutValidTo,
    #[error(
        "unknown --expiration-model {0:?}\n  what to do: use KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES"
    )]
    ExpirationModel(String),
    #[error(
        "--policy-days must be at least 1\n  what to do: give the longest a key's material may stay current, e.g. --policy-days 365"
    )]
    PolicyDays,
    #[error(
        "--inventory {}: {detail}\n  what to do: give the JSON `keyrite kms inventory --json` printed before the rotation",
        path.display()
    )]
    InventoryFile { path: PathBuf, detail: String },
    #[error("--out {}: not a directory\n  what to do: create the directory first, e.g. mkdir -p share/man/man1", dir.display())]
    ManOutNotADirectory { dir: PathBuf },
    #[error("cannot write to stdout: {detail}\n  what to do: check the output pipe or file")]
    Stdout { detail: String },
    #[error(
        "cannot render the manual pages: {detail}\n  what to do: this is a bug in keyrite; please report it"
    )]
    ManPages { detail: String },
    #[error(
        "the ceremony was left before it was confirmed; nothing was touched\n  what to do: run `keyrite ceremony` again when everyone is ready"
    )]
    LeftBeforeConfirmed,
    #[error(
        "the ceremony's terminal UI needs a terminal, and this is not one\n  what to do: run it at a terminal, or run with --headless --answers <answers.toml>"
    )]
    NoTerminal,

    // --- Refused before anything changed. ---
    #[error("--escrow-from {}: {problem}", dir.display())]
    Escrow {
        dir: PathBuf,
        problem: EscrowProblem,
    },
    #[error(
        "{key}: the escrow bundle ({bundle_fingerprint}) records no imported material for {key_arn}\n  what to do: pass the bundle whose import put this key's material into KMS, or prepare the new bundle for the keys that bundle holds"
    )]
    NotEscrowed {
        key: String,
        bundle_fingerprint: String,
        key_arn: String,
    },
    #[error(
        "--escrow-from {}: {problem}\n  what to do: do not re-wrap from this bundle. Pass the bundle of the ceremony this token ran, as it came back with its ceremony.log; check it with `keyrite audit verify <bundle> --trust <log-public-key.pem>`",
        dir.display()
    )]
    EscrowLog { dir: PathBuf, problem: String },
    #[error(
        "{} is the roster of token {roster_token:?}, not of {token:?}\n  what to do: pass the roster enrolled for this token",
        roster.display()
    )]
    RosterOfOtherToken {
        roster: PathBuf,
        roster_token: String,
        token: String,
    },
    #[error(
        "the shares do not rebuild a keyrite PIN\n  what to do: use the shares issued for this roster"
    )]
    SharesNotAPin,
    #[error(
        "{}: this bundle has been through a ceremony already\n  what to do: import it with `keyrite kms import`, or prepare a new bundle for a new ceremony",
        dir.display()
    )]
    CeremonyDone { dir: PathBuf },
    #[error(
        "{key}: the key was {state} when the bundle was prepared; a re-wrap restores material that expired or was deleted (PendingImport)\n  what to do: nothing to restore: the key still has material. For new material run a normal ceremony"
    )]
    NothingToRestore { key: String, state: String },

    // --- The ceremony engine: preflight, resume and the driver. ---
    #[error(
        "{problem}\n  what to do: prepare the bundle with the script's --algorithm and --wrapping-spec"
    )]
    ScriptBundleWrapping { problem: String },
    #[error(
        "{problem}\n  what to do: stop: this bundle is for other keys. Use the bundle prepared for this script"
    )]
    ScriptBundleOtherKeys { problem: String },
    #[error(
        "{problem}\n  what to do: nothing was generated. Prepare a new bundle (`keyrite kms prepare`) just before the ceremony"
    )]
    BundleExpiring { problem: String },
    #[error(
        "{} has fingerprint {fingerprint}, the roster names log key {roster_key}\n  what to do: put the log-public-key.pem published at this roster's enrolment next to roster.json",
        pem.display()
    )]
    RosterPublishedKey {
        pem: PathBuf,
        fingerprint: String,
        roster_key: String,
    },
    #[error(
        "{}: {problem}\n  what to do: stop: the roster is not the one the log key signed at enrolment; use the original roster.json and roster.log",
        path.display()
    )]
    RosterLogUnsigned { path: PathBuf, problem: String },
    #[error(
        "{} is the roster of token {roster_token:?}, not of {token:?}\n  what to do: pass the roster enrolled for this token",
        path.display()
    )]
    RosterForOtherToken {
        path: PathBuf,
        roster_token: String,
        token: String,
    },
    #[error(
        "{} exists already\n  what to do: a ceremony ran on this bundle before; run `keyrite ceremony` with the same bundle to finish or abort it, or prepare a new bundle",
        path.display()
    )]
    CeremonyOutputExists { path: PathBuf },
    #[error(
        "{}: keyrite cannot create files here\n  what to do: mount the media read-write, or copy the bundle to a writable place",
        dir.display()
    )]
    BundleNotWritable { dir: PathBuf },
    #[error(
        "{}: {problem}\n  what to do: the unfinished log does not fit this bundle and token: keep the bundle as it is and find out what happened",
        path.display()
    )]
    UnfinishedLogMismatch { path: PathBuf, problem: String },
    #[error(
        "{}: the ceremony on this bundle is closed (ended or aborted)\n  what to do: prepare a new bundle for a new ceremony",
        path.display()
    )]
    CeremonyClosed { path: PathBuf },
    #[error(
        "{}: the log records the ceremony's end, so it cannot be aborted; only the manifest's replacement is left to do\n  what to do: run the ceremony again with resume = \"finish\", which puts the manifest the log names in place",
        path.display()
    )]
    EndedNotAborted { path: PathBuf },
    #[error(
        "{} has SHA-256 {actual}, but the ceremony's end record names the manifest {logged}\n  what to do: stop; the staged manifest was changed or removed after the ceremony ended. Keep the bundle as evidence and prepare a new bundle",
        path.display()
    )]
    StagedManifestChanged {
        path: PathBuf,
        actual: String,
        logged: String,
    },
    #[error(
        "{problem}\n  what to do: name the witness, a second person who watches the ceremony (answers: witness = \"...\")"
    )]
    WitnessMissing { problem: String },
    #[error(
        "the answers say resume, but this bundle holds no interrupted ceremony\n  what to do: drop resume from the answers"
    )]
    NothingToResume,
    #[error(
        "{}: this bundle holds an interrupted ceremony ({}, {} wrapped)\n  what to do: choose finish (the keys not yet wrapped) or abort (destroy the keys never written): at the terminal (keyrite ceremony, or --plain), or in a headless answers file (resume = \"finish\" or \"abort\")",
        bundle.display(),
        crate::core::terminal::counted(*records, "record"),
        crate::core::terminal::counted(*keys_wrapped, "key")
    )]
    InterruptedNeedsChoice {
        bundle: PathBuf,
        records: usize,
        keys_wrapped: usize,
    },
    #[error(
        "the interrupted ceremony cannot be finished: {why}\n  what to do: abort it (resume = \"abort\") and prepare a new bundle"
    )]
    CannotFinish { why: String },
    #[error(
        "{}: SHA-256 is {actual}, the interrupted ceremony's log recorded {logged}\n  what to do: the bundle changed after the ceremony stopped: do not finish it; abort it and prepare a new bundle",
        path.display()
    )]
    WrittenFileChanged {
        path: PathBuf,
        actual: String,
        logged: String,
    },
    #[error(
        "the ceremony stopped: {what}\n  what to do: nothing more was done; keep the log and report it. Run `keyrite ceremony` on the same bundle to finish or abort"
    )]
    EngineStopped { what: String },

    // --- Verification: evidence does not hold. ---
    #[error(
        "{}: the roster is not the one this token's log key signed: {problem}\n  what to do: stop: use the roster.json and roster.log written at enrolment for this token",
        path.display()
    )]
    RosterNotThisToken { path: PathBuf, problem: RosterError },
    #[error(
        "{}: {problem}\n  what to do: this roster is not the one the log key signed at enrolment: do not use it",
        path.display()
    )]
    RosterNotSigned { path: PathBuf, problem: RosterError },
    #[error(
        "the roster names log key {roster}, the token's log key is {token}\n  what to do: stop: this roster was not enrolled for this token"
    )]
    RosterLogKey { roster: String, token: String },
    #[error(
        "the shares do not rebuild the token's PIN\n  what to do: this is a bug; the token is enrolled but its shares are unusable: initialise a new token"
    )]
    SharesDoNotRebuild,
    #[error(
        "{}: SHA-256 is {sha256}, the log's {step} record bound script {bound}\n  what to do: this is not the script the ceremony ran; find the script whose hash the log records",
        path.display()
    )]
    ScriptNotBound {
        path: PathBuf,
        sha256: String,
        step: &'static str,
        bound: String,
    },
    #[error(
        "the script lists keys {script:?}, the log generated and wrapped {logged:?}\n  what to do: the ceremony did not follow this script: find out why before trusting its keys"
    )]
    ScriptNotFollowed {
        script: Vec<String>,
        logged: Vec<String>,
    },
    /// What differs between a bundle and its ceremony log.
    #[error(
        "{0}\n  what to do: the bundle is not what the ceremony recorded: do not import it; fetch the original bundle and check it again"
    )]
    BundleNotAsLogged(String),
    #[error(
        "{} has no {file}\n  what to do: this bundle has not been through a ceremony, or its log was removed",
        target.display()
    )]
    NoCeremonyLog { target: PathBuf, file: &'static str },
    #[error(
        "no log public key to verify the ceremony log with: keyrite acts on a bundle only as far as its signed ceremony log vouches for it, and sends nothing to KMS without checking it\n  what to do: pass --trust <log-public-key.pem> (the log public key exported at enrolment, the one `keyrite audit verify --trust` takes), or set KEYRITE_LOG_TRUST to its path"
    )]
    NoLogTrust,
    #[error(
        "the bundle's fingerprint is {bundle}, but the fingerprint read out from the connected side is {typed}\n  what to do: stop: this is not the bundle that was prepared. Fetch the right media, or prepare again"
    )]
    FingerprintMismatch { bundle: String, typed: String },
    #[error(
        "the script asks for {script_algorithm} with {script_spec}, the bundle was prepared for {bundle_algorithm} with {bundle_spec}\n  what to do: prepare the bundle with the script's --algorithm and --wrapping-spec"
    )]
    WrappingMismatch {
        script_algorithm: WrappingAlgorithm,
        script_spec: WrappingKeySpec,
        bundle_algorithm: WrappingAlgorithm,
        bundle_spec: WrappingKeySpec,
    },
    #[error(
        "the script names keys {script:?}, the bundle holds {bundle:?}\n  what to do: use the bundle prepared for this script"
    )]
    ScriptBundleKeys {
        script: Vec<String>,
        bundle: Vec<String>,
    },
    #[error("{key}: the manifest lists no {file}\n  what to do: prepare a new bundle")]
    ManifestLacks { key: String, file: &'static str },
    #[error(
        "{key}: the same wrapping public key is in the bundle for {first} and for {second}; KMS gives each Region's GetParametersForImport a key pair of its own, so this bundle was not fetched as prepared, and material wrapped for it would reach the wrong Region's KMS\n  what to do: do not use this bundle; find out who changed it, and prepare a new one"
    )]
    WrappingKeyReused {
        key: String,
        first: String,
        second: String,
    },
    #[error("{key}/{file}: {problem}\n  what to do: prepare a new bundle")]
    BundleWrappingKey {
        key: String,
        file: &'static str,
        problem: WrappingKeyError,
    },
    #[error(
        "{} reads back with SHA-256 {read_back}, {written} was written\n  what to do: the medium is faulty: use other media and run the ceremony again with a fresh bundle",
        path.display()
    )]
    ReadBack {
        path: PathBuf,
        read_back: String,
        written: String,
    },
    #[error("the HSM key {label:?} is gone\n  what to do: the token changed during the rehearsal")]
    HsmKeyGone { label: String },
    #[error(
        "{key_arn}: the HSM decrypted a KMS ciphertext to other bytes than KMS encrypted\n  what to do: KMS does not hold the HSM's material; do not rely on this key"
    )]
    MaterialNotHeld { key_arn: String },
    #[error(
        "{}: the ceremony was opened with a PIN file, not by a quorum of custodians (its start record binds no roster, or its quorum.met record shows an hsm-enforced roster logged in from a PIN file or does not say how it logged in)\n  what to do: treat its keys as not authorised by a quorum; where policy requires one, run the ceremony again with --roster on an enrolled token",
        log.display()
    )]
    QuorumNotRecorded { log: PathBuf },
    /// `audit verify`: every record holds, but the ceremony did not complete. Its own exit code
    /// (aborted 8, unfinished 9), or 3 with `--require-complete`.
    #[error(
        "{}: {}\n  what to do: {}",
        log.display(),
        match outcome {
            crate::core::log::CeremonyOutcome::Aborted => "every record verifies, but the ceremony was aborted: it produced no key to import",
            _ => "every record verifies, but the ceremony is unfinished: the log ends without an end or aborted record",
        },
        match outcome {
            crate::core::log::CeremonyOutcome::Aborted => "nothing of this bundle may be imported; the report lists the keys destroyed and why",
            _ => "it was interrupted (or its log's tail is missing): run `keyrite ceremony` again on the same bundle to finish or abort it, then verify again",
        }
    )]
    CeremonyNotComplete {
        log: PathBuf,
        outcome: crate::core::log::CeremonyOutcome,
        /// `--require-complete` was given: exit 3.
        required: bool,
    },
    #[error(
        "{what}: the log says keyrite binary sha256 {ran} ran, you expected {expected}\n  what to do: the ceremony did not run the binary you rebuilt: compare the build (the report's `tool` line says which features), the source and the toolchain with the ones the ceremony used, and find out which binary ran before trusting its keys"
    )]
    BinaryNotExpected {
        what: String,
        ran: String,
        expected: String,
    },
    #[error(
        "--expect-binary {given:?} is not a SHA-256 (64 hex digits)\n  what to do: give the SHA-256 of your own rebuilt keyrite, e.g. --expect-binary \"$(sha256sum keyrite | cut -d' ' -f1)\""
    )]
    NotABinaryHash { given: String },
    #[cfg(feature = "connected")]
    #[error(
        "a {len}-byte ciphertext is too short for LocalStack's layout\n  what to do: the proof works against LocalStack only"
    )]
    CiphertextTooShort { len: usize },

    // --- Environment: the machine failed. ---
    #[error(
        "the operating system's random source failed: {detail}\n  what to do: this is unexpected; report it"
    )]
    Random { detail: String },
    #[error(
        "the SoftHSM2 module {} is not there\n  what to do: install SoftHSM2: apt-get install softhsm2 (or run ./scripts/rehearse, which does)",
        module.display()
    )]
    NoSoftHsm { module: PathBuf },
    #[error("cannot resolve {}: {detail}\n  what to do: check the directory", path.display())]
    Resolve { path: PathBuf, detail: String },
    #[error(
        "cannot run bash to start the local KMS: {detail}\n  what to do: keyrite rehearse needs bash, curl and Python 3.13"
    )]
    NoBash { detail: String },
    #[cfg(feature = "connected")]
    #[error(
        "the local KMS (LocalStack) did not start; its messages are above\n  what to do: see {}/localstack.log",
        dir.display()
    )]
    LocalKmsDown { dir: PathBuf },
    #[error(
        "cannot write the replay: {detail}\n  what to do: check the terminal or the output pipe"
    )]
    ReplayOutput { detail: String },
    #[error(
        "cannot find the running keyrite executable to record its hash: {detail}\n  what to do: run keyrite from a regular file"
    )]
    CurrentExe { detail: String },
    #[error(
        "the terminal failed: {detail}\n  what to do: run in a terminal of at least 80x24, or run with --headless --answers"
    )]
    Terminal { detail: String },

    #[error(
        "the rotation did not take: {findings}\n  what to do: the receipt records this result; if another bundle was imported since, verify that one; otherwise import this bundle again (`keyrite kms import` resumes) and check the key with `aws kms describe-key`"
    )]
    RotationNotTaken { findings: String },

    // --- `kms import` and `kms rollback`: what the use case decided about a key. ---
    #[error("{key}: {message}\n  what to do: {hint}")]
    KeyRefused {
        key: String,
        message: String,
        hint: String,
    },
    #[error(
        "{key}: key state is {state}; keyrite imports only into keys that are Enabled or PendingImport\n  what to do: {hint}"
    )]
    KeyWrongState {
        key: String,
        state: String,
        hint: String,
    },
    /// What KMS reports after an import or rotation is not what it was asked to do.
    #[error("{key}: after {operation}, {message}\n  what to do: {hint}")]
    ImportCheck {
        key: String,
        operation: &'static str,
        message: String,
        hint: String,
    },
    #[error(transparent)]
    ProgressContradicted(Box<ProgressContradiction>),
    #[error(
        "{key}: {progress} records {claim}, but {why}; nothing was sent and nothing rotated\n  what to do: the progress file is only a hint and this one does not hold: keep it as evidence and move it out of the bundle, check the key with `aws kms list-key-rotations --key-id {key_arn} --include-key-material ALL_KEY_MATERIAL` and the import receipt, then run the import again"
    )]
    ProgressNotHeld {
        progress: String,
        key: String,
        claim: String,
        why: String,
        key_arn: String,
    },
    #[error(
        "{dir}: the verified ceremony log vouches for manifest {signed}, but the bundle's manifest is {bundle}; nothing was sent to KMS\n  what to do: verify the bundle with its log and act on it in one run (`keyrite kms import --trust <log public key>`)"
    )]
    NotVouched {
        dir: PathBuf,
        signed: String,
        bundle: String,
    },
    #[error(
        "{}: this bundle has not been through a ceremony yet\n  what to do: run `keyrite ceremony --bundle` with it at the air-gapped station first",
        dir.display()
    )]
    NoCeremony { dir: PathBuf },
    #[error(
        "--valid-to: {detail}\n  what to do: KMS accepts a ValidTo in the future and at most 365 days away"
    )]
    ValidTo { detail: String },
    #[error(
        "{key}: the ceremony produced no EncryptedKeyMaterial.bin for it\n  what to do: run the ceremony again with a freshly prepared bundle"
    )]
    NoWrappedMaterial { key: String },
    #[error(
        "{key}: the import parameters expire{} at {valid_to} (import token and wrapping key last 24 h)\n  what to do: prepare a new bundle, run the ceremony with it, then import",
        if *expired { "d" } else { "" }
    )]
    ParametersExpire {
        key: String,
        valid_to: jiff::Timestamp,
        expired: bool,
    },
    #[error(
        "{}: {detail}\n  what to do: this file records an import of another bundle{}",
        path.display(),
        if *resumable { ": move it away only if you know that import is finished" } else { "" }
    )]
    OtherImport {
        path: PathBuf,
        detail: String,
        resumable: bool,
    },
    #[error(
        "{} has no {file}: no import of this bundle was recorded\n  what to do: there is nothing to roll back; check the key with `aws kms list-key-rotations --include-key-material ALL_KEY_MATERIAL`",
        dir.display()
    )]
    NothingToRollBack { dir: PathBuf, file: &'static str },
    #[error(
        "an import task failed while writing the progress file or the receipt\n  what to do: run the import again: it resumes where it stopped"
    )]
    ImportTaskFailed,

    // --- NonCompliant: `kms status` found material past the policy. ---
    #[error(
        "{} past the {max_age_days}-day policy: {}\n  what to do: rotate them: `keyrite kms prepare --plan …`, a ceremony, then `keyrite kms import`",
        crate::core::terminal::counted(keys.len(), "key"),
        keys.join(", ")
    )]
    PastPolicy {
        keys: Vec<String>,
        max_age_days: u32,
    },

    // --- NonCompliant: a multi-Region key's replica does not hold its primary's material. ---
    #[error(
        "{} left behind by a rotation: {}\n  what to do: import the primary's current material into each replica named (the same material, wrapped for that Region's own wrapping key, as EXISTING_KEY_MATERIAL), then run `keyrite kms status` again",
        crate::core::terminal::counted(replicas.len(), "multi-Region replica"),
        replicas.join("; ")
    )]
    ReplicasBehind { replicas: Vec<String> },

    // --- StatusPartial: `kms status` could not read some keys. ---
    #[error(
        "{} could not be read, so their material's age is unknown: {}\n  what to do: allow kms:DescribeKey (and kms:ListKeyRotations) on them to the role that runs `keyrite kms status`, then run it again; the other keys are reported",
        crate::core::terminal::counted(keys.len(), "key"),
        keys.join(", ")
    )]
    KeysUnreadable { keys: Vec<String> },

    // --- StatusPartial: `kms inventory` or `kms status --resources` could not read a service. ---
    #[error(
        "{} of resources failed, so what they would list is unknown (everything else is reported): {}\n  what to do: {}; then run it again",
        crate::core::terminal::counted(reads.len(), "read"),
        reads.join("; "),
        what_to_do.join("; ")
    )]
    ResourcesUnreadable {
        /// Each failed read in one line: service, region, call, AWS's code and message.
        reads: Vec<String>,
        /// What to do about each, without repeats.
        what_to_do: Vec<String>,
    },

    // --- OperationFailed: verify-rotation cannot recheck resources it could not read. ---
    #[error(
        "the resources could not all be read, so the rotation cannot be checked against the earlier inventory: {}\n  what to do: {}; then run `keyrite kms verify-rotation --inventory` again",
        reads.join("; "),
        what_to_do.join("; ")
    )]
    RecheckUnreadable {
        reads: Vec<String>,
        what_to_do: Vec<String>,
    },
}

impl Error {
    /// The reads an inventory could not make, as [`Error::ResourcesUnreadable`]'s parts: each
    /// read, and what to do (`remedy`: the fix, for a command that has no `--services`).
    pub fn unread_parts(
        unread: &[crate::core::inventory::Unreadable],
        remedy: bool,
    ) -> (Vec<String>, Vec<String>) {
        let reads = unread.iter().map(|u| u.summary()).collect();
        let mut what_to_do: Vec<String> = Vec::new();
        for u in unread {
            let todo = if remedy {
                u.remedy()
            } else {
                u.what_to_do.clone()
            };
            if !what_to_do.contains(&todo) {
                what_to_do.push(todo);
            }
        }
        (reads, what_to_do)
    }
}

impl From<crate::core::chain::ChainError> for Error {
    fn from(e: crate::core::chain::ChainError) -> Error {
        Error::Log(e.into())
    }
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Bundle(e) => e.exit_code(),
            Error::Script(_) => ExitCode::Usage,
            Error::Fs(e) => e.exit_code(),
            #[cfg(feature = "airgap")]
            Error::Hsm(e) => e.exit_code(),
            #[cfg(feature = "connected")]
            Error::Kms(e) => e.exit_code(),
            Error::Log(LogError::TrustedKey(_)) | Error::NoLogTrust => ExitCode::Usage,
            Error::Log(LogError::Signing(_)) => ExitCode::OperationFailed,
            Error::Log(_) => ExitCode::VerificationFailed,
            Error::Receipt(_) => ExitCode::VerificationFailed,
            Error::Io(e) => e.exit_code(),
            Error::Provenance(e) => e.exit_code(),
            Error::Ledger(e) => e.exit_code(),
            Error::Quorum(_) => ExitCode::Refused,
            Error::RosterFile { .. }
            | Error::EnrolScript { .. }
            | Error::Plan { .. }
            | Error::KeyRef(_)
            | Error::NoPinPadNoUriPinSource { .. }
            | Error::NoPinPadNoPinSource { .. }
            | Error::ShareTerminal { .. }
            | Error::ShareDirMissing { .. }
            | Error::NoShareFile { .. }
            | Error::EnrolmentLeft { .. }
            | Error::EnrolOutDirMissing { .. }
            | Error::RehearsalKeyNotAlias { .. }
            | Error::SoPinSourceWithRoster
            | Error::SoStepAfterQuorum
            | Error::CustodiansWithoutRoster
            | Error::NoPinSource
            | Error::PinSourceWithShares
            | Error::AnswersWithoutHeadless
            | Error::AwsCliOneKey
            | Error::NotATime { .. }
            | Error::ManOutNotADirectory { .. }
            | Error::ParametersValidToContradicts
            | Error::ValidToWithoutExpiry
            | Error::ExpiryWithoutValidTo
            | Error::ExpirationModel(_)
            | Error::PolicyDays
            | Error::InventoryFile { .. }
            | Error::LeftBeforeConfirmed
            | Error::NoTerminal => ExitCode::Usage,
            Error::Escrow { .. }
            | Error::NotEscrowed { .. }
            | Error::RosterOfOtherToken { .. }
            | Error::SharesNotAPin
            | Error::CeremonyDone { .. }
            | Error::NothingToRestore { .. }
            | Error::BundleExpiring { .. }
            | Error::RosterForOtherToken { .. }
            | Error::CeremonyOutputExists { .. }
            | Error::CeremonyClosed { .. }
            | Error::EndedNotAborted { .. }
            | Error::WitnessMissing { .. }
            | Error::NothingToResume
            | Error::InterruptedNeedsChoice { .. }
            | Error::CannotFinish { .. }
            | Error::EngineStopped { .. } => ExitCode::Refused,
            Error::RosterNotThisToken { .. }
            | Error::RosterNotSigned { .. }
            | Error::RosterLogKey { .. }
            | Error::SharesDoNotRebuild
            | Error::ScriptNotBound { .. }
            | Error::ScriptNotFollowed { .. }
            | Error::BundleNotAsLogged(_)
            | Error::NoCeremonyLog { .. }
            | Error::FingerprintMismatch { .. }
            | Error::WrappingMismatch { .. }
            | Error::ScriptBundleKeys { .. }
            | Error::ManifestLacks { .. }
            | Error::BundleWrappingKey { .. }
            | Error::WrappingKeyReused { .. }
            | Error::ReadBack { .. }
            | Error::HsmKeyGone { .. }
            | Error::MaterialNotHeld { .. }
            | Error::ScriptBundleWrapping { .. }
            | Error::ScriptBundleOtherKeys { .. }
            | Error::RosterPublishedKey { .. }
            | Error::RosterLogUnsigned { .. }
            | Error::UnfinishedLogMismatch { .. }
            | Error::EscrowLog { .. }
            | Error::WrittenFileChanged { .. }
            | Error::QuorumNotRecorded { .. }
            | Error::StagedManifestChanged { .. }
            | Error::BinaryNotExpected { .. } => ExitCode::VerificationFailed,
            Error::NotABinaryHash { .. } => ExitCode::Usage,
            Error::CeremonyNotComplete {
                outcome, required, ..
            } => match (outcome, required) {
                (_, true) => ExitCode::VerificationFailed,
                (crate::core::log::CeremonyOutcome::Aborted, false) => ExitCode::CeremonyAborted,
                (_, false) => ExitCode::CeremonyUnfinished,
            },
            #[cfg(feature = "connected")]
            Error::CiphertextTooShort { .. } => ExitCode::VerificationFailed,
            #[cfg(feature = "connected")]
            Error::LocalKmsDown { .. } => ExitCode::Environment,
            Error::Random { .. }
            | Error::NoSoftHsm { .. }
            | Error::Resolve { .. }
            | Error::NoBash { .. }
            | Error::ReplayOutput { .. }
            | Error::CurrentExe { .. }
            | Error::Terminal { .. }
            | Error::Stdout { .. }
            | Error::BundleNotWritable { .. } => ExitCode::Environment,
            Error::ManPages { .. } => ExitCode::Internal,
            Error::PastPolicy { .. } | Error::ReplicasBehind { .. } => ExitCode::NonCompliant,
            Error::KeysUnreadable { .. } | Error::ResourcesUnreadable { .. } => {
                ExitCode::StatusPartial
            }
            Error::RecheckUnreadable { .. } => ExitCode::OperationFailed,
            Error::RotationNotTaken { .. } => ExitCode::VerificationFailed,
            Error::ValidTo { .. } => ExitCode::Usage,
            Error::KeyRefused { .. }
            | Error::KeyWrongState { .. }
            | Error::NoCeremony { .. }
            | Error::NoWrappedMaterial { .. }
            | Error::ParametersExpire { .. }
            | Error::OtherImport { .. }
            | Error::NothingToRollBack { .. } => ExitCode::Refused,
            Error::ImportCheck { .. }
            | Error::ProgressContradicted(_)
            | Error::ProgressNotHeld { .. }
            | Error::NotVouched { .. } => ExitCode::VerificationFailed,
            Error::ImportTaskFailed => ExitCode::Environment,
        }
    }
}

impl Explained for Error {
    fn exit_code(&self) -> ExitCode {
        Error::exit_code(self)
    }
}

impl From<crate::app::ledger_error::LedgerError> for Error {
    fn from(e: crate::app::ledger_error::LedgerError) -> Self {
        Error::Ledger(Box::new(e))
    }
}

/// A cosignature the witness's signer could not make (its signature does not verify).
impl From<crate::core::ledger::cosignature::CosignatureProblem> for Error {
    fn from(problem: crate::core::ledger::cosignature::CosignatureProblem) -> Self {
        crate::app::ledger_error::LedgerError::Cosign(problem).into()
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

/// A progress file calls a key imported, but KMS says otherwise.
#[derive(Debug, thiserror::Error)]
#[error(
    "{progress} records the key {key} as imported with material {recorded}, but KMS reports the key {state} with current material {current}; nothing was imported\n  what to do: the progress file was altered, or the key changed since; keep the file as evidence and move it out of the bundle, check the key with `aws kms list-key-rotations --key-id {key_arn} --include-key-material ALL_KEY_MATERIAL` and the import receipt, then run the import again"
)]
pub struct ProgressContradiction {
    pub progress: String,
    pub key: String,
    pub recorded: String,
    pub state: String,
    pub current: String,
    pub key_arn: String,
}

/// Why `--escrow-from` names no usable escrow.
#[derive(Debug, thiserror::Error)]
pub enum EscrowProblem {
    #[error(
        "this bundle never went through a ceremony, so it escrowed no key\n  what to do: pass the bundle of the ceremony that generated the material"
    )]
    NoCeremony,
    #[error(
        "it has no {file} (the record of its import into KMS)\n  what to do: copy the bundle again from the connected side after `keyrite kms import` ran on it: the re-import needs the KeyMaterialId KMS gave the material"
    )]
    NotImported { file: &'static str },
    #[error("{file}: {problem}\n  what to do: use the bundle together with its own import record")]
    OtherImport {
        file: &'static str,
        problem: ProgressError,
    },
    #[error(
        "its ceremony was opened by the quorum of roster {roster_sha256} ({threshold} custodians); a re-wrap of its keys needs that quorum too\n  what to do: run the re-wrap with --roster and the custodians' shares"
    )]
    NeedsQuorum {
        roster_sha256: String,
        threshold: u8,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
