//! The ceremony log: JSON Lines, append-only, hash-chained and signed record by record.
//!
//! One record is one line, exactly
//!
//! ```text
//! {"body":<body JSON>,"sig":"<128 lower-case hex: ECDSA P-256 r||s>"}\n
//! ```
//!
//! The body is `{"seq":…,"time":"…Z","step":"…","actors":[…],"data":{…},"prev":"<hex>"}`. The
//! signature is ECDSA P-256 over SHA-256 of the body's bytes as they stand in the line (the digest is
//! taken in software and signed by the HSM with CKM_ECDSA, which returns r||s). `prev` is the SHA-256
//! of the previous record's whole line as written (body and signature, without the newline), so the
//! chain binds the signatures too; the first record's `prev` is [`GENESIS_PREV`].
//!
//! The verifier never re-serialises: it cuts the body out of the line by position, checks the
//! signature on those bytes, and only then parses them. The framing is fixed, so a line has exactly
//! one byte form and any edit to it is detected.
//!
//! The first record (`ceremony.start`) binds the ceremony script, the prepared bundle manifest and
//! the tool by hash; the last (`ceremony.end`) binds the final manifest. Nothing in here does I/O.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::core::chain::{self, Chain, ChainError, Seal};
pub use crate::core::chain::{
    Body, GENESIS_PREV, LogSigner, TrustedKey, low_s, normalize_low_s, public_key_pem,
};

/// What the start record says the log format is.
pub const FORMAT: &str = "keyrite-ceremony-log/1";
/// The file name of the log inside a bundle.
pub const FILE_NAME: &str = "ceremony.log";

/// The step ids a ceremony log holds, and what each one's `data` carries.
pub mod step {
    /// First record. data: format, tool, tool_version, tool_sha256 (of the running executable),
    /// tool_features (which build ran: "airgap" for the air-gap build, "airgap,connected" for the
    /// full one; absent from logs written before it was recorded), script_sha256,
    /// manifest_sha256 (the prepared manifest, as confirmed by the operators), token_label,
    /// log_key_sha256 (SHA-256 of the log public key's DER SubjectPublicKeyInfo).
    pub const START: &str = "ceremony.start";
    /// The capability probe, before any key is generated. data: algorithm, mechanism, result,
    /// wrap_with_trusted.
    pub const PROBE: &str = "hsm.probe";
    /// data: key (bundle key name), key_arn, hsm_label, check_value. In a re-wrap ceremony the
    /// key is the escrowed one found by label, not a new one, and data also has
    /// escrow_bundle_sha256 and reimport_of_key_material_id.
    pub const KEY_GENERATED: &str = "key.generated";
    /// data: key, file (bundle-relative path of EncryptedKeyMaterial.bin), sha256, algorithm.
    pub const KEY_WRAPPED: &str = "key.wrapped";
    /// Last record. data: manifest_sha256 (the manifest the ceremony wrote), keys (count).
    pub const END: &str = "ceremony.end";
    /// The quorum opened the HSM; required before any key is generated when the start record binds
    /// a roster (data.roster_sha256, quorum_mode, quorum_threshold, quorum_custodians). data: mode,
    /// roster_sha256, threshold, authorised (an array of {name, index}; never a share).
    pub const QUORUM_MET: &str = "quorum.met";
    /// The only record of a roster's own log (`roster.log`): the log key signs the roster.
    /// data: roster_sha256, mode, token_label, log_key_sha256, threshold, custodians.
    pub const QUORUM_ENROLLED: &str = "quorum.enrolled";

    pub const ALL: [&str; 6] = [START, PROBE, QUORUM_MET, KEY_GENERATED, KEY_WRAPPED, END];
}

/// The writer's side of the ceremony log's chain (see [`crate::core::chain`]).
#[derive(Debug, Clone, Default)]
pub struct LogChain(Chain);

impl LogChain {
    pub fn new() -> LogChain {
        LogChain(Chain::genesis())
    }

    pub fn next_seq(&self) -> u64 {
        self.0.next_seq()
    }

    /// Builds and signs the next record; returns the whole line including its newline. The chain
    /// advances only when signing succeeded.
    pub fn record<S: LogSigner>(
        &mut self,
        signer: &S,
        time: Timestamp,
        step: &str,
        actors: &[String],
        data: Map<String, Value>,
    ) -> Result<Vec<u8>, S::Error> {
        self.0.append_signed(signer, time, step, actors, data)
    }
}

