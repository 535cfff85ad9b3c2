use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use std::path::PathBuf;

use crate::core::exit::{ExitCode, Explained};
use crate::core::receipt::ReceiptError;
use crate::io::IoError;
use crate::io::bundle::BundleError;
use crate::io::fs::FsError;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("cannot start the async runtime: {0}\n  what to do: this is unexpected; report it")]
    Runtime(String),
    #[error(
        "no AWS region is set\n  what to do: pass --region, or set AWS_REGION or a region in the AWS profile"
    )]
    NoRegion,
    #[error(
        "{key}: origin is {origin}, not EXTERNAL; KMS generated this key's material itself, so none can be imported into it\n  what to do: name a key created with --origin EXTERNAL (check the alias points where you think it does)"
    )]
    NotExternal { key: String, origin: String },
    #[error(
        "{key}: key state is {state}; keyrite imports only into keys that are Enabled or PendingImport\n  what to do: {hint}"
    )]
    WrongState {
        key: String,
        state: String,
        hint: String,
    },
    #[error("{key}: {message}\n  what to do: {hint}")]
    Refused {
        key: String,
        message: String,
        hint: String,
    },
    #[error("{key}: after {operation}, {message}\n  what to do: {hint}")]
    Check {
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
    #[error("{key}: {operation} failed: {code}: {message}\n  what to do: {hint}")]
    Service {
        key: String,
        operation: &'static str,
        code: String,
        message: String,
        hint: String,
    },
    #[error(
        "{key}: {operation} could not reach KMS: {detail}\n  what to do: check the network, the endpoint (--endpoint-url / AWS_ENDPOINT_URL) and credentials, then run the command again"
    )]
    Unreachable {
        key: String,
        operation: &'static str,
        detail: String,
    },
    /// A file, the bundle or its receipt.
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(
        "--from-aws-cli {}: {detail}\n  what to do: give the JSON printed by `aws kms get-parameters-for-import`, or a directory with WrappingPublicKey.bin|.b64 (or PublicKey.bin|.b64) and ImportToken.bin|.b64",
        path.display()
    )]
    AwsCliParameters { path: PathBuf, detail: String },
    #[error(
        "the AWS CLI parameters do not say when they expire (bare files carry no ParametersValidTo)\n  what to do: give the JSON output of `aws kms get-parameters-for-import` instead (it has ParametersValidTo), or --parameters-valid-to"
    )]
    NoParametersValidTo,
    #[error(
        "{} exists already\n  what to do: give --out a new directory; keyrite never writes into an existing bundle",
        out.display()
    )]
    OutputExists { out: PathBuf },
    #[error(
        "{key} is named twice (bundle directory {dir_name:?})\n  what to do: name each key once"
    )]
    NamedTwice { key: String, dir_name: String },
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
    TaskFailed,
    #[error(
        "--receipts {}: no such file or directory\n  what to do: name bundle directories (or the import-receipt.log inside one)",
        path.display()
    )]
    NoReceipts { path: PathBuf },
    #[error(
        "{}: {detail}\n  what to do: point --receipts at bundle directories keyrite wrote",
        path.display()
    )]
    ReceiptManifest { path: PathBuf, detail: String },
    #[error(
        "--receipts {}: this receipt does not verify, so kms status uses nothing from it and stops rather than report without it: {problem}\n  what to do: run `keyrite audit verify {} --trust <log-public-key.pem>` and find out who changed the receipt; to report without it, leave that bundle out of --receipts",
        path.display(),
        path.display()
    )]
    ReceiptUnverified { path: PathBuf, problem: String },
}

impl From<FsError> for KmsError {
    fn from(e: FsError) -> Self {
        KmsError::Io(e.into())
    }
}

impl From<BundleError> for KmsError {
    fn from(e: BundleError) -> Self {
        KmsError::Io(e.into())
    }
}

impl From<ReceiptError> for KmsError {
    fn from(e: ReceiptError) -> Self {
        KmsError::Io(e.into())
    }
}

impl Explained for KmsError {
    fn exit_code(&self) -> ExitCode {
        KmsError::exit_code(self)
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

impl KmsError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            KmsError::NoRegion
            | KmsError::AwsCliParameters { .. }
            | KmsError::NoParametersValidTo
            | KmsError::NamedTwice { .. }
            | KmsError::ValidTo { .. }
            | KmsError::NoReceipts { .. } => ExitCode::Usage,
            KmsError::Io(e) => e.exit_code(),
            KmsError::OutputExists { .. }
            | KmsError::NoCeremony { .. }
            | KmsError::NoWrappedMaterial { .. }
            | KmsError::ParametersExpire { .. }
            | KmsError::OtherImport { .. }
            | KmsError::NothingToRollBack { .. } => ExitCode::Refused,
            KmsError::TaskFailed => ExitCode::Environment,
            KmsError::ReceiptManifest { .. } | KmsError::ReceiptUnverified { .. } => {
                ExitCode::VerificationFailed
            }
            KmsError::Runtime(_) => ExitCode::Environment,
            KmsError::NotExternal { .. }
            | KmsError::WrongState { .. }
            | KmsError::Refused { .. } => ExitCode::Refused,
            KmsError::Check { .. }
            | KmsError::ProgressContradicted(_)
            | KmsError::ProgressNotHeld { .. }
            | KmsError::NotVouched { .. } => ExitCode::VerificationFailed,
            KmsError::Service { .. } => ExitCode::OperationFailed,
            KmsError::Unreachable { .. } => ExitCode::Environment,
        }
    }

    /// Turns an SDK error into one that names the key, the operation and what to do.
    pub fn from_sdk<E, R>(key: &str, operation: &'static str, err: SdkError<E, R>) -> KmsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("UnknownError").to_string();
                let message = e.message().unwrap_or("").to_string();
                KmsError::Service {
                    key: key.into(),
                    operation,
                    hint: hint(&code),
                    code,
                    message,
                }
            }
            other => KmsError::Unreachable {
                key: key.into(),
                operation,
                detail: DisplayErrorContext(&other).to_string(),
            },
        }
    }
}

fn hint(code: &str) -> String {
    if matches!(code, "ThrottlingException" | "LimitExceededException") {
        return format!(
            "KMS kept throttling through {} attempts with backoff: wait a minute and run the command again (an import resumes where it stopped), or ask for a higher KMS request quota",
            super::MAX_ATTEMPTS
        );
    }
    let hint = match code {
        "NotFoundException" => "check the alias or ARN, the account and the region",
        "ExpiredImportTokenException" => {
            "the import parameters expired (they last 24 h): prepare a new bundle and run the ceremony again"
        }
        "InvalidImportTokenException" => {
            "the import token does not belong to this key or these parameters: prepare a new bundle"
        }
        "InvalidCiphertextException" => {
            "KMS could not unwrap the material: the bundle's wrapping algorithm or public key does not match what the ceremony used; prepare a new bundle"
        }
        "IncorrectKeyMaterialException" => {
            "this is not the material the key had before: for a re-import use the escrowed key from the HSM"
        }
        "KMSInvalidStateException" => {
            "the key is in a state that forbids this; check it with `aws kms describe-key`"
        }
        "AccessDeniedException" => {
            "the caller lacks kms permissions for this key (kms:ImportKeyMaterial, kms:GetParametersForImport, kms:DescribeKey, kms:RotateKeyOnDemand)"
        }
        "KMSInternalException" | "DependencyTimeoutException" => {
            "a transient KMS failure: run the same command again; an import resumes where it stopped and never sends a key's material twice"
        }
        _ => "see the KMS error above",
    };
    hint.into()
}
