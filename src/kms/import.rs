//! The KMS calls `keyrite kms import` makes, typed: DescribeKey (checked to answer for the key the
//! bundle names, an EXTERNAL one), ImportKeyMaterial (retried only when not delivered) and
//! RotateKeyOnDemand. What to send and when, the progress file and the receipt are the use case's
//! (`app::import`).

use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{ExpirationModelType, ImportType, KeyState, OriginType};
use jiff::Timestamp;

use super::{Client, KmsError};
use crate::core::manifest::KeyEntry;

type Result<T, E = KmsError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    DoesNotExpire,
    ExpiresAt(Timestamp),
}

/// What ImportKeyMaterial is asked to do with the material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import<'a> {
    /// The key's first material (it is PendingImport): no import type.
    First,
    /// NEW_KEY_MATERIAL, staged for a rotation and described by
    /// [`material_description`] of its SHA-256.
    Rotation,
    /// EXISTING_KEY_MATERIAL: escrowed material imported again under its KeyMaterialId.
    Reimport { key_material_id: &'a str },
    /// EXISTING_KEY_MATERIAL into a multi-Region replica: the material its primary was given, as
    /// the primary's KeyMaterialId. A replica takes no new material of its own: there is no
    /// variant that sends NEW_KEY_MATERIAL to one ([`send_replica_import`] takes only this).
    Replica { key_material_id: &'a str },
}

/// What KMS answered to ImportKeyMaterial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub key_material_id: Option<String>,
    pub request_id: Option<String>,
}

/// The KeyMaterialDescription keyrite gives material it stages for a rotation: the SHA-256 of
/// the EncryptedKeyMaterial.bin the signed ceremony log recorded.
pub fn material_description(material_sha256: &str) -> String {
    format!("keyrite EncryptedKeyMaterial.bin sha256 {material_sha256}")
}

/// Sends ImportKeyMaterial for `key` with its import token and wrapped material. Retried only
/// when KMS certainly did not act on it ([`super::resend`]).
pub async fn send_import(
    client: &Client,
    key: &KeyEntry,
    token: &[u8],
    material: &[u8],
    expiration: Expiration,
    import: Import<'_>,
) -> Result<Imported> {
    send_to(
        client,
        &key.name,
        &key.key_arn,
        token,
        material,
        expiration,
        import,
    )
    .await
}

/// Sends ImportKeyMaterial for the replica `replica_arn` (through a client of its Region) with
/// the primary's KeyMaterialId: EXISTING_KEY_MATERIAL, always.
pub async fn send_replica_import(
    client: &Client,
    name: &str,
    replica_arn: &str,
    token: &[u8],
    material: &[u8],
    expiration: Expiration,
    key_material_id: &str,
) -> Result<Imported> {
    let import = Import::Replica { key_material_id };
    send_to(
        client,
        name,
        replica_arn,
        token,
        material,
        expiration,
        import,
    )
    .await
}

async fn send_to(
    client: &Client,
    name: &str,
    key_arn: &str,
    token: &[u8],
    material: &[u8],
    expiration: Expiration,
    import: Import<'_>,
) -> Result<Imported> {
    let mut req = client
        .import_key_material()
        .key_id(key_arn)
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
    req = match import {
        Import::First => req,
        Import::Rotation => req
            .import_type(ImportType::NewKeyMaterial)
            .key_material_description(material_description(&crate::core::digest::sha256_hex(
                material,
            ))),
        Import::Reimport { key_material_id } | Import::Replica { key_material_id } => req
            .import_type(ImportType::ExistingKeyMaterial)
            .key_material_id(key_material_id),
    };
    let imported = req
        .customize()
        .config_override(
            aws_sdk_kms::config::Builder::default()
                .retry_classifier(super::resend::RetryOnlyWhenNotDelivered),
        )
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "ImportKeyMaterial", e))?;
    Ok(Imported {
        key_material_id: imported.key_material_id().map(str::to_string),
        request_id: imported.request_id().map(str::to_string),
    })
}

/// Sends RotateKeyOnDemand for `key`; its request id.
pub async fn rotate_on_demand(client: &Client, key: &KeyEntry) -> Result<Option<String>> {
    let rotated = client
        .rotate_key_on_demand()
        .key_id(&key.key_arn)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "RotateKeyOnDemand", e))?;
    Ok(rotated.request_id().map(str::to_string))
}

/// The key as DescribeKey reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The key state, as KMS spells it ("Enabled", "PendingImport", …).
    pub state: String,
    pub current_material: Option<String>,
    /// A multi-Region primary's replicas as KMS lists them now, (Region, ARN).
    pub replicas: Vec<(String, String)>,
}

