//! The command line: argument parsing and dispatch. People-facing text goes to stderr; `--json`
//! puts machine output on stdout.

pub mod audit;
pub mod audit_html;
pub mod audit_text;
#[cfg(feature = "connected")]
pub mod aws_args;
#[cfg(feature = "airgap")]
pub mod ceremony;
#[cfg(feature = "connected")]
pub mod cosign;
pub mod docs;
pub mod failure;
#[cfg(feature = "connected")]
pub mod inventory;
#[cfg(feature = "connected")]
pub mod output;
#[cfg(feature = "airgap")]
pub mod quorum;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod rehearse;
#[cfg(feature = "connected")]
pub mod status;
pub mod values;
#[cfg(any(feature = "airgap", feature = "connected"))]
pub mod witness;

#[cfg(feature = "connected")]
use std::path::PathBuf;

#[cfg(feature = "connected")]
use clap::Args;
use clap::{Parser, Subcommand};

use crate::app::error::Result;
#[cfg(feature = "connected")]
use crate::app::import::Expiration;
#[cfg(feature = "connected")]
use crate::app::{self, error::Error};
#[cfg(feature = "connected")]
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
#[cfg(feature = "connected")]
use crate::core::digest::{grouped, word_lines, words};
#[cfg(feature = "connected")]
use crate::core::names::KeyRef;
#[cfg(feature = "connected")]
use crate::io::{bundle, fs as fsio};
#[cfg(feature = "connected")]
use crate::kms;

#[cfg(feature = "connected")]
pub use aws_args::AwsArgs;

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
    #[cfg(feature = "connected")]
    #[command(subcommand)]
    Kms(KmsCommand),
    /// The air-gapped ceremony: generate, wrap and verify key material inside the HSM.
    #[cfg(feature = "airgap")]
    Ceremony(ceremony::CeremonyArgs),
    /// The whole flow on a fresh SoftHSM2 token against a local KMS.
    #[cfg(all(feature = "airgap", feature = "connected"))]
    Rehearse(rehearse::RehearseArgs),
    /// Offline audit of a ceremony's signed log and bundle.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Custody of the HSM: enrol a token under an M-of-N quorum of named custodians.
    #[cfg(feature = "airgap")]
    #[command(subcommand)]
    Quorum(QuorumCommand),
    /// An outside witness of the token's ledger: its key, and its cosignature of a bundle's
    /// checkpoint when it extends the last one it cosigned.
    #[cfg(any(feature = "airgap", feature = "connected"))]
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the manual page, or write one page per command into a directory (--out).
    Man(docs::ManArgs),
}

#[cfg(feature = "airgap")]
#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// One-time: initialise the token, split its PIN among the custodians, generate the
    /// log-signing key, write the signed roster and the log public key.
    Enroll(quorum::EnrolArgs),
    /// Check a roster against the published log public key.
    Verify(quorum::RosterVerifyArgs),
}

#[cfg(feature = "connected")]
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
    /// A second person checks the bundle's keys (alias, ARN, account, region, wrapping key
    /// SHA-256) and countersigns its fingerprint into provenance.json.
    Cosign(cosign::CosignArgs),
}

