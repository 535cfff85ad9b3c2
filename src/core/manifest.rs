//! The transfer bundle's `manifest.json`: what the bundle is for, and the SHA-256 of every file.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use super::names;

pub const FORMAT: &str = "keyrite-bundle/1";
pub const WRAPPING_PUBLIC_KEY: &str = "WrappingPublicKey.bin";
pub const IMPORT_TOKEN: &str = "ImportToken.bin";
pub const ENCRYPTED_KEY_MATERIAL: &str = "EncryptedKeyMaterial.bin";
/// Written by `kms import` into a key's directory, not listed in the manifest (the import
/// receipt records its SHA-256): a ciphertext KMS made under the key's material before the
/// rotation, which `kms verify-rotation` decrypts afterwards.
pub const PRE_ROTATION_CIPHERTEXT: &str = "pre-rotation.ciphertext";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub created: Timestamp,
    pub tool_version: String,
    pub wrapping_key_spec: WrappingKeySpec,
    pub wrapping_algorithm: WrappingAlgorithm,
    pub keys: Vec<KeyEntry>,
    /// Relative path inside the bundle -> lower-case hex SHA-256.
    pub files: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<CeremonyRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Directory name inside the bundle.
    pub name: String,
    /// What the operator asked for (alias, ARN or key id).
    pub requested: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub key_id: String,
    pub key_arn: String,
    pub account: String,
    pub region: String,
    /// Key state when the parameters were fetched.
    pub key_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
    pub parameters_valid_to: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedKey>,
    /// Rotation by a new key (`kms prepare --new-key`): this entry is a new EXTERNAL key made
    /// for the rotation, which takes over `alias` from the key it replaces once its material is
    /// imported. None: the entry's own key is rotated on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takes_over: Option<TakeOver>,
    /// A multi-Region primary's replicas: the same material is wrapped once more for each, with
    /// the wrapping key and import token of the replica's own Region, in `<name>/<region>/`.
    /// Empty for a single-Region key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaEntry>,
}

/// A replica of a multi-Region primary key, with the import parameters of its own Region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaEntry {
    pub region: String,
    pub key_arn: String,
    /// Key state when the parameters were fetched (a new replica: PendingImport).
    pub key_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
    pub parameters_valid_to: Timestamp,
}

impl KeyEntry {
    /// The Regions the material is wrapped for: None (the key's own Region), then each replica's.
    pub fn wrap_regions(&self) -> impl Iterator<Item = Option<&str>> {
        std::iter::once(None).chain(self.replicas.iter().map(|r| Some(r.region.as_str())))
    }

    /// The replica in `region`.
    pub fn replica(&self, region: &str) -> Option<&ReplicaEntry> {
        self.replicas.iter().find(|r| r.region == region)
    }
}

/// The alias a new key takes over, and the key it takes it from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeOver {
    pub alias: String,
    /// The key the alias named when the bundle was prepared; it stays enabled to decrypt what
    /// was encrypted under it.
    pub previous_key_arn: String,
}

/// What the ceremony recorded for one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedKey {
    /// The HSM object label of the AES-256 key (the escrow copy).
    pub hsm_label: String,
    /// Hex of the HSM object id.
    pub hsm_id: String,
    /// First 3 bytes of AES-ECB(key, zero block), hex.
    pub check_value: String,
    pub generated_at: Timestamp,
    /// Set by a re-wrap ceremony: the material is the escrowed key of an earlier ceremony, and
    /// this is the KeyMaterialId KMS gave it then. `kms import` re-imports it as
    /// EXISTING_KEY_MATERIAL with this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reimport_of_key_material_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyRecord {
    pub script_sha256: String,
    /// SHA-256 of manifest.json as the connected side wrote it, confirmed by the operators.
    pub prepared_manifest_sha256: String,
    pub token_label: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    pub finished_at: Timestamp,
}

