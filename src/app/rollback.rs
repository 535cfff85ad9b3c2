//! `keyrite kms rollback`: pending material an import staged but never rotated to, deleted; an
//! alias a new key took over, moved back. Only as far as the verified ceremony log vouches.
//!
//! Material staged as NEW_KEY_MATERIAL but never rotated to (the run stopped, or
//! RotateKeyOnDemand was refused) is deleted by its KeyMaterialId, and only when KMS itself lists
//! it as PENDING_ROTATION; material that is already current is never deleted by this command.
//! A rotation by a new key (`kms prepare --new-key`) is rolled back by moving the alias back to
//! the key it named before; the new key keeps its material.

use std::path::Path;

use aws_sdk_kms::types::KeyMaterialState;
use serde::Serialize;

use crate::app::error::{Error, Result};
use crate::app::import::journal::Journal;
use crate::app::import::{check_vouched, connect_regions, signed_take_over};
use crate::core::import_progress::{self, KeyProgress};
use crate::core::manifest::KeyEntry;
use crate::core::receipt::record::KeyRolledBack;
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::io::receipt_file::ReceiptFile;
use crate::kms::{self, Client, KmsTarget};

/// What rollback did with one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RollbackOutcome {
    /// The pending material was deleted.
    RolledBack {
        key_material_id: String,
        request_id: Option<String>,
    },
    /// Nothing of this bundle reached the key (no progress recorded, or a first import that is
    /// the key's only material).
    NothingPending { reason: String },
    /// The bundle's material is the key's current material (a finished first import or
    /// rotation): this command never deletes it.
    AlreadyCurrent { key_material_id: Option<String> },
    /// An earlier rollback already deleted it.
    AlreadyRolledBack { key_material_id: String },
    /// Rotation by a new key: the alias was moved back to the previous key (the new key keeps its
    /// material and is left as it is).
    AliasMovedBack {
        alias: String,
        from_key_arn: String,
        to_key_arn: String,
        request_id: Option<String>,
    },
    /// Rotation by a new key: the alias already names the previous key.
    AliasOnPreviousKey { alias: String, key_arn: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyRollback {
    pub name: String,
    pub key_arn: String,
    #[serde(flatten)]
    pub outcome: RollbackOutcome,
}

pub fn run(
    verified: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
) -> Result<Vec<KeyRollback>> {
    let signed = crate::app::audit::signed_ceremony(verified, trust)?;
    let rt = kms::runtime()?;
    rt.block_on(async {
        let clients = connect_regions(verified, aws).await?;
        rollback(
            |region| clients.iter().find(|(r, _)| r == region).map(|(_, c)| c),
            verified,
            &signed,
        )
        .await
    })
}

/// Rolls back every key of the bundle whose new material is pending; `client_for` gives the client
/// of a region. Keys are handled one by one, and each result is recorded before the next.
pub async fn rollback<'c>(
    client_for: impl Fn(&str) -> Option<&'c Client>,
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
) -> Result<Vec<KeyRollback>> {
    check_vouched(bundle, signed)?;
    let mut journal = Journal::open_existing(bundle)?;
    let region_client = |key: &KeyEntry| {
        client_for(&key.region).ok_or_else(|| Error::KeyRefused {
            key: key.name.clone(),
            message: format!("no client for region {}", key.region),
            hint: format!("run the rollback with --region {}", key.region),
        })
    };
    let mut receipt = ReceiptFile::open(bundle, "rollback", signed)?;
    let mut done = Vec::new();
    for key in &bundle.manifest().keys {
        let name = key.name.as_str();
        if let Some(take) = &signed_take_over(signed, key) {
            let client = region_client(key)?;
            let back =
                kms::new_key::move_alias(client, key, take, &key.key_arn, &take.previous_key_arn)
                    .await?;
            let outcome = match back {
                Some(m) => {
                    receipt.alias_moved(&m)?;
                    RollbackOutcome::AliasMovedBack {
                        alias: m.alias,
                        from_key_arn: m.from_key_arn,
                        to_key_arn: m.to_key_arn,
                        request_id: m.request_id,
                    }
                }
                None => RollbackOutcome::AliasOnPreviousKey {
                    alias: take.alias.clone(),
                    key_arn: take.previous_key_arn.clone(),
                },
            };
            done.push(KeyRollback {
                name: name.into(),
                key_arn: key.key_arn.clone(),
                outcome,
            });
            continue;
        }
        let outcome = match journal.get(name) {
            None => RollbackOutcome::NothingPending {
                reason: "no import of it was recorded".into(),
            },
            Some(KeyProgress::RolledBack { key_material_id }) => {
                RollbackOutcome::AlreadyRolledBack { key_material_id }
            }
            Some(KeyProgress::Done { key_material_id }) => {
                RollbackOutcome::AlreadyCurrent { key_material_id }
            }
            Some(
                KeyProgress::Imported { first: true, .. } | KeyProgress::Sending { first: true },
            ) => RollbackOutcome::NothingPending {
                reason: "a first import: the material is the key's only one, not pending".into(),
            },
            Some(KeyProgress::Sending { first: false })
            | Some(KeyProgress::Imported {
                first: false,
                key_material_id: None,
            }) => {
                return Err(Error::KeyRefused {
                    key: name.into(),
                    message: "the import stopped before KMS reported the new material's id; keyrite deletes material only by its id".into(),
                    hint: format!(
                        "look with `aws kms list-key-rotations --key-id {} --include-key-material ALL_KEY_MATERIAL`; delete a PENDING_ROTATION material with `aws kms delete-imported-key-material --key-id {} --key-material-id <id>`",
                        key.key_arn, key.key_arn
                    ),
                });
            }
            Some(KeyProgress::Imported {
                first: false,
                key_material_id: Some(id),
            }) => {
                let client = region_client(key)?;
                let current = kms::rollback::current_material(client, key).await?;
                if current.as_deref() == Some(id.as_str()) {
                    done.push(KeyRollback {
                        name: name.into(),
                        key_arn: key.key_arn.clone(),
                        outcome: RollbackOutcome::AlreadyCurrent {
                            key_material_id: Some(id),
                        },
                    });
                    continue;
                }
                // The progress file is only a claim: delete nothing unless KMS itself lists this
                // material as staged and not yet rotated to (never a current or older material,
                // which still decrypts existing ciphertext).
                let state = kms::rollback::material_state(client, key, &id).await?;
                if state.as_deref() != Some(KeyMaterialState::PendingRotation.as_str()) {
                    return Err(Error::KeyRefused {
                        key: name.into(),
                        message: format!(
                            "{} records material {id} as staged by this bundle, but KMS lists it as {}; keyrite deletes only material KMS reports as PENDING_ROTATION, and nothing was deleted",
                            import_progress::FILE,
                            state.as_deref().unwrap_or("not a material of this key")
                        ),
                        hint: format!(
                            "the progress file was altered or belongs to another key; compare it with `aws kms list-key-rotations --key-id {} --include-key-material ALL_KEY_MATERIAL` and the import receipt",
                            key.key_arn
                        ),
                    });
                }
                let request_id = kms::rollback::delete_material(client, key, &id).await?;
                journal.record(
                    name,
                    KeyProgress::RolledBack {
                        key_material_id: id.clone(),
                    },
                )?;
                receipt.rolled_back(KeyRolledBack {
                    key: name.into(),
                    key_arn: key.key_arn.clone(),
                    key_material_id: id.clone(),
                    request_id: request_id.clone(),
                })?;
                RollbackOutcome::RolledBack {
                    key_material_id: id,
                    request_id,
                }
            }
        };
        done.push(KeyRollback {
            name: name.into(),
            key_arn: key.key_arn.clone(),
            outcome,
        });
    }
    receipt.finish()?;
    Ok(done)
}
