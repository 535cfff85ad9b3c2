//! The ceremony at the air gap, headless driver: check the bundle and the script, confirm the
//! fingerprint read out from the connected side, then per key generate AES-256 inside the HSM,
//! take its check value, wrap it for KMS, write EncryptedKeyMaterial.bin and verify it by reading
//! it back. The manifest is replaced last, in one atomic step.

pub mod start;

use std::collections::BTreeSet;
use std::path::PathBuf;

use cryptoki::types::AuthPin;
use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::app::escrow::Escrow;
use crate::core::custody::QuorumEvidence;
use crate::core::digest::{normalise_fingerprint, sha256_hex};
use crate::core::log::{self as ceremony_log, StartData, step};
use crate::core::manifest::{self, CeremonyRecord, GeneratedKey, Manifest};
use crate::core::script::{Answers, Script};
use crate::core::wrapping_key::WrappingPublicKey;
use crate::hsm::probe::{self, ProbeReport};
use crate::io::bundle::{Bundle, MANIFEST, VerifiedBundle};
use crate::io::fs as fsio;
use crate::io::log_file::CeremonyLogFile;

use crate::hsm::token::UserSession;
use crate::hsm::{HsmError, HsmLogSigner, LOG_KEY_LABEL, Token};

pub struct CeremonyRequest<'a> {
    pub script: &'a Script,
    /// SHA-256 of the script file as read.
    pub script_sha256: &'a str,
    pub bundle_dir: &'a std::path::Path,
    pub token: &'a Token,
    pub access: Access<'a>,
    /// The quorum that opened the HSM (with a roster): bound by the start record and logged as
    /// quorum.met before anything else happens.
    pub quorum: Option<&'a QuorumEvidence>,
    pub answers: &'a Answers,
    /// A re-wrap ceremony: wrap the escrowed keys an earlier bundle recorded instead of
    /// generating new ones (see [`crate::app::escrow`]).
    pub escrow: Option<&'a Escrow>,
    /// The security officer's PIN, to mark the KMS wrapping keys CKA_TRUSTED so that the ceremony
    /// keys can be generated CKA_WRAP_WITH_TRUSTED (see SECURITY.md). None: keys without it.
    pub so_pin: Option<&'a AuthPin>,
}

