//! A multi-Region key's replicas at import: KMS never copies imported material between Regions,
//! so each replica is given the primary's material itself — wrapped for its own Region's
//! wrapping key, with its own Region's import token, as EXISTING_KEY_MATERIAL under the
//! primary's KeyMaterialId (a replica never takes NEW_KEY_MATERIAL) — before the primary rotates
//! to it. The key is called imported only when every Region reports the same current
//! KeyMaterialId.

use std::sync::Mutex;

use super::journal::{self, Journal};
use crate::app::error::{Error, Result};
use crate::core::import_progress::KeyProgress;
use crate::core::manifest::{self, KeyEntry};
use crate::core::receipt::record::ReplicaImported;
use crate::io::bundle::VerifiedBundle;
use crate::kms::Client;
use crate::kms::import::{Described, Expiration, describe_replica, send_replica_import};
use crate::kms::multi_region::client_in;

/// The name a replica goes by in messages and in the progress file: `<key>/<region>`.
pub fn replica_name(key: &KeyEntry, region: &str) -> String {
    manifest::Manifest::region_dir(key, Some(region))
}

/// Before anything is sent: the replicas KMS lists now must be the bundle's, Region for Region
/// (a replica the bundle lacks would be left behind, one KMS no longer lists cannot be given
/// its material), and on a first import no replica may already hold material of its own.
/// Returns each replica as DescribeKey in its Region answered, in the bundle's order.
pub async fn check_before(
    client: &Client,
    key: &KeyEntry,
    primary: &Described,
) -> Result<Vec<Described>> {
    let refused = |message: String, hint: &str| Error::KeyRefused {
        key: key.name.clone(),
        message,
        hint: hint.into(),
    };
    for (region, arn) in &primary.replicas {
        if key.replica(region).is_none() {
            return Err(refused(
                format!(
                    "KMS lists a replica of this key in {region} ({arn}), and the bundle holds no wrapping key for {region}: importing would leave that replica without the material, and nothing was imported"
                ),
                "prepare a new bundle (`keyrite kms prepare` fetches import parameters in every replica's Region) and run the ceremony with it",
            ));
        }
    }
    let mut described = Vec::new();
    for r in &key.replicas {
        if !primary
            .replicas
            .iter()
            .any(|(region, _)| *region == r.region)
        {
            return Err(refused(
                format!(
                    "the bundle holds a replica in {} ({}), but KMS no longer lists one there; nothing was imported",
                    r.region, r.key_arn
                ),
                "find out who deleted the replica; prepare a new bundle for the key as it is now",
            ));
        }
        let there = client_in(client, &r.region);
        let now = describe_replica(&there, &replica_name(key, &r.region), &r.key_arn).await?;
        if primary.state == "PendingImport"
            && let Some(theirs) = &now.current_material
        {
            return Err(refused(
                format!(
                    "the primary has no key material yet, but its replica in {} already holds {theirs}: the Regions would hold different KeyMaterialIds, and a multi-Region key's Regions must hold the same material; nothing was imported",
                    r.region
                ),
                "find out who imported material into the replica (CloudTrail, ImportKeyMaterial in that Region); delete it there (`aws kms delete-imported-key-material --region …`) before importing this bundle",
            ));
        }
        described.push(now);
    }
    Ok(described)
}

/// Gives every replica the material the primary now holds as `key_material_id`, in the bundle's
/// order; a replica whose current material (`described`, from [`check_before`]: importing into
/// the primary changes no replica) is already that one is not sent it again.
pub async fn import_replicas(
    client: &Client,
    bundle: &VerifiedBundle,
    key: &KeyEntry,
    expiration: Expiration,
    key_material_id: &str,
    described: &[Described],
    journal: &Mutex<Journal>,
) -> Result<Vec<ReplicaImported>> {
    let mut out = Vec::new();
    for (r, before) in key.replicas.iter().zip(described) {
        let name = replica_name(key, &r.region);
        let there = client_in(client, &r.region);
        let region = Some(r.region.as_str());
        let material = bundle
            .region_file(key, region, manifest::ENCRYPTED_KEY_MATERIAL)
            .ok_or_else(|| Error::NoWrappedMaterial { key: name.clone() })?;
        let token = bundle
            .region_file(key, region, manifest::IMPORT_TOKEN)
            .unwrap_or_default();
        let mut import_request_id = None;
        if before.current_material.as_deref() != Some(key_material_id) {
            journal::record(journal, &name, KeyProgress::Sending { first: false })?;
            let sent = send_replica_import(
                &there,
                &name,
                &r.key_arn,
                token,
                material,
                expiration,
                key_material_id,
            )
            .await?;
            if let Some(got) = &sent.key_material_id
                && got != key_material_id
            {
                return Err(different(key, &r.region, got, key_material_id));
            }
            import_request_id = sent.request_id;
        }
        journal::record(
            journal,
            &name,
            KeyProgress::Done {
                key_material_id: Some(key_material_id.to_string()),
            },
        )?;
        out.push(ReplicaImported {
            region: r.region.clone(),
            key_arn: r.key_arn.clone(),
            encrypted_key_material_sha256: crate::core::digest::sha256_hex(material),
            import_request_id,
            key_material_id: Some(key_material_id.to_string()),
            state: before.state.clone(),
        });
    }
    Ok(out)
}

/// After the import (and the primary's rotation): every replica Enabled, with the primary's
/// current KeyMaterialId as its own. The replicas' states in `imported` are updated.
pub async fn check_after(
    client: &Client,
    key: &KeyEntry,
    key_material_id: &str,
    imported: &mut [ReplicaImported],
) -> Result<()> {
    for r in imported.iter_mut() {
        let name = replica_name(key, &r.region);
        let there = client_in(client, &r.region);
        let now = describe_replica(&there, &name, &r.key_arn).await?;
        let current = now.current_material.as_deref().unwrap_or("none");
        if now.state != "Enabled" || current != key_material_id {
            return Err(different(key, &r.region, current, key_material_id));
        }
        r.state = now.state;
    }
    Ok(())
}

fn different(key: &KeyEntry, region: &str, theirs: &str, primary: &str) -> Error {
    Error::ImportCheck {
        key: key.name.clone(),
        operation: "ImportKeyMaterial",
        message: format!(
            "different KeyMaterialIds across Regions: the replica in {region} reports {theirs}, the primary {primary}; a multi-Region key's Regions must hold the same material"
        ),
        hint: format!(
            "do not call the key rotated: data encrypted in one Region would not decrypt in {region}. Look with `aws kms describe-key --region {region}` and `aws kms list-key-rotations --include-key-material ALL_KEY_MATERIAL`; the material stays escrowed in the HSM"
        ),
    }
}
