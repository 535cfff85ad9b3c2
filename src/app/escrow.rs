//! The HSM escrow copy, for a re-wrap ceremony: key material that expired or was deleted in KMS
//! (the key is back in PendingImport) is restored from the AES-256 key the original ceremony left
//! in the HSM. `keyrite ceremony --rewrap --escrow-from <earlier bundle>` finds each escrowed key
//! by the label that bundle's manifest recorded, checks its check value against the recorded one,
//! and wraps the same material under the fresh import parameters of a newly prepared bundle. The
//! manifest records the KeyMaterialId KMS gave the material, so `keyrite kms import` re-imports it
//! as EXISTING_KEY_MATERIAL and KMS confirms it is the same material.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;

use crate::app::error::{Error, EscrowProblem, Result};
use crate::core::import_progress::{self, ImportProgress, KeyProgress};
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
        })
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
