//! The HSM escrow copy, for a re-wrap ceremony: key material that expired or was deleted in KMS
//! (the key is back in PendingImport) is restored from the AES-256 key the original ceremony left
//! in the HSM. `keyrite ceremony --rewrap --escrow-from <earlier bundle>` finds each escrowed key
//! by the label that bundle's manifest recorded, checks its check value against the recorded one,
//! and wraps the same material under the fresh import parameters of a newly prepared bundle. The
//! manifest records the KeyMaterialId KMS gave the material, so `keyrite kms import` re-imports it
//! as EXISTING_KEY_MATERIAL and KMS confirms it is the same material.
//!
//! The earlier bundle came back across the air gap and is trusted no further than its signed
//! log: before anything is wrapped, its `ceremony.log` must verify against this token's own log
//! key, end with the bundle's manifest, and record each escrowed key (label, check value, key
//! ARN); a log that binds a roster needs this re-wrap to be opened by that roster's quorum
//! ([`Escrow::verify_log`]).

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;

use crate::app::error::{Error, EscrowProblem, Result};
use crate::core::digest::sha256_hex;
use crate::core::import_progress::{self, ImportProgress, KeyProgress};
use crate::core::log::{self, TrustedKey};
use crate::core::manifest::KeyEntry;
use crate::io::bundle::Bundle;
use crate::io::fs as fsio;

/// One escrowed key, as the earlier ceremony and import recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowedKey {
    pub hsm_label: String,
    pub check_value: String,
    pub generated_at: Timestamp,
    /// The KeyMaterialId KMS returned when this material was imported.
    pub key_material_id: String,
}

/// The escrow record of an earlier, imported bundle: key ARN -> escrowed key.
#[derive(Debug, Clone)]
pub struct Escrow {
    /// Fingerprint (SHA-256 of manifest.json) of the earlier bundle.
    pub bundle_fingerprint: String,
    keys: BTreeMap<String, EscrowedKey>,
    dir: std::path::PathBuf,
    /// The earlier ceremony's signed log, as read (checked by [`Escrow::verify_log`]).
    log: Vec<u8>,
    /// SHA-256 of that log.
    pub log_sha256: String,
    /// The earlier import's receipt, as read: it continues the signed log's chain, and
    /// [`Escrow::verify_log`] takes each KeyMaterialId from it, checked, not from the progress file.
    receipt: Option<Vec<u8>>,
}

impl Escrow {
    /// Reads the earlier bundle (hash-checked like any bundle) and its import-progress.json,
    /// which holds the KeyMaterialId of each key KMS accepted.
    pub fn load(dir: &Path) -> Result<Escrow> {
        let bundle = Bundle::verify(dir)?;
        let refused = |problem: EscrowProblem| Error::Escrow {
            dir: dir.to_path_buf(),
            problem,
        };
        if bundle.manifest().ceremony.is_none() {
            return Err(refused(EscrowProblem::NoCeremony));
        }
        let log_path = dir.join(log::FILE_NAME);
        if !crate::io::fs::exists_nofollow(&log_path) {
            return Err(Error::EscrowLog {
                dir: dir.to_path_buf(),
                problem: format!(
                    "it has no {} (the signed record of the ceremony that generated the keys)",
                    log::FILE_NAME
                ),
            });
        }
        let log_bytes = fsio::read_nofollow(&log_path)?;
        let progress_path = dir.join(import_progress::FILE);
        if !progress_path.is_file() {
            return Err(refused(EscrowProblem::NotImported {
                file: import_progress::FILE,
            }));
        }
        let progress =
            ImportProgress::parse(&fsio::read_nofollow(&progress_path)?, bundle.fingerprint())
                .map_err(|problem| {
                    refused(EscrowProblem::OtherImport {
                        file: import_progress::FILE,
                        problem,
                    })
                })?;
        let receipt_path = dir.join(crate::core::receipt::FILE_NAME);
        let receipt = if fsio::exists_nofollow(&receipt_path) {
            Some(fsio::read_nofollow(&receipt_path)?)
        } else {
            None
        };
        let mut keys = BTreeMap::new();
        for key in &bundle.manifest().keys {
            let Some(generated) = &key.generated else {
                continue;
            };
            let key_material_id = match progress.get(&key.name) {
                Some(KeyProgress::Done {
                    key_material_id: Some(id),
                })
                | Some(KeyProgress::Imported {
                    key_material_id: Some(id),
                    ..
                }) => id.clone(),
                _ => continue,
            };
            keys.insert(
                key.key_arn.clone(),
                EscrowedKey {
                    hsm_label: generated.hsm_label.clone(),
                    check_value: generated.check_value.clone(),
                    generated_at: generated.generated_at,
                    key_material_id,
                },
            );
        }
        Ok(Escrow {
            bundle_fingerprint: bundle.fingerprint().to_string(),
            keys,
            dir: dir.to_path_buf(),
            log_sha256: sha256_hex(&log_bytes),
            log: log_bytes,
            receipt,
        })
    }

