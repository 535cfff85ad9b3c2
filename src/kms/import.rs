//! `keyrite kms import`: import the ceremony's wrapped material from a verified bundle, then check
//! what KMS reports. A key with material gets the new material as NEW_KEY_MATERIAL and is rotated
//! to it on demand, so its ARN and aliases never change and old ciphertext keeps decrypting.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{ExpirationModelType, ImportType, KeyMaterialState, KeyState, OriginType};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};

use super::{Client, KmsError};

type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::import_progress::{self, ImportProgress, KeyProgress};
use crate::core::manifest::{self, KeyEntry, TakeOver};
use crate::core::signed_ceremony::SignedCeremony;
use crate::core::wrapping_key::WrappingPublicKey;
use crate::core::{aws_cli, import_rules};
use crate::io::bundle::VerifiedBundle;
use crate::io::fs as fsio;
use crate::io::receipt_file::ReceiptFile;
use aws_sdk_kms::operation::RequestId;

/// The kind of an outcome whose key an earlier run imported completely.
pub const ALREADY_IMPORTED: &str = "already imported";

/// How long the import parameters must still be valid when an import starts.
pub const VALIDITY_MARGIN: SignedDuration = SignedDuration::from_mins(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    DoesNotExpire,
    ExpiresAt(Timestamp),
}

pub use crate::core::receipt::ImportOutcome;

/// Checks that need no network: every key was through the ceremony, the parameters are still valid,
/// the expiration is legal. Nothing is sent to KMS unless all keys pass.
pub fn preflight(bundle: &VerifiedBundle, expiration: Expiration, now: Timestamp) -> Result<()> {
    let m = bundle.manifest();
    if m.ceremony.is_none() {
        return Err(KmsError::NoCeremony {
            dir: bundle.dir().to_path_buf(),
        });
    }
    if let Expiration::ExpiresAt(t) = expiration
        && let Err(what) = import_rules::check_valid_to(t, now)
    {
        return Err(KmsError::ValidTo {
            detail: what.to_string(),
        });
    }
    for key in &m.keys {
        if key.generated.is_none() || bundle.file(key, manifest::ENCRYPTED_KEY_MATERIAL).is_none() {
            return Err(KmsError::NoWrappedMaterial {
                key: key.name.clone(),
            });
        }
        if key.parameters_valid_to < now + VALIDITY_MARGIN {
            return Err(KmsError::ParametersExpire {
                key: key.name.clone(),
                valid_to: key.parameters_valid_to,
                expired: key.parameters_valid_to < now,
            });
        }
        if let Err(message) =
            import_rules::check_key_arn(&key.key_arn, &key.region, &key.account, &key.key_id)
        {
            return Err(KmsError::Refused {
                key: key.name.clone(),
                message: format!("{message}; its import token is bound to that key"),
                hint: "the manifest is inconsistent: prepare a new bundle for the key".into(),
            });
        }
        check_material_size(bundle, key)?;
    }
    Ok(())
}

/// EncryptedKeyMaterial.bin must be exactly as long as the algorithm gives with this bundle's
/// wrapping key: AWS rejects anything else, so a wrong size means a wrong wrap.
fn check_material_size(bundle: &VerifiedBundle, key: &KeyEntry) -> Result<()> {
    let m = bundle.manifest();
    let refused = |message: String| {
        KmsError::Refused {
        key: key.name.clone(),
        message,
        hint: "the ceremony did not wrap with this bundle's wrapping key and algorithm; run it again with a freshly prepared bundle".into(),
    }
    };
    let der = bundle
        .file(key, manifest::WRAPPING_PUBLIC_KEY)
        .ok_or_else(|| refused("the bundle has no WrappingPublicKey.bin for it".into()))?;
    let public = WrappingPublicKey::from_der(der, m.wrapping_key_spec)
        .map_err(|e| refused(format!("WrappingPublicKey.bin: {e}")))?;
    let material = bundle
        .file(key, manifest::ENCRYPTED_KEY_MATERIAL)
        .unwrap_or_default();
    import_rules::check_encrypted_len(m.wrapping_algorithm, public.modulus.len(), material.len())
        .map_err(|e| refused(e.to_string()))?;
    Ok(())
}

