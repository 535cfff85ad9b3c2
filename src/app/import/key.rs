//! One key's import: the stage the progress file records checked against the signed manifest
//! and KMS, the material sent at most once, the rotation made, and what KMS then reports checked.
//! Every refusal here is a decision of the import, not an answer of KMS.

use std::sync::Mutex;

use aws_sdk_kms::types::KeyMaterialState;

use super::journal::{self, Journal};
use crate::app::error::{Error, Result};
use crate::core::import_progress::{self, KeyProgress};
use crate::core::manifest::{self, KeyEntry, TakeOver};
use crate::core::receipt::ImportOutcome;
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::{
    Described, Expiration, Import, describe, material_description, rotate_on_demand, send_import,
};
use crate::kms::{self, Client};

/// The kind of an outcome whose key an earlier run imported completely.
pub const ALREADY_IMPORTED: &str = "already imported";

/// The alias move the signed start record binds for `key` (the manifest's `takes_over` was
/// compared with it when the log was verified).
pub fn signed_take_over(signed: &SignedCeremony, key: &KeyEntry) -> Option<TakeOver> {
    signed.alias_move(&key.name).map(|m| TakeOver {
        alias: m.alias.clone(),
        previous_key_arn: m.previous_key_arn.clone(),
    })
}

/// One key: what the progress file claims is checked against KMS, the material is sent (at most
/// once), a rotation made, and what KMS then reports checked.
pub async fn import_one(
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
    let multi_region = !key.replicas.is_empty() || !before.replicas.is_empty();
    let replicas_before = if multi_region {
        super::replicas::check_before(client, key, &before).await?
    } else {
        Vec::new()
    };
    let material_sha256 = crate::core::digest::sha256_hex(material);
    let token_sha256 = crate::core::digest::sha256_hex(token);
    let recorded = journal::get(journal, name)?;
    if let Some(KeyProgress::Done { key_material_id }) = recorded {
        // The progress file is a claim made by whoever could write the bundle: a key is skipped
        // only if KMS itself shows the recorded material as the key's current one.
        let holds = before.state == "Enabled"
            && key_material_id.is_some()
            && before.current_material == key_material_id;
        if !holds {
            return Err(Error::ProgressContradicted(Box::new(
                crate::app::error::ProgressContradiction {
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
            pre_rotation_ciphertext_sha256: kms::verify_rotation::pre_rotation_sha256(bundle, key)?,
            alias_moved: None,
            replicas: Vec::new(),
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
            journal::record(
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
            return Err(Error::KeyRefused {
                key: name.into(),
                message: format!(
                    "this bundle's material for the key was imported as {key_material_id} and then rolled back; keyrite does not send it again"
                ),
                hint: "prepare a new bundle for the key and run a ceremony with it".into(),
            });
        }
        Some(KeyProgress::Sending { first: false }) => {
            return Err(Error::KeyRefused {
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
            kms::verify_rotation::save_pre_rotation(client, bundle, key, before.state == "Enabled")
                .await?;
            journal::record(journal, name, KeyProgress::Sending { first })?;
            let import = match reimport_of(key) {
                Some(id) => Import::Reimport {
                    key_material_id: id,
                },
                None if first => Import::First,
                None => Import::Rotation,
            };
            let sent = send_import(client, key, token, material, expiration, import).await?;
            let new_id = sent.key_material_id;
            check_reimport_id(key, new_id.as_deref())?;
            import_request_id = sent.request_id;
            journal::record(
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
    // A multi-Region key's replicas are given the same material before the primary rotates to
    // it (AWS: "import into replicas, then rotate the primary").
    let mut replicas = Vec::new();
    if multi_region {
        let id = new_id.as_deref().ok_or_else(|| Error::ImportCheck {
            key: name.into(),
            operation: "ImportKeyMaterial",
            message: "KMS named no KeyMaterialId for the primary's material, and a replica is given the primary's material by its KeyMaterialId".into(),
            hint: "check the key with `aws kms describe-key`; nothing was sent to the replicas".into(),
        })?;
        replicas = super::replicas::import_replicas(
            client,
            bundle,
            key,
            expiration,
            id,
            &replicas_before,
            journal,
        )
        .await?;
    }
    let mut rotate_request_id = None;
    if !first && !rotated_already {
        rotate_request_id = rotate_on_demand(client, key).await?;
    }
    let after = describe(client, key).await?;
    let operation = if first {
        "ImportKeyMaterial"
    } else {
        "RotateKeyOnDemand"
    };
    if after.state != "Enabled" {
        return Err(Error::ImportCheck {
            key: name.into(),
            operation,
            message: format!("the key is {}, not Enabled", after.state),
            hint:
                "check the key with `aws kms describe-key`; the material stays escrowed in the HSM"
                    .into(),
        });
    }
    if new_id.is_some() && after.current_material != new_id {
        return Err(Error::ImportCheck {
            key: name.into(),
            operation,
            message: format!(
                "the current key material id is {:?}, not the imported {:?}",
                after.current_material, new_id
            ),
            hint: "the rotation did not take effect; check `aws kms list-key-rotations` before trying again".into(),
        });
    }
    if let Some(id) = &after.current_material
        && multi_region
    {
        super::replicas::check_after(client, key, id, &mut replicas).await?;
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
        pre_rotation_ciphertext_sha256: kms::verify_rotation::pre_rotation_sha256(bundle, key)?,
        alias_moved: None,
        replicas,
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
    let not_held = |claim: String, why: String| Error::ProgressNotHeld {
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
            let listed = kms::materials::key_materials(client, &key.name, &key.key_arn).await?;
            if listed.len() != 1 || Some(&listed[0].id) != before.current_material.as_ref() {
                return Err(not_held(
                    "a first import that reached KMS before the run stopped".into(),
                    format!(
                        "KMS lists {} for the key ({}); a key whose first import was this bundle's has exactly one, the current one",
                        crate::core::terminal::counted(listed.len(), "key material"),
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
                let listed = kms::materials::key_materials(client, &key.name, &key.key_arn).await?;
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

fn stage_name(stage: &KeyProgress) -> &'static str {
    match stage {
        KeyProgress::Sending { .. } => "sending",
        KeyProgress::Imported { .. } => "imported",
        KeyProgress::Done { .. } => "done",
        KeyProgress::RolledBack { .. } => "rolled_back",
    }
}

/// The escrowed material's KeyMaterialId, for a bundle from a re-wrap ceremony.
pub fn reimport_of(key: &KeyEntry) -> Option<&str> {
    key.generated
        .as_ref()
        .and_then(|g| g.reimport_of_key_material_id.as_deref())
}

/// A re-import must come back with the KeyMaterialId the material had before.
fn check_reimport_id(key: &KeyEntry, returned: Option<&str>) -> Result<()> {
    match (reimport_of(key), returned) {
        (Some(want), Some(got)) if want != got => Err(Error::ImportCheck {
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
        return Err(Error::KeyWrongState {
            key: key.name.clone(),
            state: before.state.clone(),
            hint: "a re-wrapped escrow copy restores material that expired or was deleted; this key still has its material, so there is nothing to restore".into(),
        });
    }
    match before.state.as_str() {
        "PendingImport" => Ok(true),
        "Enabled" => Ok(false),
        other => Err(Error::KeyWrongState {
            key: key.name.clone(),
            state: other.into(),
            hint: "enable the key or cancel its deletion, then run the import again".into(),
        }),
    }
}
