//! `keyrite kms status`: every EXTERNAL key of a region with its aliases, its current key
//! material, how old that material is, when it falls due, and the ceremony that produced it where
//! import receipts say so.
//!
//! The material's age comes, best first, from KMS `ListKeyRotations` (the current material's
//! rotation date), from CloudTrail's last successful ImportKeyMaterial / RotateKeyOnDemand (when
//! asked) or an import receipt that recorded the current key material id, whichever is later, or
//! from the key's `CreationDate` (an estimate: material is never older than its key, so the
//! verdict errs towards NON_COMPLIANT). A grace period reports keys created or rotated lately as
//! COMPLIANT. LocalStack answers `ListKeyRotations` with HTTP 501; keyrite then says
//! so in the report and falls back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMaterialState, OriginType, RotationsListEntry};
use jiff::Timestamp;
use serde::Serialize;

use super::cloudtrail::{self, CloudTrailClient, TrailLookup};
use super::{Client, KmsError};

type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::key_age::{self, Age, AgeSource, Compliance, Policy};
use crate::core::log as ceremony_log;
use crate::core::manifest::Manifest;
use crate::core::receipt::{self, ReceiptChain};
use crate::io::bundle::MANIFEST;
use crate::io::fs as fsio;

/// A ceremony whose import receipt recorded a key's material.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CeremonyRef {
    pub bundle: PathBuf,
    /// The bundle the ceremony wrote, by SHA-256 of its manifest.
    pub manifest_sha256: String,
    pub ceremony_finished_at: Option<Timestamp>,
    pub imported_at: Timestamp,
    pub kind: String,
    pub import_request_id: Option<String>,
}

/// What the receipts say about one imported key material.
#[derive(Debug, Clone)]
struct Imported {
    key_arn: String,
    key_material_id: Option<String>,
    pre_rotation_ciphertext_sha256: Option<String>,
    ceremony: CeremonyRef,
}

/// Import receipts read from bundles, checked for their chain.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    imported: Vec<Imported>,
    /// Aliases moved by rotations by a new key, with when.
    alias_moves: Vec<(Timestamp, crate::core::receipt::AliasMoved)>,
}

impl Receipts {
    /// Reads the receipt of each bundle directory (or receipt file inside a bundle). Each receipt
    /// must continue its bundle's ceremony log; `keyrite audit verify` checks the rest.
    pub fn load(paths: &[PathBuf]) -> Result<Receipts> {
        let mut imported = Vec::new();
        let mut alias_moves = Vec::new();
        for p in paths {
            if !p.exists() {
                return Err(KmsError::NoReceipts { path: p.clone() });
            }
            let dir = if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let bytes = fsio::read_nofollow(&dir.join(receipt::FILE_NAME))?;
            // Only a receipt whose chain verifies from its bundle's ceremony log is used; any
            // other stops the report, naming the receipt (exit 3).
            let unverified = |problem: receipt::ReceiptError| KmsError::ReceiptUnverified {
                path: dir.join(receipt::FILE_NAME),
                problem: problem
                    .to_string()
                    .split(crate::core::exit::HINT_MARK)
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            };
            let start = ReceiptChain::after_ceremony_log(&fsio::read_nofollow(
                &dir.join(ceremony_log::FILE_NAME),
            )?)
            .map_err(unverified)?;
            let (report, _) = receipt::verify_chain(&bytes, &start).map_err(unverified)?;
            let manifest_bytes = fsio::read_nofollow(&dir.join(MANIFEST))?;
            let manifest =
                Manifest::parse(&manifest_bytes).map_err(|what| KmsError::ReceiptManifest {
                    path: dir.join(MANIFEST),
                    detail: what.to_string(),
                })?;
            let manifest_sha256 = crate::core::digest::sha256_hex(&manifest_bytes);
            alias_moves.extend(report.alias_moves);
            for k in report.keys {
                imported.push(Imported {
                    key_arn: k.key_arn,
                    key_material_id: k.key_material_id,
                    pre_rotation_ciphertext_sha256: k.pre_rotation_ciphertext_sha256,
                    ceremony: CeremonyRef {
                        bundle: dir.clone(),
                        manifest_sha256: manifest_sha256.clone(),
                        ceremony_finished_at: manifest.ceremony.as_ref().map(|c| c.finished_at),
                        imported_at: k.time,
                        kind: k.kind,
                        import_request_id: k.import_request_id,
                    },
                });
            }
        }
        Ok(Receipts {
            imported,
            alias_moves,
        })
    }