/// How the ceremony gets its logged-in session.
pub enum Access<'a> {
    /// A PIN from a pin-source file (rehearsals and tests without a roster).
    Pin(&'a AuthPin),
    /// A session the quorum gate opened (the PIN, if any, is already wiped).
    Session(&'a UserSession),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyResult {
    pub name: String,
    pub hsm_label: String,
    pub check_value: String,
    pub encrypted_key_material_sha256: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CeremonyReport {
    pub prepared_fingerprint: String,
    /// The capability probe run before any key was generated.
    pub probe: ProbeReport,
    pub keys: Vec<KeyResult>,
}

/// Everything checked before the HSM is touched.
fn check_inputs(req: &CeremonyRequest<'_>) -> Result<(VerifiedBundle, Vec<WrappingPublicKey>)> {
    let bundle = Bundle::verify(req.bundle_dir)?;
    let m = bundle.manifest();
    if m.ceremony.is_some() {
        return Err(Error::CeremonyDone {
            dir: req.bundle_dir.to_path_buf(),
        });
    }
    let typed = normalise_fingerprint(&req.answers.bundle_fingerprint);
    if typed != bundle.fingerprint() {
        return Err(Error::FingerprintMismatch {
            bundle: bundle.fingerprint().to_string(),
            typed,
        });
    }
    let w = &req.script.wrapping;
    if w.algorithm != m.wrapping_algorithm || w.key_spec != m.wrapping_key_spec {
        return Err(Error::WrappingMismatch {
            script_algorithm: w.algorithm,
            script_spec: w.key_spec,
            bundle_algorithm: m.wrapping_algorithm,
            bundle_spec: m.wrapping_key_spec,
        });
    }
    let want: BTreeSet<String> = req
        .script
        .key_refs()
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let have: BTreeSet<String> = m.keys.iter().map(|k| k.requested.clone()).collect();
    if want != have {
        return Err(Error::ScriptBundleKeys {
            script: want.into_iter().collect(),
            bundle: have.into_iter().collect(),
        });
    }
    let mut keys = Vec::new();
    for key in &m.keys {
        let der = bundle
            .file(key, manifest::WRAPPING_PUBLIC_KEY)
            .ok_or_else(|| Error::ManifestLacks {
                key: key.name.clone(),
                file: manifest::WRAPPING_PUBLIC_KEY,
            })?;
        if bundle.file(key, manifest::IMPORT_TOKEN).is_none() {
            return Err(Error::ManifestLacks {
                key: key.name.clone(),
                file: manifest::IMPORT_TOKEN,
            });
        }
        keys.push(
            WrappingPublicKey::from_der(der, m.wrapping_key_spec).map_err(|problem| {
                Error::BundleWrappingKey {
                    key: key.name.clone(),
                    file: manifest::WRAPPING_PUBLIC_KEY,
                    problem,
                }
            })?,
        );
    }
    Ok((bundle, keys))
}

/// Removes the EncryptedKeyMaterial files of an unfinished ceremony, so the bundle is left as it was.
struct Written(Vec<PathBuf>);

impl Drop for Written {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn run(req: &CeremonyRequest<'_>) -> Result<CeremonyReport> {
    let (bundle, wrapping_keys) = check_inputs(req)?;
    let fingerprint = bundle.fingerprint().to_string();
    let dir = bundle.dir().to_path_buf();
    let mut manifest: Manifest = bundle.into_manifest();
    if let Some(escrow) = req.escrow {
        check_rewrap(escrow, &manifest)?;
    }
    // The security officer's step comes first: one login state per token and application.
    let trusted = match (req.so_pin, &req.access) {
        (Some(so_pin), Access::Pin(_)) => {
            let keys: Vec<(String, &WrappingPublicKey)> = manifest
                .keys
                .iter()
                .zip(&wrapping_keys)
                .map(|(k, w)| (format!("kms-wrapping/{}", k.name), w))
                .collect();
            Some(req.token.import_trusted_wrapping_keys(so_pin, &keys)?)
        }
        (Some(_), Access::Session(_)) => {
            return Err(Error::SoStepAfterQuorum);
        }
        (None, _) => None,
    };
    let owned;
    let session = match req.access {
        Access::Pin(pin) => {
            owned = req.token.login(pin)?;
            &owned
        }
        Access::Session(s) => s,
    };
    let log_signer = session.log_signer(LOG_KEY_LABEL)?;
    if let Some(q) = req.quorum
        && q.log_key_sha256 != log_signer.public_key().fingerprint()
    {
        return Err(Error::RosterLogKey {
            roster: q.log_key_sha256.clone(),
            token: log_signer.public_key().fingerprint().to_string(),
        });
    }
    let mut log = start_log(req, &dir, &fingerprint, &log_signer)?;
    if let Some(q) = req.quorum {
        log.append(ceremony_log::step::QUORUM_MET, q.met_data())?;
    }
    let probe = probe::probe(session, req.token.label(), manifest.wrapping_algorithm)?;
    log.append(
        step::PROBE,
        ceremony_log::data(&[
            ("algorithm", probe.algorithm.as_str()),
            ("mechanism", &probe.mechanism),
            ("result", &probe.result),
            ("wrap_with_trusted", &probe.wrap_with_trusted),
        ]),
    )?;
    if trusted.is_some() && !probe.wrap_with_trusted.starts_with("enforced") {
        return Err(HsmError::Refused {
            step: "capability probe",
            message: format!(
                "the security officer marked the wrapping keys trusted, but CKA_WRAP_WITH_TRUSTED is {}",
                probe.wrap_with_trusted
            ),
            hint: "on this token the attribute protects nothing; run the ceremony without --so-pin-source".into(),
        }
        .into());
    }
    let today = Timestamp::now().strftime("%Y%m%d").to_string();
    let mut written = Written(Vec::new());
    let mut results = Vec::new();
    for (i, (key, wrapping)) in manifest.keys.iter_mut().zip(&wrapping_keys).enumerate() {
        let escrowed = req.escrow.map(|e| e.for_key(key)).transpose()?;
        let (label, generated) = match escrowed {
            None => {
                let label = format!("keyrite/{}/{}/{}", key.name, today, &fingerprint[..8]);
                let generated = session.generate_ceremony_key_with(&label, trusted.is_some())?;
                (label, generated)
            }
            Some(e) => (
                e.hsm_label.clone(),
                session.find_escrowed_key(&e.hsm_label)?,
            ),
        };
        if session.value_is_readable(generated.handle)? {
            return Err(HsmError::Verification {
                step: "generate AES-256 key",
                message: format!("the token lets CKA_VALUE of {label:?} be read in plaintext"),
                hint: "this token does not honour CKA_SENSITIVE; do not use it for a ceremony"
                    .into(),
            }
            .into());
        }
        let kcv = session.check_value(generated.handle)?;
        let mut logged = vec![
            ("key", key.name.as_str()),
            ("key_arn", key.key_arn.as_str()),
            ("hsm_label", label.as_str()),
        ];
        let kcv_hex = hex::encode(kcv);
        logged.push(("check_value", &kcv_hex));
        if let (Some(e), Some(escrow)) = (escrowed, req.escrow) {
            if e.check_value != kcv_hex {
                return Err(HsmError::Verification {
                    step: "find the escrowed key",
                    message: format!(
                        "the key labelled {label:?} has check value {kcv_hex}, but the escrow bundle recorded {}",
                        e.check_value
                    ),
                    hint: "stop: this is not the escrowed material. Nothing was wrapped; find the HSM that holds the original key".into(),
                }
                .into());
            }
            logged.push(("escrow_bundle_sha256", &escrow.bundle_fingerprint));
            logged.push(("reimport_of_key_material_id", &e.key_material_id));
        }
        if trusted.is_some() {
            logged.push(("wrap_with_trusted", "true"));
        }
        log.append(step::KEY_GENERATED, ceremony_log::data(&logged))?;
        let wrap_handle = match trusted.as_ref().and_then(|t| t.handles.get(i)) {
            Some(h) => *h,
            None => session.import_wrapping_key(wrapping, &format!("kms-wrapping/{}", key.name))?,
        };
        let wrapped = session.wrap(wrap_handle, generated.handle, manifest.wrapping_algorithm)?;
        let expected_len = crate::core::import_rules::expected_encrypted_len(
            manifest.wrapping_algorithm,
            wrapping.modulus.len(),
        );
        if wrapped.len() != expected_len {
            return Err(HsmError::Verification {
                step: "wrap the key material",
                message: format!(
                    "the wrapped key is {} bytes, expected {expected_len}",
                    wrapped.len(),
                ),
                hint: "the token misbehaves; do not use it for this ceremony".into(),
            }
            .into());
        }
        let path = dir.join(&key.name).join(manifest::ENCRYPTED_KEY_MATERIAL);
        fsio::write_new(&path, &wrapped)?;
        written.0.push(path.clone());
        let digest = sha256_hex(&wrapped);
        let read_back = sha256_hex(&fsio::read(&path)?);
        if read_back != digest {
            return Err(Error::ReadBack {
                path: path.clone(),
                read_back,
                written: digest,
            });
        }
        let file = Manifest::file_path(key, manifest::ENCRYPTED_KEY_MATERIAL);
        log.append(
            step::KEY_WRAPPED,
            ceremony_log::data(&[
                ("key", &key.name),
                ("file", &file),
                ("sha256", &digest),
                ("algorithm", &manifest.wrapping_algorithm.to_string()),
            ]),
        )?;
        manifest.files.insert(file, digest.clone());
        key.generated = Some(GeneratedKey {
            hsm_label: label.clone(),
            hsm_id: hex::encode(&generated.id),
            check_value: hex::encode(kcv),
            generated_at: escrowed.map_or_else(Timestamp::now, |e| e.generated_at),
            reimport_of_key_material_id: escrowed.map(|e| e.key_material_id.clone()),
        });
        results.push(KeyResult {
            name: key.name.clone(),
            hsm_label: label,
            check_value: hex::encode(kcv),
            encrypted_key_material_sha256: digest,
        });
    }
    manifest.ceremony = Some(CeremonyRecord {
        script_sha256: req.script_sha256.to_string(),
        prepared_manifest_sha256: fingerprint.clone(),
        token_label: req.token.label().to_string(),
        operator: req.answers.operator.clone(),
        witness: req.answers.witness.clone(),
        finished_at: Timestamp::now(),
    });
    let manifest_bytes = manifest.to_json();
    fsio::replace(&dir.join(MANIFEST), &manifest_bytes)?;
    written.0.clear();
    log.append(
        step::END,
        ceremony_log::data(&[
            ("manifest_sha256", &sha256_hex(&manifest_bytes)),
            ("keys", &results.len().to_string()),
        ]),
    )?;
    Ok(CeremonyReport {
        prepared_fingerprint: fingerprint,
        probe,
        keys: results,
    })
}

/// Before the HSM is touched: every key of a re-wrap has an escrowed key on record, and KMS had it
/// back in PendingImport when the bundle was prepared (only then does a re-import restore it).
fn check_rewrap(escrow: &Escrow, manifest: &Manifest) -> Result<()> {
    for key in &manifest.keys {
        escrow.for_key(key)?;
        if key.key_state != "PendingImport" {
            return Err(Error::NothingToRestore {
                key: key.name.clone(),
                state: key.key_state.clone(),
            });
        }
    }
    Ok(())
}

/// Which build of keyrite this is, as the start record tells it: "airgap" for the air-gap build
/// (`--no-default-features --features airgap`, no network code), "airgap,connected" for the
/// full build.
pub const TOOL_FEATURES: &str = if cfg!(feature = "connected") {
    "airgap,connected"
} else {
    "airgap"
};

/// Opens `<bundle>/ceremony.log` and writes its first record, binding the tool (its version, the
/// executable's hash and which build it is), the script and the prepared manifest by hash.
fn start_log<'s>(
    req: &CeremonyRequest<'_>,
    dir: &std::path::Path,
    fingerprint: &str,
    signer: &'s HsmLogSigner<'s>,
) -> Result<CeremonyLogFile<'s, HsmLogSigner<'s>>> {
    let exe = std::env::current_exe().map_err(|e| Error::CurrentExe {
        detail: e.to_string(),
    })?;
    let tool_sha256 = sha256_hex(&fsio::read(&exe)?);
    let mut actors = vec![req.answers.operator.clone()];
    actors.extend(req.answers.witness.clone());
    if let Some(q) = req.quorum {
        actors.extend(q.names());
    }
    let mut log = CeremonyLogFile::create(&dir.join(ceremony_log::FILE_NAME), signer, actors)?;
    let start = StartData {
        tool_version: env!("CARGO_PKG_VERSION"),
        tool_sha256: &tool_sha256,
        tool_features: TOOL_FEATURES,
        script_sha256: req.script_sha256,
        manifest_sha256: fingerprint,
        token_label: req.token.label(),
        log_key_sha256: signer.public_key().fingerprint(),
    };
    let mut start_data = start.to_data();
    if let Some(q) = req.quorum {
        start_data.extend(q.start_fields());
    }
    log.append(step::START, start_data)?;
    Ok(log)
}

/// The report for people, on stderr.
pub fn print_report(report: &CeremonyReport) {
    crate::say!(
        "capability probe on token {:?}: {}",
        report.probe.token,
        report.probe.result
    );
    crate::say!(
        "  CKA_WRAP_WITH_TRUSTED: {}",
        report.probe.wrap_with_trusted
    );
    crate::say!(
        "ceremony complete; bundle fingerprint confirmed: {}",
        crate::core::digest::grouped(&report.prepared_fingerprint)
    );
    for k in &report.keys {
        crate::say!(
            "  {:<24} check value {}  HSM label {}  EncryptedKeyMaterial.bin sha256 {}",
            k.name,
            k.check_value,
            k.hsm_label,
            k.encrypted_key_material_sha256
        );
    }
}
