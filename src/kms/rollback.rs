//! The KMS calls `keyrite kms rollback` makes, typed: the key's current material (DescribeKey),
//! a material's state (ListKeyRotations) and DeleteImportedKeyMaterial. Which material may be
//! deleted, the progress file and the receipt are the use case's (`app::rollback`).
//!
//! `DeleteImportedKeyMaterial` with the material's KeyMaterialId deletes only that pending
//! material; the key's current material, and so every ciphertext made with it, is untouched.

use aws_sdk_kms::operation::RequestId;

use super::{Client, KmsError};
use crate::core::manifest::KeyEntry;

type Result<T, E = KmsError> = std::result::Result<T, E>;

/// The KeyMaterialId DescribeKey reports as the key's current one.
pub async fn current_material(client: &Client, key: &KeyEntry) -> Result<Option<String>> {
    Ok(
        super::materials::key_metadata(client, &key.name, &key.key_arn)
            .await?
            .and_then(|m| m.current_key_material_id),
    )
}

/// The state KMS reports for one key material (ListKeyRotations with every material, all pages),
/// or None when KMS does not list it for this key.
pub async fn material_state(
    client: &Client,
    key: &KeyEntry,
    material_id: &str,
) -> Result<Option<String>> {
    Ok(
        super::materials::key_materials(client, &key.name, &key.key_arn)
            .await?
            .into_iter()
            .find(|m| m.id == material_id)
            .map(|m| m.state),
    )
}

/// Deletes the key's material `material_id` (DeleteImportedKeyMaterial); its request id.
pub async fn delete_material(
    client: &Client,
    key: &KeyEntry,
    material_id: &str,
) -> Result<Option<String>> {
    let deleted = client
        .delete_imported_key_material()
        .key_id(&key.key_arn)
        .key_material_id(material_id)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "DeleteImportedKeyMaterial", e))?;
    Ok(deleted.request_id().map(str::to_string))
}
