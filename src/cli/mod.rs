//! The command line: argument parsing and dispatch. People-facing text goes to stderr; `--json`
//! puts machine output on stdout.

pub mod audit;
pub mod ceremony;
pub mod inventory;
pub mod quorum;
pub mod status;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::error::{Error, Result};
use crate::app::{self, rehearse};
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::digest::grouped;
use crate::core::names::KeyRef;
use crate::io::{bundle, fs as fsio};
use crate::kms::import::Expiration;
use crate::kms::{self, KmsTarget};

#[derive(Parser, Debug)]
#[command(
    name = "keyrite",
    version,
    about = "Dual-control BYOK key ceremonies for AWS KMS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The connected side: fetch import parameters, import wrapped material.
    #[command(subcommand)]
    Kms(KmsCommand),
    /// The air-gapped ceremony: generate, wrap and verify key material inside the HSM.
    Ceremony(ceremony::CeremonyArgs),
    /// The whole flow on a fresh SoftHSM2 token against a local KMS.
    Rehearse(RehearseArgs),
    /// Offline audit of a ceremony's signed log and bundle.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Custody of the HSM: enrol a token under an M-of-N quorum of named custodians.
    #[command(subcommand)]
    Quorum(QuorumCommand),
}

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// One-time: initialise the token, split its PIN among the custodians, generate the
    /// log-signing key, write the signed roster and the log public key.
    Enroll(quorum::EnrolArgs),
    /// Check a roster against the published log public key.
    Verify(quorum::RosterVerifyArgs),
}

#[derive(Subcommand, Debug)]
pub enum KmsCommand {
    /// Check each key and fetch its import parameters into a new transfer bundle.
    Prepare(PrepareArgs),
    /// Import the ceremony's wrapped material from a bundle, rotating keys that have material.
    Import(ImportArgs),
    /// Delete material an import staged (NEW_KEY_MATERIAL) but never rotated to.
    Rollback(RollbackArgs),
    /// Every EXTERNAL key with the age of its current material against a rotation policy.
    Status(crate::cli::status::StatusArgs),
    /// Every EXTERNAL key with its aliases and the S3 buckets, RDS databases and DynamoDB tables
    /// that use it, across regions; keys named outside their alias and segregation breaks flagged.
    Inventory(crate::cli::inventory::InventoryArgs),
    /// After an import: the bundle's material is current, Encrypt/Decrypt work through the alias,
    /// older ciphertexts still decrypt; the result is appended to the import receipt.
    VerifyRotation(VerifyRotationArgs),
}

