//! The ceremony's records, typed. One type per step; each knows its step id, its `data` object
//! as the log holds it (field order fixed, so the bytes a ceremony writes never change) and how
//! to read itself back from a record's `data`.

use serde_json::{Map, Value, json};

use super::step;

/// What the start record says the log format is.
pub const FORMAT: &str = "keyrite-ceremony-log/1";

/// Why a record, or its place in the log, is refused. `Quorum` is a refusal about who authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Step(String),
    Quorum(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Step(r) => f.write_str(r),
            Refusal::Quorum(r) => write!(f, "quorum not met: {r}"),
        }
    }
}

/// The roster a start record binds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoundRoster {
    pub roster_sha256: String,
    pub mode: String,
    pub threshold: u8,
    pub custodians: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Start {
    pub tool_version: String,
    pub tool_sha256: String,
    /// The cargo features of the build that ran ("airgap" or "airgap,connected"); logs written
    /// before it was recorded have none.
    pub tool_features: Option<String>,
    /// The script's `[ceremony] name` and who stood in which role, from the ceremony's answers;
    /// logs written before they were recorded have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Roles>,
    pub script_sha256: String,
    /// The prepared manifest, as the operators confirmed it.
    pub manifest_sha256: String,
    pub token_label: String,
    pub log_key_sha256: String,
    pub roster: Option<BoundRoster>,
    /// Who signed the prepared bundle (`provenance.json`), by public-key SHA-256; logs of
    /// ceremonies without signatures have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<BoundProvenance>,
    /// The aliases the ceremony's new keys take over once imported, as the operators confirmed
    /// them (`takes_over` in the prepared manifest); logs written before it was recorded, and
    /// ceremonies that move no alias, have none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alias_moves: Vec<AliasMove>,
    /// Why the script took the bundle without signatures (`[provenance] required = 0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance_waived: Option<String>,
}

/// An alias a key of the bundle takes over after its import: `kms import` moves it from
/// `previous_key_arn` to the key, `kms rollback` moves it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AliasMove {
    /// The bundle's key name.
    pub key: String,
    pub alias: String,
    pub previous_key_arn: String,
}

/// Who the start record names, by role: the ceremony (the script's name), its operator and
/// its witness (none where the script needs no witness and none was named).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Roles {
    pub ceremony: String,
    pub operator: String,
    pub witness: Option<String>,
}

/// The signers a start record binds: who prepared the bundle and who countersigned it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoundProvenance {
    pub prepared_by: Vec<String>,
    pub cosigned_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMet {
    pub mode: String,
    pub roster_sha256: String,
    pub threshold: u8,
    /// (name, share index) of each custodian who authorised; never a share.
    pub authorised: Vec<(String, u8)>,
    /// How the HSM was logged in: "shares", "pin-pad" or "pin-file" (logs written before it
    /// was recorded have none).
    pub login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub algorithm: String,
    pub mechanism: Option<String>,
    pub result: String,
    pub wrap_with_trusted: Option<String>,
}

/// A re-wrap's key: the escrowed one, found by label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reimport {
    pub escrow_bundle_sha256: String,
    /// The KeyMaterialId the escrow bundle's import record names: unsigned, so a ceremony no
    /// longer logs it (KMS checks it at import); logs of earlier re-wraps carry it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
    /// SHA-256 of the escrow bundle's ceremony.log, verified with this token's log key before
    /// the re-wrap (logs of earlier re-wraps have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escrow_log_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGenerated {
    pub key: String,
    pub key_arn: String,
    pub hsm_label: String,
    pub check_value: String,
    pub reimport: Option<Reimport>,
    pub wrap_with_trusted: bool,
    /// The key's CKA_ID, hex: with the label, what an abort matches before it destroys a key
    /// (logs written before it was recorded have none).
    pub hsm_id: Option<String>,
    /// A multi-Region key: the replicas' Regions the material is wrapped for after the key's own
    /// Region, in this order (one key.wrapped each). Empty for a single-Region key.
    pub replica_regions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWrapped {
    pub key: String,
    /// Bundle-relative path of EncryptedKeyMaterial.bin.
    pub file: String,
    pub sha256: String,
    pub algorithm: Option<String>,
    /// The replica's Region this wrap is for; None: the key's own Region.
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// The manifest the ceremony wrote.
    pub manifest_sha256: String,
    pub keys: Option<usize>,
}