/// DescribeKey of the bundle's key: refused unless it answers for the very ARN the import token
/// is bound to, and for a key of origin EXTERNAL.
pub async fn describe(client: &Client, key: &KeyEntry) -> Result<Described> {
    describe_arn(client, &key.name, &key.key_arn).await
}

/// [`describe`] of a replica, in its own Region.
pub async fn describe_replica(client: &Client, name: &str, replica_arn: &str) -> Result<Described> {
    describe_arn(client, name, replica_arn).await
}

async fn describe_arn(client: &Client, name: &str, arn: &str) -> Result<Described> {
    let meta = super::materials::key_metadata(client, name, arn)
        .await?
        .ok_or_else(|| KmsError::Check {
            key: name.to_string(),
            operation: "DescribeKey",
            message: "the response has no KeyMetadata".into(),
            hint: "the KMS endpoint misbehaves; try again".into(),
        })?;
    if meta.arn() != Some(arn) {
        return Err(KmsError::Refused {
            key: name.to_string(),
            message: format!(
                "DescribeKey answers for {}, but the bundle's import token is bound to {}; nothing was imported",
                meta.arn().unwrap_or("no ARN"),
                arn
            ),
            hint: "import with the credentials, account and region the bundle was prepared for"
                .into(),
        });
    }
    if meta.origin() != Some(&OriginType::External) {
        return Err(KmsError::NotExternal {
            key: name.to_string(),
            origin: meta
                .origin()
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
        });
    }
    let replicas = match meta
        .multi_region_configuration()
        .and_then(|c| c.multi_region_key_type())
    {
        Some(aws_sdk_kms::types::MultiRegionKeyType::Replica) => Vec::new(),
        _ => super::multi_region::replicas_of(name, &meta)?,
    };
    Ok(Described {
        replicas,
        state: meta
            .key_state()
            .map(KeyState::as_str)
            .unwrap_or("Unknown")
            .to_string(),
        current_material: meta.current_key_material_id().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::import_key_material::ImportKeyMaterialOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const REPLICA: &str = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1";

    /// A STUB of AWS's documented rule (LocalStack does not enforce it): new material cannot be
    /// imported into a replica directly — only the primary's, as EXISTING_KEY_MATERIAL under the
    /// primary's KeyMaterialId. The stub answers only such a request; anything else (a
    /// NEW_KEY_MATERIAL import, another id) matches no rule and fails the send.
    #[test]
    fn a_replica_is_sent_its_primarys_material_as_existing_key_material_never_new() {
        let existing_only = mock!(Client::import_key_material)
            .match_requests(|r| {
                r.key_id() == Some(REPLICA)
                    && r.import_type() == Some(&ImportType::ExistingKeyMaterial)
                    && r.key_material_id() == Some("material-1")
            })
            .then_output(|| {
                ImportKeyMaterialOutput::builder()
                    .key_id(REPLICA)
                    .key_material_id("material-1")
                    .build()
            });
        // AWS refuses new material into a replica.
        let new_refused = mock!(Client::import_key_material)
            .match_requests(|r| r.import_type() != Some(&ImportType::ExistingKeyMaterial))
            .then_error(|| {
                aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError::UnsupportedOperationException(
                    aws_sdk_kms::types::error::UnsupportedOperationException::builder()
                        .message("You cannot import new key material into a multi-Region replica key")
                        .build(),
                )
            });
        let client = mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            [&existing_only, &new_refused]
        );
        let rt = super::super::runtime().unwrap();
        let sent = rt
            .block_on(send_replica_import(
                &client,
                "prod-s3/eu-west-1",
                REPLICA,
                b"token",
                b"wrapped",
                Expiration::DoesNotExpire,
                "material-1",
            ))
            .unwrap();
        assert_eq!(sent.key_material_id.as_deref(), Some("material-1"));
        assert_eq!(existing_only.num_calls(), 1);
        // The same stub refuses what AWS refuses: a replica's import as new material.
        let rotation = rt.block_on(send_to(
            &client,
            "prod-s3/eu-west-1",
            REPLICA,
            b"token",
            b"wrapped",
            Expiration::DoesNotExpire,
            Import::Rotation,
        ));
        let err = rotation.unwrap_err().to_string();
        assert!(err.contains("ImportKeyMaterial failed"), "{err}");
        assert_eq!(existing_only.num_calls(), 1);
        assert_eq!(new_refused.num_calls(), 1);
    }
}
