//! The command line: argument parsing and dispatch. People-facing text goes to stderr; `--json`
//! puts machine output on stdout.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::digest::{grouped, sha256_hex};
use crate::core::names::KeyRef;
use crate::core::script::{Answers, Script};
use crate::error::{Error, Result};
use crate::hsm::{HsmError, Token, TokenUri};
use crate::kms::import::Expiration;
use crate::kms::{self, KmsTarget};
use crate::{bundle, ceremony, fsio, rehearse};

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
    Ceremony(CeremonyArgs),
    /// The whole flow on a fresh SoftHSM2 token against a local KMS.
    Rehearse(RehearseArgs),
    /// Offline audit of a ceremony's signed log and bundle.
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Custody of the HSM: enrol a token under an M-of-N quorum of named custodians.
    #[command(subcommand)]
    Quorum(QuorumCommand),
}

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// One-time: initialise the token, split its PIN among the custodians, generate the
    /// log-signing key, write the signed roster and the log public key.
    Enroll(crate::enrol::EnrolArgs),
    /// Check a roster against the published log public key.
    Verify(crate::enrol::RosterVerifyArgs),
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
    Status(crate::kms_status_cli::StatusArgs),
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
pub struct HsmArgs {
    /// The PKCS#11 module.
    #[arg(long, env = "KEYRITE_PKCS11_MODULE", default_value = crate::hsm::softhsm::DEFAULT_MODULE)]
    pub module: PathBuf,
    /// The token, by label: pkcs11:token=LABEL?pin-source=file:/path (RFC 7512).
    #[arg(long)]
    pub token: String,
}