/// Why a log does not verify. Every variant names the first bad record: its line (from 1) and,
/// where it can be read, its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error(
        "the log is empty\n  what to do: this is not a ceremony log; find the bundle's ceremony.log"
    )]
    Empty,
    #[error(
        "line {line}: the last record is cut off (no newline at its end)\n  what to do: the log was truncated, by a crash or by hand; every record before line {line} is intact, but the ceremony log is not complete"
    )]
    Truncated { line: usize },
    #[error(
        "line {line}: not a log record: {reason}\n  what to do: the log was altered or damaged; get the original copy"
    )]
    Framing { line: usize, reason: String },
    #[error(
        "line {line}{}: the signature does not verify with the trusted log key\n  what to do: the record was altered, or signed by another key; check --trust names the published log public key, and get the original log",
        seq_suffix(*.seq)
    )]
    BadSignature { line: usize, seq: Option<u64> },
    #[error(
        "line {line}{}: the signature has a high S value (s > n/2); keyrite writes only low-S signatures, so this one was re-encoded after signing\n  what to do: the record's signature was altered (an ECDSA signature can be flipped to a second valid form); get the original log",
        seq_suffix(*.seq)
    )]
    HighS { line: usize, seq: Option<u64> },
    #[error(
        "line {line}: the signed record is not a valid log body: {reason}\n  what to do: this log was written by another tool or version; report it"
    )]
    BadBody { line: usize, reason: String },
    #[error(
        "line {line} (seq {found}): expected seq {expected}\n  what to do: records were removed, repeated or reordered; get the original log"
    )]
    Sequence {
        line: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "line {line} (seq {seq}): prev is {found}, but the previous record hashes to {expected}\n  what to do: the chain is broken: a record before this one was altered, removed or reordered; get the original log"
    )]
    Chain {
        line: usize,
        seq: u64,
        expected: String,
        found: String,
    },
    #[error(
        "line {line} (seq {seq}): {reason}\n  what to do: this is not a complete keyrite ceremony log; get the original log"
    )]
    Step {
        line: usize,
        seq: u64,
        reason: String,
    },
    #[error(
        "line {line} (seq {seq}): quorum not met: {reason}\n  what to do: the log does not show that the custodians' quorum opened the HSM; treat the ceremony's keys as unauthorised"
    )]
    Quorum {
        line: usize,
        seq: u64,
        reason: String,
    },
    #[error(
        "the log ends at seq {last_seq} without a {end} record\n  what to do: the ceremony was interrupted or the log's tail was cut off; the records present verify, but the ceremony is not evidenced as complete",
        end = step::END
    )]
    Unfinished { last_seq: u64 },
    #[error(
        "the trusted log key is unusable: {0}\n  what to do: pass the log public key as PEM (-----BEGIN PUBLIC KEY-----), as exported at enrolment"
    )]
    TrustedKey(String),
    #[error("signing a log record: {0}\n  what to do: check the HSM and start again")]
    Signing(String),
}

impl From<ChainError> for LogError {
    fn from(e: ChainError) -> LogError {
        match e {
            ChainError::Truncated { line } => LogError::Truncated { line },
            ChainError::Framing { line, reason } => LogError::Framing { line, reason },
            ChainError::BadSignature { line, seq } => LogError::BadSignature { line, seq },
            ChainError::HighS { line, seq } => LogError::HighS { line, seq },
            ChainError::BadBody { line, reason } => LogError::BadBody { line, reason },
            ChainError::Sequence {
                line,
                expected,
                found,
            } => LogError::Sequence {
                line,
                expected,
                found,
            },
            ChainError::Chain {
                line,
                seq,
                expected,
                found,
            } => LogError::Chain {
                line,
                seq,
                expected,
                found,
            },
            ChainError::TrustedKey(m) => LogError::TrustedKey(m),
            ChainError::Signing(m) => LogError::Signing(m),
        }
    }
}

fn seq_suffix(seq: Option<u64>) -> String {
    seq.map(|s| format!(" (claims seq {s})"))
        .unwrap_or_default()
}

/// What the start record binds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    pub tool_version: String,
    pub tool_sha256: String,
    /// The cargo features of the build that ran ("airgap" or "airgap,connected"); None in a log
    /// written before the build was recorded.
    pub tool_features: Option<String>,
    pub script_sha256: String,
    pub manifest_sha256: String,
    pub token_label: String,
    pub log_key_sha256: String,
}