/// Why a manifest is unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Json(String),
    #[error("format is {0:?}, this keyrite reads {FORMAT:?}")]
    Format(String),
    #[error("key directory {0:?} appears twice")]
    KeyTwice(String),
    #[error("key directory name {0:?} is not a plain name")]
    KeyName(String),
    #[error("file entry {0:?} is not <key>/<file> or <key>/<replica Region>/<file>")]
    FileEntry(String),
    #[error("the manifest names no keys")]
    NoKeys,
    #[error("key {key:?}: {problem}")]
    Name {
        key: String,
        problem: names::NameError,
    },
    #[error("{0}")]
    Controls(String),
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        // Manifest strings reach terminals, the HSM-signed log and KMS requests: none may hold
        // a control character or a bidi override, and key names, ARNs, aliases, regions and
        // accounts must follow AWS's grammar.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            check_no_controls(&v, "manifest")?;
        }
        for k in &m.keys {
            let at = |e: names::NameError| ManifestError::Name {
                key: k.name.clone(),
                problem: e,
            };
            names::check_bundle_name(&k.name).map_err(at)?;
            names::check_key_arn(&k.key_arn).map_err(at)?;
            names::check_key_id(&k.key_id).map_err(at)?;
            names::check_region(&k.region).map_err(at)?;
            names::check_account(&k.account).map_err(at)?;
            if let Some(alias) = &k.alias {
                names::check_alias(alias).map_err(at)?;
            }
            if let Some(t) = &k.takes_over {
                names::check_alias(&t.alias).map_err(at)?;
                names::check_key_arn(&t.previous_key_arn).map_err(at)?;
                if t.previous_key_arn == k.key_arn {
                    return Err(ManifestError::Name {
                        key: k.name.clone(),
                        problem: names::NameError(
                            "takes_over names the entry's own key as the previous one".into(),
                        ),
                    });
                }
            }
            check_replicas(k).map_err(at)?;
            names::KeyRef::parse(&k.requested).map_err(|e| ManifestError::Name {
                key: k.name.clone(),
                problem: names::NameError(e.to_string()),
            })?;
        }
        if m.format != FORMAT {
            return Err(ManifestError::Format(m.format));
        }
        let mut names = std::collections::BTreeSet::new();
        for k in &m.keys {
            if !names.insert(k.name.as_str()) {
                return Err(ManifestError::KeyTwice(k.name.clone()));
            }
            if k.name.is_empty() || k.name.contains(['/', '\\']) || k.name.starts_with('.') {
                return Err(ManifestError::KeyName(k.name.clone()));
            }
        }
        for path in m.files.keys() {
            let parts: Vec<&str> = path.split('/').collect();
            let plain = parts
                .iter()
                .all(|p| !p.is_empty() && p != &"." && p != &"..");
            // `<key>/<file>`, or `<key>/<region>/<file>` for a replica's Region of that key.
            let ok = plain
                && match parts.as_slice() {
                    [_, _] => true,
                    [key, region, _] => m
                        .keys
                        .iter()
                        .any(|k| k.name == *key && k.replica(region).is_some()),
                    _ => false,
                };
            if !ok {
                return Err(ManifestError::FileEntry(path.clone()));
            }
        }
        if m.keys.is_empty() {
            return Err(ManifestError::NoKeys);
        }
        Ok(m)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub fn file_path(key: &KeyEntry, file: &str) -> String {
        format!("{}/{}", key.name, file)
    }

    /// The bundle-relative directory of the key's own Region (None: `<key>`) or a replica's
    /// (`<key>/<region>`), which is also what a replica is called in messages and progress.
    pub fn region_dir(key: &KeyEntry, region: Option<&str>) -> String {
        match region {
            None => key.name.clone(),
            Some(r) => format!("{}/{r}", key.name),
        }
    }

    /// The bundle-relative path of `file` for the key's own Region (None) or a replica's.
    pub fn region_file_path(key: &KeyEntry, region: Option<&str>, file: &str) -> String {
        format!("{}/{file}", Manifest::region_dir(key, region))
    }
}

/// A multi-Region key's replicas: each in a valid Region of the key's partition, none in the
/// primary's Region, no Region twice, each replica the primary's key id in its own Region.
fn check_replicas(k: &KeyEntry) -> Result<(), names::NameError> {
    let mut seen = std::collections::BTreeSet::new();
    for r in &k.replicas {
        names::check_region(&r.region)?;
        names::check_key_arn(&r.key_arn)?;
        if r.region == k.region {
            return Err(names::NameError(format!(
                "a replica in {}, the primary's own Region",
                r.region
            )));
        }
        if !seen.insert(r.region.as_str()) {
            return Err(names::NameError(format!(
                "two replicas in {}; a multi-Region key has at most one per Region",
                r.region
            )));
        }
        let expected =
            k.key_arn
                .replacen(&format!(":{}:", k.region), &format!(":{}:", r.region), 1);
        if r.key_arn != expected {
            return Err(names::NameError(format!(
                "the replica in {} is {}, but the primary's replica there would be {expected}",
                r.region, r.key_arn
            )));
        }
    }
    Ok(())
}

