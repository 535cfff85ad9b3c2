//! `keyrite kms prepare`: check each target key, fetch its import parameters, write a bundle.

use std::path::Path;

use aws_sdk_kms::types::{
    AlgorithmSpec, KeySpec, KeyState, KeyUsageType, OriginType, WrappingKeySpec as AwsSpec,
};
use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;

use super::{Client, KmsError};

type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::aws_cli_params::{self, CliParameters};
use crate::core::manifest::{self, KeyEntry, Manifest};
use crate::core::names::KeyRef;
use crate::core::wrapping_key::WrappingPublicKey;
use crate::io::bundle::NewBundle;
use crate::io::fs as fsio;

pub struct PrepareRequest<'a> {
    pub keys: &'a [KeyRef],
    pub spec: WrappingKeySpec,
    pub algorithm: WrappingAlgorithm,
    pub out: &'a Path,
    /// Import parameters fetched with the AWS CLI, for the one key named: used instead of
    /// calling GetParametersForImport.
    pub supplied: Option<&'a CliParameters>,
    /// Regions each (multi-Region primary) key is to have a replica in: made with ReplicateKey
    /// first where the key has none yet.
    pub replicate_to: &'a [String],
}

/// Reads import parameters saved the AWS CLI way: the JSON of `aws kms get-parameters-for-import`
/// (a file), or a directory with the public key and token files ([`aws_cli_params`]), or a
/// directory holding that JSON as its only `.json` file.
pub fn load_cli_parameters(path: &Path) -> Result<CliParameters> {
    let usage = |detail: String| KmsError::AwsCliParameters {
        path: path.to_path_buf(),
        detail,
    };
    if !path.is_dir() {
        return aws_cli_params::parse_json(&fsio::read(path)?).map_err(|e| usage(e.to_string()));
    }
    fn find(dir: &Path, names: &[(&'static str, bool)]) -> Option<(&'static str, bool)> {
        names.iter().find(|(n, _)| dir.join(n).is_file()).copied()
    }
    match (
        find(path, &aws_cli_params::PUBLIC_KEY_FILES),
        find(path, &aws_cli_params::IMPORT_TOKEN_FILES),
    ) {
        (Some((pk, pk_b64)), Some((tok, tok_b64))) => {
            let read = |name: &str, b64: bool| -> Result<Vec<u8>> {
                let bytes = fsio::read(&path.join(name))?;
                if b64 {
                    aws_cli_params::decode_base64(name, &bytes).map_err(|e| usage(e.to_string()))
                } else {
                    Ok(bytes)
                }
            };
            Ok(CliParameters {
                key_arn: None,
                public_key_der: read(pk, pk_b64)?,
                import_token: read(tok, tok_b64)?,
                valid_to: None,
            })
        }
        _ => {
            let jsons: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| usage(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            match jsons.as_slice() {
                [one] => {
                    aws_cli_params::parse_json(&fsio::read(one)?).map_err(|e| usage(e.to_string()))
                }
                [] => Err(usage(
                    "no public key and token files, and no .json file".into(),
                )),
                _ => Err(usage(
                    "more than one .json file; name the one to use".into(),
                )),
            }
        }
    }
}

pub struct Prepared {
    pub manifest: Manifest,
    /// SHA-256 of manifest.json: read it out to the ceremony room.
    pub fingerprint: String,
}

/// A key that passed the checks, with what DescribeKey said about it.
#[derive(Clone)]
pub(super) struct CheckedKey {
    pub(super) requested: KeyRef,
    pub(super) key_id: String,
    pub(super) arn: String,
    pub(super) account: String,
    pub(super) state: String,
    pub(super) current_material: Option<String>,
    /// A new key made to take over an alias ([`super::new_key`]).
    pub(super) takes_over: Option<crate::core::manifest::TakeOver>,
    /// A multi-Region primary's replicas, as (Region, ARN); empty for a single-Region key.
    pub(super) replicas: Vec<(String, String)>,
}

/// How many keys are checked, and how many import parameters fetched, at once.
pub const CONCURRENCY: usize = 8;

/// Prepares the bundle for the keys as they are (on-demand rotation). A new-key rotation
/// (`req.new_key`) is [`super::new_key::prepare`]; the caller chooses.
pub async fn prepare(client: &Client, req: &PrepareRequest<'_>) -> Result<Prepared> {
    refuse_existing(req.out)?;
    if !req.replicate_to.is_empty() {
        for key in req.keys {
            let meta = describe(client, key.as_str()).await?;
            super::multi_region::replicate(client, key.as_str(), &meta, req.replicate_to).await?;
        }
    }
    // Check every key before fetching anything, so a bad key costs nothing.
    let mut checked = Vec::new();
    let results: Vec<Result<CheckedKey>> = stream::iter(req.keys)
        .map(|key| check_key(client, key))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for r in results {
        checked.push((client, r?));
    }
    if let Some(supplied) = req.supplied {
        let (_, key) = &checked[0];
        return write_supplied(client, key, supplied, req).await;
    }
    write_bundle(&checked, req.spec, req.algorithm, req.out).await
}

/// A bundle of one key from parameters fetched with the AWS CLI.
async fn write_supplied(
    client: &Client,
    key: &CheckedKey,
    supplied: &CliParameters,
    req: &PrepareRequest<'_>,
) -> Result<Prepared> {
    let name = key.requested.as_str();
    let refused = |message: String, hint: &str| -> KmsError {
        KmsError::Refused {
            key: name.into(),
            message,
            hint: hint.into(),
        }
    };
    if !key.replicas.is_empty() {
        return Err(refused(
            format!(
                "a multi-Region primary with replicas in {}: parameters saved by the AWS CLI are one Region's, and each replica needs its own Region's",
                key.replicas
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "let keyrite fetch the parameters (leave out --aws-cli-params)",
        ));
    }
    if let Some(arn) = &supplied.key_arn
        && *arn != key.arn
    {
        return Err(refused(
            format!(
                "the AWS CLI parameters were fetched for {arn}, but {name} is {}; their import token is bound to that key",
                key.arn
            ),
            "fetch the parameters for this key, or name the key they belong to",
        ));
    }
    let valid_to = supplied.valid_to.ok_or(KmsError::NoParametersValidTo)?;
    if valid_to <= Timestamp::now() {
        return Err(refused(
            format!("the AWS CLI parameters expired at {valid_to}"),
            "fetch new parameters (they last 24 h)",
        ));
    }
    WrappingPublicKey::from_der(&supplied.public_key_der, req.spec).map_err(|m| {
        refused(
            format!(
                "the wrapping public key is unusable as {}: {m}",
                req.spec.as_str()
            ),
            "pass the --wrapping-spec the parameters were fetched with",
        )
    })?;
    let region = client
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let entry_name = key.requested.bundle_name(&key.key_id);
    let mut bundle = NewBundle::create(req.out)?;
    bundle.write(
        &entry_name,
        manifest::WRAPPING_PUBLIC_KEY,
        &supplied.public_key_der,
    )?;
    bundle.write(&entry_name, manifest::IMPORT_TOKEN, &supplied.import_token)?;
    let entry = KeyEntry {
        name: entry_name,
        requested: name.into(),
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
        parameters_valid_to: valid_to,
        generated: None,
        takes_over: None,
        replicas: Vec::new(),
    };
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        created: Timestamp::now(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        wrapping_key_spec: req.spec,
        wrapping_algorithm: req.algorithm,
        keys: vec![entry],
        files: bundle.files().clone(),
        ceremony: None,
    };
    let fingerprint = bundle.commit(&manifest)?;
    Ok(Prepared {
        manifest,
        fingerprint,
    })
}

pub(super) fn refuse_existing(out: &Path) -> Result<()> {
    if out.exists() {
        return Err(KmsError::OutputExists {
            out: out.to_path_buf(),
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
    let mut names: Vec<(String, &str)> = Vec::new();
    for (_, key) in checked {
        let name = key.requested.bundle_name(&key.key_id);
        if names.iter().any(|(n, arn)| *n == name || *arn == key.arn) {
            return Err(KmsError::NamedTwice {
                key: key.requested.as_str().to_string(),
                dir_name: name,
            });
        }
        names.push((name, &key.arn));
    }
    let mut bundle = NewBundle::create(out)?;
    // GetParametersForImport makes KMS generate an RSA key pair per call: CONCURRENCY at a time,
    // answers kept in the keys' order.
    let fetched: Vec<_> = stream::iter(checked)
        .map(|(client, key)| {
            client
                .get_parameters_for_import()
                .key_id(&key.arn)
                .wrapping_algorithm(AlgorithmSpec::from(algorithm.as_str()))
                .wrapping_key_spec(AwsSpec::from(spec.as_str()))
                .send()
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut entries = Vec::new();
    for (((client, key), (name, _)), params) in checked.iter().zip(names).zip(fetched) {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let params = params
            .map_err(|e| KmsError::from_sdk(key.requested.as_str(), "GetParametersForImport", e))?;
        let (public_key, token, valid_to) =
            import_parameters(key.requested.as_str(), &params, spec)?;
        let (public_key, token) = (public_key.as_slice(), token.as_slice());
        bundle.write(&name, manifest::WRAPPING_PUBLIC_KEY, public_key)?;
        bundle.write(&name, manifest::IMPORT_TOKEN, token)?;
        let mut wrapping_keys = vec![public_key.to_vec()];
        let mut replicas = Vec::new();
        for (replica_region, replica_arn) in &key.replicas {
            let fetched =
                fetch_replica(client, key, replica_region, replica_arn, spec, algorithm).await?;
            if wrapping_keys.contains(&fetched.public_key) {
                return Err(KmsError::Check {
                    key: key.requested.as_str().into(),
                    operation: "GetParametersForImport",
                    message: format!(
                        "{replica_region} answered with a wrapping public key already in the bundle for another Region; each Region's KMS makes its own"
                    ),
                    hint: "the KMS endpoint misbehaves; check AWS_ENDPOINT_URL and try again"
                        .into(),
                });
            }
            wrapping_keys.push(fetched.public_key.clone());
            bundle.write_in(
                &name,
                Some(replica_region),
                manifest::WRAPPING_PUBLIC_KEY,
                &fetched.public_key,
            )?;
            bundle.write_in(
                &name,
                Some(replica_region),
                manifest::IMPORT_TOKEN,
                &fetched.token,
            )?;
            replicas.push(fetched.entry);
        }
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
            parameters_valid_to: valid_to,
            generated: None,
            takes_over: key.takes_over.clone(),
            replicas,
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

/// What GetParametersForImport answered: the wrapping public key (usable as `spec`), the import
/// token, and when they expire.
fn import_parameters(
    name: &str,
    params: &aws_sdk_kms::operation::get_parameters_for_import::GetParametersForImportOutput,
    spec: WrappingKeySpec,
) -> Result<(Vec<u8>, Vec<u8>, Timestamp)> {
    let missing = |what: &str| KmsError::Check {
        key: name.into(),
        operation: "GetParametersForImport",
        message: format!("the response has no {what}"),
        hint: "the KMS endpoint misbehaves; try again or use another endpoint".into(),
    };
    let public_key = params.public_key().ok_or_else(|| missing("PublicKey"))?;
    let token = params
        .import_token()
        .ok_or_else(|| missing("ImportToken"))?;
    let valid_to = params
        .parameters_valid_to()
        .ok_or_else(|| missing("ParametersValidTo"))?;
    WrappingPublicKey::from_der(public_key.as_ref(), spec).map_err(|m| KmsError::Check {
        key: name.into(),
        operation: "GetParametersForImport",
        message: format!("the wrapping public key is unusable: {m}"),
        hint: "the KMS endpoint misbehaves; try again".into(),
    })?;
    Ok((
        public_key.as_ref().to_vec(),
        token.as_ref().to_vec(),
        Timestamp::new(valid_to.secs(), valid_to.subsec_nanos() as i32)
            .unwrap_or(Timestamp::UNIX_EPOCH),
    ))
}

/// The key's state as KMS spells it, when it can take imported material (Enabled or
/// PendingImport); otherwise refused with `hint`.
fn importable_state(
    name: &str,
    meta: &aws_sdk_kms::types::KeyMetadata,
    hint: &str,
) -> Result<String> {
    let state = meta
        .key_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    match meta.key_state() {
        Some(KeyState::Enabled) | Some(KeyState::PendingImport) => Ok(state),
        _ => Err(KmsError::WrongState {
            key: name.into(),
            state,
            hint: hint.into(),
        }),
    }
}

/// DescribeKey of `name`, its metadata required.
async fn describe(client: &Client, name: &str) -> Result<aws_sdk_kms::types::KeyMetadata> {
    let out = client
        .describe_key()
        .key_id(name)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "DescribeKey", e))?;
    out.key_metadata().cloned().ok_or_else(|| KmsError::Check {
        key: name.into(),
        operation: "DescribeKey",
        message: "the response has no KeyMetadata".into(),
        hint: "the KMS endpoint misbehaves; try again".into(),
    })
}

/// A replica's import parameters, fetched in its own Region, with its manifest entry.
struct FetchedReplica {
    public_key: Vec<u8>,
    token: Vec<u8>,
    entry: manifest::ReplicaEntry,
}

/// DescribeKey and GetParametersForImport of the replica in `region`, through a client there:
/// the replica must be the primary's key id, EXTERNAL, and PendingImport or Enabled.
async fn fetch_replica(
    client: &Client,
    key: &CheckedKey,
    region: &str,
    arn: &str,
    spec: WrappingKeySpec,
    algorithm: WrappingAlgorithm,
) -> Result<FetchedReplica> {
    let name = format!("{} (replica in {region})", key.requested.as_str());
    let there = super::multi_region::client_in(client, region);
    let meta = describe(&there, arn).await?;
    if meta.arn() != Some(arn) || meta.key_id() != key.key_id {
        return Err(KmsError::Refused {
            key: name,
            message: format!(
                "DescribeKey in {region} answers for {}, not the primary's replica {arn}",
                meta.arn().unwrap_or("no ARN")
            ),
            hint: "check the endpoint keyrite talks to (AWS_ENDPOINT_URL, --endpoint-url)".into(),
        });
    }
    let state = importable_state(
        &name,
        &meta,
        "a new replica is Creating for a moment: run prepare again; otherwise enable the replica or cancel its deletion",
    )?;
    let params = there
        .get_parameters_for_import()
        .key_id(arn)
        .wrapping_algorithm(AlgorithmSpec::from(algorithm.as_str()))
        .wrapping_key_spec(AwsSpec::from(spec.as_str()))
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&name, "GetParametersForImport", e))?;
    let (public_key, token, valid_to) = import_parameters(&name, &params, spec)?;
    Ok(FetchedReplica {
        public_key,
        token,
        entry: manifest::ReplicaEntry {
            region: region.to_string(),
            key_arn: arn.to_string(),
            key_state: state,
            current_key_material_id: meta.current_key_material_id().map(str::to_string),
            parameters_valid_to: valid_to,
        },
    })
}

pub(super) async fn check_key(client: &Client, key: &KeyRef) -> Result<CheckedKey> {
    let name = key.as_str();
    let meta = describe(client, name).await?;
    let meta = &meta;
    let origin = meta
        .origin()
        .map(|o| o.as_str().to_string())
        .unwrap_or_default();
    if meta.origin() != Some(&OriginType::External) {
        return Err(KmsError::NotExternal {
            key: name.into(),
            origin,
        });
    }
    let replicas = super::multi_region::replicas_of(name, meta)?;
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
        });
    }
    let state = importable_state(
        name,
        meta,
        "enable the key (aws kms enable-key) or cancel its deletion first",
    )?;
    // What KMS answers goes into the bundle, the HSM-signed log and terminals: it must follow
    // AWS's own grammar, or the key is refused.
    let arn = meta.arn().unwrap_or_default();
    let account = meta.aws_account_id().unwrap_or_default();
    crate::core::names::check_key_arn(arn)
        .and_then(|()| crate::core::names::check_key_id(meta.key_id()))
        .and_then(|()| crate::core::names::check_account(account))
        .map_err(|message| KmsError::Refused {
            key: name.into(),
            message: format!("DescribeKey answered with {message}"),
            hint: "check the endpoint keyrite talks to (AWS_ENDPOINT_URL, --endpoint-url): real KMS never answers this".into(),
        })?;
    Ok(CheckedKey {
        requested: key.clone(),
        key_id: meta.key_id().to_string(),
        arn: meta.arn().unwrap_or_default().to_string(),
        account: meta.aws_account_id().unwrap_or_default().to_string(),
        state,
        current_material: meta.current_key_material_id().map(str::to_string),
        takes_over: None,
        replicas,
    })
}