/// One key as the log tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedKey {
    pub key: String,
    pub key_arn: String,
    pub hsm_label: String,
    pub check_value: String,
    /// (bundle-relative file, SHA-256) of the wrapped material, once wrapped.
    pub wrapped: Option<(String, String)>,
}

/// One record, as listed in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordSummary {
    pub line: usize,
    pub seq: u64,
    pub time: Timestamp,
    pub step: String,
    pub actors: Vec<String>,
}

/// What a verified log says, as [`verify`] found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub records: Vec<RecordSummary>,
    pub binding: Binding,
    pub keys: Vec<LoggedKey>,
    /// The manifest the ceremony wrote, by hash (from the end record).
    pub final_manifest_sha256: String,
    /// SHA-256 of the last line: what a continuation (the import receipt) chains to.
    pub head_sha256: String,
    /// SHA-256 of the trusted key's DER SubjectPublicKeyInfo.
    pub trusted_key_sha256: String,
    /// The quorum that opened the HSM, when the start record binds a roster.
    pub quorum: Option<LoggedQuorum>,
}

/// The roster a log binds and who authorised, as the log tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedQuorum {
    pub roster_sha256: String,
    pub mode: String,
    pub threshold: u8,
    pub custodians: usize,
    /// (name, index) of each custodian who authorised; empty until a quorum.met record.
    pub authorised: Vec<(String, u8)>,
}

fn field<'a>(body: &'a Body, line: usize, name: &str, hex64: bool) -> Result<&'a str, LogError> {
    let v = body
        .data
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| LogError::Step {
            line,
            seq: body.seq,
            reason: format!("{} record has no text field data.{name}", body.step),
        })?;
    if hex64
        && !(v.len() == 64
            && v.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
    {
        return Err(LogError::Step {
            line,
            seq: body.seq,
            reason: format!("data.{name} is not a lower-case hex SHA-256"),
        });
    }
    Ok(v)
}