/// How an interrupted ceremony is taken up again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResumeChoice {
    /// Generate and wrap the keys not yet wrapped, then end.
    Finish,
    /// Destroy the keys never written and end the log with an aborted record.
    Abort,
}

impl ResumeChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ResumeChoice::Finish => "finish",
            ResumeChoice::Abort => "abort",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    pub choice: ResumeChoice,
    pub tool_version: String,
    pub tool_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aborted {
    pub reason: String,
    /// HSM labels of the keys destroyed: generated under this bundle, never written.
    pub destroyed: Vec<String>,
}

/// One record of a ceremony log.
// The start record is by far the largest; a log holds one, and records are made once per step,
// so boxing it would buy nothing but indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Start(Start),
    QuorumMet(QuorumMet),
    Probe(Probe),
    KeyGenerated(KeyGenerated),
    KeyWrapped(KeyWrapped),
    End(End),
    Resumed(Resumed),
    Aborted(Aborted),
}

fn put(d: &mut Map<String, Value>, name: &str, value: &str) {
    d.insert(name.to_string(), Value::String(value.to_string()));
}

impl Record {
    pub fn step(&self) -> &'static str {
        match self {
            Record::Start(_) => step::START,
            Record::QuorumMet(_) => step::QUORUM_MET,
            Record::Probe(_) => step::PROBE,
            Record::KeyGenerated(_) => step::KEY_GENERATED,
            Record::KeyWrapped(_) => step::KEY_WRAPPED,
            Record::End(_) => step::END,
            Record::Resumed(_) => step::RESUMED,
            Record::Aborted(_) => step::ABORTED,
        }
    }

    /// The record's `data` object, fields in the order the log has always written them.
    pub fn to_data(&self) -> Map<String, Value> {
        let mut d = Map::new();
        match self {
            Record::Start(s) => {
                put(&mut d, "format", FORMAT);
                put(&mut d, "tool", "keyrite");
                put(&mut d, "tool_version", &s.tool_version);
                put(&mut d, "tool_sha256", &s.tool_sha256);
                if let Some(features) = &s.tool_features {
                    put(&mut d, "tool_features", features);
                }
                if let Some(r) = &s.roles {
                    put(&mut d, "ceremony", &r.ceremony);
                    put(&mut d, "operator", &r.operator);
                    if let Some(w) = &r.witness {
                        put(&mut d, "witness", w);
                    }
                }
                put(&mut d, "script_sha256", &s.script_sha256);
                put(&mut d, "manifest_sha256", &s.manifest_sha256);
                put(&mut d, "token_label", &s.token_label);
                put(&mut d, "log_key_sha256", &s.log_key_sha256);
                if let Some(r) = &s.roster {
                    put(&mut d, "roster_sha256", &r.roster_sha256);
                    put(&mut d, "quorum_mode", &r.mode);
                    put(&mut d, "quorum_threshold", &r.threshold.to_string());
                    put(&mut d, "quorum_custodians", &r.custodians.to_string());
                }
                if let Some(p) = &s.provenance {
                    let list = |v: &[String]| Value::Array(v.iter().map(|s| json!(s)).collect());
                    d.insert("prepared_by".into(), list(&p.prepared_by));
                    d.insert("cosigned_by".into(), list(&p.cosigned_by));
                }
                if !s.alias_moves.is_empty() {
                    let moves = s.alias_moves.iter().map(|m| {
                        json!({"key": m.key, "alias": m.alias, "previous_key_arn": m.previous_key_arn})
                    });
                    d.insert("takes_over".into(), Value::Array(moves.collect()));
                }
                if let Some(reason) = &s.provenance_waived {
                    put(&mut d, "provenance_waived", reason);
                }
            }
            Record::QuorumMet(q) => {
                put(&mut d, "mode", &q.mode);
                put(&mut d, "roster_sha256", &q.roster_sha256);
                put(&mut d, "threshold", &q.threshold.to_string());
                d.insert(
                    "authorised".into(),
                    Value::Array(
                        q.authorised
                            .iter()
                            .map(|(name, index)| json!({"name": name, "index": index}))
                            .collect(),
                    ),
                );
                if let Some(l) = &q.login {
                    put(&mut d, "login", l);
                }
            }
            Record::Probe(p) => {
                put(&mut d, "algorithm", &p.algorithm);
                if let Some(m) = &p.mechanism {
                    put(&mut d, "mechanism", m);
                }
                put(&mut d, "result", &p.result);
                if let Some(w) = &p.wrap_with_trusted {
                    put(&mut d, "wrap_with_trusted", w);
                }
            }
            Record::KeyGenerated(k) => {
                put(&mut d, "key", &k.key);
                put(&mut d, "key_arn", &k.key_arn);
                put(&mut d, "hsm_label", &k.hsm_label);
                put(&mut d, "check_value", &k.check_value);
                if let Some(r) = &k.reimport {
                    put(&mut d, "escrow_bundle_sha256", &r.escrow_bundle_sha256);
                    if let Some(id) = &r.key_material_id {
                        put(&mut d, "reimport_of_key_material_id", id);
                    }
                    if let Some(h) = &r.escrow_log_sha256 {
                        put(&mut d, "escrow_log_sha256", h);
                    }
                }
                if k.wrap_with_trusted {
                    put(&mut d, "wrap_with_trusted", "true");
                }
                if let Some(id) = &k.hsm_id {
                    put(&mut d, "hsm_id", id);
                }
                if !k.replica_regions.is_empty() {
                    d.insert(
                        "replica_regions".into(),
                        Value::Array(k.replica_regions.iter().map(|r| json!(r)).collect()),
                    );
                }
            }
            Record::KeyWrapped(w) => {
                put(&mut d, "key", &w.key);
                put(&mut d, "file", &w.file);
                put(&mut d, "sha256", &w.sha256);
                if let Some(a) = &w.algorithm {
                    put(&mut d, "algorithm", a);
                }
                if let Some(r) = &w.region {
                    put(&mut d, "region", r);
                }
            }
            Record::End(e) => {
                put(&mut d, "manifest_sha256", &e.manifest_sha256);
                if let Some(n) = e.keys {
                    put(&mut d, "keys", &n.to_string());
                }
            }
            Record::Resumed(r) => {
                put(&mut d, "choice", r.choice.as_str());
                put(&mut d, "tool_version", &r.tool_version);
                put(&mut d, "tool_sha256", &r.tool_sha256);
            }
            Record::Aborted(a) => {
                put(&mut d, "reason", &a.reason);
                d.insert(
                    "destroyed".into(),
                    Value::Array(a.destroyed.iter().map(|l| json!(l)).collect()),
                );
            }
        }
        d
    }

    /// Reads a record back from its step id and `data`: every field it needs present, hashes
    /// as lower-case hex SHA-256.
    pub fn from_data(step_id: &str, data: &Map<String, Value>) -> Result<Record, Refusal> {
        let f = Fields { step_id, data };
        Ok(match step_id {
            step::START => {
                let format = f.text("format")?;
                if format != FORMAT {
                    return Err(Refusal::Step(format!(
                        "the log format is {format:?}, this keyrite reads {FORMAT:?}"
                    )));
                }
                let roster = if data.contains_key("roster_sha256") {
                    Some(f.bound_roster()?)
                } else {
                    None
                };
                Record::Start(Start {
                    tool_version: f.text("tool_version")?,
                    tool_sha256: f.sha256("tool_sha256")?,
                    tool_features: match data.get("tool_features") {
                        Some(_) => Some(f.text("tool_features")?),
                        None => None,
                    },
                    roles: match data.get("operator") {
                        Some(_) => Some(Roles {
                            ceremony: f.text("ceremony")?,
                            operator: f.text("operator")?,
                            witness: match data.get("witness") {
                                Some(_) => Some(f.text("witness")?),
                                None => None,
                            },
                        }),
                        None => None,
                    },
                    script_sha256: f.sha256("script_sha256")?,
                    manifest_sha256: f.sha256("manifest_sha256")?,
                    token_label: f.text("token_label")?,
                    log_key_sha256: f.sha256("log_key_sha256")?,
                    roster,
                    provenance: if data.contains_key("prepared_by") {
                        Some(BoundProvenance {
                            prepared_by: f.sha256_list("prepared_by")?,
                            cosigned_by: f.sha256_list("cosigned_by")?,
                        })
                    } else {
                        None
                    },
                    alias_moves: f.alias_moves()?,
                    provenance_waived: f.optional("provenance_waived"),
                })
            }
            step::QUORUM_MET => Record::QuorumMet(f.quorum_met()?),
            step::PROBE => Record::Probe(Probe {
                algorithm: f.text("algorithm")?,
                mechanism: f.optional("mechanism"),
                result: f.text("result")?,
                wrap_with_trusted: f.optional("wrap_with_trusted"),
            }),
            step::KEY_GENERATED => Record::KeyGenerated(KeyGenerated {
                key: f.text("key")?,
                key_arn: f.text("key_arn")?,
                hsm_label: f.text("hsm_label")?,
                check_value: f.text("check_value")?,
                reimport: match f.optional("escrow_bundle_sha256") {
                    Some(_) => Some(Reimport {
                        escrow_bundle_sha256: f.text("escrow_bundle_sha256")?,
                        key_material_id: f.optional("reimport_of_key_material_id"),
                        escrow_log_sha256: match f.optional("escrow_log_sha256") {
                            Some(_) => Some(f.sha256("escrow_log_sha256")?),
                            None => None,
                        },
                    }),
                    None => None,
                },
                wrap_with_trusted: f.optional("wrap_with_trusted").as_deref() == Some("true"),
                hsm_id: f.optional("hsm_id"),
                replica_regions: match data.get("replica_regions") {
                    Some(_) => f.region_list("replica_regions")?,
                    None => Vec::new(),
                },
            }),
            step::KEY_WRAPPED => Record::KeyWrapped(KeyWrapped {
                key: f.text("key")?,
                file: f.text("file")?,
                sha256: f.sha256("sha256")?,
                algorithm: f.optional("algorithm"),
                region: match f.optional("region") {
                    Some(r) => Some(f.region(r)?),
                    None => None,
                },
            }),
            step::END => Record::End(End {
                manifest_sha256: f.sha256("manifest_sha256")?,
                keys: match f.optional("keys") {
                    Some(_) => Some(f.number("keys")? as usize),
                    None => None,
                },
            }),
            step::RESUMED => Record::Resumed(Resumed {
                choice: match f.text("choice")?.as_str() {
                    "finish" => ResumeChoice::Finish,
                    "abort" => ResumeChoice::Abort,
                    other => {
                        return Err(Refusal::Step(format!(
                            "data.choice is {other:?}, not \"finish\" or \"abort\""
                        )));
                    }
                },
                tool_version: f.text("tool_version")?,
                tool_sha256: f.sha256("tool_sha256")?,
            }),
            step::ABORTED => Record::Aborted(Aborted {
                reason: f.text("reason")?,
                destroyed: data
                    .get("destroyed")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .map(|v| v.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| {
                        Refusal::Step(format!(
                            "{} record has no list of text data.destroyed",
                            step::ABORTED
                        ))
                    })?,
            }),
            other => {
                return Err(Refusal::Step(format!(
                    "unknown step {other:?} (this keyrite knows {})",
                    step::ALL.join(", ")
                )));
            }
        })
    }
}

