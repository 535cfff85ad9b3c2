//! `keyrite audit verify`: the offline check an auditor runs with nothing but the published log
//! public key. It verifies the ceremony log (signatures, chain, sequence, bindings, steps) and,
//! given a bundle, that the bundle's files are the ones the log recorded.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::error::{Error, Result};
use crate::core::digest::sha256_hex;
use crate::core::log::{self, CeremonyOutcome, Report, TrustedKey};
use crate::core::manifest::{self, Manifest};
use crate::core::receipt::{self, ReceiptReport};
use crate::core::signed_ceremony::SignedCeremony;
use crate::core::terminal::for_terminal;
use crate::io::bundle::{Bundle, MANIFEST, VerifiedBundle};
use crate::io::fs as fsio;

/// One bundle file checked against the log.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub log: PathBuf,
    #[serde(flatten)]
    pub log_report: Report,
    /// The bundle's files, each matching the hash its log record holds (None: only a log given).
    pub bundle_files: Option<Vec<FileCheck>>,
    /// The bundle's import receipt, continuing the log's chain (None: no import recorded yet).
    pub receipt: Option<ReceiptReport>,
    /// Who opened the HSM, and how, as the signed log records it.
    pub authorised_by: Authorisation,
    /// The ceremony's name (the script's `[ceremony] name`), as the start record names it.
    pub ceremony: Option<String>,
    /// Who took part, by role.
    pub participants: Vec<Participant>,
    /// The keyrite that ran the ceremony (and each resumption).
    pub tool: ToolRun,
    /// Who signed the prepared bundle, as the start record binds it.
    pub bundle_signed_by: BundleSigners,
    /// One row per key: what KMS key, what material, what became of it.
    pub key_table: Vec<KeyRow>,
    /// The bundle's input files (import parameters, provenance) and the evidence files, each
    /// with its SHA-256 and what vouches for it.
    pub input_files: Vec<FileCheck>,
    /// SHA-256 of the ceremony log file as read.
    pub log_sha256: String,
    /// The token's ledger: this ceremony's leaf, the checkpoint counting every closing of the
    /// log key, and the witnesses who cosigned it (None: the bundle carries no ledger proof).
    pub ledger: Option<crate::core::ledger::LedgerReport>,
}

/// One person of the ceremony and their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub name: String,
    /// "operator", "witness", "custodian (share N)", or "named in the log" for a log that
    /// records no roles.
    pub role: String,
}

/// The keyrite binary that ran the ceremony, as the start record (and each resumed record) binds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolRun {
    pub version: String,
    pub sha256: String,
    /// The cargo features recorded ("airgap", "airgap,connected"); None in older logs.
    pub features: Option<String>,
    /// Which build that is, in words.
    pub build: String,
    /// (version, sha256) of the keyrite that took the ceremony up again, per resumption.
    pub resumed_with: Vec<(String, String)>,
    /// `--expect-binary`: the auditor's own rebuild's SHA-256, equal to every binary that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches_expected: Option<String>,
}

impl ToolRun {
    fn of(report: &Report) -> ToolRun {
        let b = &report.binding;
        let build = match b.tool_features.as_deref() {
            Some("airgap") => {
                "air-gap build (--no-default-features --features airgap: no network code)"
                    .to_string()
            }
            Some("airgap,connected") => {
                "default build (features airgap,connected: holds network code)".to_string()
            }
            Some(other) => format!("build with features {other}"),
            None => "build not recorded (a log written before keyrite recorded it)".to_string(),
        };
        ToolRun {
            version: b.tool_version.clone(),
            sha256: b.tool_sha256.clone(),
            features: b.tool_features.clone(),
            build,
            resumed_with: report
                .interruptions
                .iter()
                .map(|i| (i.tool_version.clone(), i.tool_sha256.clone()))
                .collect(),
            matches_expected: None,
        }
    }
}

/// Who signed the prepared bundle (`provenance.json`), by public-key SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signed", rename_all = "lowercase")]
pub enum BundleSigners {
    Signed {
        prepared_by: Vec<String>,
        cosigned_by: Vec<String>,
    },
    /// The start record binds no signature: the bundle was not signed.
    Unsigned,
}