#[derive(Args, Debug)]
pub struct VerifyRotationArgs {
    /// The bundle that was imported.
    #[arg(long)]
    pub bundle: PathBuf,
    /// A ciphertext (raw CiphertextBlob bytes) made before the rotation, which must still
    /// decrypt under a key of the bundle. Repeat for more.
    #[arg(long = "ciphertext")]
    pub ciphertexts: Vec<PathBuf>,
    /// Also check in CloudTrail that no call on the keys failed since the import
    /// (needs cloudtrail:LookupEvents).
    #[arg(long)]
    pub cloudtrail: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS profile (default: AWS_PROFILE or the SDK's default chain)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// KMS endpoint (default: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL or AWS's)
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn target(&self) -> KmsTarget {
        KmsTarget {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            ..KmsTarget::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// A key to rotate: alias (alias/prod-s3), key ARN or key id. Repeat for more keys.
    #[arg(
        long = "key",
        required_unless_present = "plan",
        conflicts_with = "plan"
    )]
    pub keys: Vec<String>,
    /// A rotation plan (TOML, see plans/example.toml): keys by environment and service, with the
    /// account and region each must live in. Each key is looked up in its planned region.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Use import parameters fetched with the AWS CLI for the one --key: the JSON printed by `aws
    /// kms get-parameters-for-import`, or a directory with WrappingPublicKey.bin|.b64 (or
    /// PublicKey.bin|.b64) and ImportToken.bin|.b64 beside that JSON. --algorithm and
    /// --wrapping-spec must be the ones the parameters were fetched with.
    #[arg(long, conflicts_with = "plan")]
    pub from_aws_cli: Option<PathBuf>,
    /// When parameters given as bare files expire (RFC 3339; 24 h after they were fetched). The
    /// CLI's JSON carries it as ParametersValidTo.
    #[arg(long, requires = "from_aws_cli")]
    pub parameters_valid_to: Option<String>,
    /// The new bundle directory (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "RSA_4096")]
    pub wrapping_spec: WrappingKeySpec,
    /// Wrapping algorithm. SoftHSM2 can wrap only with RSAES_OAEP_SHA_1.
    #[arg(long, default_value = "RSAES_OAEP_SHA_256")]
    pub algorithm: WrappingAlgorithm,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The bundle the ceremony completed.
    #[arg(long)]
    pub bundle: PathBuf,
    /// KEY_MATERIAL_DOES_NOT_EXPIRE (default) or KEY_MATERIAL_EXPIRES (needs --valid-to).
    #[arg(long, default_value = "KEY_MATERIAL_DOES_NOT_EXPIRE")]
    pub expiration_model: String,
    /// When imported material expires (RFC 3339, e.g. 2027-06-30T00:00:00Z).
    #[arg(long)]
    pub valid_to: Option<String>,
    /// How many keys to import at once (1-64).
    #[arg(long, default_value_t = kms::import::DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub concurrency: usize,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The bundle whose import stopped before its rotation.
    #[arg(long)]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RehearseArgs {
    /// Run without the terminal UI.
    #[arg(long)]
    pub headless: bool,
    /// Where to leave everything (must not exist). Default: ./keyrite-rehearsal-<time>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The ceremony script to rehearse (default: the built-in ceremony-scripts/rehearsal.toml).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// The SoftHSM2 module.
    #[arg(long, default_value = crate::hsm::softhsm::DEFAULT_MODULE)]
    pub module: PathBuf,
    /// Use this running local KMS instead of starting one.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Kms(KmsCommand::Prepare(a)) => prepare(a),
        Command::Kms(KmsCommand::Import(a)) => import(a),
        Command::Kms(KmsCommand::Rollback(a)) => rollback(a),
        Command::Kms(KmsCommand::Status(a)) => crate::cli::status::run(a),
        Command::Kms(KmsCommand::Inventory(a)) => crate::cli::inventory::run(a),
        Command::Kms(KmsCommand::VerifyRotation(a)) => verify_rotation(a),
        Command::Ceremony(a) => ceremony::run(a),
        Command::Rehearse(a) => rehearse::run(&rehearse::RehearseRequest {
            headless: a.headless,
            out: a.out,
            script: a.script,
            module: a.module,
            endpoint_url: a.endpoint_url,
        }),
        Command::Audit(a) => audit::run(a),
        Command::Quorum(QuorumCommand::Enroll(a)) => a.run(),
        Command::Quorum(QuorumCommand::Verify(a)) => a.run(),
    }
}

fn prepare(a: PrepareArgs) -> Result<()> {
    let keys = a
        .keys
        .iter()
        .map(|k| KeyRef::parse(k))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|what| Error::Usage {
            what,
            hint: "see `keyrite kms prepare --help`".into(),
        })?;
    let plan = match &a.plan {
        Some(path) => {
            let text = fsio::read_text(path, "a plan")?;
            Some(
                crate::core::plan::Plan::parse(&text).map_err(|what| Error::Usage {
                    what: format!("{}: {what}", path.display()),
                    hint: "fix the plan; see `keyrite kms prepare --help`".into(),
                })?,
            )
        }
        None => None,
    };
    let supplied = match &a.from_aws_cli {
        Some(path) => {
            if keys.len() != 1 {
                return Err(Error::Usage {
                    what: "--from-aws-cli holds the parameters of one key; name exactly one --key"
                        .into(),
                    hint:
                        "prepare each key whose parameters were fetched with the AWS CLI on its own"
                            .into(),
                });
            }
            let mut p = kms::prepare::load_cli_parameters(path)?;
            if let Some(t) = &a.parameters_valid_to {
                let t: jiff::Timestamp = t.parse().map_err(|e| Error::Usage {
                    what: format!("--parameters-valid-to {t:?} is not an RFC 3339 time: {e}"),
                    hint: "write it like 2027-06-30T00:00:00Z".into(),
                })?;
                if p.valid_to.is_some_and(|v| v != t) {
                    return Err(Error::Usage {
                        what: "--parameters-valid-to contradicts the ParametersValidTo of the AWS CLI's JSON".into(),
                        hint: "drop --parameters-valid-to: the JSON says when the parameters expire".into(),
                    });
                }
                p.valid_to = Some(t);
            }
            Some(p)
        }
        None => None,
    };
    let prepared = app::prepare::run(&app::prepare::PrepareRequest {
        target: a.aws.target(),
        keys: &keys,
        plan: plan.as_ref(),
        spec: a.wrapping_spec,
        algorithm: a.algorithm,
        out: &a.out,
        supplied: supplied.as_ref(),
    })?;
    eprintln!(
        "prepared {} key(s) into {}",
        prepared.manifest.keys.len(),
        a.out.display()
    );
    for k in &prepared.manifest.keys {
        eprintln!(
            "  {:<24} {}  state {}  parameters valid to {}",
            k.name, k.key_arn, k.key_state, k.parameters_valid_to
        );
    }
    eprintln!(
        "bundle fingerprint (read it out to the ceremony room):\n  {}",
        grouped(&prepared.fingerprint)
    );
    if a.json {
        let v = serde_json::json!({ "bundle": a.out, "fingerprint": prepared.fingerprint, "manifest": prepared.manifest });
        println!("{v}");
    }
    Ok(())
}