#[cfg(feature = "connected")]
#[derive(Args, Debug)]
pub struct VerifyRotationArgs {
    /// The bundle that was imported.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The log public key (PEM) the bundle's ceremony log must verify with (the receipt this
    /// appends to continues that log). Default: the path in KEYRITE_LOG_TRUST.
    #[arg(long, env = "KEYRITE_LOG_TRUST", value_name = "PEM")]
    pub trust: Option<PathBuf>,
    /// A ciphertext (raw CiphertextBlob bytes) made before the rotation, which must still
    /// decrypt under a key of the bundle. Repeat for more.
    #[arg(long = "ciphertext")]
    pub ciphertexts: Vec<PathBuf>,
    /// Also check in CloudTrail that no call on the keys failed since the import
    /// (needs cloudtrail:LookupEvents).
    #[arg(long)]
    pub cloudtrail: bool,
    /// The JSON `keyrite kms inventory --json` printed before the rotation: each resource it
    /// mapped to a key of the bundle must still resolve to it (to the new key, for one that named
    /// the alias of a rotation by a new key). Reads S3, RDS and DynamoDB.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print each key's checks and result as JSON on stdout (the lines for people go to stderr).
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "connected")]
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
    /// Rotation by a new key, where policy demands one: per alias, create a new EXTERNAL key with
    /// the current key's policy, description and tags, and prepare the bundle for it; `kms
    /// import` moves the alias to it once its material is imported. The current key stays
    /// enabled to decrypt older data. Default: rotate each key's material on demand.
    #[arg(long, conflicts_with_all = ["plan", "from_aws_cli"])]
    pub new_key: bool,
    /// Multi-Region keys: make a replica of each --key (an EXTERNAL multi-Region primary) in
    /// these Regions where it has none yet, then prepare the bundle for the primary and every
    /// replica (one wrapping key and import token per Region). Repeat or comma-separate.
    #[arg(long, value_delimiter = ',', value_parser = values::region_name, conflicts_with_all = ["plan", "from_aws_cli", "new_key"])]
    pub replicate_to: Vec<String>,
    /// The new bundle directory (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "RSA_4096")]
    pub wrapping_spec: WrappingKeySpec,
    /// Wrapping algorithm. SoftHSM2 can wrap only with RSAES_OAEP_SHA_1.
    #[arg(long, default_value = "RSAES_OAEP_SHA_256")]
    pub algorithm: WrappingAlgorithm,
    /// Sign the bundle's fingerprint as its preparer (provenance.json): a P-256 private key in
    /// PKCS#8 PEM (mode 0600), or (full build) pkcs11:token=LABEL;object=KEY?pin-source=file:/path.
    #[arg(long)]
    pub sign_with: Option<String>,
    #[command(flatten)]
    pub signer: cosign::SignerArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "connected")]
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The bundle the ceremony completed.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The log public key (PEM, exported at enrolment) the bundle's ceremony log must verify
    /// with; nothing is sent to KMS otherwise. Default: the path in KEYRITE_LOG_TRUST.
    #[arg(long, env = "KEYRITE_LOG_TRUST", value_name = "PEM")]
    pub trust: Option<PathBuf>,
    /// Whether the imported material expires (KEY_MATERIAL_EXPIRES needs --valid-to).
    #[arg(long, value_enum, default_value_t = values::ExpirationModel::DoesNotExpire)]
    pub expiration_model: values::ExpirationModel,
    /// When imported material expires (RFC 3339, e.g. 2027-06-30T00:00:00Z).
    #[arg(long)]
    pub valid_to: Option<String>,
    /// How many keys to import at once (1-64).
    #[arg(long, default_value_t = app::import::DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub concurrency: usize,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print each key's import outcome (kind, state, key material id, alias moved) as JSON on
    /// stdout (the lines for people go to stderr).
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "connected")]
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The bundle whose import stopped before its rotation.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The log public key (PEM, exported at enrolment) the bundle's ceremony log must verify
    /// with; nothing is sent to KMS otherwise. Default: the path in KEYRITE_LOG_TRUST.
    #[arg(long, env = "KEYRITE_LOG_TRUST", value_name = "PEM")]
    pub trust: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print what was rolled back, key by key, as JSON on stdout (the lines for people go to
    /// stderr).
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    /// Whether the command was asked for `--json` output (its failure is then JSON too).
    pub fn json(&self) -> bool {
        match &self.command {
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Prepare(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Import(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Rollback(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Status(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Inventory(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::VerifyRotation(a)) => a.json,
            #[cfg(feature = "connected")]
            Command::Kms(KmsCommand::Cosign(a)) => a.json,
            #[cfg(feature = "airgap")]
            Command::Ceremony(a) => a.json,
            Command::Audit(audit::AuditCommand::Verify(a)) => a.json,
            #[cfg(any(feature = "airgap", feature = "connected"))]
            Command::Witness(witness::WitnessCommand::Cosign(a)) => a.json,
            #[cfg(any(feature = "airgap", feature = "connected"))]
            Command::Witness(witness::WitnessCommand::Init(_)) => false,
            #[cfg(feature = "airgap")]
            Command::Quorum(QuorumCommand::Enroll(a)) => a.json,
            #[cfg(all(feature = "airgap", feature = "connected"))]
            Command::Rehearse(_) => false,
            #[cfg(feature = "airgap")]
            Command::Quorum(QuorumCommand::Verify(_)) => false,
            Command::Audit(audit::AuditCommand::Replay(_))
            | Command::Audit(audit::AuditCommand::Report(_))
            | Command::Completions(_)
            | Command::Man(_) => false,
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Prepare(a)) => prepare(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Import(a)) => import(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Rollback(a)) => rollback(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Status(a)) => crate::cli::status::run(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Inventory(a)) => crate::cli::inventory::run(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::VerifyRotation(a)) => verify_rotation(a),
        #[cfg(feature = "connected")]
        Command::Kms(KmsCommand::Cosign(a)) => cosign::run(a),
        #[cfg(feature = "airgap")]
        Command::Ceremony(a) => ceremony::run(a),
        #[cfg(all(feature = "airgap", feature = "connected"))]
        Command::Rehearse(a) => rehearse::run(a),
        Command::Audit(a) => audit::run(a),
        #[cfg(any(feature = "airgap", feature = "connected"))]
        Command::Witness(a) => witness::run(a),
        Command::Completions(a) => docs::completions(&a, <Cli as clap::CommandFactory>::command()),
        Command::Man(a) => docs::man(&a, <Cli as clap::CommandFactory>::command()),
        #[cfg(feature = "airgap")]
        Command::Quorum(QuorumCommand::Enroll(a)) => a.run(),
        #[cfg(feature = "airgap")]
        Command::Quorum(QuorumCommand::Verify(a)) => a.run(),
    }
}

#[cfg(feature = "connected")]
fn prepare(a: PrepareArgs) -> Result<()> {
    let keys = a
        .keys
        .iter()
        .map(|k| KeyRef::parse(k))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::KeyRef)?;
    let plan = match &a.plan {
        Some(path) => {
            let text = fsio::read_text(path, "a plan")?;
            Some(
                crate::core::plan::Plan::parse(&text).map_err(|problem| Error::Plan {
                    path: path.clone(),
                    problem: Box::new(problem),
                })?,
            )
        }
        None => None,
    };
    let supplied = match &a.from_aws_cli {
        Some(path) => {
            if keys.len() != 1 {
                return Err(Error::AwsCliOneKey);
            }
            let mut p = kms::prepare::load_cli_parameters(path)?;
            if let Some(t) = &a.parameters_valid_to {
                let t: jiff::Timestamp = t.parse().map_err(|e| Error::NotATime {
                    flag: "--parameters-valid-to",
                    value: t.clone(),
                    detail: format!("{e}"),
                })?;
                if p.valid_to.is_some_and(|v| v != t) {
                    return Err(Error::ParametersValidToContradicts);
                }
                p.valid_to = Some(t);
            }
            Some(p)
        }
        None => None,
    };
    let signer = match &a.sign_with {
        Some(s) => Some(a.signer.signer(s)?),
        None => None,
    };
    let app::prepare::PreparedSigned {
        prepared,
        signature,
    } = app::prepare::run(&app::prepare::PrepareRequest {
        target: a.aws.target(),
        keys: &keys,
        plan: plan.as_ref(),
        spec: a.wrapping_spec,
        algorithm: a.algorithm,
        out: &a.out,
        supplied: supplied.as_ref(),
        replicate_to: &a.replicate_to,
        new_key: a.new_key,
        sign_with: signer.as_ref(),
    })?;
    crate::say!(
        "prepared {} into {}",
        crate::core::terminal::counted(prepared.manifest.keys.len(), "key"),
        a.out.display()
    );
    for k in &prepared.manifest.keys {
        crate::say!(
            "  {:<24} {}  state {}  parameters valid to {}",
            k.name,
            k.key_arn,
            k.key_state,
            k.parameters_valid_to
        );
        for r in &k.replicas {
            crate::say!(
                "  {:<24} replica in {}: {}  state {}  parameters valid to {}",
                "",
                r.region,
                r.key_arn,
                r.key_state,
                r.parameters_valid_to
            );
        }
        if let Some(t) = &k.takes_over {
            crate::say!(
                "  {:<24} a new key: takes over {} from {} after import",
                "",
                t.alias,
                t.previous_key_arn
            );
        }
    }
    crate::say!(
        "bundle fingerprint (read it out to the ceremony room):\n  {}\nthe same as words:",
        grouped(&prepared.fingerprint)
    );
    for line in word_lines(&prepared.fingerprint) {
        eprintln!("  {line}");
    }
    if let Some(s) = &signature {
        crate::say!(
            "signed as its preparer by {} (public key SHA-256); a second person countersigns with `keyrite kms cosign`",
            s.signer_sha256
        );
    }
    if a.json {
        let v = serde_json::json!({ "bundle": a.out, "fingerprint": prepared.fingerprint,
            "fingerprint_words": words(&prepared.fingerprint), "manifest": prepared.manifest,
            "signer_sha256": signature.as_ref().map(|s| &s.signer_sha256) });
        println!("{v}");
    }
    Ok(())
}

#[cfg(feature = "connected")]
fn import(a: ImportArgs) -> Result<()> {
    use values::ExpirationModel;
    let expiration = match (a.expiration_model, &a.valid_to) {
        (ExpirationModel::DoesNotExpire, None) => Expiration::DoesNotExpire,
        (ExpirationModel::Expires, Some(t)) => {
            Expiration::ExpiresAt(t.parse().map_err(|e| Error::NotATime {
                flag: "--valid-to",
                value: t.clone(),
                detail: format!("{e}"),
            })?)
        }
        (ExpirationModel::DoesNotExpire, Some(_)) => {
            return Err(Error::ValidToWithoutExpiry);
        }
        (ExpirationModel::Expires, None) => {
            return Err(Error::ExpiryWithoutValidTo);
        }
    };
    let verified = bundle::Bundle::verify(&a.bundle)?;
    // Verified before anything is printed or sent: the fallback commands below come from the
    // manifest, and only a manifest the signed log vouches for.
    let signed = app::audit::signed_ceremony(&verified, a.trust.as_deref())?;
    crate::say!("the same import by hand with the AWS CLI, should you need to fall back to it:");
    for (name, commands) in app::import::aws_cli_equivalent(&verified, expiration) {
        crate::say!("  # {name}");
        for c in commands {
            crate::say!("  {c}");
        }
    }
    let outcomes = app::import::run(
        &verified,
        &signed,
        &a.aws.target(),
        expiration,
        a.concurrency,
    )?;
    for o in &outcomes {
        crate::say!(
            "{:<24} {}: {}; current key material {} (was {})",
            o.name,
            o.kind,
            o.state,
            o.key_material_id.as_deref().unwrap_or("?"),
            o.previous_key_material_id.as_deref().unwrap_or("none")
        );
        if let Some(m) = &o.alias_moved {
            crate::say!(
                "  {:<22} {} moved from {} to {}",
                "",
                m.alias,
                m.from_key_arn,
                m.to_key_arn
            );
        }
    }
    if a.json {
        let v: Vec<_> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({"name": o.name, "key_arn": o.key_arn, "kind": o.kind, "state": o.state,
                    "key_material_id": o.key_material_id, "previous_key_material_id": o.previous_key_material_id,
                    "encrypted_key_material_sha256": o.encrypted_key_material_sha256,
                    "pre_rotation_ciphertext_sha256": o.pre_rotation_ciphertext_sha256,
                    "alias_moved": o.alias_moved})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    }
    Ok(())
}

#[cfg(feature = "connected")]
fn verify_rotation(a: VerifyRotationArgs) -> Result<()> {
    let verified = bundle::Bundle::verify(&a.bundle)?;
    let v = app::verify_rotation::run_with_inventory(
        &verified,
        a.trust.as_deref(),
        &a.aws.target(),
        &a.ciphertexts,
        a.cloudtrail,
        a.inventory.as_deref(),
    )?;
    for k in &v.keys {
        crate::say!(
            "{:<24} {}",
            k.name,
            if k.passed { "PASSED" } else { "FAILED" }
        );
        for c in &k.checks {
            crate::say!("    {c}");
        }
    }
    for o in &v.old_ciphertexts {
        match &o.result {
            Ok(arn) => crate::say!("{}: decrypts under {arn}", o.file.display()),
            Err(e) => crate::say!("{}: FAILED: {e}", o.file.display()),
        }
    }
    if a.json {
        println!("{}", serde_json::to_string(&v).unwrap_or_default());
    }
    app::verify_rotation::verdict(&v)
}

#[cfg(feature = "connected")]
fn rollback(a: RollbackArgs) -> Result<()> {
    let verified = bundle::Bundle::verify(&a.bundle)?;
    let done = app::rollback::run(&verified, a.trust.as_deref(), &a.aws.target())?;
    for k in &done {
        let what = match &k.outcome {
            app::rollback::RollbackOutcome::RolledBack {
                key_material_id, ..
            } => format!("pending material {key_material_id} deleted"),
            app::rollback::RollbackOutcome::NothingPending { reason } => {
                format!("nothing pending: {reason}")
            }
            app::rollback::RollbackOutcome::AlreadyCurrent { key_material_id } => format!(
                "material {} is current (imported and rotated to): not deleted; to replace it, rotate again with a new ceremony",
                key_material_id.as_deref().unwrap_or("?")
            ),
            app::rollback::RollbackOutcome::AlreadyRolledBack { key_material_id } => {
                format!("material {key_material_id} was rolled back before")
            }
            app::rollback::RollbackOutcome::AliasMovedBack {
                alias,
                from_key_arn,
                to_key_arn,
                ..
            } => format!("{alias} moved back from {from_key_arn} to {to_key_arn}"),
            app::rollback::RollbackOutcome::AliasOnPreviousKey { alias, key_arn } => {
                format!("{alias} already names the previous key {key_arn}")
            }
        };
        crate::say!("{:<24} {what}", k.name);
    }
    if a.json {
        println!("{}", serde_json::to_string(&done).unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "connected")]
    use clap::Parser;

    use super::*;

    #[cfg(feature = "connected")]
    #[test]
    fn an_unknown_algorithm_is_a_usage_error_that_lists_the_known_ones() {
        let err = Cli::try_parse_from([
            "keyrite",
            "kms",
            "prepare",
            "--key",
            "alias/x",
            "--out",
            "b",
            "--algorithm",
            "RSAES_PKCS1_V1_5",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("RSAES_PKCS1_V1_5"), "{text}");
        assert!(text.contains("RSAES_OAEP_SHA_256"), "{text}");
    }

    #[cfg(feature = "connected")]
    #[test]
    fn days_beyond_a_hundred_years_are_a_usage_error_naming_the_flag() {
        for (flag, value) in [
            ("--policy-days", "4000000"),
            ("--policy-days", "0"),
            ("--due-soon-days", "36501"),
            ("--grace-days", "4294967296"),
        ] {
            let err = Cli::try_parse_from(["keyrite", "kms", "status", flag, value]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{flag} {value}");
            let text = err.to_string();
            assert!(text.contains(flag) && text.contains(value), "{text}");
            assert!(text.contains("36500"), "{text}");
        }
        let ok = Cli::try_parse_from([
            "keyrite",
            "kms",
            "status",
            "--policy-days",
            "36500",
            "--due-soon-days",
            "0",
            "--grace-days",
            "36500",
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn the_parser_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