    /// The SHA-256 of the ciphertext saved before the rotation, as the latest import record of
    /// this key names it.
    pub fn pre_rotation_sha256(&self, key_arn: &str) -> Option<&str> {
        self.imported
            .iter()
            .filter(|i| i.key_arn == key_arn)
            .max_by_key(|i| i.ceremony.imported_at)
            .and_then(|i| i.pre_rotation_ciphertext_sha256.as_deref())
    }

    /// What the latest import record of this key calls the import ("first import", "rotation",
    /// "re-import of escrowed material"), if any record names the key.
    pub fn latest_kind(&self, key_arn: &str) -> Option<&str> {
        self.imported
            .iter()
            .filter(|i| i.key_arn == key_arn)
            .max_by_key(|i| i.ceremony.imported_at)
            .map(|i| i.ceremony.kind.as_str())
    }

    /// The aliases whose latest recorded move took them away from `key_arn`: (alias, the key
    /// it moved to, when).
    pub fn superseded(&self, key_arn: &str) -> Vec<Superseded> {
        let mut latest: BTreeMap<&str, &(Timestamp, crate::core::receipt::AliasMoved)> =
            BTreeMap::new();
        for m in &self.alias_moves {
            let e = latest.entry(m.1.alias.as_str()).or_insert(m);
            if m.0 >= e.0 {
                *e = m;
            }
        }
        latest
            .into_values()
            .filter(|(_, m)| m.from_key_arn == key_arn)
            .map(|(at, m)| Superseded {
                alias: m.alias.clone(),
                by_key_arn: m.to_key_arn.clone(),
                moved_at: *at,
            })
            .collect()
    }

    /// The key material id the latest receipt record of this key names, and when it was
    /// imported, if any record does.
    pub fn latest_material(&self, key_arn: &str) -> Option<(&str, Timestamp)> {
        self.imported
            .iter()
            .filter(|i| i.key_arn == key_arn)
            .max_by_key(|i| i.ceremony.imported_at)
            .and_then(|i| Some((i.key_material_id.as_deref()?, i.ceremony.imported_at)))
    }

    /// The latest receipt record of this key's current material.
    fn find(&self, key_arn: &str, material: Option<&str>) -> Option<&CeremonyRef> {
        self.imported
            .iter()
            .filter(|i| {
                i.key_arn == key_arn
                    && material.is_some()
                    && i.key_material_id.as_deref() == material
            })
            .map(|i| &i.ceremony)
            .max_by_key(|c| c.imported_at)
    }
}

/// A key an alias was moved away from by a rotation by a new key: kept to decrypt older data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Superseded {
    pub alias: String,
    pub by_key_arn: String,
    pub moved_at: Timestamp,
}

/// How the material's age was found for a key: whether KMS could list its rotations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationsLookup {
    Listed,
    /// ListKeyRotations is not available at this endpoint (LocalStack: HTTP 501).
    Unavailable {
        reason: String,
    },
}

/// One EXTERNAL key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyStatus {
    pub key_id: String,
    pub key_arn: String,
    pub aliases: Vec<String>,
    pub state: String,
    pub key_material_id: Option<String>,
    pub compliance: Compliance,
    /// None when the key has no material.
    pub material: Option<Age>,
    pub ceremony: Option<CeremonyRef>,
    pub rotations: RotationsLookup,
    /// What CloudTrail said, when it was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudtrail: Option<TrailLookup>,
    /// The aliases this key was the previous key of, per the import receipts given: a rotation
    /// by a new key moved them to another key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<Superseded>,
    /// The resources the key protects, when asked (`--resources`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<crate::core::inventory::ResourceUse>>,
    /// A multi-Region primary's replicas, each read in its own Region and held to the primary's
    /// current material.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaStatus>,
}