/// Verifies a whole ceremony log against the trusted key: every line framed, every signature,
/// sequence from 0 without gaps, the prev chain, the start record's bindings first, the step ids
/// and their data, and an end record last. The error names the first bad record.
pub fn verify(log: &[u8], trusted: &TrustedKey) -> Result<Report, LogError> {
    if log.is_empty() {
        return Err(LogError::Empty);
    }
    let mut chain = Chain::genesis();
    let mut records = Vec::new();
    let mut binding = None;
    let mut keys: Vec<LoggedKey> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut end = None;
    let mut probed = false;
    let mut quorum: Option<LoggedQuorum> = None;
    let mut quorum_met = false;
    for line in chain::lines(log) {
        let (line_no, line) = line?;
        let body = chain.accept(line_no, line, Seal::Signed(trusted))?;
        let step_err = |reason: String| LogError::Step {
            line: line_no,
            seq: body.seq,
            reason,
        };
        if end.is_some() {
            return Err(step_err(format!(
                "a {} record follows the {} record",
                body.step,
                step::END
            )));
        }
        if (body.seq == 0) != (body.step == step::START) {
            return Err(step_err(format!(
                "the first record, and only the first, must be {}; this one is {}",
                step::START,
                body.step
            )));
        }
        match body.step.as_str() {
            step::START => {
                let format = field(&body, line_no, "format", false)?;
                if format != FORMAT {
                    return Err(step_err(format!(
                        "the log format is {format:?}, this keyrite reads {FORMAT:?}"
                    )));
                }
                let log_key = field(&body, line_no, "log_key_sha256", true)?;
                if log_key != trusted.fingerprint() {
                    return Err(step_err(format!(
                        "the log names signing key {log_key}, but the trusted key is {}",
                        trusted.fingerprint()
                    )));
                }
                binding = Some(Binding {
                    tool_version: field(&body, line_no, "tool_version", false)?.into(),
                    tool_sha256: field(&body, line_no, "tool_sha256", true)?.into(),
                    tool_features: match body.data.get("tool_features") {
                        None => None,
                        Some(_) => Some(field(&body, line_no, "tool_features", false)?.into()),
                    },
                    script_sha256: field(&body, line_no, "script_sha256", true)?.into(),
                    manifest_sha256: field(&body, line_no, "manifest_sha256", true)?.into(),
                    token_label: field(&body, line_no, "token_label", false)?.into(),
                    log_key_sha256: log_key.into(),
                });
                if body.data.contains_key("roster_sha256") {
                    quorum = Some(start_quorum(&body, line_no)?);
                }
            }
            step::QUORUM_MET => {
                let q = quorum.as_mut().ok_or_else(|| {
                    step_err(format!(
                        "a {} record, but the {} record binds no roster",
                        step::QUORUM_MET,
                        step::START
                    ))
                })?;
                if quorum_met {
                    return Err(step_err(format!("a second {} record", step::QUORUM_MET)));
                }
                q.authorised = check_quorum_met(&body, line_no, q)?;
                quorum_met = true;
            }
            step::PROBE => {
                if probed {
                    return Err(step_err("a second capability probe".into()));
                }
                if !keys.is_empty() {
                    return Err(step_err(
                        "the capability probe comes after a key was generated".into(),
                    ));
                }
                field(&body, line_no, "algorithm", false)?;
                field(&body, line_no, "result", false)?;
                probed = true;
            }
            step::KEY_GENERATED => {
                if quorum.is_some() && !quorum_met {
                    return Err(LogError::Quorum {
                        line: line_no,
                        seq: body.seq,
                        reason: format!(
                            "a key is generated, but the log binds a roster and has no {} record before it",
                            step::QUORUM_MET
                        ),
                    });
                }
                if !probed {
                    return Err(step_err(format!(
                        "a key is generated before the token passed the capability probe ({})",
                        step::PROBE
                    )));
                }
                let key = field(&body, line_no, "key", false)?.to_string();
                if index.contains_key(&key) {
                    return Err(step_err(format!("key {key:?} is generated twice")));
                }
                index.insert(key.clone(), keys.len());
                keys.push(LoggedKey {
                    key_arn: field(&body, line_no, "key_arn", false)?.into(),
                    hsm_label: field(&body, line_no, "hsm_label", false)?.into(),
                    check_value: field(&body, line_no, "check_value", false)?.into(),
                    key,
                    wrapped: None,
                });
            }
            step::KEY_WRAPPED => {
                let key = field(&body, line_no, "key", false)?;
                let file = field(&body, line_no, "file", false)?.to_string();
                let sha = field(&body, line_no, "sha256", true)?.to_string();
                let entry = index
                    .get(key)
                    .and_then(|&i| keys.get_mut(i))
                    .ok_or_else(|| {
                        step_err(format!("key {key:?} is wrapped before it is generated"))
                    })?;
                if entry.wrapped.is_some() {
                    return Err(step_err(format!("key {key:?} is wrapped twice")));
                }
                entry.wrapped = Some((file, sha));
            }
            step::END => {
                if let Some(k) = keys.iter().find(|k| k.wrapped.is_none()) {
                    return Err(step_err(format!(
                        "the ceremony ends, but key {:?} was never wrapped",
                        k.key
                    )));
                }
                end = Some(field(&body, line_no, "manifest_sha256", true)?.to_string());
            }
            other => {
                return Err(step_err(format!(
                    "unknown step {other:?} (this keyrite knows {})",
                    step::ALL.join(", ")
                )));
            }
        }
        records.push(RecordSummary {
            line: line_no,
            seq: body.seq,
            time: body.time,
            step: body.step,
            actors: body.actors,
        });
    }
    let last_seq = records.len().saturating_sub(1) as u64;
    match (binding, end) {
        (Some(binding), Some(final_manifest_sha256)) => Ok(Report {
            records,
            binding,
            keys,
            final_manifest_sha256,
            head_sha256: chain.head().to_string(),
            trusted_key_sha256: trusted.fingerprint().to_string(),
            quorum,
        }),
        _ => Err(LogError::Unfinished { last_seq }),
    }
}

fn small_number(body: &Body, line: usize, name: &str) -> Result<u64, LogError> {
    field(body, line, name, false)?
        .parse::<u64>()
        .map_err(|_| LogError::Step {
            line,
            seq: body.seq,
            reason: format!("data.{name} is not a number"),
        })
}

