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
        "{key}: a multi-Region {role} key (primary in {primary}; replicas in {replicas}): new material reaches a multi-Region key only through its primary — KMS never copies imported material between Regions, so keyrite wraps the same material for the primary and every replica, in the primary's bundle\n  what to do: prepare its primary (in {primary}) instead; its replicas come with it"
    )]
    MultiRegion {
        key: String,
        role: &'static str,
        primary: String,
        replicas: String,
    },
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

impl KmsError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            KmsError::NoRegion
            | KmsError::AwsCliParameters { .. }
            | KmsError::NoParametersValidTo
            | KmsError::NamedTwice { .. }
            | KmsError::NoReceipts { .. } => ExitCode::Usage,
            KmsError::Io(e) => e.exit_code(),
            KmsError::OutputExists { .. } => ExitCode::Refused,
            KmsError::ReceiptManifest { .. } | KmsError::ReceiptUnverified { .. } => {
                ExitCode::VerificationFailed
            }
            KmsError::Runtime(_) => ExitCode::Environment,
            KmsError::NotExternal { .. }
            | KmsError::MultiRegion { .. }
            | KmsError::WrongState { .. }
            | KmsError::Refused { .. } => ExitCode::Refused,
            KmsError::Check { .. } => ExitCode::VerificationFailed,
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