impl KeyStatus {
    /// Why each replica left behind is behind ("eu-west-1: …"); empty when none is.
    pub fn replicas_behind(&self) -> Vec<String> {
        self.replicas
            .iter()
            .filter_map(|r| r.behind.clone())
            .collect()
    }
}

/// One replica of a multi-Region primary, as DescribeKey in the replica's Region answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaStatus {
    pub region: String,
    pub key_arn: String,
    /// The key state, or "unreadable" when DescribeKey failed there.
    pub state: String,
    pub key_material_id: Option<String>,
    /// Why the replica does not hold the primary's current material (None: it does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<String>,
}

/// A key `kms status` could not read: its age is unknown, and the report says so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnreadableKey {
    pub key_id: String,
    /// The call AWS refused (DescribeKey, ListKeyRotations).
    pub operation: String,
    /// AWS's error code (AccessDeniedException, …).
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub region: String,
    pub checked_at: Timestamp,
    pub policy: Policy,
    /// Keys created or rotated within this many days are not reported late.
    pub grace_days: u32,
    pub keys: Vec<KeyStatus>,
    /// Keys listed but not readable (a key policy that denies DescribeKey or ListKeyRotations):
    /// not measured, so the report is partial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableKey>,
    /// With resources asked for: the reads of a resource service that failed. What they would
    /// have listed is unknown for every key of that region, so the report is partial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources_unreadable: Vec<crate::core::inventory::Unreadable>,
}

/// How a status report is made beyond the policy.
#[derive(Default)]
pub struct StatusOptions<'c> {
    pub policy: Policy,
    pub grace_days: u32,
    /// Ask CloudTrail for each key's last material change.
    pub trail: Option<&'c CloudTrailClient>,
}

impl StatusReport {
    /// The worst verdict among keys with material.
    pub fn worst(&self) -> Compliance {
        self.keys
            .iter()
            .map(|k| k.compliance)
            .filter(|c| *c != Compliance::NoMaterial)
            .max()
            .unwrap_or(Compliance::Compliant)
    }
}

fn sdk<E, R>(
    key: &str,
    op: &'static str,
) -> impl FnOnce(aws_sdk_kms::error::SdkError<E, R>) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| KmsError::from_sdk(key, op, e)
}

/// Lists every EXTERNAL key the client's region holds and measures it against `policy`.
pub async fn status(
    client: &Client,
    policy: Policy,
    receipts: &Receipts,
    now: Timestamp,
) -> Result<StatusReport> {
    let options = StatusOptions {
        policy,
        ..StatusOptions::default()
    };
    status_with(client, &options, receipts, now).await
}