/// The roster the start record binds.
fn start_quorum(body: &Body, line: usize) -> Result<LoggedQuorum, LogError> {
    let threshold = small_number(body, line, "quorum_threshold")?;
    let custodians = small_number(body, line, "quorum_custodians")?;
    let threshold = u8::try_from(threshold)
        .ok()
        .filter(|t| *t >= 1 && u64::from(*t) <= custodians && custodians <= 255)
        .ok_or_else(|| LogError::Quorum {
            line,
            seq: body.seq,
            reason: format!(
                "the roster's threshold {threshold} of {custodians} custodians is no quorum"
            ),
        })?;
    Ok(LoggedQuorum {
        roster_sha256: field(body, line, "roster_sha256", true)?.into(),
        mode: field(body, line, "quorum_mode", false)?.into(),
        threshold,
        custodians: custodians as usize,
        authorised: Vec::new(),
    })
}

/// A quorum.met record against the roster the start record bound: same roster, mode and
/// threshold, and at least `threshold` distinct custodians (names and indices) of the roster.
fn check_quorum_met(
    body: &Body,
    line: usize,
    bound: &LoggedQuorum,
) -> Result<Vec<(String, u8)>, LogError> {
    let bad = |reason: String| LogError::Quorum {
        line,
        seq: body.seq,
        reason,
    };
    let roster = field(body, line, "roster_sha256", true)?;
    if roster != bound.roster_sha256 {
        return Err(bad(format!(
            "it names roster {roster}, the start record bound {}",
            bound.roster_sha256
        )));
    }
    let mode = field(body, line, "mode", false)?;
    if mode != bound.mode {
        return Err(bad(format!(
            "its mode is {mode:?}, the start record bound {:?}",
            bound.mode
        )));
    }
    if small_number(body, line, "threshold")? != u64::from(bound.threshold) {
        return Err(bad(format!(
            "its threshold differs from the roster's {}",
            bound.threshold
        )));
    }
    let list = body
        .data
        .get("authorised")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("it has no data.authorised list".into()))?;
    let mut who: Vec<(String, u8)> = Vec::new();
    for entry in list {
        let name = entry.get("name").and_then(Value::as_str);
        let index = entry
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| u8::try_from(i).ok());
        let (Some(name), Some(index)) = (name, index) else {
            return Err(bad("an authorisation without a name and index".into()));
        };
        if index == 0 || usize::from(index) > bound.custodians {
            return Err(bad(format!(
                "{name:?} has index {index}, the roster has custodians 1 to {}",
                bound.custodians
            )));
        }
        if who.iter().any(|(n, i)| n == name || *i == index) {
            return Err(bad(format!(
                "custodian {name:?} (index {index}) is counted twice"
            )));
        }
        who.push((name.to_string(), index));
    }
    if who.len() < usize::from(bound.threshold) {
        return Err(bad(format!(
            "{} distinct custodian(s) authorised, the roster needs {}",
            who.len(),
            bound.threshold
        )));
    }
    Ok(who)
}

/// A log's records whose framing, signatures, sequence and chain hold, with nothing checked about
/// their steps: (line number, body). For small logs of their own, such as a roster's.
pub fn verified_records(log: &[u8], trusted: &TrustedKey) -> Result<Vec<(usize, Body)>, LogError> {
    if log.is_empty() {
        return Err(LogError::Empty);
    }
    Ok(chain::verified_records(log, Chain::genesis(), Seal::Signed(trusted))?.0)
}

/// The data of a start record.
pub struct StartData<'a> {
    pub tool_version: &'a str,
    pub tool_sha256: &'a str,
    /// The cargo features of the running build: "airgap" or "airgap,connected".
    pub tool_features: &'a str,
    pub script_sha256: &'a str,
    pub manifest_sha256: &'a str,
    pub token_label: &'a str,
    pub log_key_sha256: &'a str,
}

impl StartData<'_> {
    pub fn to_data(&self) -> Map<String, Value> {
        data(&[
            ("format", FORMAT),
            ("tool", "keyrite"),
            ("tool_version", self.tool_version),
            ("tool_sha256", self.tool_sha256),
            ("tool_features", self.tool_features),
            ("script_sha256", self.script_sha256),
            ("manifest_sha256", self.manifest_sha256),
            ("token_label", self.token_label),
            ("log_key_sha256", self.log_key_sha256),
        ])
    }
}

