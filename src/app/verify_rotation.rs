//! `keyrite kms verify-rotation --bundle <dir>`: proof the bundle's rotation took (see
//! [`crate::kms::verify_rotation`]), appended to the bundle's import receipt, which continues the
//! ceremony log's chain. Exit 3 when any check fails.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::core::inventory::{SegregationRules, Services};
use crate::core::receipt::record::RotationVerified;
use crate::core::resource_recheck::{self, EarlierUse};
use crate::io::bundle::VerifiedBundle;
use crate::io::fs as fsio;
use crate::io::receipt_file::ReceiptFile;
use crate::kms::cloudtrail::CloudTrailClient;
use crate::kms::inventory::InventoryScope;
use crate::kms::status::Receipts;
use crate::kms::verify_rotation::{self, KeyVerification};
use crate::kms::{self, KmsTarget};

/// A ciphertext made before the rotation and what became of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OldCiphertext {
    pub file: PathBuf,
    /// The key it decrypted under, or why it did not.
    pub result: std::result::Result<String, String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    pub keys: Vec<KeyVerification>,
    pub old_ciphertexts: Vec<OldCiphertext>,
    pub passed: bool,
}

/// Verifies every key of `bundle` and appends the result to its receipt; see [`verdict`] for
/// the exit. With `cloudtrail`, the key's calls since the import must all have succeeded.
pub fn run(
    bundle: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
    ciphertexts: &[PathBuf],
    cloudtrail: bool,
) -> Result<Verification> {
    verify(bundle, trust, aws, ciphertexts, None, cloudtrail, None)
}

/// [`run`], and with `inventory` (the JSON of `keyrite kms inventory --json` taken before the
/// rotation) the resources it mapped to each key are checked against a fresh inventory
/// ([`crate::core::resource_recheck`]).
pub fn run_with_inventory(
    bundle: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
    ciphertexts: &[PathBuf],
    cloudtrail: bool,
    inventory: Option<&Path>,
) -> Result<Verification> {
    let earlier = match inventory {
        Some(path) => Some(
            resource_recheck::parse_inventory(&fsio::read(path)?).map_err(|detail| {
                Error::InventoryFile {
                    path: path.to_path_buf(),
                    detail: detail.to_string(),
                }
            })?,
        ),
        None => None,
    };
    verify(bundle, trust, aws, ciphertexts, None, cloudtrail, earlier)
}

/// [`run`] asking this CloudTrail client, when given.
pub fn run_with_trail(
    bundle: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
    ciphertexts: &[PathBuf],
    trail: Option<CloudTrailClient>,
) -> Result<Verification> {
    verify(bundle, trust, aws, ciphertexts, trail, false, None)
}