/// [`status`] with a grace period and CloudTrail.
pub async fn status_with(
    client: &Client,
    options: &StatusOptions<'_>,
    receipts: &Receipts,
    now: Timestamp,
) -> Result<StatusReport> {
    let policy = options.policy;
    let region = client
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let keys = client
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("all keys", "ListKeys"))?;
    let aliases = client
        .list_aliases()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("all keys", "ListAliases"))?;
    let mut alias_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in aliases {
        if let (Some(target), Some(name)) = (a.target_key_id(), a.alias_name()) {
            alias_of
                .entry(target.to_string())
                .or_default()
                .push(name.to_string());
        }
    }
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    for k in keys {
        let Some(key_id) = k.key_id() else { continue };
        let described = client.describe_key().key_id(key_id).send().await;
        let meta = match described {
            Ok(d) => match d.key_metadata {
                Some(m) => m,
                None => continue,
            },
            // Deleted between ListKeys and DescribeKey.
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NotFoundException") => {
                continue;
            }
            // One key's policy denying DescribeKey must not hide the others: name it, go on.
            Err(e) if e.as_service_error().is_some() => {
                unreadable.push(UnreadableKey {
                    key_id: key_id.to_string(),
                    operation: "DescribeKey".into(),
                    code: e.code().unwrap_or("unknown error").to_string(),
                    message: e.message().unwrap_or_default().to_string(),
                });
                continue;
            }
            Err(e) => return Err(sdk(key_id, "DescribeKey")(e)),
        };
        if meta.origin() != Some(&OriginType::External) {
            continue;
        }
        let key_arn = meta.arn().unwrap_or_default().to_string();
        let state = meta
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let material_id = meta.current_key_material_id().map(str::to_string);
        // One key's policy denying ListKeyRotations must not hide the others either.
        let (rotations, entries) = match list_rotations(client, key_id).await? {
            Ok(listed) => listed,
            Err(refused) => {
                unreadable.push(refused);
                continue;
            }
        };
        let ceremony = receipts.find(&key_arn, material_id.as_deref()).cloned();
        let trail = match options.trail {
            Some(t) => Some(cloudtrail::last_material_change(t, &key_arn).await),
            None => None,
        };
        let from_trail = match &trail {
            Some(TrailLookup::Found { last_change, .. }) => *last_change,
            _ => None,
        };
        let created = meta
            .creation_date()
            .and_then(|d| Timestamp::from_second(d.secs()).ok());
        let has_material = material_id.is_some() || state != "PendingImport";
        let material = if has_material {
            let from_kms = entries
                .iter()
                .find(|r| {
                    r.key_material_state() == Some(&KeyMaterialState::Current)
                        || (material_id.is_some() && r.key_material_id() == material_id.as_deref())
                })
                .and_then(RotationsListEntry::rotation_date)
                .and_then(|d| Timestamp::from_second(d.secs()).ok());
            // CloudTrail delivers events minutes after the call and keeps 90 days of them: a
            // receipt of the current material newer than CloudTrail's last event wins.
            let (since, source) = match (from_kms, from_trail, &ceremony) {
                (Some(t), _, _) => (t, AgeSource::KmsRotations),
                (None, Some(t), Some(c)) if c.imported_at > t => {
                    (c.imported_at, AgeSource::Receipt)
                }
                (None, Some(t), _) => (t, AgeSource::Cloudtrail),
                (None, None, Some(c)) => (c.imported_at, AgeSource::Receipt),
                (None, None, None) => (created.unwrap_or(now), AgeSource::KeyCreationEstimate),
            };
            let changes: Vec<Timestamp> = [
                from_kms,
                from_trail,
                ceremony.as_ref().map(|c| c.imported_at),
                created,
            ]
            .into_iter()
            .flatten()
            .collect();
            Some(key_age::apply_grace(
                key_age::assess(policy, since, source, now),
                options.grace_days,
                &changes,
                now,
            ))
        } else {
            None
        };
        let mut names = alias_of.remove(key_id).unwrap_or_default();
        names.sort();
        let superseded = receipts
            .superseded(&key_arn)
            .into_iter()
            .filter(|s| !names.contains(&s.alias))
            .collect();
        let replicas = replicas(client, &meta, material_id.as_deref()).await;
        out.push(KeyStatus {
            key_id: key_id.to_string(),
            key_arn,
            aliases: names,
            state,
            key_material_id: material_id,
            compliance: material
                .as_ref()
                .map_or(Compliance::NoMaterial, |m| m.compliance),
            material,
            ceremony,
            rotations,
            cloudtrail: trail,
            superseded,
            resources: None,
            replicas,
        });
    }
    out.sort_by(|a, b| {
        a.aliases
            .first()
            .cmp(&b.aliases.first())
            .then(a.key_id.cmp(&b.key_id))
    });
    Ok(StatusReport {
        region,
        checked_at: now,
        policy,
        grace_days: options.grace_days,
        keys: out,
        unreadable,
        resources_unreadable: Vec::new(),
    })
}