/// A data object of text fields.
pub fn data(fields: &[(&str, &str)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

/// The records' bodies as written, in order, without checking signatures or the chain: what
/// `audit replay` shows. Use [`verify`] to know whether they can be trusted.
pub fn bodies(log: &[u8]) -> Result<Vec<Body>, LogError> {
    let mut out = Vec::new();
    for line in chain::lines(log) {
        let (line_no, line) = line?;
        out.push(chain::unverified_body(line_no, line)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::sha256_hex;
    use p256::ecdsa::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + s).unwrap()
    }

    fn good_log(k: &SigningKey) -> Vec<u8> {
        good_log_with_start(k, |_| {})
    }

    /// A good log whose start record's data is first changed by `edit`.
    fn good_log_with_start(k: &SigningKey, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        let h = "ab".repeat(32);
        let mut chain = LogChain::new();
        let actors = vec!["Alice Admin".to_string()];
        let mut out = Vec::new();
        let start = StartData {
            tool_version: "0.1.0",
            tool_sha256: &h,
            tool_features: "airgap",
            script_sha256: &h,
            manifest_sha256: &h,
            token_label: "t",
            log_key_sha256: trusted.fingerprint(),
        };
        let mut start_data = start.to_data();
        edit(&mut start_data);
        out.extend(
            chain
                .record(k, t(0), step::START, &actors, start_data)
                .unwrap(),
        );
        let p = data(&[("algorithm", "RSAES_OAEP_SHA_1"), ("result", "ok")]);
        out.extend(chain.record(k, t(1), step::PROBE, &actors, p).unwrap());
        let g = data(&[
            ("key", "k1"),
            ("key_arn", "arn"),
            ("hsm_label", "l"),
            ("check_value", "abcdef"),
        ]);
        out.extend(
            chain
                .record(k, t(1), step::KEY_GENERATED, &actors, g)
                .unwrap(),
        );
        let w = data(&[
            ("key", "k1"),
            ("file", "k1/EncryptedKeyMaterial.bin"),
            ("sha256", &h),
        ]);
        out.extend(
            chain
                .record(k, t(2), step::KEY_WRAPPED, &actors, w)
                .unwrap(),
        );
        let e = data(&[("manifest_sha256", &h)]);
        out.extend(chain.record(k, t(3), step::END, &actors, e).unwrap());
        out
    }

    #[test]
    fn a_good_log_verifies_and_reports_its_bindings() {
        let k = key();
        let log = good_log(&k);
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        let r = verify(&log, &trusted).unwrap();
        assert_eq!(r.records.len(), 5);
        assert_eq!(r.keys[0].check_value, "abcdef");
        assert_eq!(r.binding.tool_version, "0.1.0");
        assert_eq!(r.binding.tool_features.as_deref(), Some("airgap"));
        let last = log[..log.len() - 1].rsplit(|&b| b == b'\n').next().unwrap();
        assert_eq!(r.head_sha256, sha256_hex(last));
    }

    #[test]
    fn a_log_that_does_not_record_its_build_still_verifies() {
        let k = key();
        let log = good_log_with_start(&k, |d| {
            d.remove("tool_features");
        });
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        assert_eq!(verify(&log, &trusted).unwrap().binding.tool_features, None);
        let log = good_log_with_start(&k, |d| {
            d.insert("tool_features".into(), Value::Bool(true));
        });
        let err = verify(&log, &trusted).unwrap_err().to_string();
        assert!(err.contains("data.tool_features"), "{err}");
    }

    #[test]
    fn an_unfinished_log_is_refused_as_unfinished() {
        let k = key();
        let log = good_log(&k);
        let cut: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
        let partial = cut[..3].concat();
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        assert_eq!(
            verify(&partial, &trusted).unwrap_err(),
            LogError::Unfinished { last_seq: 2 }
        );
    }

    #[test]
    fn a_log_signed_by_another_key_fails_on_its_first_line() {
        let log = good_log(&key());
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let trusted = TrustedKey::from_key(*other.verifying_key()).unwrap();
        assert_eq!(
            verify(&log, &trusted).unwrap_err(),
            LogError::BadSignature {
                line: 1,
                seq: Some(0)
            }
        );
    }

    #[test]
    fn pem_round_trips() {
        let k = key();
        let (pem, fp) = public_key_pem(k.verifying_key()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let t = TrustedKey::from_pem(&pem).unwrap();
        assert_eq!(t.fingerprint(), fp);
        assert!(TrustedKey::from_pem("junk").is_err());
    }
}