fn verify(
    bundle: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
    ciphertexts: &[PathBuf],
    given: Option<CloudTrailClient>,
    cloudtrail: bool,
    earlier: Option<Vec<EarlierUse>>,
) -> Result<Verification> {
    // The receipt this appends to continues the ceremony log as verified with the trusted key.
    let signed = crate::app::audit::signed_ceremony(bundle, trust)?;
    let receipts = Receipts::load(&[bundle.dir().to_path_buf()])?;
    let mut old = Vec::new();
    for path in ciphertexts {
        old.push((path.clone(), fsio::read(path)?));
    }
    let rt = kms::runtime()?;
    let (keys, old_ciphertexts) = rt.block_on(async {
        // Made on this runtime: the SDK's HTTP client belongs to the runtime it first runs on.
        let trail = match given {
            Some(t) => Some(t),
            None if cloudtrail => Some(CloudTrailClient::new(
                &kms::sdk_config(aws, false).await?,
            )),
            None => None,
        };
        let mut clients = Vec::new();
        for region in crate::app::import::regions(bundle) {
            let target = KmsTarget {
                region: Some(region.clone()),
                ..aws.clone()
            };
            clients.push((region, kms::connect(&target).await?));
        }
        let now = match &earlier {
            Some(_) => {
                let regions = crate::app::import::regions(bundle);
                let report = kms::inventory::inventory(
                    aws,
                    &regions,
                    InventoryScope {
                        services: &Services::default(),
                        rules: &SegregationRules::default(),
                        purposes: &Default::default(),
                    },
                    Timestamp::now(),
                )
                .await?;
                // A resource missing because its service could not be read is not one the
                // rotation lost: stop rather than report it either way.
                if !report.unreadable.is_empty() {
                    let (reads, what_to_do) = Error::unread_parts(&report.unreadable, true);
                    return Err(Error::RecheckUnreadable { reads, what_to_do });
                }
                Some(report.keys)
            }
            None => None,
        };
        let mut keys = Vec::new();
        for entry in &bundle.manifest().keys {
            let Some((_, client)) = clients.iter().find(|(r, _)| *r == entry.region) else {
                continue;
            };
            let latest = receipts.latest_material(&entry.key_arn);
            let mut k =
                verify_rotation::verify_key(client, entry, latest.map(|(m, _)| m)).await?;
            verify_rotation::check_pre_rotation(
                client,
                bundle,
                entry,
                receipts.pre_rotation_sha256(&entry.key_arn),
                verify_rotation::pre_rotation_expected(
                    entry,
                    receipts.latest_kind(&entry.key_arn),
                )
                .as_deref(),
                &mut k.checks,
            )
            .await?;
            if entry.takes_over.is_some() {
                verify_rotation::check_previous_key(client, entry, &mut k.checks).await?;
            }
            if let (Some(trail), Some((_, imported_at))) = (&trail, latest) {
                // A rotation by a new key: failed calls on the previous key since the import
                // (applications still naming it, data that no longer decrypts) count too.
                let mut watched = vec![("the key".to_string(), entry.key_arn.as_str())];
                if let Some(t) = &entry.takes_over {
                    watched.push((
                        format!("the previous key {}", t.previous_key_arn),
                        t.previous_key_arn.as_str(),
                    ));
                }
                for (which, arn) in watched {
                    match kms::cloudtrail::errors_since(trail, arn, imported_at).await {
                        Ok(errors) if errors.is_empty() => k.checks.push(format!(
                            "ok: CloudTrail shows no failed call on {which} since the import ({imported_at})"
                        )),
                        Ok(errors) => {
                            for e in errors {
                                k.checks.push(format!("FAILED: CloudTrail: {which}: {e}"));
                            }
                        }
                        Err(reason) => k.checks.push(format!("FAILED: {reason}")),
                    }
                }
            }
            if let (Some(earlier), Some(now)) = (&earlier, &now) {
                k.checks.extend(resource_recheck::recheck(
                    earlier,
                    now,
                    &entry.key_arn,
                    entry
                        .takes_over
                        .as_ref()
                        .map(|t| t.previous_key_arn.as_str()),
                ));
            }
            k.passed = !k.checks.iter().any(|c| c.starts_with("FAILED"));
            keys.push(k);
        }
        let bundle_keys: Vec<&str> = bundle
            .manifest()
            .keys
            .iter()
            .flat_map(|k| {
                std::iter::once(k.key_arn.as_str())
                    .chain(k.takes_over.as_ref().map(|t| t.previous_key_arn.as_str()))
            })
            .collect();
        let mut results = Vec::new();
        for (file, bytes) in &old {
            let mut result = Err("no region of the bundle could decrypt it".to_string());
            for (_, client) in &clients {
                result = verify_rotation::decrypt_old(client, bytes).await;
                if result.is_ok() {
                    break;
                }
            }
            if let Ok(arn) = &result
                && !bundle_keys.contains(&arn.as_str())
            {
                result = Err(format!(
                    "it decrypted under {arn}, which is not a key of this bundle"
                ));
            }
            results.push(OldCiphertext {
                file: file.clone(),
                result,
            });
        }
        Ok::<_, Error>((keys, results))
    })?;
    let mut receipt = ReceiptFile::open(bundle, "verify-rotation", &signed)?;
    for k in &keys {
        let mut checks = k.checks.clone();
        let previous = bundle
            .manifest()
            .keys
            .iter()
            .find(|e| e.name == k.name)
            .and_then(|e| e.takes_over.as_ref())
            .map(|t| t.previous_key_arn.as_str());
        for o in &old_ciphertexts {
            match &o.result {
                Ok(arn) if *arn == k.key_arn || Some(arn.as_str()) == previous => {
                    checks.push(format!(
                        "ok: a ciphertext made before the rotation ({}) still decrypts",
                        o.file.display()
                    ))
                }
                _ => {}
            }
        }
        receipt.rotation_verified(RotationVerified {
            key: k.name.clone(),
            key_arn: k.key_arn.clone(),
            key_material_id: k.key_material_id.clone(),
            passed: k.passed,
            checks,
        })?;
    }
    receipt.finish()?;
    let passed = keys.iter().all(|k| k.passed) && old_ciphertexts.iter().all(|o| o.result.is_ok());
    let v = Verification {
        keys,
        old_ciphertexts,
        passed,
    };
    Ok(v)
}

/// Exit 3 naming what failed, when anything did.
pub fn verdict(v: &Verification) -> Result<()> {
    if v.passed {
        return Ok(());
    }
    let mut what: Vec<String> = v
        .keys
        .iter()
        .flat_map(|k| {
            k.checks
                .iter()
                .filter(|c| c.starts_with("FAILED"))
                .map(move |c| format!("{}: {}", k.name, c.trim_start_matches("FAILED: ")))
        })
        .collect();
    for o in &v.old_ciphertexts {
        if let Err(e) = &o.result {
            what.push(format!("{} no longer decrypts: {e}", o.file.display()));
        }
    }
    Err(Error::RotationNotTaken {
        findings: what.join("; "),
    })
}
