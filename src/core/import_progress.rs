//! How far an import got, key by key, so that an import that stopped half way (killed, network
//! gone, throttled past its retries) can be run again and does only what is left, never sending a
//! key's material twice. Kept next to the bundle as `import-progress.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const FILE: &str = "import-progress.json";
pub const FORMAT: &str = "keyrite-import-progress/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportProgress {
    pub format: String,
    /// The bundle this progress belongs to (SHA-256 of its manifest.json).
    pub bundle_fingerprint: String,
    /// Bundle key name -> how far its import got.
    pub keys: BTreeMap<String, KeyProgress>,
}

/// One key's stage. Each is recorded before the next request goes out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyProgress {
    /// ImportKeyMaterial is about to be sent: it may or may not have reached KMS.
    Sending { first: bool },
    /// KMS accepted the material; a rotation still has to be made current.
    Imported {
        first: bool,
        key_material_id: Option<String>,
    },
    /// Nothing left to do for this key.
    Done { key_material_id: Option<String> },
    /// `kms rollback` deleted this pending material before it was rotated to: the bundle's
    /// material for this key is spent.
    RolledBack { key_material_id: String },
}

/// Why a progress file cannot be resumed from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgressError {
    #[error("{0}")]
    Unreadable(String),
    #[error("format is {found:?}, this keyrite reads {FORMAT:?}")]
    Format { found: String },
    #[error("it belongs to the bundle with fingerprint {found}, not this one ({expected})")]
    OtherBundle { found: String, expected: String },
}

impl ImportProgress {
    pub fn new(bundle_fingerprint: &str) -> ImportProgress {
        ImportProgress {
            format: FORMAT.into(),
            bundle_fingerprint: bundle_fingerprint.into(),
            keys: BTreeMap::new(),
        }
    }

    /// Reads a progress file and checks it belongs to this bundle.
    pub fn parse(bytes: &[u8], bundle_fingerprint: &str) -> Result<ImportProgress, ProgressError> {
        let p: ImportProgress =
            serde_json::from_slice(bytes).map_err(|e| ProgressError::Unreadable(e.to_string()))?;
        if p.format != FORMAT {
            return Err(ProgressError::Format { found: p.format });
        }
        if p.bundle_fingerprint != bundle_fingerprint {
            return Err(ProgressError::OtherBundle {
                found: p.bundle_fingerprint,
                expected: bundle_fingerprint.into(),
            });
        }
        Ok(p)
    }

    pub fn get(&self, key: &str) -> Option<&KeyProgress> {
        self.keys.get(key)
    }

    pub fn set(&mut self, key: &str, stage: KeyProgress) {
        self.keys.insert(key.into(), stage);
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_bundles_progress() {
        let mut p = ImportProgress::new("aa");
        p.set("dev-s3", KeyProgress::Sending { first: true });
        p.set(
            "dev-rds",
            KeyProgress::Imported {
                first: false,
                key_material_id: Some("m1".into()),
            },
        );
        p.set(
            "prod-s3",
            KeyProgress::Done {
                key_material_id: None,
            },
        );
        let json = p.to_json();
        assert!(String::from_utf8_lossy(&json).contains("\"stage\": \"imported\""));
        assert_eq!(ImportProgress::parse(&json, "aa").unwrap(), p);
        assert!(
            ImportProgress::parse(&json, "bb")
                .unwrap_err()
                .to_string()
                .contains("fingerprint")
        );
        let bad = String::from_utf8(json)
            .unwrap()
            .replace("\"first\": true", "\"first\": true, \"x\": 1");
        assert!(ImportProgress::parse(bad.as_bytes(), "aa").is_err());
    }
}
