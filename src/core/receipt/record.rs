//! The receipt's records, typed. One type per step; each knows its step id and its `data` object
//! as the receipt holds it (the fields and their JSON types fixed, so the bytes an import writes
//! never change). The records the verifier's report holds (a key imported, an alias moved) read
//! themselves back from a record's `data`. See [`step`] for what each step means.

use serde_json::{Map, Value};

/// What the start record says the receipt format is.
pub const FORMAT: &str = "keyrite-import-receipt/1";

/// The step ids a receipt holds, and what each one's `data` carries.
pub mod step {
    /// Each run of `keyrite kms import` (or `kms rollback`, `kms verify-rotation`) starts with
    /// one. data: format, run (import, rollback, verify-rotation), tool_version,
    /// manifest_sha256 (the bundle imported), ceremony_log_head (SHA-256 of the ceremony log's
    /// last line).
    pub const START: &str = "import.start";
    /// One per key KMS accepted. data: key, key_arn, kind (first import, rotation),
    /// encrypted_key_material_sha256, import_token_sha256 (what was sent), import_request_id,
    /// rotate_request_id (KMS request ids, for CloudTrail; null when not known), key_material_id,
    /// previous_key_material_id, state, and (when one was made) pre_rotation_ciphertext_sha256:
    /// the SHA-256 of the ciphertext saved before the rotation (`<key>/pre-rotation.ciphertext`).
    pub const KEY_IMPORTED: &str = "key.imported";
    /// Pending material `kms rollback` deleted before it was rotated to. data: key, key_arn,
    /// key_material_id, request_id (of DeleteImportedKeyMaterial).
    pub const KEY_ROLLED_BACK: &str = "key.rolled_back";
    /// `kms verify-rotation` checked a key after its import. data: key, key_arn,
    /// key_material_id (current in KMS), result (passed, failed), checks (what was checked and
    /// what failed, one line each).
    pub const KEY_ROTATION_VERIFIED: &str = "key.rotation_verified";
    /// Rotation by a new key: an alias moved between the previous and the new key (`kms import`
    /// forward, `kms rollback` back). data: key, alias, from_key_arn, to_key_arn, request_id (of
    /// UpdateAlias).
    pub const ALIAS_MOVED: &str = "alias.moved";
    /// A run that finished. data: keys (how many records the run wrote).
    pub const END: &str = "import.end";
}

/// An alias moved from one key to another (rotation by a new key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AliasMoved {
    /// The bundle's key name.
    pub key: String,
    pub alias: String,
    pub from_key_arn: String,
    pub to_key_arn: String,
    /// The UpdateAlias request id, for CloudTrail.
    pub request_id: Option<String>,
}

/// What one key's import did, as the receipt records it.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub name: String,
    pub key_arn: String,
    /// "first import", "rotation" or "re-import of escrowed material".
    pub kind: &'static str,
    pub key_material_id: Option<String>,
    pub previous_key_material_id: Option<String>,
    pub state: String,
    pub encrypted_key_material_sha256: String,
    /// SHA-256 of the ImportToken.bin sent with the material.
    pub import_token_sha256: String,
    /// The KMS request id of the ImportKeyMaterial call (CloudTrail's requestID), when this run made it.
    pub import_request_id: Option<String>,
    /// The KMS request id of the RotateKeyOnDemand call, for a rotation.
    pub rotate_request_id: Option<String>,
    /// SHA-256 of the ciphertext saved before the rotation, when one was made.
    pub pre_rotation_ciphertext_sha256: Option<String>,
    /// Rotation by a new key: the alias this run moved to the key.
    pub alias_moved: Option<AliasMoved>,
    /// A multi-Region key: what each replica's import did, in the bundle's order.
    pub replicas: Vec<ReplicaImported>,
}

/// One replica of a multi-Region key given the same material, in its own Region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaImported {
    pub region: String,
    pub key_arn: String,
    pub encrypted_key_material_sha256: String,
    /// The ImportKeyMaterial request id, when this run made it.
    pub import_request_id: Option<String>,
    pub key_material_id: Option<String>,
    pub state: String,
}

impl ReplicaImported {
    fn to_value(&self) -> Value {
        serde_json::json!({
            "region": self.region,
            "key_arn": self.key_arn,
            "encrypted_key_material_sha256": self.encrypted_key_material_sha256,
            "import_request_id": self.import_request_id,
            "key_material_id": self.key_material_id,
            "state": self.state,
        })
    }

    fn from_value(v: &Value) -> Result<ReplicaImported, Missing> {
        let map = v.as_object().ok_or(Missing("replicas"))?;
        let f = Fields(map);
        Ok(ReplicaImported {
            region: f.text("region")?,
            key_arn: f.text("key_arn")?,
            encrypted_key_material_sha256: f.text("encrypted_key_material_sha256")?,
            import_request_id: f.optional("import_request_id"),
            key_material_id: f.optional("key_material_id"),
            state: f.text("state")?,
        })
    }
}