/// A multi-Region primary's replicas, each described in its own Region (the same endpoint and
/// credentials, the replica's Region) and held to the primary's current material; empty for any
/// other key. A replica that cannot be described is reported behind, with AWS's error.
async fn replicas(
    client: &Client,
    meta: &aws_sdk_kms::types::KeyMetadata,
    primary_material: Option<&str>,
) -> Vec<ReplicaStatus> {
    use crate::core::replicas::{ReplicaFacts, behind};
    let Some(config) = meta.multi_region_configuration() else {
        return Vec::new();
    };
    if config.multi_region_key_type() != Some(&aws_sdk_kms::types::MultiRegionKeyType::Primary) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for replica in config.replica_keys() {
        let (Some(region), Some(arn)) = (replica.region(), replica.arn()) else {
            continue;
        };
        if crate::core::names::check_region(region).is_err()
            || crate::core::names::check_key_arn(arn).is_err()
        {
            continue;
        }
        let there = Client::from_conf(
            client
                .config()
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build(),
        );
        let status = match there.describe_key().key_id(arn).send().await {
            Ok(d) => {
                let m = d.key_metadata;
                let state = m
                    .as_ref()
                    .and_then(|m| m.key_state())
                    .map_or("Unknown", |s| s.as_str())
                    .to_string();
                let material = m
                    .as_ref()
                    .and_then(|m| m.current_key_material_id())
                    .map(str::to_string);
                let facts = ReplicaFacts {
                    region,
                    state: &state,
                    key_material_id: material.as_deref(),
                };
                ReplicaStatus {
                    region: region.to_string(),
                    key_arn: arn.to_string(),
                    behind: behind(primary_material, &facts),
                    state,
                    key_material_id: material,
                }
            }
            Err(e) => ReplicaStatus {
                region: region.to_string(),
                key_arn: arn.to_string(),
                state: "unreadable".into(),
                key_material_id: None,
                behind: Some(crate::core::terminal::one_line(&format!(
                    "{region}: DescribeKey failed there ({}): whether it holds the primary's material is unknown",
                    e.code().unwrap_or("no answer")
                ))
                .into_owned()),
            },
        };
        out.push(status);
    }
    out
}

/// The key's materials from ListKeyRotations, or why there are none to be had; AWS refusing the
/// call for this key (its policy denies it) makes the key unreadable, not the report.
async fn list_rotations(
    client: &Client,
    key_id: &str,
) -> Result<Result<(RotationsLookup, Vec<RotationsListEntry>), UnreadableKey>> {
    let listed = client
        .list_key_rotations()
        .key_id(key_id)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    match listed {
        Ok(entries) => Ok(Ok((RotationsLookup::Listed, entries))),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = e.code().map(str::to_string);
            let unsupported = status == Some(501)
                || matches!(
                    code.as_deref(),
                    Some(
                        "NotImplemented"
                            | "NotImplementedException"
                            | "UnsupportedOperationException"
                    )
                );
            if unsupported {
                Ok(Ok((
                    RotationsLookup::Unavailable {
                        reason: format!(
                            "ListKeyRotations is not implemented at this endpoint (HTTP {}{})",
                            status.map_or("?".into(), |s| s.to_string()),
                            code.map(|c| format!(", {c}")).unwrap_or_default()
                        ),
                    },
                    Vec::new(),
                )))
            } else if e.as_service_error().is_some() {
                Ok(Err(UnreadableKey {
                    key_id: key_id.to_string(),
                    operation: "ListKeyRotations".into(),
                    code: code.unwrap_or_else(|| "unknown error".into()),
                    message: e.message().unwrap_or_default().to_string(),
                }))
            } else {
                Err(sdk(key_id, "ListKeyRotations")(e))
            }
        }
    }
}