/// A record's `data`, read field by field.
struct Fields<'a> {
    step_id: &'a str,
    data: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        self.data
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn text(&self, name: &str) -> Result<String, Refusal> {
        self.optional(name).ok_or_else(|| {
            Refusal::Step(format!(
                "{} record has no text field data.{name}",
                self.step_id
            ))
        })
    }

    fn sha256(&self, name: &str) -> Result<String, Refusal> {
        let v = self.text(name)?;
        if v.len() == 64
            && v.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            Ok(v)
        } else {
            Err(Refusal::Step(format!(
                "data.{name} is not a lower-case hex SHA-256"
            )))
        }
    }

    /// An AWS Region name, as AWS spells them.
    fn region(&self, r: String) -> Result<String, Refusal> {
        crate::core::names::check_region(&r)
            .map(|()| r)
            .map_err(|e| Refusal::Step(format!("data: {e}")))
    }

    /// A non-empty list of distinct AWS Region names.
    fn region_list(&self, name: &str) -> Result<Vec<String>, Refusal> {
        let bad = || Refusal::Step(format!("data.{name} is not a list of distinct Regions"));
        let list = self
            .data
            .get(name)
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(bad)?;
        let mut out: Vec<String> = Vec::new();
        for v in list {
            let r = self.region(v.as_str().ok_or_else(bad)?.to_string())?;
            if out.contains(&r) {
                return Err(bad());
            }
            out.push(r);
        }
        Ok(out)
    }

    fn sha256_list(&self, name: &str) -> Result<Vec<String>, Refusal> {
        let bad = || {
            Refusal::Step(format!(
                "data.{name} is not a list of lower-case hex SHA-256"
            ))
        };
        let list = self
            .data
            .get(name)
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        list.iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| {
                        s.len() == 64
                            && s.bytes()
                                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
                    })
                    .map(str::to_string)
                    .ok_or_else(bad)
            })
            .collect()
    }

    /// `takes_over`: a list of {key, alias, previous_key_arn}; absent means none.
    fn alias_moves(&self) -> Result<Vec<AliasMove>, Refusal> {
        let Some(list) = self.data.get("takes_over") else {
            return Ok(Vec::new());
        };
        let bad = || {
            Refusal::Step(
                "data.takes_over is not a list of {key, alias, previous_key_arn} texts".into(),
            )
        };
        let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
        list.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|m| {
                match (
                    text(m, "key"),
                    text(m, "alias"),
                    text(m, "previous_key_arn"),
                ) {
                    (Some(key), Some(alias), Some(previous_key_arn)) => Ok(AliasMove {
                        key,
                        alias,
                        previous_key_arn,
                    }),
                    _ => Err(bad()),
                }
            })
            .collect()
    }

    fn number(&self, name: &str) -> Result<u64, Refusal> {
        self.text(name)?
            .parse::<u64>()
            .map_err(|_| Refusal::Step(format!("data.{name} is not a number")))
    }

    fn bound_roster(&self) -> Result<BoundRoster, Refusal> {
        let threshold = self.number("quorum_threshold")?;
        let custodians = self.number("quorum_custodians")?;
        let threshold = u8::try_from(threshold)
            .ok()
            .filter(|t| *t >= 1 && u64::from(*t) <= custodians && custodians <= 255)
            .ok_or_else(|| {
                Refusal::Quorum(format!(
                    "the roster's threshold {threshold} of {custodians} custodians is no quorum"
                ))
            })?;
        Ok(BoundRoster {
            roster_sha256: self.sha256("roster_sha256")?,
            mode: self.text("quorum_mode")?,
            threshold,
            custodians: custodians as usize,
        })
    }

    fn quorum_met(&self) -> Result<QuorumMet, Refusal> {
        let roster_sha256 = self.sha256("roster_sha256")?;
        let mode = self.text("mode")?;
        let threshold = u8::try_from(self.number("threshold")?)
            .map_err(|_| Refusal::Quorum("its threshold is larger than any roster's".into()))?;
        let list = self
            .data
            .get("authorised")
            .and_then(Value::as_array)
            .ok_or_else(|| Refusal::Quorum("it has no data.authorised list".into()))?;
        let mut authorised = Vec::new();
        for entry in list {
            let name = entry.get("name").and_then(Value::as_str);
            let index = entry
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u8::try_from(i).ok());
            let (Some(name), Some(index)) = (name, index) else {
                return Err(Refusal::Quorum(
                    "an authorisation without a name and index".into(),
                ));
            };
            authorised.push((name.to_string(), index));
        }
        Ok(QuorumMet {
            mode,
            roster_sha256,
            threshold,
            authorised,
            login: self.optional("login"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn samples() -> Vec<Record> {
        vec![
            Record::Start(Start {
                tool_version: "0.1.0".into(),
                tool_sha256: h('a'),
                tool_features: Some("airgap".into()),
                roles: Some(Roles {
                    ceremony: "q4 rotation".into(),
                    operator: "Alice".into(),
                    witness: Some("Walter".into()),
                }),
                script_sha256: h('b'),
                manifest_sha256: h('c'),
                token_label: "t".into(),
                log_key_sha256: h('d'),
                roster: Some(BoundRoster {
                    roster_sha256: h('e'),
                    mode: "shamir".into(),
                    threshold: 2,
                    custodians: 3,
                }),
                provenance: Some(BoundProvenance {
                    prepared_by: vec![h('4')],
                    cosigned_by: vec![h('5'), h('6')],
                }),
                alias_moves: vec![AliasMove {
                    key: "dev-s3".into(),
                    alias: "alias/dev-s3".into(),
                    previous_key_arn: "arn:old".into(),
                }],
                provenance_waived: Some("a rehearsal".into()),
            }),
            Record::QuorumMet(QuorumMet {
                mode: "shamir".into(),
                roster_sha256: h('e'),
                threshold: 2,
                authorised: vec![("Alice".into(), 1), ("Carol".into(), 3)],
                login: Some("shares".into()),
            }),
            Record::Probe(Probe {
                algorithm: "RSAES_OAEP_SHA_1".into(),
                mechanism: Some("CKM_RSA_PKCS_OAEP".into()),
                result: "ok".into(),
                wrap_with_trusted: Some("enforced".into()),
            }),
            Record::KeyGenerated(KeyGenerated {
                key: "dev-s3".into(),
                key_arn: "arn".into(),
                hsm_label: "keyrite/dev-s3/20261124/aca25264".into(),
                check_value: "495b76".into(),
                reimport: Some(Reimport {
                    escrow_bundle_sha256: h('f'),
                    key_material_id: Some("m".into()),
                    escrow_log_sha256: Some(h('7')),
                }),
                wrap_with_trusted: true,
                hsm_id: Some("00112233445566778899aabbccddeeff".into()),
                replica_regions: Vec::new(),
            }),
            Record::KeyWrapped(KeyWrapped {
                key: "dev-s3".into(),
                file: "dev-s3/EncryptedKeyMaterial.bin".into(),
                sha256: h('1'),
                algorithm: Some("RSAES_OAEP_SHA_1".into()),
                region: None,
            }),
            Record::End(End {
                manifest_sha256: h('2'),
                keys: Some(1),
            }),
            Record::Resumed(Resumed {
                choice: ResumeChoice::Abort,
                tool_version: "0.1.0".into(),
                tool_sha256: h('3'),
            }),
            Record::Aborted(Aborted {
                reason: "stopped".into(),
                destroyed: vec!["keyrite/x/20261124/aca25264".into()],
            }),
        ]
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let mut all = samples();
        // A multi-Region key: its replicas' Regions at generation, a Region per replica's wrap.
        all.push(Record::KeyGenerated(KeyGenerated {
            key: "prod-s3".into(),
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/mrk-1".into(),
            hsm_label: "keyrite/prod-s3/20261124/aca25264".into(),
            check_value: "495b76".into(),
            reimport: None,
            wrap_with_trusted: false,
            hsm_id: None,
            replica_regions: vec!["us-west-2".into(), "eu-west-1".into()],
        }));
        all.push(Record::KeyWrapped(KeyWrapped {
            key: "prod-s3".into(),
            file: "prod-s3/us-west-2/EncryptedKeyMaterial.bin".into(),
            sha256: h('1'),
            algorithm: None,
            region: Some("us-west-2".into()),
        }));
        for r in all {
            let back = Record::from_data(r.step(), &r.to_data()).unwrap();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn the_data_keeps_the_field_order_the_log_has_always_had() {
        let start = serde_json::to_string(&samples()[0].to_data()).unwrap();
        assert!(
            start.starts_with(
                "{\"format\":\"keyrite-ceremony-log/1\",\"tool\":\"keyrite\",\"tool_version\""
            ),
            "{start}"
        );
        let met = serde_json::to_string(&samples()[1].to_data()).unwrap();
        // Fields added later go after the old ones: `login` after `authorised`.
        assert!(met.ends_with("\"authorised\":[{\"name\":\"Alice\",\"index\":1},{\"name\":\"Carol\",\"index\":3}],\"login\":\"shares\"}"), "{met}");
    }

    #[test]
    fn a_regions_list_or_region_that_is_not_aws_grammar_is_refused() {
        let mut d = samples()[3].to_data();
        for bad in [
            json!([]),
            json!(["us-west-2", "us-west-2"]),
            json!(["us west"]),
            json!("us-west-2"),
        ] {
            d.insert("replica_regions".into(), bad.clone());
            assert!(
                Record::from_data(step::KEY_GENERATED, &d).is_err(),
                "accepted {bad}"
            );
        }
        let mut d = samples()[4].to_data();
        d.insert("region".into(), json!("us-west-2\u{1b}[2J"));
        assert!(Record::from_data(step::KEY_WRAPPED, &d).is_err());
    }

    #[test]
    fn a_record_missing_a_field_or_with_a_bad_hash_is_refused_by_name() {
        let mut d = samples()[4].to_data();
        d.remove("file");
        assert_eq!(
            Record::from_data(step::KEY_WRAPPED, &d).unwrap_err(),
            Refusal::Step("key.wrapped record has no text field data.file".into())
        );
        let mut d = samples()[4].to_data();
        d.insert("sha256".into(), json!("ABC"));
        assert_eq!(
            Record::from_data(step::KEY_WRAPPED, &d).unwrap_err(),
            Refusal::Step("data.sha256 is not a lower-case hex SHA-256".into())
        );
        assert!(matches!(
            Record::from_data("key.deleted", &d),
            Err(Refusal::Step(r)) if r.starts_with("unknown step")
        ));
    }
}