/// Refuses any string in `v` (keys included) that holds a terminal control character.
fn check_no_controls(v: &serde_json::Value, at: &str) -> Result<(), ManifestError> {
    let bad = |s: &str| s.chars().any(super::terminal::is_terminal_control);
    match v {
        serde_json::Value::String(s) if bad(s) => Err(ManifestError::Controls(format!(
            "{at}: {s:?} holds a control character or a bidi override"
        ))),
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| check_no_controls(i, at)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, i)| {
            if bad(k) {
                return Err(ManifestError::Controls(format!(
                    "{at}: the field name {k:?} holds a control character or a bidi override"
                )));
            }
            check_no_controls(i, &format!("{at}.{k}"))
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        let key = KeyEntry {
            name: "dev-s3".into(),
            requested: "alias/dev-s3".into(),
            alias: Some("alias/dev-s3".into()),
            key_id: "k1".into(),
            key_arn: "arn:aws:kms:eu-west-1:111122223333:key/k1".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            key_state: "PendingImport".into(),
            current_key_material_id: None,
            parameters_valid_to: "2026-11-25T10:00:00Z".parse().unwrap(),
            generated: None,
            takes_over: None,
            replicas: Vec::new(),
        };
        let mut files = BTreeMap::new();
        files.insert("dev-s3/ImportToken.bin".into(), "00".repeat(32));
        Manifest {
            format: FORMAT.into(),
            created: "2026-11-24T10:00:00Z".parse().unwrap(),
            tool_version: "0.1.0".into(),
            wrapping_key_spec: WrappingKeySpec::Rsa4096,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha1,
            keys: vec![key],
            files,
            ceremony: None,
        }
    }

    #[test]
    fn round_trips_and_uses_aws_names() {
        let m = sample();
        let json = m.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains("\"RSAES_OAEP_SHA_1\"") && text.contains("\"RSA_4096\""));
        assert_eq!(Manifest::parse(&json).unwrap(), m);
    }

    #[test]
    fn a_new_key_entry_round_trips_and_an_old_manifest_reads_unchanged() {
        let old = sample().to_json();
        assert!(!String::from_utf8_lossy(&old).contains("takes_over"));
        let mut m = sample();
        m.keys[0].takes_over = Some(TakeOver {
            alias: "alias/dev-s3".into(),
            previous_key_arn: "arn:aws:kms:eu-west-1:111122223333:key/k0".into(),
        });
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
        m.keys[0].takes_over.as_mut().unwrap().previous_key_arn = m.keys[0].key_arn.clone();
        assert!(Manifest::parse(&m.to_json()).is_err());
    }

    #[test]
    fn refuses_unknown_fields_paths_out_of_the_bundle_and_duplicates() {
        let good = String::from_utf8(sample().to_json()).unwrap();
        let bad = [
            good.replacen("\"format\"", "\"surprise\": 1, \"format\"", 1),
            good.replace("dev-s3/ImportToken.bin", "../ImportToken.bin"),
            good.replace("dev-s3/ImportToken.bin", "dev-s3/../../etc/passwd"),
            good.replace("\"name\": \"dev-s3\"", "\"name\": \"..\""),
            good.replace(FORMAT, "keyrite-bundle/0"),
        ];
        for b in bad {
            assert!(Manifest::parse(b.as_bytes()).is_err(), "accepted:\n{b}");
        }
        let mut twice = sample();
        twice.keys.push(twice.keys[0].clone());
        assert!(
            Manifest::parse(&twice.to_json())
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    fn with_replica(region: &str, arn: &str) -> Manifest {
        let mut m = sample();
        m.keys[0].replicas.push(ReplicaEntry {
            region: region.into(),
            key_arn: arn.into(),
            key_state: "PendingImport".into(),
            current_key_material_id: None,
            parameters_valid_to: "2026-11-25T10:00:00Z".parse().unwrap(),
        });
        m
    }

    #[test]
    fn a_multi_region_entry_round_trips_with_its_replicas_files_and_refuses_what_cannot_be() {
        let replica = "arn:aws:kms:us-west-2:111122223333:key/k1";
        let mut m = with_replica("us-west-2", replica);
        m.files
            .insert("dev-s3/us-west-2/ImportToken.bin".into(), "11".repeat(32));
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
        assert_eq!(
            Manifest::region_file_path(&m.keys[0], Some("us-west-2"), IMPORT_TOKEN),
            "dev-s3/us-west-2/ImportToken.bin"
        );
        let regions: Vec<_> = m.keys[0].wrap_regions().collect();
        assert_eq!(regions, [None, Some("us-west-2")]);
        // A single-Region manifest carries no `replicas` field at all.
        assert!(
            !String::from_utf8(sample().to_json())
                .unwrap()
                .contains("replicas")
        );

        let refused = |m: Manifest, says: &str| {
            let err = Manifest::parse(&m.to_json()).unwrap_err().to_string();
            assert!(err.contains(says), "{says:?} not in {err}");
        };
        refused(
            with_replica("eu-west-1", "arn:aws:kms:eu-west-1:111122223333:key/k1"),
            "the primary's own Region",
        );
        refused(
            with_replica("us-west-2", "arn:aws:kms:us-west-2:111122223333:key/other"),
            "the primary's replica there would be arn:aws:kms:us-west-2:111122223333:key/k1",
        );
        let mut twice = with_replica("us-west-2", replica);
        let again = twice.keys[0].replicas[0].clone();
        twice.keys[0].replicas.push(again);
        refused(twice, "two replicas in us-west-2");
        // A Region directory only for a Region the key has a replica in.
        let mut stray = with_replica("us-west-2", replica);
        stray
            .files
            .insert("dev-s3/ap-south-1/ImportToken.bin".into(), "11".repeat(32));
        refused(stray, "dev-s3/ap-south-1/ImportToken.bin");
    }
}