#[derive(Args, Debug)]
pub struct CeremonyArgs {
    /// The ceremony script (TOML).
    #[arg(long)]
    pub script: PathBuf,
    /// The bundle prepared on the connected side.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Run without the terminal UI, taking the operators' answers from --answers (by default the
    /// operators answer at the terminal).
    #[arg(long, requires = "answers")]
    pub headless: bool,
    /// The operators' answers (TOML) for a headless run.
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// The roster written at enrolment (roster.json, with roster.log next to it): the HSM is
    /// opened by the custodians' quorum ([[custodian]] entries in the answers), not a PIN file.
    #[arg(long)]
    pub roster: Option<PathBuf>,
    #[command(flatten)]
    pub hsm: HsmArgs,
    #[arg(long)]
    pub json: bool,
    /// Re-wrap: instead of generating keys, wrap the escrowed keys of an earlier ceremony (whose
    /// material expired or was deleted in KMS) for re-import. Needs --escrow-from.
    #[arg(long, requires = "escrow_from")]
    pub rewrap: bool,
    /// The earlier, imported bundle that recorded the escrowed keys' labels, check values and
    /// KeyMaterialIds (with its import-progress.json).
    #[arg(long, requires = "rewrap")]
    pub escrow_from: Option<PathBuf>,
    /// A file holding the security officer's PIN (first line): the SO marks the KMS wrapping keys
    /// CKA_TRUSTED and the ceremony keys are generated CKA_WRAP_WITH_TRUSTED (SECURITY.md).
    #[arg(long)]
    pub so_pin_source: Option<PathBuf>,
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
        Command::Kms(KmsCommand::Status(a)) => crate::kms_status_cli::run(a),
        Command::Ceremony(a) => run_ceremony(a),
        Command::Rehearse(a) => rehearse::run(&a),
        Command::Audit(a) => crate::audit::run(a),
        Command::Quorum(QuorumCommand::Enroll(a)) => crate::enrol::run(&a),
        Command::Quorum(QuorumCommand::Verify(a)) => crate::enrol::verify(&a),
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment {
            what: format!("cannot start the async runtime: {e}"),
            hint: "this is unexpected; report it".into(),
        })
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
    let rt = runtime()?;
    let prepared = rt.block_on(async {
        if let Some(plan) = &plan {
            return kms::plan::prepare_plan(
                &a.aws.target(),
                plan,
                a.wrapping_spec,
                a.algorithm,
                &a.out,
            )
            .await;
        }
        let client = kms::connect(&a.aws.target()).await?;
        let req = kms::prepare::PrepareRequest {
            keys: &keys,
            spec: a.wrapping_spec,
            algorithm: a.algorithm,
            out: &a.out,
            supplied: supplied.as_ref(),
        };
        kms::prepare::prepare(&client, &req).await
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
    let rt = runtime()?;
    let outcomes = rt.block_on(async {
        // With --region, everything goes there (and a key of another region is refused);
        // without it, each key goes to the region its bundle entry names.
        let regions = match &a.aws.region {
            Some(r) => vec![r.clone()],
            None => kms::import::regions(&verified),
        };
        let mut clients = Vec::new();
        for region in regions {
            let target = kms::KmsTarget {
                region: Some(region),
                ..a.aws.target()
            };
            clients.push(kms::connect(&target).await?);
        }
        kms::import::import_regions(&clients, &verified, expiration, a.concurrency).await
    })?;
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

fn rollback(a: RollbackArgs) -> Result<()> {
    let verified = bundle::Bundle::verify(&a.bundle)?;
    let rt = runtime()?;
    let done = rt.block_on(async {
        let regions = match &a.aws.region {
            Some(r) => vec![r.clone()],
            None => kms::import::regions(&verified),
        };
        let mut clients = Vec::new();
        for region in regions {
            let target = kms::KmsTarget {
                region: Some(region.clone()),
                ..a.aws.target()
            };
            clients.push((region, kms::connect(&target).await?));
        }
        kms::rollback::rollback(
            |region| clients.iter().find(|(r, _)| r == region).map(|(_, c)| c),
            &verified,
        )
        .await
    })?;
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

/// Reads a PIN from a pin-source file: the first line, kept in zeroizing memory.
pub fn read_pin(path: &Path) -> Result<AuthPin> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| HsmError::PinSource {
        path: path.into(),
        message: e.kind().to_string(),
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| HsmError::PinSource {
        path: path.into(),
        message: "not UTF-8".into(),
    })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(HsmError::PinSource {
            path: path.into(),
            message: "the first line is empty".into(),
        }
        .into());
    }
    Ok(AuthPin::new(line.into()))
}

/// What a ceremony needs besides the operators' answers, read and checked before either the
/// terminal UI or a headless run asks for them.
struct CeremonyInputs {
    script: Script,
    script_sha256: String,
    uri: TokenUri,
    module: PathBuf,
    so_pin: Option<AuthPin>,
    escrow: Option<crate::escrow::Escrow>,
}

fn run_ceremony(a: CeremonyArgs) -> Result<()> {
    if !a.headless && a.answers.is_some() {
        return Err(Error::Usage {
            what: "--answers is read only by a headless run; at the terminal the operators type the answers".into(),
            hint: "add --headless, or drop --answers".into(),
        });
    }
    let script_bytes = fsio::read(&a.script)?;
    let script_text = fsio::text(&a.script, script_bytes.clone(), "a ceremony script")?;
    let script = Script::parse(&a.script.display().to_string(), &script_text)?;
    let uri = TokenUri::parse(&a.hsm.token)?;
    let module = uri.module_path.clone().unwrap_or(a.hsm.module.clone());
    let script_sha256 = sha256_hex(&script_bytes);
    let so_pin = match &a.so_pin_source {
        Some(path) => Some(read_pin(path)?),
        None => None,
    };
    let escrow = match &a.escrow_from {
        Some(dir) => Some(crate::escrow::Escrow::load(dir)?),
        None => None,
    };
    let inputs = CeremonyInputs {
        script,
        script_sha256,
        uri,
        module,
        so_pin,
        escrow,
    };
    let report = if a.headless {
        let answers_path = a.answers.as_deref().unwrap_or(Path::new(""));
        let answers_text = fsio::read_text(answers_path, "an answers file")?;
        let answers = Answers::parse(&answers_path.display().to_string(), &answers_text)?;
        perform_ceremony(&a, &inputs, &answers)?
    } else {
        let info = crate::tui::Info {
            script_name: inputs.script.ceremony.name.clone(),
            keys: inputs.script.keys.iter().map(|k| k.key.clone()).collect(),
            algorithm: inputs.script.wrapping.algorithm.to_string(),
            key_spec: inputs.script.wrapping.key_spec.to_string(),
            token: inputs.uri.token.clone(),
            bundle_fingerprint: bundle::Bundle::verify(&a.bundle)?.fingerprint().to_string(),
            quorum: match &a.roster {
                Some(path) => Some(
                    crate::quorum_gate::RosterInput::load(path)?
                        .file
                        .roster
                        .threshold,
                ),
                None => None,
            },
        };
        crate::tui::run(info, |answers| perform_ceremony(&a, &inputs, &answers))?
    };
    print_ceremony_report(&report);
    if a.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    Ok(())
}

/// The ceremony with the operators' answers: the one code path of the terminal UI and of a
/// headless run.
fn perform_ceremony(
    a: &CeremonyArgs,
    inputs: &CeremonyInputs,
    answers: &Answers,
) -> Result<ceremony::CeremonyReport> {
    let CeremonyInputs {
        script,
        script_sha256,
        uri,
        module,
        so_pin,
        escrow,
    } = inputs;
    let report = match &a.roster {
        Some(roster_path) => {
            if so_pin.is_some() {
                return Err(Error::Usage {
                    what: "--so-pin-source cannot be combined with --roster: the quorum login and the security officer's step need separate login states".into(),
                    hint: "run the ceremony without --so-pin-source".into(),
                });
            }
            crate::quorum_gate::run_ceremony(&crate::quorum_gate::QuorumCeremony {
                module,
                uri,
                roster: roster_path,
                script,
                script_sha256,
                bundle_dir: &a.bundle,
                answers,
                escrow: escrow.as_ref(),
            })?
        }
        None => {
            if !answers.custodians.is_empty() {
                return Err(Error::Usage {
                    what: "the answers name custodians, but no --roster was given".into(),
                    hint: "pass --roster roster.json (from `keyrite quorum enroll`)".into(),
                });
            }
            let pin_path = uri.pin_source.clone().ok_or_else(|| Error::Usage {
                what: "the token URI has no pin-source, and no --roster was given".into(),
                hint: "open the HSM by quorum with --roster roster.json, or (rehearsals and tests) add ?pin-source=file:/path to --token".into(),
            })?;
            let token = Token::open(module, &uri.token)?;
            let pin = read_pin(&pin_path)?;
            ceremony::run(&ceremony::CeremonyRequest {
                script,
                script_sha256,
                bundle_dir: &a.bundle,
                token: &token,
                access: ceremony::Access::Pin(&pin),
                quorum: None,
                answers,
                escrow: escrow.as_ref(),
                so_pin: so_pin.as_ref(),
            })?
        }
    };
    Ok(report)
}

pub fn print_ceremony_report(report: &ceremony::CeremonyReport) {
    eprintln!(
        "capability probe on token {:?}: {}",
        report.probe.token, report.probe.result
    );
    eprintln!(
        "  CKA_WRAP_WITH_TRUSTED: {}",
        report.probe.wrap_with_trusted
    );
    eprintln!(
        "ceremony complete; bundle fingerprint confirmed: {}",
        grouped(&report.prepared_fingerprint)
    );
    for k in &report.keys {
        eprintln!(
            "  {:<24} check value {}  HSM label {}  EncryptedKeyMaterial.bin sha256 {}",
            k.name, k.check_value, k.hsm_label, k.encrypted_key_material_sha256
        );
    }
}