/// One key of the ceremony, from the verified log, the manifest it binds and the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// The bundle's name for it.
    pub key: String,
    /// The alias (the manifest's; for a rotation by a new key, the alias it takes over).
    pub alias: Option<String>,
    pub key_arn: String,
    pub account: String,
    pub region: String,
    pub check_value: String,
    pub hsm_label: String,
    /// SHA-256 of EncryptedKeyMaterial.bin as the log recorded it (None: never wrapped).
    pub wrapped_sha256: Option<String>,
    /// A multi-Region key: (Region, SHA-256) of the same key wrapped for each replica, as logged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replica_wraps: Vec<(String, String)>,
    /// The KeyMaterialId KMS gave it, from the import receipt (or the escrowed key's, for a re-wrap).
    pub key_material_id: Option<String>,
    /// What the import did (the receipt's kind and resulting state).
    pub imported: Option<String>,
    /// Aliases moved onto or off this key (rotation by a new key).
    pub alias_moves: Vec<receipt::AliasMoved>,
}

/// The account and region an ARN names (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
fn arn_parts(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, _, region, account, _] => (account.to_string(), region.to_string()),
        _ => (String::new(), String::new()),
    }
}

fn key_table(
    report: &Report,
    manifest: Option<&Manifest>,
    rc: Option<&ReceiptReport>,
) -> Vec<KeyRow> {
    report
        .keys
        .iter()
        .map(|k| {
            let entry = manifest.and_then(|m| m.keys.iter().find(|e| e.name == k.key));
            let (account, region) = match entry {
                Some(e) => (e.account.clone(), e.region.clone()),
                None => arn_parts(&k.key_arn),
            };
            let alias = entry.and_then(|e| {
                e.takes_over
                    .as_ref()
                    .map(|t| t.alias.clone())
                    .or_else(|| e.alias.clone())
            });
            let imports: Vec<&receipt::ReceiptKey> = rc
                .map(|r| r.keys.iter().filter(|i| i.key == k.key).collect())
                .unwrap_or_default();
            let last = imports.last();
            KeyRow {
                key: k.key.clone(),
                alias,
                key_arn: k.key_arn.clone(),
                account,
                region,
                check_value: k.check_value.clone(),
                hsm_label: k.hsm_label.clone(),
                wrapped_sha256: k.wrapped.as_ref().map(|(_, sha)| sha.clone()),
                replica_wraps: k.replica_digests(),
                key_material_id: last
                    .and_then(|i| i.key_material_id.clone())
                    .or_else(|| k.rewrap_of.as_ref().and_then(|r| r.key_material_id.clone())),
                imported: last.map(|i| format!("{}: {}", i.kind, i.state)),
                alias_moves: rc
                    .map(|r| {
                        r.alias_moves
                            .iter()
                            .filter(|(_, m)| m.key == k.key)
                            .map(|(_, m)| m.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Who took part, by role: the start record's operator and witness (or, in a log that records
/// no roles, everyone its records name), then the custodians who authorised.
fn participants(report: &Report) -> Vec<Participant> {
    let mut out = Vec::new();
    let custodians: Vec<(String, u8)> = report
        .quorum
        .as_ref()
        .map(|q| q.authorised.clone())
        .unwrap_or_default();
    match &report.binding.roles {
        Some(r) => {
            out.push(Participant {
                name: r.operator.clone(),
                role: "operator".into(),
            });
            if let Some(w) = &r.witness {
                out.push(Participant {
                    name: w.clone(),
                    role: "witness".into(),
                });
            }
        }
        None => {
            for rec in &report.records {
                for a in &rec.actors {
                    let custodian = custodians.iter().any(|(n, _)| n == a);
                    if !custodian && !out.iter().any(|p: &Participant| &p.name == a) {
                        out.push(Participant {
                            name: a.clone(),
                            role: "named in the log (this log records no roles)".into(),
                        });
                    }
                }
            }
        }
    }
    for (name, index) in custodians {
        out.push(Participant {
            name,
            role: format!("custodian (share {index})"),
        });
    }
    out
}

/// `--expect-binary`: every keyrite binary the log says ran (the start, each resumption) is the
/// auditor's own rebuild.
pub fn expect_binary(r: &mut AuditReport, given: &str) -> Result<()> {
    let expected: String = given
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::NotABinaryHash {
            given: given.chars().take(80).collect(),
        });
    }
    let mut ran = vec![("the ceremony".to_string(), r.tool.sha256.clone())];
    for (i, (_, sha)) in r.tool.resumed_with.iter().enumerate() {
        ran.push((format!("resumption {}", i + 1), sha.clone()));
    }
    for (what, sha) in ran {
        if sha != expected {
            return Err(Error::BinaryNotExpected {
                what,
                ran: sha,
                expected,
            });
        }
    }
    r.tool.matches_expected = Some(expected);
    Ok(())
}

/// The outcome decides the exit: complete is success; aborted and unfinished have their own codes
/// (or, with `require_complete`, fail as verification failures).
pub fn verdict(r: &AuditReport, require_complete: bool) -> Result<()> {
    match r.log_report.outcome {
        CeremonyOutcome::Complete => Ok(()),
        outcome => Err(Error::CeremonyNotComplete {
            log: r.log.clone(),
            outcome,
            required: require_complete,
        }),
    }
}

/// Who opened the HSM for the ceremony, and how, as the log's start and quorum.met records
/// say. A PIN file leaves no name in the log: whoever held it opened the HSM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Authorisation {
    /// M custodians' shares rebuilt the PIN (shamir), or the HSM itself enforced M of N at
    /// login (hsm-enforced): `mode` says which.
    Quorum {
        mode: String,
        threshold: u8,
        custodians: usize,
        /// (name, index) of each custodian who authorised.
        authorised: Vec<(String, u8)>,
        roster_sha256: String,
        /// How the HSM was logged in: "shares", "pin-pad", "pin-file"; None in logs written
        /// before it was recorded.
        #[serde(skip_serializing_if = "Option::is_none")]
        login: Option<String>,
    },
    /// The user PIN came from a `pin-source=file:`; no quorum is recorded.
    PinFile,
}

impl Authorisation {
    pub fn of(report: &Report) -> Authorisation {
        match &report.quorum {
            Some(q) => Authorisation::Quorum {
                mode: q.mode.clone(),
                threshold: q.threshold,
                custodians: q.custodians,
                authorised: q.authorised.clone(),
                roster_sha256: q.roster_sha256.clone(),
                login: q.login.clone(),
            },
            None => Authorisation::PinFile,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Authorisation::Quorum {
                mode,
                threshold,
                custodians,
                authorised,
                roster_sha256,
                login,
            } => {
                let names = authorised
                    .iter()
                    .map(|(n, i)| format!("{} (#{i})", for_terminal(n)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let how = match (mode.as_str(), login.as_deref()) {
                    ("hsm-enforced", Some("pin-file")) => {
                        "HSM-enforced roster, but the login used the token URI's PIN file: the log names the custodians, nothing made their presence a condition of login"
                    }
                    ("hsm-enforced", Some("pin-pad")) => {
                        "HSM-enforced quorum: the HSM checked the custodians at login; the log names them, the HSM's own audit shows they authorised"
                    }
                    ("hsm-enforced", _) => {
                        "HSM-enforced roster; the log does not record how the HSM was logged in"
                    }
                    _ => "quorum of custodians: their shares rebuilt the PIN",
                };
                format!(
                    "{how}; {names}: {} authorised, {threshold} needed, {custodians} enrolled (roster sha256 {roster_sha256})",
                    authorised.len()
                )
            }
            Authorisation::PinFile => {
                "a PIN file (pin-source=file:): no quorum; whoever held the file opened the HSM, and the log names no custodian".into()
            }
        }
    }
}

/// `--require-quorum`: the log must record that a quorum of custodians opened the HSM.
/// Behind an hsm-enforced roster the login must be the token's own (its PIN pad): a login from
/// the token URI's PIN file, or one the log does not record, is no quorum.
pub fn require_quorum(r: &AuditReport) -> Result<()> {
    match &r.authorised_by {
        Authorisation::Quorum { mode, login, .. }
            if mode != "hsm-enforced" || login.as_deref() == Some("pin-pad") =>
        {
            Ok(())
        }
        Authorisation::Quorum { .. } | Authorisation::PinFile => {
            Err(Error::QuorumNotRecorded { log: r.log.clone() })
        }
    }
}

/// The script is the one the log's start record bound, and the log handled its keys in the
/// script's order.
pub fn check_script(path: &Path, report: &Report) -> Result<()> {
    let bytes = fsio::read(path)?;
    let sha = sha256_hex(&bytes);
    if sha != report.binding.script_sha256 {
        return Err(Error::ScriptNotBound {
            path: path.to_path_buf(),
            sha256: sha,
            step: log::step::START,
            bound: report.binding.script_sha256.clone(),
        });
    }
    let text = fsio::text(path, bytes, "a ceremony script")?;
    let script = crate::core::script::Script::parse(&path.display().to_string(), &text)?;
    let expected: Vec<String> = script
        .key_refs()
        .iter()
        .map(|k| {
            let id = k.as_str().rsplit('/').next().unwrap_or(k.as_str());
            k.bundle_name(id)
        })
        .collect();
    let logged: Vec<String> = report.keys.iter().map(|k| k.key.clone()).collect();
    if expected != logged {
        return Err(Error::ScriptNotFollowed {
            script: expected,
            logged,
        });
    }
    Ok(())
}

fn mismatch(what: String) -> Error {
    Error::BundleNotAsLogged(what)
}

/// The log public key in `trust_pem` (PEM, as exported at enrolment).
pub fn trusted_key(trust_pem: &Path) -> Result<TrustedKey> {
    let pem = String::from_utf8(fsio::read(trust_pem)?).map_err(|_| {
        log::LogError::TrustedKey(format!("{} is not PEM text", trust_pem.display()))
    })?;
    Ok(TrustedKey::from_pem(&pem)?)
}

/// What `kms import` and `kms rollback` act on: the bundle's ceremony log verified with the key
/// in `trust` by the same [`log::verify`] as [`verify`], complete, and matching the verified
/// bundle field by field ([`SignedCeremony::check`]). `trust` None: refused, saying how to give
/// one.
pub fn signed_ceremony(bundle: &VerifiedBundle, trust: Option<&Path>) -> Result<SignedCeremony> {
    let trust = trust.ok_or(Error::NoLogTrust)?;
    let trusted = trusted_key(trust)?;
    let log_path = bundle.dir().join(log::FILE_NAME);
    if !fsio::exists_nofollow(&log_path) {
        return Err(Error::NoCeremonyLog {
            target: bundle.dir().to_path_buf(),
            file: log::FILE_NAME,
        });
    }
    let bytes = fsio::read_nofollow(&log_path)?;
    Ok(SignedCeremony::check(
        &bytes,
        &trusted,
        bundle.manifest(),
        bundle.fingerprint(),
        |k| {
            bundle
                .file(k, manifest::ENCRYPTED_KEY_MATERIAL)
                .map(sha256_hex)
        },
    )?)
}

/// Verifies `target` (a bundle directory or a log file) against the key in `trust_pem`. An
/// aborted or unfinished ceremony whose records hold is reported (see [`verdict`]).
pub fn verify(target: &Path, trust_pem: &Path) -> Result<AuditReport> {
    verify_with(
        target,
        trust_pem,
        &crate::app::ledger::LedgerPolicy::default(),
    )
}

/// [`verify`], holding the bundle's ledger evidence to `policy` (witnesses, closings shown).
pub fn verify_with(
    target: &Path,
    trust_pem: &Path,
    policy: &crate::app::ledger::LedgerPolicy,
) -> Result<AuditReport> {
    let trusted = trusted_key(trust_pem)?;
    let (log_path, bundle_dir) = if target.is_dir() {
        (target.join(log::FILE_NAME), Some(target))
    } else {
        (target.to_path_buf(), None)
    };
    // exists_nofollow: a link, FIFO or device in the log's place is refused by name when read,
    // not taken for a missing log (and never followed or opened blocking).
    if bundle_dir.is_some() && !fsio::exists_nofollow(&log_path) {
        return Err(Error::NoCeremonyLog {
            target: target.to_path_buf(),
            file: log::FILE_NAME,
        });
    }
    let bytes = if bundle_dir.is_some() {
        fsio::read_nofollow(&log_path)?
    } else {
        fsio::read(&log_path)?
    };
    let report = log::verify_records(&bytes, &trusted)?;
    let mut input_files = Vec::new();
    let (bundle_files, manifest) = match bundle_dir {
        Some(dir) => {
            let (files, manifest) = check_bundle(dir, &report)?;
            check_provenance(dir, &report)?;
            input_files = inputs(dir, &manifest)?;
            (Some(files), Some(manifest))
        }
        None => (None, None),
    };
    input_files.push(FileCheck {
        file: log::FILE_NAME.into(),
        sha256: sha256_hex(&bytes),
    });
    let receipt = match bundle_dir {
        Some(dir) if fsio::exists_nofollow(&dir.join(receipt::FILE_NAME)) => {
            let (r, sha) = check_receipt(dir, &report)?;
            input_files.push(FileCheck {
                file: receipt::FILE_NAME.into(),
                sha256: sha,
            });
            Some(r)
        }
        _ => None,
    };
    let ledger = match bundle_dir {
        Some(dir) => crate::app::ledger::check_bundle(dir, &bytes, &trusted, policy)?,
        None if policy.requires_ledger() => {
            return Err(crate::app::ledger_error::LedgerError::NoEvidence {
                bundle: target.to_path_buf(),
            }
            .into());
        }
        None => None,
    };
    Ok(AuditReport {
        ledger,
        log: log_path,
        authorised_by: Authorisation::of(&report),
        ceremony: report.binding.roles.as_ref().map(|r| r.ceremony.clone()),
        participants: participants(&report),
        tool: ToolRun::of(&report),
        bundle_signed_by: match &report.binding.provenance {
            Some(p) => BundleSigners::Signed {
                prepared_by: p.prepared_by.clone(),
                cosigned_by: p.cosigned_by.clone(),
            },
            None => BundleSigners::Unsigned,
        },
        key_table: key_table(&report, manifest.as_ref(), receipt.as_ref()),
        input_files,
        log_sha256: sha256_hex(&bytes),
        log_report: report,
        bundle_files,
        receipt,
    })
}

/// The bundle's inputs, as the verified manifest lists them (import parameters: the wrapped
/// material is an output, in `bundle_files`), and its provenance file.
fn inputs(dir: &Path, manifest: &Manifest) -> Result<Vec<FileCheck>> {
    let mut out: Vec<FileCheck> = manifest
        .files
        .iter()
        .filter(|(f, _)| !f.ends_with(manifest::ENCRYPTED_KEY_MATERIAL))
        .map(|(f, sha)| FileCheck {
            file: f.clone(),
            sha256: sha.clone(),
        })
        .collect();
    let prov = dir.join(crate::core::provenance::FILE_NAME);
    if fsio::exists_nofollow(&prov) {
        out.push(FileCheck {
            file: crate::core::provenance::FILE_NAME.into(),
            sha256: sha256_hex(&fsio::read_nofollow(&prov)?),
        });
    }
    Ok(out)
}

/// The bundle's signatures against the start record: those in `provenance.json` verify over the
/// prepared manifest the log bound, and are the signers the log names.
fn check_provenance(dir: &Path, report: &Report) -> Result<()> {
    let prepared = &report.binding.manifest_sha256;
    let present = crate::app::provenance::read(dir)?.is_some();
    let signed = crate::app::provenance::verify(dir, prepared)?;
    match &report.binding.provenance {
        None => Ok(()),
        Some(_) if !present => Err(mismatch(format!(
            "the log names the bundle's signers, but {} has no {}",
            dir.display(),
            crate::core::provenance::FILE_NAME
        ))),
        Some(bound) => {
            let found = crate::core::provenance::Signers::of(&signed);
            if found.prepared_by != bound.prepared_by || found.cosigned_by != bound.cosigned_by {
                return Err(mismatch(format!(
                    "{}: signed by {:?} (prepare) and {:?} (cosign), the log's {} record names {:?} and {:?}",
                    crate::core::provenance::FILE_NAME,
                    found.prepared_by,
                    found.cosigned_by,
                    log::step::START,
                    bound.prepared_by,
                    bound.cosigned_by
                )));
            }
            Ok(())
        }
    }
}

/// The bundle against the verified log: the manifest is the one the end record names, its own
/// hashes hold, and every wrapped key file is the one the log recorded.
fn check_bundle(dir: &Path, report: &Report) -> Result<(Vec<FileCheck>, Manifest)> {
    let manifest_bytes = fsio::read_nofollow(&dir.join(MANIFEST))?;
    let manifest_sha = sha256_hex(&manifest_bytes);
    let Some(final_manifest) = &report.final_manifest_sha256 else {
        return check_aborted_bundle(dir, report, manifest_sha);
    };
    if &manifest_sha != final_manifest {
        return Err(mismatch(format!(
            "{}: SHA-256 is {manifest_sha}, the log's {} record says {final_manifest}",
            dir.join(MANIFEST).display(),
            log::step::END,
        )));
    }
    let verified = Bundle::verify(dir)?;
    if verified.fingerprint() != manifest_sha {
        return Err(mismatch(format!(
            "{} changed while it was being checked",
            dir.join(MANIFEST).display()
        )));
    }
    let m = verified.manifest();
    let ceremony = m.ceremony.as_ref().ok_or_else(|| {
        mismatch("the manifest records no ceremony, but the log says one finished".into())
    })?;
    if ceremony.prepared_manifest_sha256 != report.binding.manifest_sha256 {
        return Err(mismatch(format!(
            "the manifest says the ceremony started from bundle {}, the log's {} record says {}",
            ceremony.prepared_manifest_sha256,
            log::step::START,
            report.binding.manifest_sha256
        )));
    }
    if ceremony.script_sha256 != report.binding.script_sha256 {
        return Err(mismatch(format!(
            "the manifest names script {}, the log's {} record names {}",
            ceremony.script_sha256,
            log::step::START,
            report.binding.script_sha256
        )));
    }
    if m.keys.len() != report.keys.len() {
        return Err(mismatch(format!(
            "the manifest holds {} keys, the log records {}",
            m.keys.len(),
            report.keys.len()
        )));
    }
    let manifest_order: Vec<&str> = m.keys.iter().map(|k| k.name.as_str()).collect();
    let log_order: Vec<&str> = report.keys.iter().map(|k| k.key.as_str()).collect();
    if manifest_order != log_order {
        return Err(mismatch(format!(
            "the log handled keys in the order {log_order:?}, the bundle (and its script) lists {manifest_order:?}"
        )));
    }
    let mut checked = Vec::new();
    for logged in &report.keys {
        let entry = m
            .keys
            .iter()
            .find(|k| k.name == logged.key)
            .ok_or_else(|| {
                mismatch(format!(
                    "the log records key {:?}, the manifest has no such key",
                    logged.key
                ))
            })?;
        let generated = entry.generated.as_ref().ok_or_else(|| {
            mismatch(format!(
                "{}: the manifest records no generated key",
                entry.name
            ))
        })?;
        if generated.check_value != logged.check_value || generated.hsm_label != logged.hsm_label {
            return Err(mismatch(format!(
                "{}: the manifest says check value {} label {:?}, the log says {} {:?}",
                entry.name,
                generated.check_value,
                generated.hsm_label,
                logged.check_value,
                logged.hsm_label
            )));
        }
        let Some((file, sha)) = &logged.wrapped else {
            return Err(mismatch(format!(
                "{}: the log records no wrapped file",
                entry.name
            )));
        };
        checked.push(check_wrapped_file(dir, file, sha)?);
        // A multi-Region key: the replicas the manifest names are the Regions the log wrapped
        // for, in order, and each Region's wrapped file is the one the log recorded.
        let in_manifest: Vec<&str> = entry.replicas.iter().map(|r| r.region.as_str()).collect();
        let in_log: Vec<&str> = logged
            .replica_wraps
            .iter()
            .map(|(r, _, _)| r.as_str())
            .collect();
        if in_manifest != in_log || logged.replica_regions.len() != in_log.len() {
            return Err(mismatch(format!(
                "{}: the manifest names replicas in [{}], the log wrapped for [{}]",
                entry.name,
                in_manifest.join(", "),
                in_log.join(", ")
            )));
        }
        for (_, file, sha) in &logged.replica_wraps {
            checked.push(check_wrapped_file(dir, file, sha)?);
        }
    }
    checked.push(FileCheck {
        file: MANIFEST.into(),
        sha256: manifest_sha,
    });
    Ok((checked, verified.into_manifest()))
}

/// A wrapped key's file is the one the log recorded.
fn check_wrapped_file(dir: &Path, file: &str, sha: &str) -> Result<FileCheck> {
    let path = dir.join(file);
    let actual = sha256_hex(&fsio::read_nofollow(&path)?);
    if actual != sha {
        return Err(mismatch(format!(
            "{}: SHA-256 is {actual}, the log recorded {sha}",
            path.display()
        )));
    }
    Ok(FileCheck {
        file: file.to_string(),
        sha256: actual,
    })
}

/// An aborted or unfinished ceremony's bundle: the manifest is still the prepared one the start
/// record bound, its files hold, and every wrapped file the log recorded is the one written.
fn check_aborted_bundle(
    dir: &Path,
    report: &Report,
    manifest_sha: String,
) -> Result<(Vec<FileCheck>, Manifest)> {
    if manifest_sha != report.binding.manifest_sha256 {
        return Err(mismatch(format!(
            "{}: SHA-256 is {manifest_sha}, but the ceremony is {} and the log's {} record bound {}",
            dir.join(MANIFEST).display(),
            report.outcome.as_str(),
            log::step::START,
            report.binding.manifest_sha256
        )));
    }
    let verified = Bundle::verify_interrupted(dir)?;
    if verified.fingerprint() != manifest_sha {
        return Err(mismatch(format!(
            "{} changed while it was being checked",
            dir.join(MANIFEST).display()
        )));
    }
    let mut checked = Vec::new();
    for (file, sha) in report.keys.iter().flat_map(|k| k.recorded_files()) {
        checked.push(check_wrapped_file(dir, file, sha)?);
    }
    checked.push(FileCheck {
        file: MANIFEST.into(),
        sha256: manifest_sha,
    });
    Ok((checked, verified.into_manifest()))
}

/// The import receipt against the verified log and the bundle: it continues the log's chain, names
/// the ceremony's keys and material, and the import tokens it says were sent are the bundle's.
fn check_receipt(dir: &Path, report: &Report) -> Result<(ReceiptReport, String)> {
    let bytes = fsio::read_nofollow(&dir.join(receipt::FILE_NAME))?;
    let sha = sha256_hex(&bytes);
    let r = receipt::verify(&bytes, report)?;
    let verified = Bundle::verify(dir)?;
    for k in &r.keys {
        let entry = verified
            .manifest()
            .keys
            .iter()
            .find(|e| e.name == k.key)
            .ok_or_else(|| {
                mismatch(format!(
                    "{}: the receipt names key {:?}, the manifest has no such key",
                    receipt::FILE_NAME,
                    k.key
                ))
            })?;
        let token = verified
            .file(entry, manifest::IMPORT_TOKEN)
            .map(sha256_hex)
            .unwrap_or_default();
        if token != k.import_token_sha256 {
            return Err(mismatch(format!(
                "{} line {}: {}: the import token sent hashes to {}, the bundle's is {token}",
                receipt::FILE_NAME,
                k.line,
                k.key,
                k.import_token_sha256
            )));
        }
    }
    Ok((r, sha))
}