    /// The earlier bundle's log against this token's log key: every record signed by it, the
    /// ceremony ended with this bundle's manifest, and each escrowed key recorded there with its
    /// label, check value and key ARN. `quorum_roster`: the roster (SHA-256) whose quorum opened
    /// the HSM for this re-wrap; a log that binds a roster requires the same one.
    pub fn verify_log(&self, trusted: &TrustedKey, quorum_roster: Option<&str>) -> Result<()> {
        let refused = |problem: String| Error::EscrowLog {
            dir: self.dir.clone(),
            problem,
        };
        let report = log::verify(&self.log, trusted).map_err(|e| {
            refused(format!(
                "its {} does not verify with this token's log key {}: {e}",
                log::FILE_NAME,
                trusted.fingerprint()
            ))
        })?;
        for (arn, e) in &self.keys {
            let logged = report.keys.iter().any(|k| {
                &k.key_arn == arn && k.hsm_label == e.hsm_label && k.check_value == e.check_value
            });
            if !logged {
                return Err(refused(format!(
                    "its {} records no key {arn} labelled {:?} with check value {}",
                    log::FILE_NAME,
                    e.hsm_label,
                    e.check_value
                )));
            }
        }
        // Each KeyMaterialId as the import receipt records it, on the chain of the log just
        // verified: the progress file names it, but anyone who could write the bundle could have
        // changed that.
        let receipt = self.receipt.as_deref().ok_or_else(|| {
            refused(format!(
                "it has no {}: the KeyMaterialIds of its import are not on record",
                crate::core::receipt::FILE_NAME
            ))
        })?;
        let imported = crate::core::receipt::verify(receipt, &report).map_err(|e| {
            refused(format!(
                "its {} does not continue the verified log: {e}",
                crate::core::receipt::FILE_NAME
            ))
        })?;
        for (arn, e) in &self.keys {
            let recorded = imported
                .keys
                .iter()
                .rev()
                .find(|k| &k.key_arn == arn)
                .and_then(|k| k.key_material_id.as_deref());
            if recorded != Some(e.key_material_id.as_str()) {
                return Err(refused(format!(
                    "{} names KeyMaterialId {} for key {arn}, but its {} records {}",
                    import_progress::FILE,
                    e.key_material_id,
                    crate::core::receipt::FILE_NAME,
                    recorded.unwrap_or("none")
                )));
            }
        }
        if report.final_manifest_sha256.as_deref() != Some(self.bundle_fingerprint.as_str()) {
            return Err(refused(format!(
                "its {} ends with manifest {}, but the bundle's manifest is {}",
                log::FILE_NAME,
                report
                    .final_manifest_sha256
                    .as_deref()
                    .unwrap_or("none (aborted)"),
                self.bundle_fingerprint
            )));
        }
        if let Some(bound) = &report.binding.roster
            && quorum_roster != Some(bound.roster_sha256.as_str())
        {
            return Err(Error::Escrow {
                dir: self.dir.clone(),
                problem: EscrowProblem::NeedsQuorum {
                    roster_sha256: bound.roster_sha256.clone(),
                    threshold: bound.threshold,
                },
            });
        }
        Ok(())
    }

    /// The escrowed key for one key of the new bundle, matched by key ARN.
    pub fn for_key(&self, key: &KeyEntry) -> Result<&EscrowedKey> {
        self.keys
            .get(&key.key_arn)
            .ok_or_else(|| Error::NotEscrowed {
                key: key.name.clone(),
                bundle_fingerprint: self.bundle_fingerprint.clone(),
                key_arn: key.key_arn.clone(),
            })
    }
}