/// A record's data from (name, value) pairs; `None` values become JSON null.
pub fn data(fields: &[(&str, Option<&str>)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_string(),
                v.map_or(Value::Null, |s| Value::String(s.to_string())),
            )
        })
        .collect()
}

/// A run's first record: which command ran on which bundle, continuing which ceremony log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The command: "import", "rollback" or "verify-rotation".
    pub run: String,
    pub tool_version: String,
    /// The manifest of the bundle the run acts on.
    pub manifest_sha256: String,
    /// SHA-256 of the ceremony log's last line.
    pub ceremony_log_head: String,
}

/// One key KMS accepted: what was sent, the request ids, and what KMS reported after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyImported {
    pub key: String,
    pub key_arn: String,
    /// "first import", "rotation" or "re-import of escrowed material".
    pub kind: String,
    pub encrypted_key_material_sha256: String,
    pub import_token_sha256: String,
    pub import_request_id: Option<String>,
    pub rotate_request_id: Option<String>,
    pub key_material_id: Option<String>,
    pub previous_key_material_id: Option<String>,
    pub state: String,
    /// Left out of the record when no ciphertext was saved before the rotation.
    pub pre_rotation_ciphertext_sha256: Option<String>,
    /// A multi-Region key's replicas; left out of the record for a single-Region key.
    pub replicas: Vec<ReplicaImported>,
}

impl From<&ImportOutcome> for KeyImported {
    fn from(o: &ImportOutcome) -> KeyImported {
        KeyImported {
            key: o.name.clone(),
            key_arn: o.key_arn.clone(),
            kind: o.kind.to_string(),
            encrypted_key_material_sha256: o.encrypted_key_material_sha256.clone(),
            import_token_sha256: o.import_token_sha256.clone(),
            import_request_id: o.import_request_id.clone(),
            rotate_request_id: o.rotate_request_id.clone(),
            key_material_id: o.key_material_id.clone(),
            previous_key_material_id: o.previous_key_material_id.clone(),
            state: o.state.clone(),
            pre_rotation_ciphertext_sha256: o.pre_rotation_ciphertext_sha256.clone(),
            replicas: o.replicas.clone(),
        }
    }
}

impl KeyImported {
    /// Reads the record back from its `data`: the text fields it needs present (the first one
    /// missing is the error), the request and material ids where they are text.
    pub fn from_data(data: &Map<String, Value>) -> Result<KeyImported, Missing> {
        let f = Fields(data);
        Ok(KeyImported {
            key: f.text("key")?,
            key_arn: f.text("key_arn")?,
            kind: f.text("kind")?,
            encrypted_key_material_sha256: f.text("encrypted_key_material_sha256")?,
            import_token_sha256: f.text("import_token_sha256")?,
            import_request_id: f.optional("import_request_id"),
            rotate_request_id: f.optional("rotate_request_id"),
            key_material_id: f.optional("key_material_id"),
            previous_key_material_id: f.optional("previous_key_material_id"),
            state: f.text("state")?,
            pre_rotation_ciphertext_sha256: f.optional("pre_rotation_ciphertext_sha256"),
            replicas: match data.get("replicas") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .ok_or(Missing("replicas"))?
                    .iter()
                    .map(ReplicaImported::from_value)
                    .collect::<Result<_, _>>()?,
            },
        })
    }
}

impl AliasMoved {
    /// Reads the record back from its `data`, as [`KeyImported::from_data`] does.
    pub fn from_data(data: &Map<String, Value>) -> Result<AliasMoved, Missing> {
        let f = Fields(data);
        Ok(AliasMoved {
            key: f.text("key")?,
            alias: f.text("alias")?,
            from_key_arn: f.text("from_key_arn")?,
            to_key_arn: f.text("to_key_arn")?,
            request_id: f.optional("request_id"),
        })
    }
}

/// The text field a record's `data` lacks (absent, or not a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing(pub &'static str);

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, name: &'static str) -> Result<String, Missing> {
        self.optional(name).ok_or(Missing(name))
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(Value::as_str).map(str::to_string)
    }
}

/// Pending material `kms rollback` deleted before it was rotated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRolledBack {
    pub key: String,
    pub key_arn: String,
    pub key_material_id: String,
    /// The DeleteImportedKeyMaterial request id.
    pub request_id: Option<String>,
}

/// What `kms verify-rotation` found for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationVerified {
    pub key: String,
    pub key_arn: String,
    /// The material KMS reports as current.
    pub key_material_id: Option<String>,
    pub passed: bool,
    /// What was checked and what failed, one line each.
    pub checks: Vec<String>,
}

