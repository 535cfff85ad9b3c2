//! What KMS reports of a key: its metadata (DescribeKey) and the key materials it lists
//! (ListKeyRotations with every material), what import and rollback check a progress file's
//! claims against.

use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMetadata};

use super::{Client, KmsError};

/// DescribeKey of `key_id` (an ARN, id or alias); `name` is the key as the error names it.
pub async fn key_metadata(
    client: &Client,
    name: &str,
    key_id: &str,
) -> Result<Option<KeyMetadata>, KmsError> {
    Ok(client
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "DescribeKey", e))?
        .key_metadata)
}

/// One key material as ListKeyRotations lists it.
pub struct ListedMaterial {
    pub id: String,
    pub state: String,
    pub description: Option<String>,
}

/// Every key material KMS lists for the key, from ListKeyRotations with every material, all
/// pages.
pub async fn key_materials(
    client: &Client,
    name: &str,
    key_arn: &str,
) -> Result<Vec<ListedMaterial>, KmsError> {
    let mut pages = client
        .list_key_rotations()
        .key_id(key_arn)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| KmsError::from_sdk(name, "ListKeyRotations", e))?;
        for entry in page.rotations() {
            out.push(ListedMaterial {
                id: entry.key_material_id().unwrap_or_default().to_string(),
                state: entry
                    .key_material_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "no state".into()),
                description: entry.key_material_description().map(str::to_string),
            });
        }
    }
    Ok(out)
}
