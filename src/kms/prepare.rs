//! `keyrite kms prepare`: check each target key, fetch its import parameters, write a bundle.

use std::path::Path;

use aws_sdk_kms::types::{
    AlgorithmSpec, KeySpec, KeyState, KeyUsageType, OriginType, WrappingKeySpec as AwsSpec,
};
use jiff::Timestamp;

use super::{Client, KmsError};
use crate::bundle::NewBundle;
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::manifest::{self, KeyEntry, Manifest};
use crate::core::names::KeyRef;
use crate::core::wrapping_key::WrappingPublicKey;
use crate::error::{Error, Result};

pub struct PrepareRequest<'a> {
    pub keys: &'a [KeyRef],
    pub spec: WrappingKeySpec,
    pub algorithm: WrappingAlgorithm,
    pub out: &'a Path,
}

pub struct Prepared {
    pub manifest: Manifest,
    /// SHA-256 of manifest.json: read it out to the ceremony room.
    pub fingerprint: String,
}

/// A key that passed the checks, with what DescribeKey said about it.
pub(super) struct CheckedKey {
    pub(super) requested: KeyRef,
    pub(super) key_id: String,
    pub(super) arn: String,
    pub(super) account: String,
    pub(super) state: String,
    pub(super) current_material: Option<String>,
}

pub async fn prepare(client: &Client, req: &PrepareRequest<'_>) -> Result<Prepared> {
    refuse_existing(req.out)?;
    // Check every key before fetching anything, so a bad key costs nothing.
    let mut checked = Vec::new();
    for key in req.keys {
        checked.push((client, check_key(client, key).await?));
    }
    write_bundle(&checked, req.spec, req.algorithm, req.out).await
}

pub(super) fn refuse_existing(out: &Path) -> Result<()> {
    if out.exists() {
        return Err(Error::Refused {
            what: format!("{} exists already", out.display()),
            hint: "give --out a new directory; keyrite never writes into an existing bundle".into(),
        });
    }
    Ok(())
}

/// Fetches the import parameters of keys that passed their checks, each through the client of
/// its region, into a new bundle.
pub(super) async fn write_bundle(
    checked: &[(&Client, CheckedKey)],
    spec: WrappingKeySpec,
    algorithm: WrappingAlgorithm,
    out: &Path,
) -> Result<Prepared> {
    let mut bundle = NewBundle::create(out)?;
    let mut entries = Vec::new();
    for (client, key) in checked {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let name = key.requested.bundle_name(&key.key_id);
        if entries
            .iter()
            .any(|e: &KeyEntry| e.name == name || e.key_arn == key.arn)
        {
            return Err(Error::Usage {
                what: format!(
                    "{} is named twice (bundle directory {name:?})",
                    key.requested.as_str()
                ),
                hint: "name each key once".into(),
            });
        }
        let params = client
            .get_parameters_for_import()
            .key_id(&key.arn)
            .wrapping_algorithm(AlgorithmSpec::from(algorithm.as_str()))
            .wrapping_key_spec(AwsSpec::from(spec.as_str()))
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(key.requested.as_str(), "GetParametersForImport", e))?;
        let missing = |what: &str| KmsError::Check {
            key: key.requested.as_str().into(),
            operation: "GetParametersForImport",
            message: format!("the response has no {what}"),
            hint: "the KMS endpoint misbehaves; try again or use another endpoint".into(),
        };
        let public_key = params
            .public_key()
            .ok_or_else(|| missing("PublicKey"))?
            .as_ref();
        let token = params
            .import_token()
            .ok_or_else(|| missing("ImportToken"))?
            .as_ref();
        let valid_to = params
            .parameters_valid_to()
            .ok_or_else(|| missing("ParametersValidTo"))?;
        WrappingPublicKey::from_der(public_key, spec).map_err(|m| KmsError::Check {
            key: key.requested.as_str().into(),
            operation: "GetParametersForImport",
            message: format!("the wrapping public key is unusable: {m}"),
            hint: "the KMS endpoint misbehaves; try again".into(),
        })?;
        bundle.write(&name, manifest::WRAPPING_PUBLIC_KEY, public_key)?;
        bundle.write(&name, manifest::IMPORT_TOKEN, token)?;
        entries.push(KeyEntry {
            name,
            requested: key.requested.as_str().into(),
            alias: match &key.requested {
                KeyRef::Alias(a) => Some(a.clone()),
                _ => None,
            },
            key_id: key.key_id.clone(),
            key_arn: key.arn.clone(),
            account: key.account.clone(),
            region,
            key_state: key.state.clone(),
            current_key_material_id: key.current_material.clone(),
            parameters_valid_to: Timestamp::new(valid_to.secs(), valid_to.subsec_nanos() as i32)
                .unwrap_or(Timestamp::UNIX_EPOCH),
            generated: None,
        });
    }
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        created: Timestamp::now(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        wrapping_key_spec: spec,
        wrapping_algorithm: algorithm,
        keys: entries,
        files: bundle.files().clone(),
        ceremony: None,
    };
    let fingerprint = bundle.commit(&manifest)?;
    Ok(Prepared {
        manifest,
        fingerprint,
    })
}

pub(super) async fn check_key(client: &Client, key: &KeyRef) -> Result<CheckedKey> {
    let name = key.as_str();
    let out = client
        .describe_key()
        .key_id(name)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "DescribeKey", e))?;
    let meta = out.key_metadata().ok_or_else(|| KmsError::Check {
        key: name.into(),
        operation: "DescribeKey",
        message: "the response has no KeyMetadata".into(),
        hint: "the KMS endpoint misbehaves; try again".into(),
    })?;
    let origin = meta
        .origin()
        .map(|o| o.as_str().to_string())
        .unwrap_or_default();
    if meta.origin() != Some(&OriginType::External) {
        return Err(KmsError::NotExternal {
            key: name.into(),
            origin,
        }
        .into());
    }
    if meta.key_spec() != Some(&KeySpec::SymmetricDefault)
        || meta.key_usage() != Some(&KeyUsageType::EncryptDecrypt)
    {
        return Err(KmsError::Refused {
            key: name.into(),
            message: format!(
                "key spec {} / usage {}; keyrite imports AES-256 material into SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys",
                meta.key_spec().map(|s| s.as_str()).unwrap_or("?"),
                meta.key_usage().map(|s| s.as_str()).unwrap_or("?")
            ),
            hint: "name a symmetric encryption key".into(),
        }
        .into());
    }
    let state = meta
        .key_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    match meta.key_state() {
        Some(KeyState::Enabled) | Some(KeyState::PendingImport) => {}
        _ => {
            return Err(KmsError::WrongState {
                key: name.into(),
                state,
                hint: "enable the key (aws kms enable-key) or cancel its deletion first".into(),
            }
            .into());
        }
    }
    Ok(CheckedKey {
        requested: key.clone(),
        key_id: meta.key_id().to_string(),
        arn: meta.arn().unwrap_or_default().to_string(),
        account: meta.aws_account_id().unwrap_or_default().to_string(),
        state,
        current_material: meta.current_key_material_id().map(str::to_string),
    })
}