/// The AWS CLI commands that do by hand what the import does, with this bundle's files.
pub fn aws_cli_equivalent(
    bundle: &VerifiedBundle,
    expiration: Expiration,
) -> Vec<(String, Vec<String>)> {
    let dir = std::path::absolute(bundle.dir()).unwrap_or_else(|_| bundle.dir().to_path_buf());
    bundle
        .manifest()
        .keys
        .iter()
        .map(|key| {
            let material = dir.join(manifest::Manifest::file_path(
                key,
                manifest::ENCRYPTED_KEY_MATERIAL,
            ));
            let token = dir.join(manifest::Manifest::file_path(key, manifest::IMPORT_TOKEN));
            let mut commands = aws_cli::import_commands(&aws_cli::CliImport {
                key_arn: &key.key_arn,
                region: &key.region,
                encrypted_key_material: &material,
                import_token: &token,
                valid_to: match expiration {
                    Expiration::DoesNotExpire => None,
                    Expiration::ExpiresAt(t) => Some(t),
                },
                kind: match reimport_of(key) {
                    Some(id) => aws_cli::ImportKind::Reimport {
                        key_material_id: id.to_string(),
                    },
                    None if key.key_state == "PendingImport" => aws_cli::ImportKind::First,
                    None => aws_cli::ImportKind::Rotation,
                },
            });
            // Rotation by a new key: the alias moves once the import is checked.
            if let Some(t) = &key.takes_over {
                commands.push(format!(
                    "aws kms update-alias --region {} --alias-name {} --target-key-id {}",
                    key.region, t.alias, key.key_arn
                ));
            }
            (key.name.clone(), commands)
        })
        .collect()
}

/// Imports every key of the bundle through `client`, whose region must be the bundle's.
pub async fn import(
    client: &Client,
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    expiration: Expiration,
) -> Result<Vec<ImportOutcome>> {
    import_regions(
        std::slice::from_ref(client),
        bundle,
        signed,
        expiration,
        DEFAULT_CONCURRENCY,
    )
    .await
}

/// The signed ceremony vouches for this very bundle (the manifest as read and verified).
pub fn check_vouched(bundle: &VerifiedBundle, signed: &SignedCeremony) -> Result<()> {
    if signed.manifest_sha256() != bundle.fingerprint() {
        return Err(KmsError::NotVouched {
            dir: bundle.dir().to_path_buf(),
            signed: signed.manifest_sha256().to_string(),
            bundle: bundle.fingerprint().to_string(),
        });
    }
    Ok(())
}

/// The alias move the signed start record binds for `key` (the manifest's `takes_over` was
/// compared with it when the log was verified).
pub fn signed_take_over(signed: &SignedCeremony, key: &KeyEntry) -> Option<TakeOver> {
    signed.alias_move(&key.name).map(|m| TakeOver {
        alias: m.alias.clone(),
        previous_key_arn: m.previous_key_arn.clone(),
    })
}