/// One record of an import receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Start(RunStart),
    KeyImported(KeyImported),
    KeyRolledBack(KeyRolledBack),
    RotationVerified(RotationVerified),
    AliasMoved(AliasMoved),
    /// A run that finished, with how many records it wrote.
    End {
        keys: usize,
    },
}

fn put(d: &mut Map<String, Value>, name: &str, value: &str) {
    d.insert(name.to_string(), Value::String(value.to_string()));
}

/// An optional text field: JSON null when there is none.
fn put_optional(d: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    d.insert(
        name.to_string(),
        value.map_or(Value::Null, |s| Value::String(s.to_string())),
    );
}

impl Record {
    pub fn step(&self) -> &'static str {
        match self {
            Record::Start(_) => step::START,
            Record::KeyImported(_) => step::KEY_IMPORTED,
            Record::KeyRolledBack(_) => step::KEY_ROLLED_BACK,
            Record::RotationVerified(_) => step::KEY_ROTATION_VERIFIED,
            Record::AliasMoved(_) => step::ALIAS_MOVED,
            Record::End { .. } => step::END,
        }
    }

    /// The record's `data` object, fields in the order the receipt has always written them.
    pub fn to_data(&self) -> Map<String, Value> {
        let mut d = Map::new();
        match self {
            Record::Start(s) => {
                put(&mut d, "format", FORMAT);
                put(&mut d, "run", &s.run);
                put(&mut d, "tool_version", &s.tool_version);
                put(&mut d, "manifest_sha256", &s.manifest_sha256);
                put(&mut d, "ceremony_log_head", &s.ceremony_log_head);
            }
            Record::KeyImported(k) => {
                put(&mut d, "key", &k.key);
                put(&mut d, "key_arn", &k.key_arn);
                put(&mut d, "kind", &k.kind);
                put(
                    &mut d,
                    "encrypted_key_material_sha256",
                    &k.encrypted_key_material_sha256,
                );
                put(&mut d, "import_token_sha256", &k.import_token_sha256);
                put_optional(&mut d, "import_request_id", k.import_request_id.as_deref());
                put_optional(&mut d, "rotate_request_id", k.rotate_request_id.as_deref());
                put_optional(&mut d, "key_material_id", k.key_material_id.as_deref());
                put_optional(
                    &mut d,
                    "previous_key_material_id",
                    k.previous_key_material_id.as_deref(),
                );
                put(&mut d, "state", &k.state);
                if let Some(sha) = &k.pre_rotation_ciphertext_sha256 {
                    put(&mut d, "pre_rotation_ciphertext_sha256", sha);
                }
                if !k.replicas.is_empty() {
                    d.insert(
                        "replicas".into(),
                        Value::Array(k.replicas.iter().map(ReplicaImported::to_value).collect()),
                    );
                }
            }
            Record::KeyRolledBack(r) => {
                put(&mut d, "key", &r.key);
                put(&mut d, "key_arn", &r.key_arn);
                put(&mut d, "key_material_id", &r.key_material_id);
                put_optional(&mut d, "request_id", r.request_id.as_deref());
            }
            Record::RotationVerified(v) => {
                put(&mut d, "key", &v.key);
                put(&mut d, "key_arn", &v.key_arn);
                put_optional(&mut d, "key_material_id", v.key_material_id.as_deref());
                put(&mut d, "result", if v.passed { "passed" } else { "failed" });
                d.insert(
                    "checks".into(),
                    Value::Array(v.checks.iter().cloned().map(Value::String).collect()),
                );
            }
            Record::AliasMoved(m) => {
                put(&mut d, "key", &m.key);
                put(&mut d, "alias", &m.alias);
                put(&mut d, "from_key_arn", &m.from_key_arn);
                put(&mut d, "to_key_arn", &m.to_key_arn);
                put_optional(&mut d, "request_id", m.request_id.as_deref());
            }
            Record::End { keys } => {
                d.insert("keys".into(), (*keys).into());
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    /// Each typed record gives exactly the `data` the receipt wrote before the records were typed
    /// (built here the old way, pair by pair), so a receipt's bytes do not change.
    #[test]
    fn every_record_writes_the_data_the_receipt_always_held() {
        let imported = KeyImported {
            replicas: Vec::new(),
            key: "prod-s3".into(),
            key_arn: "arn".into(),
            kind: "rotation".into(),
            encrypted_key_material_sha256: "aa".into(),
            import_token_sha256: "bb".into(),
            import_request_id: some("req-1"),
            rotate_request_id: None,
            key_material_id: some("mat"),
            previous_key_material_id: some("old"),
            state: "Enabled".into(),
            pre_rotation_ciphertext_sha256: None,
        };
        let imported_fields = [
            ("key", Some("prod-s3")),
            ("key_arn", Some("arn")),
            ("kind", Some("rotation")),
            ("encrypted_key_material_sha256", Some("aa")),
            ("import_token_sha256", Some("bb")),
            ("import_request_id", Some("req-1")),
            ("rotate_request_id", None),
            ("key_material_id", Some("mat")),
            ("previous_key_material_id", Some("old")),
            ("state", Some("Enabled")),
        ];
        let mut with_pre = data(&imported_fields);
        with_pre.insert("pre_rotation_ciphertext_sha256".into(), "cc".into());
        let mut verified = data(&[
            ("key", Some("prod-s3")),
            ("key_arn", Some("arn")),
            ("key_material_id", None),
            ("result", Some("failed")),
        ]);
        verified.insert(
            "checks".into(),
            vec!["one".to_string(), "two".into()].into(),
        );
        let mut end = Map::new();
        end.insert("keys".into(), 3.into());
        let cases = [
            (
                Record::Start(RunStart {
                    run: "import".into(),
                    tool_version: "0.1.0".into(),
                    manifest_sha256: "m".into(),
                    ceremony_log_head: "h".into(),
                }),
                step::START,
                data(&[
                    ("format", Some(FORMAT)),
                    ("run", Some("import")),
                    ("tool_version", Some("0.1.0")),
                    ("manifest_sha256", Some("m")),
                    ("ceremony_log_head", Some("h")),
                ]),
            ),
            (
                Record::KeyImported(imported.clone()),
                step::KEY_IMPORTED,
                data(&imported_fields),
            ),
            (
                Record::KeyImported(KeyImported {
                    pre_rotation_ciphertext_sha256: some("cc"),
                    ..imported
                }),
                step::KEY_IMPORTED,
                with_pre,
            ),
            (
                Record::KeyRolledBack(KeyRolledBack {
                    key: "prod-s3".into(),
                    key_arn: "arn".into(),
                    key_material_id: "mat".into(),
                    request_id: None,
                }),
                step::KEY_ROLLED_BACK,
                data(&[
                    ("key", Some("prod-s3")),
                    ("key_arn", Some("arn")),
                    ("key_material_id", Some("mat")),
                    ("request_id", None),
                ]),
            ),
            (
                Record::RotationVerified(RotationVerified {
                    key: "prod-s3".into(),
                    key_arn: "arn".into(),
                    key_material_id: None,
                    passed: false,
                    checks: vec!["one".into(), "two".into()],
                }),
                step::KEY_ROTATION_VERIFIED,
                verified,
            ),
            (
                Record::AliasMoved(AliasMoved {
                    key: "prod-s3".into(),
                    alias: "alias/prod-s3".into(),
                    from_key_arn: "old".into(),
                    to_key_arn: "arn".into(),
                    request_id: some("req-2"),
                }),
                step::ALIAS_MOVED,
                data(&[
                    ("key", Some("prod-s3")),
                    ("alias", Some("alias/prod-s3")),
                    ("from_key_arn", Some("old")),
                    ("to_key_arn", Some("arn")),
                    ("request_id", Some("req-2")),
                ]),
            ),
            (Record::End { keys: 3 }, step::END, end),
        ];
        for (record, step_id, want) in cases {
            assert_eq!(record.step(), step_id);
            let got = record.to_data();
            match &record {
                Record::KeyImported(k) => assert_eq!(KeyImported::from_data(&got).as_ref(), Ok(k)),
                Record::AliasMoved(m) => assert_eq!(AliasMoved::from_data(&got).as_ref(), Ok(m)),
                _ => {}
            }
            assert_eq!(got, want, "{step_id}");
            // Byte for byte, in the order written.
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap(),
                "{step_id}"
            );
        }
    }

    #[test]
    fn a_record_read_back_names_the_first_text_field_it_lacks() {
        let mut d = data(&[
            ("key", Some("prod-s3")),
            ("key_arn", Some("arn")),
            ("kind", Some("first import")),
            ("encrypted_key_material_sha256", Some("aa")),
            ("import_token_sha256", None),
            ("key_material_id", Some("mat")),
        ]);
        assert_eq!(
            KeyImported::from_data(&d),
            Err(Missing("import_token_sha256"))
        );
        d.insert("import_token_sha256".into(), "bb".into());
        assert_eq!(KeyImported::from_data(&d), Err(Missing("state")));
        d.insert("state".into(), "Enabled".into());
        d.insert("import_request_id".into(), 7.into());
        let k = KeyImported::from_data(&d).unwrap();
        assert_eq!(k.import_request_id, None);
        assert_eq!(k.key_material_id.as_deref(), Some("mat"));
        assert_eq!(
            AliasMoved::from_data(&data(&[("key", Some("k")), ("alias", Some("a"))])),
            Err(Missing("from_key_arn"))
        );
    }
}