fn import(a: ImportArgs) -> Result<()> {
    let expiration = match (a.expiration_model.as_str(), &a.valid_to) {
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => Expiration::DoesNotExpire,
        ("KEY_MATERIAL_EXPIRES", Some(t)) => {
            Expiration::ExpiresAt(t.parse().map_err(|e| Error::Usage {
                what: format!("--valid-to {t:?} is not an RFC 3339 time: {e}"),
                hint: "write it like 2027-06-30T00:00:00Z".into(),
            })?)
        }
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
            return Err(Error::Usage {
                what: "--valid-to was given with KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
                hint: "add --expiration-model KEY_MATERIAL_EXPIRES, or drop --valid-to".into(),
            });
        }
        ("KEY_MATERIAL_EXPIRES", None) => {
            return Err(Error::Usage {
                what: "KEY_MATERIAL_EXPIRES needs --valid-to".into(),
                hint: "add --valid-to 2027-06-30T00:00:00Z (at most 365 days ahead)".into(),
            });
        }
        (other, _) => {
            return Err(Error::Usage {
                what: format!("unknown --expiration-model {other:?}"),
                hint: "use KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES".into(),
            });
        }
    };
    let verified = bundle::Bundle::verify(&a.bundle)?;
    eprintln!("the same import by hand with the AWS CLI, should you need to fall back to it:");
    for (name, commands) in kms::import::aws_cli_equivalent(&verified, expiration) {
        eprintln!("  # {name}");
        for c in commands {
            eprintln!("  {c}");
        }
    }
    let outcomes = app::import::run(&verified, &a.aws.target(), expiration, a.concurrency)?;
    for o in &outcomes {
        eprintln!(
            "{:<24} {}: {}; current key material {} (was {})",
            o.name,
            o.kind,
            o.state,
            o.key_material_id.as_deref().unwrap_or("?"),
            o.previous_key_material_id.as_deref().unwrap_or("none")
        );
    }
    if a.json {
        let v: Vec<_> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({"name": o.name, "key_arn": o.key_arn, "kind": o.kind, "state": o.state,
                    "key_material_id": o.key_material_id, "previous_key_material_id": o.previous_key_material_id,
                    "encrypted_key_material_sha256": o.encrypted_key_material_sha256})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    }
    Ok(())
}

fn verify_rotation(a: VerifyRotationArgs) -> Result<()> {
    let verified = bundle::Bundle::verify(&a.bundle)?;
    let v = app::verify_rotation::run(&verified, &a.aws.target(), &a.ciphertexts, a.cloudtrail)?;
    for k in &v.keys {
        eprintln!(
            "{:<24} {}",
            k.name,
            if k.passed { "PASSED" } else { "FAILED" }
        );
        for c in &k.checks {
            eprintln!("    {c}");
        }
    }
    for o in &v.old_ciphertexts {
        match &o.result {
            Ok(arn) => eprintln!("{}: decrypts under {arn}", o.file.display()),
            Err(e) => eprintln!("{}: FAILED: {e}", o.file.display()),
        }
    }
    if a.json {
        println!("{}", serde_json::to_string(&v).unwrap_or_default());
    }
    app::verify_rotation::verdict(&v)
}

fn rollback(a: RollbackArgs) -> Result<()> {
    let verified = bundle::Bundle::verify(&a.bundle)?;
    let done = app::rollback::run(&verified, &a.aws.target())?;
    for k in &done {
        let what = match &k.outcome {
            kms::rollback::RollbackOutcome::RolledBack {
                key_material_id, ..
            } => format!("pending material {key_material_id} deleted"),
            kms::rollback::RollbackOutcome::NothingPending { reason } => {
                format!("nothing pending: {reason}")
            }
            kms::rollback::RollbackOutcome::AlreadyCurrent { key_material_id } => format!(
                "material {} is current (imported and rotated to): not deleted; to replace it, rotate again with a new ceremony",
                key_material_id.as_deref().unwrap_or("?")
            ),
            kms::rollback::RollbackOutcome::AlreadyRolledBack { key_material_id } => {
                format!("material {key_material_id} was rolled back before")
            }
        };
        eprintln!("{:<24} {what}", k.name);
    }
    if a.json {
        println!("{}", serde_json::to_string(&done).unwrap_or_default());
    }
    Ok(())
}