/// How many keys an import works on at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Imports every key of the bundle, each through the client of its region (a plan's bundle may
/// span regions), up to `concurrency` keys at once. A key whose region has no client is refused
/// before anything is sent. Outcomes come back in the bundle's key order.
pub async fn import_regions(
    clients: &[Client],
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    expiration: Expiration,
    concurrency: usize,
) -> Result<Vec<ImportOutcome>> {
    check_vouched(bundle, signed)?;
    preflight(bundle, expiration, Timestamp::now())?;
    let region_of = |c: &Client| c.config().region().map(|r| r.to_string());
    let mut routed = Vec::new();
    for key in &bundle.manifest().keys {
        let Some(client) = clients
            .iter()
            .find(|c| region_of(c).as_deref() == Some(key.region.as_str()))
        else {
            let regions: Vec<String> = clients.iter().filter_map(region_of).collect();
            return Err(KmsError::Refused {
                key: key.name.clone(),
                message: format!(
                    "the bundle was prepared for region {}, but this import targets {}",
                    key.region,
                    regions.join(", ")
                ),
                hint: format!(
                    "run the import with --region {} (or without --region: keyrite then uses each key's own region)",
                    key.region
                ),
            });
        };
        routed.push((client, key));
    }
    let journal = Mutex::new(Journal::open(bundle)?);
    let receipt = Mutex::new(ReceiptFile::open(bundle, "import", signed)?);
    // After the first failure no further key is started; keys already in flight finish, so each
    // one's progress is recorded in a state a re-run can resume from.
    let stop = AtomicBool::new(false);
    let results: Vec<(usize, Result<Option<ImportOutcome>>)> =
        stream::iter(routed.into_iter().enumerate())
            .map(|(i, (client, key))| {
                let (journal, receipt, stop) = (&journal, &receipt, &stop);
                async move {
                    if stop.load(Ordering::SeqCst) {
                        return (i, Ok(None));
                    }
                    let result = import_and_record(
                        client, bundle, signed, key, expiration, journal, receipt,
                    )
                    .await
                    .map(Some);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    (i, result)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for (_, r) in results {
        match r {
            Ok(Some(o)) => outcomes.push(o),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let receipt = receipt.into_inner().map_err(|_| poisoned())?;
    receipt.finish()?;
    Ok(outcomes)
}

/// One key: import it, then write its receipt record and only then mark it done.
async fn import_and_record(
    client: &Client,
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    key: &KeyEntry,
    expiration: Expiration,
    journal: &Mutex<Journal>,
    receipt: &Mutex<ReceiptFile>,
) -> Result<ImportOutcome> {
    let mut outcome = import_one(client, bundle, key, expiration, journal).await?;
    if outcome.kind != ALREADY_IMPORTED {
        receipt.lock().map_err(|_| poisoned())?.imported(&outcome)?;
        // Rotation by a new key: the new key was checked (Enabled, its material current), so
        // the alias moves to it now, and the move is recorded.
        if let Some(take) = &signed_take_over(signed, key) {
            outcome.alias_moved =
                super::new_key::move_alias(client, key, take, &take.previous_key_arn, &key.key_arn)
                    .await?;
            if let Some(m) = &outcome.alias_moved {
                receipt.lock().map_err(|_| poisoned())?.alias_moved(m)?;
            }
        }
    }
    record(
        journal,
        &outcome.name,
        KeyProgress::Done {
            key_material_id: outcome.key_material_id.clone(),
        },
    )?;
    Ok(outcome)
}

fn poisoned() -> KmsError {
    KmsError::TaskFailed
}

fn record(journal: &Mutex<Journal>, key: &str, stage: KeyProgress) -> Result<()> {
    journal.lock().map_err(|_| poisoned())?.record(key, stage)
}

/// The regions a bundle's keys live in, each once.
pub fn regions(bundle: &VerifiedBundle) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = bundle
        .manifest()
        .keys
        .iter()
        .map(|k| k.region.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// A KMS client per region the bundle's keys are in: with `aws.region`, that one region only (a
/// key of another region is then refused by the caller); without it, each region a key names.
pub async fn connect_regions(
    bundle: &VerifiedBundle,
    aws: &super::KmsTarget,
) -> Result<Vec<(String, Client)>, KmsError> {
    let regions = match &aws.region {
        Some(r) => vec![r.clone()],
        None => regions(bundle),
    };
    let mut clients = Vec::new();
    for region in regions {
        let target = super::KmsTarget {
            region: Some(region.clone()),
            ..aws.clone()
        };
        clients.push((region, super::connect(&target).await?));
    }
    Ok(clients)
}

/// The import's progress file, rewritten atomically after every step.
struct Journal {
    path: std::path::PathBuf,
    progress: ImportProgress,
}

impl Journal {
    fn open(bundle: &VerifiedBundle) -> Result<Journal> {
        let path = bundle.dir().join(import_progress::FILE);
        let progress = if fsio::exists_nofollow(&path) {
            ImportProgress::parse(&fsio::read_nofollow(&path)?, bundle.fingerprint()).map_err(
                |e| KmsError::OtherImport {
                    path: path.clone(),
                    detail: e.to_string(),
                    resumable: true,
                },
            )?
        } else {
            ImportProgress::new(bundle.fingerprint())
        };
        Ok(Journal { path, progress })
    }

    fn get(&self, key: &str) -> Option<KeyProgress> {
        self.progress.get(key).cloned()
    }

    fn record(&mut self, key: &str, stage: KeyProgress) -> Result<()> {
        self.progress.set(key, stage);
        fsio::replace(&self.path, &self.progress.to_json())?;
        Ok(())
    }
}

async fn import_one(
    client: &Client,
    bundle: &VerifiedBundle,
    key: &KeyEntry,
    expiration: Expiration,
    journal: &Mutex<Journal>,
) -> Result<ImportOutcome> {
    let name = key.name.as_str();
    let material = bundle
        .file(key, manifest::ENCRYPTED_KEY_MATERIAL)
        .unwrap_or_default();
    let token = bundle.file(key, manifest::IMPORT_TOKEN).unwrap_or_default();
    let before = describe(client, key).await?;
    let material_sha256 = crate::core::digest::sha256_hex(material);
    let token_sha256 = crate::core::digest::sha256_hex(token);
    let recorded = journal.lock().map_err(|_| poisoned())?.get(name);
    if let Some(KeyProgress::Done { key_material_id }) = recorded {
        // The progress file is a claim made by whoever could write the bundle: a key is skipped
        // only if KMS itself shows the recorded material as the key's current one.
        let holds = before.state == "Enabled"
            && key_material_id.is_some()
            && before.current_material == key_material_id;
        if !holds {
            return Err(KmsError::ProgressContradicted(Box::new(
                crate::kms::error::ProgressContradiction {
                    progress: bundle
                        .dir()
                        .join(import_progress::FILE)
                        .display()
                        .to_string(),
                    key: name.to_string(),
                    recorded: key_material_id
                        .as_deref()
                        .unwrap_or("(none recorded)")
                        .to_string(),
                    state: before.state.clone(),
                    current: before
                        .current_material
                        .as_deref()
                        .unwrap_or("(none)")
                        .to_string(),
                    key_arn: key.key_arn.clone(),
                },
            )));
        }
        return Ok(ImportOutcome {
            name: name.into(),
            key_arn: key.key_arn.clone(),
            kind: ALREADY_IMPORTED,
            key_material_id,
            previous_key_material_id: None,
            state: before.state,
            encrypted_key_material_sha256: material_sha256,
            import_token_sha256: token_sha256,
            import_request_id: None,
            rotate_request_id: None,
            pre_rotation_ciphertext_sha256: super::verify_rotation::pre_rotation_sha256(
                bundle, key,
            )?,
            alias_moved: None,
        });
    }
    let mut import_request_id = None;
    let mut rotated_already = false;
    if let Some(stage) = &recorded {
        check_stage(client, key, stage, &before, &material_sha256).await?;
    }
    let (first, new_id) = match recorded {
        // A rotation whose material KMS lists as staged: only the rotation is left. Material KMS
        // already made current needs no rotation.
        Some(KeyProgress::Imported {
            first,
            key_material_id,
        }) => {
            rotated_already = !first && before.current_material == key_material_id;
            (first, key_material_id)
        }
        // A first import that reached KMS before the run stopped.
        Some(KeyProgress::Sending { first: true }) if before.state == "Enabled" => {
            record(
                journal,
                name,
                KeyProgress::Imported {
                    first: true,
                    key_material_id: before.current_material.clone(),
                },
            )?;
            (true, before.current_material.clone())
        }
        Some(KeyProgress::RolledBack { key_material_id }) => {
            return Err(KmsError::Refused {
                key: name.into(),
                message: format!(
                    "this bundle's material for the key was imported as {key_material_id} and then rolled back; keyrite does not send it again"
                ),
                hint: "prepare a new bundle for the key and run a ceremony with it".into(),
            });
        }
        Some(KeyProgress::Sending { first: false }) => {
            return Err(KmsError::Refused {
                key: name.into(),
                message: "the last import stopped while sending this key's new material: it may be pending in KMS, and keyrite never sends it twice".into(),
                hint: format!(
                    "look with `aws kms list-key-rotations --key-id {} --include-key-material ALL_KEY_MATERIAL`: a PENDING_ROTATION material is this one, make it current with `aws kms rotate-key-on-demand`; with none, prepare a new bundle",
                    key.key_arn
                ),
            });
        }
        _ => {
            let first = first_or_rotation(key, &before)?;
            // Data encrypted before the rotation, kept to prove afterwards that it still decrypts.
            super::verify_rotation::save_pre_rotation(
                client,
                bundle,
                key,
                before.state == "Enabled",
            )
            .await?;
            record(journal, name, KeyProgress::Sending { first })?;
            let (new_id, request_id) =
                send_import(client, key, token, material, expiration, first).await?;
            check_reimport_id(key, new_id.as_deref())?;
            import_request_id = request_id;
            record(
                journal,
                name,
                KeyProgress::Imported {
                    first,
                    key_material_id: new_id.clone(),
                },
            )?;
            (first, new_id)
        }
    };
    let mut rotate_request_id = None;
    if !first && !rotated_already {
        let rotated = client
            .rotate_key_on_demand()
            .key_id(&key.key_arn)
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(name, "RotateKeyOnDemand", e))?;
        rotate_request_id = rotated.request_id().map(str::to_string);
    }
    let after = describe(client, key).await?;
    let operation = if first {
        "ImportKeyMaterial"
    } else {
        "RotateKeyOnDemand"
    };
    if after.state != "Enabled" {
        return Err(KmsError::Check {
            key: name.into(),
            operation,
            message: format!("the key is {}, not Enabled", after.state),
            hint:
                "check the key with `aws kms describe-key`; the material stays escrowed in the HSM"
                    .into(),
        });
    }
    if new_id.is_some() && after.current_material != new_id {
        return Err(KmsError::Check {
            key: name.into(),
            operation,
            message: format!(
                "the current key material id is {:?}, not the imported {:?}",
                after.current_material, new_id
            ),
            hint: "the rotation did not take effect; check `aws kms list-key-rotations` before trying again".into(),
        });
    }
    let outcome = ImportOutcome {
        name: name.into(),
        key_arn: key.key_arn.clone(),
        kind: match (reimport_of(key), first) {
            (Some(_), _) => "re-import of escrowed material",
            (None, true) => "first import",
            (None, false) => "rotation",
        },
        key_material_id: after.current_material,
        previous_key_material_id: before.current_material,
        state: after.state,
        encrypted_key_material_sha256: material_sha256,
        import_token_sha256: token_sha256,
        import_request_id,
        rotate_request_id,
        pre_rotation_ciphertext_sha256: super::verify_rotation::pre_rotation_sha256(bundle, key)?,
        alias_moved: None,
    };
    Ok(outcome)
}

/// A stage read from the progress file, checked against the signed manifest and KMS before
/// anything is skipped or rotated: the file is a hint anyone who can write the bundle can forge.
/// Whether the key was prepared for a first import (`key_state` PendingImport) is signed (the end
/// record binds the manifest); the key's state, current material and staged material are KMS's.
async fn check_stage(
    client: &Client,
    key: &KeyEntry,
    stage: &KeyProgress,
    before: &Described,
    material_sha256: &str,
) -> Result<()> {
    let signed_first = key.key_state == "PendingImport";
    let not_held = |claim: String, why: String| KmsError::ProgressNotHeld {
        progress: import_progress::FILE.to_string(),
        key: key.name.clone(),
        claim,
        why,
        key_arn: key.key_arn.clone(),
    };
    let prepared_for = if signed_first {
        "a first import (the key was PendingImport)"
    } else {
        "a rotation (the key had material)"
    };
    let claimed_first = match stage {
        KeyProgress::Sending { first } | KeyProgress::Imported { first, .. } => Some(*first),
        _ => None,
    };
    // A claimed first import of a key the signed manifest shows had material: the attack of a
    // forged stage that would record the key's old material as this bundle's. (A bundle prepared
    // for a first import may meet a key that got material since: that is a rotation, as a fresh
    // run would make it.)
    if let Some(first) = claimed_first
        && first
        && !signed_first
    {
        return Err(not_held(
            format!("the stage {} with first={first}", stage_name(stage)),
            format!("the signed manifest prepared the key for {prepared_for}"),
        ));
    }
    match stage {
        // A first import that reached KMS: the key's material must be the only one it has and,
        // for a re-wrap, the escrowed material's id.
        KeyProgress::Sending { first: true } if before.state == "Enabled" => {
            if let Some(want) = reimport_of(key)
                && before.current_material.as_deref() != Some(want)
            {
                return Err(not_held(
                    "a re-import that reached KMS".into(),
                    format!(
                        "the key's current material is {}, not the escrowed {want}",
                        before.current_material.as_deref().unwrap_or("none")
                    ),
                ));
            }
            let listed = super::materials::key_materials(client, &key.name, &key.key_arn).await?;
            if listed.len() != 1 || Some(&listed[0].id) != before.current_material.as_ref() {
                return Err(not_held(
                    "a first import that reached KMS before the run stopped".into(),
                    format!(
                        "KMS lists {} key material(s) for the key ({}); a key whose first import was this bundle's has exactly one, the current one",
                        listed.len(),
                        listed
                            .iter()
                            .map(|m| format!("{} {}", m.id, m.state))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        KeyProgress::Imported {
            first: true,
            key_material_id,
        } if before.state != "Enabled"
            || key_material_id.is_none()
            || before.current_material != *key_material_id =>
        {
            return Err(not_held(
                format!(
                    "a first import as material {}",
                    key_material_id.as_deref().unwrap_or("(none)")
                ),
                format!(
                    "KMS reports the key {} with current material {}",
                    before.state,
                    before.current_material.as_deref().unwrap_or("none")
                ),
            ));
        }
        KeyProgress::Imported {
            first: false,
            key_material_id,
        } => {
            let Some(id) = key_material_id else {
                return Err(not_held(
                    "a rotation's material as imported without its id".into(),
                    "keyrite rotates only to material it can name".into(),
                ));
            };
            if before.current_material.as_deref() != Some(id.as_str()) {
                let listed =
                    super::materials::key_materials(client, &key.name, &key.key_arn).await?;
                let entry = listed.iter().find(|m| &m.id == id);
                let state = entry.map(|m| m.state.as_str());
                if state != Some(KeyMaterialState::PendingRotation.as_str()) {
                    return Err(not_held(
                        format!("material {id} as staged by this bundle"),
                        format!(
                            "KMS lists it as {}; keyrite rotates only to material KMS reports as PENDING_ROTATION",
                            state.unwrap_or("not a material of this key")
                        ),
                    ));
                }
                // keyrite stages this bundle's material with a description naming the SHA-256
                // the signed log recorded for it: other staged material does not carry it.
                let want = material_description(material_sha256);
                let described = entry.and_then(|m| m.description.as_deref());
                if described != Some(want.as_str()) {
                    return Err(not_held(
                        format!("material {id} as staged by this bundle"),
                        format!(
                            "KMS describes it as {:?}, and keyrite stages this bundle's material as {want:?}",
                            described.unwrap_or("(no description)")
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The KeyMaterialDescription keyrite gives material it stages for a rotation: the SHA-256 of
/// the EncryptedKeyMaterial.bin the signed ceremony log recorded.
pub fn material_description(material_sha256: &str) -> String {
    format!("keyrite EncryptedKeyMaterial.bin sha256 {material_sha256}")
}

fn stage_name(stage: &KeyProgress) -> &'static str {
    match stage {
        KeyProgress::Sending { .. } => "sending",
        KeyProgress::Imported { .. } => "imported",
        KeyProgress::Done { .. } => "done",
        KeyProgress::RolledBack { .. } => "rolled_back",
    }
}

/// The escrowed material's KeyMaterialId, for a bundle from a re-wrap ceremony.
fn reimport_of(key: &KeyEntry) -> Option<&str> {
    key.generated
        .as_ref()
        .and_then(|g| g.reimport_of_key_material_id.as_deref())
}

/// A re-import must come back with the KeyMaterialId the material had before.
fn check_reimport_id(key: &KeyEntry, returned: Option<&str>) -> Result<()> {
    match (reimport_of(key), returned) {
        (Some(want), Some(got)) if want != got => Err(KmsError::Check {
            key: key.name.clone(),
            operation: "ImportKeyMaterial",
            message: format!(
                "KMS returned KeyMaterialId {got}, but the escrowed material was imported as {want}"
            ),
            hint: "check the key with `aws kms list-key-rotations --include-key-material ALL_KEY_MATERIAL`; the escrow copy stays in the HSM".into(),
        }),
        _ => Ok(()),
    }
}

fn first_or_rotation(key: &KeyEntry, before: &Described) -> Result<bool> {
    if reimport_of(key).is_some() && before.state != "PendingImport" {
        return Err(KmsError::WrongState {
            key: key.name.clone(),
            state: before.state.clone(),
            hint: "a re-wrapped escrow copy restores material that expired or was deleted; this key still has its material, so there is nothing to restore".into(),
        });
    }
    match before.state.as_str() {
        "PendingImport" => Ok(true),
        "Enabled" => Ok(false),
        other => Err(KmsError::WrongState {
            key: key.name.clone(),
            state: other.into(),
            hint: "enable the key or cancel its deletion, then run the import again".into(),
        }),
    }
}

async fn send_import(
    client: &Client,
    key: &KeyEntry,
    token: &[u8],
    material: &[u8],
    expiration: Expiration,
    first: bool,
) -> Result<(Option<String>, Option<String>)> {
    let mut req = client
        .import_key_material()
        .key_id(&key.key_arn)
        .import_token(Blob::new(token.to_vec()))
        .encrypted_key_material(Blob::new(material.to_vec()));
    req = match expiration {
        Expiration::DoesNotExpire => {
            req.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        }
        Expiration::ExpiresAt(t) => req
            .expiration_model(ExpirationModelType::KeyMaterialExpires)
            .valid_to(aws_sdk_kms::primitives::DateTime::from_secs(t.as_second())),
    };
    if let Some(id) = reimport_of(key) {
        req = req
            .import_type(ImportType::ExistingKeyMaterial)
            .key_material_id(id);
    } else if !first {
        req = req
            .import_type(ImportType::NewKeyMaterial)
            .key_material_description(material_description(&crate::core::digest::sha256_hex(
                material,
            )));
    }
    let imported = req
        .customize()
        .config_override(
            aws_sdk_kms::config::Builder::default()
                .retry_classifier(super::resend::RetryOnlyWhenNotDelivered),
        )
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "ImportKeyMaterial", e))?;
    Ok((
        imported.key_material_id().map(str::to_string),
        imported.request_id().map(str::to_string),
    ))
}

struct Described {
    state: String,
    current_material: Option<String>,
}

async fn describe(client: &Client, key: &KeyEntry) -> Result<Described> {
    let out = client
        .describe_key()
        .key_id(&key.key_arn)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "DescribeKey", e))?;
    let meta = out.key_metadata().ok_or_else(|| KmsError::Check {
        key: key.name.clone(),
        operation: "DescribeKey",
        message: "the response has no KeyMetadata".into(),
        hint: "the KMS endpoint misbehaves; try again".into(),
    })?;
    if meta.arn() != Some(key.key_arn.as_str()) {
        return Err(KmsError::Refused {
            key: key.name.clone(),
            message: format!(
                "DescribeKey answers for {}, but the bundle's import token is bound to {}; nothing was imported",
                meta.arn().unwrap_or("no ARN"),
                key.key_arn
            ),
            hint: "import with the credentials, account and region the bundle was prepared for"
                .into(),
        });
    }
    if meta.origin() != Some(&OriginType::External) {
        return Err(KmsError::NotExternal {
            key: key.name.clone(),
            origin: meta
                .origin()
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
        });
    }
    Ok(Described {
        state: meta
            .key_state()
            .map(KeyState::as_str)
            .unwrap_or("Unknown")
            .to_string(),
        current_material: meta.current_key_material_id().map(str::to_string),
    })
}
