//! `keyrite audit verify`: the offline check an auditor runs with nothing but the published log
//! public key. It verifies the ceremony log (signatures, chain, sequence, bindings, steps) and,
//! given a bundle, that the bundle's files are the ones the log recorded.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::error::{Error, Result};
use crate::core::digest::sha256_hex;
use crate::core::log::{self, Report, TrustedKey};
use crate::core::manifest;
use crate::core::receipt::{self, ReceiptReport};
use crate::core::terminal::for_terminal;
use crate::io::bundle::{Bundle, MANIFEST};
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

/// Verifies `target` (a bundle directory or a log file) against the key in `trust_pem`.
pub fn verify(target: &Path, trust_pem: &Path) -> Result<AuditReport> {
    let pem = String::from_utf8(fsio::read(trust_pem)?).map_err(|_| {
        log::LogError::TrustedKey(format!("{} is not PEM text", trust_pem.display()))
    })?;
    let trusted = TrustedKey::from_pem(&pem)?;
    let (log_path, bundle_dir) = if target.is_dir() {
        (target.join(log::FILE_NAME), Some(target))
    } else {
        (target.to_path_buf(), None)
    };
    if bundle_dir.is_some() && !log_path.is_file() {
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
    let report = log::verify(&bytes, &trusted)?;
    let bundle_files = match bundle_dir {
        Some(dir) => {
            let files = check_bundle(dir, &report)?;
            check_provenance(dir, &report)?;
            Some(files)
        }
        None => None,
    };
    let receipt = match bundle_dir {
        Some(dir) if dir.join(receipt::FILE_NAME).exists() => Some(check_receipt(dir, &report)?),
        _ => None,
    };
    Ok(AuditReport {
        log: log_path,
        authorised_by: Authorisation::of(&report),
        log_report: report,
        bundle_files,
        receipt,
    })
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
fn check_bundle(dir: &Path, report: &Report) -> Result<Vec<FileCheck>> {
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
    }
    checked.push(FileCheck {
        file: MANIFEST.into(),
        sha256: manifest_sha,
    });
    Ok(checked)
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

/// An aborted ceremony's bundle: the manifest is still the prepared one the start record bound,
/// and every wrapped file the log recorded is the one written.
fn check_aborted_bundle(
    dir: &Path,
    report: &Report,
    manifest_sha: String,
) -> Result<Vec<FileCheck>> {
    if manifest_sha != report.binding.manifest_sha256 {
        return Err(mismatch(format!(
            "{}: SHA-256 is {manifest_sha}, but the ceremony was aborted and the log's {} record bound {}",
            dir.join(MANIFEST).display(),
            log::step::START,
            report.binding.manifest_sha256
        )));
    }
    let mut checked = Vec::new();
    for (file, sha) in report.keys.iter().filter_map(|k| k.wrapped.as_ref()) {
        checked.push(check_wrapped_file(dir, file, sha)?);
    }
    checked.push(FileCheck {
        file: MANIFEST.into(),
        sha256: manifest_sha,
    });
    Ok(checked)
}

/// The import receipt against the verified log and the bundle: it continues the log's chain, names
/// the ceremony's keys and material, and the import tokens it says were sent are the bundle's.
fn check_receipt(dir: &Path, report: &Report) -> Result<ReceiptReport> {
    let bytes = fsio::read_nofollow(&dir.join(receipt::FILE_NAME))?;
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
    Ok(r)
}
