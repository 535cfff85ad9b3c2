//! The import receipt: what the connected side did with a ceremony's bundle, as a continuation of
//! the ceremony log's hash chain.
//!
//! One record is one line, exactly
//!
//! ```text
//! {"body":<body JSON>}\n
//! ```
//!
//! The body is the ceremony log's ([`super::log::Body`]): `seq` goes on from the ceremony log's
//! last record, and the first receipt record's `prev` is the SHA-256 of the ceremony log's last
//! line ([`super::log::Report::head_sha256`]); after that, `prev` is the SHA-256 of the previous
//! receipt line as written (without its newline).
//!
//! Records are chained but not signed: the connected machine has no HSM, and a software key kept
//! beside the receipt protects nothing the file system does not (SECURITY.md, "The import
//! receipt"). The chain ties the receipt to one signed ceremony log and detects any record edited,
//! removed or reordered; the KMS request ids it holds point at the CloudTrail events, which AWS
//! signs, for the authenticity of what was imported.
//!
//! Like the ceremony log's verifier, this one never re-serialises: it cuts the body out of the line
//! by position and hashes the line as it stands. Nothing in here does I/O.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::core::chain::{self, Chain, ChainError, Seal};
use crate::core::log::Report;

pub mod record;

pub use record::{AliasMoved, FORMAT, ImportOutcome, KeyImported, Missing, Record, data, step};

/// The file name of the receipt inside a bundle.
pub const FILE_NAME: &str = "import-receipt.log";

/// Why a receipt does not hold. Every variant names the first bad line (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error(
        "{FILE_NAME}: line {line}: the last record is cut off (no newline at its end)\n  what to do: the receipt was truncated, by a crash or by hand; the records before line {line} still hold; check the keys in KMS and CloudTrail"
    )]
    Truncated { line: usize },
    #[error(
        "{FILE_NAME}: line {line}: not a receipt record: {reason}\n  what to do: the receipt was altered or damaged; get the original copy, and check the imports in CloudTrail"
    )]
    Framing { line: usize, reason: String },
    #[error(
        "{FILE_NAME}: line {line}: expected seq {expected}, found {found}\n  what to do: records were removed, repeated or reordered, or the receipt belongs to another ceremony; get the original receipt"
    )]
    Sequence {
        line: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "{FILE_NAME}: line {line} (seq {seq}): prev is {found}, but {what} hashes to {expected}\n  what to do: the receipt does not continue this ceremony's log, or a record before it was altered; get the original receipt"
    )]
    Chain {
        line: usize,
        seq: u64,
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error(
        "{FILE_NAME}: line {line} (seq {seq}): {reason}\n  what to do: the receipt does not match this bundle; do not rely on it, check the keys in KMS and CloudTrail"
    )]
    Content {
        line: usize,
        seq: u64,
        reason: String,
    },
    #[error(
        "ceremony.log: {0}\n  what to do: the bundle's ceremony log is damaged; an import receipt can only continue a complete ceremony log"
    )]
    CeremonyLog(String),
}

impl From<ChainError> for ReceiptError {
    fn from(e: ChainError) -> ReceiptError {
        match e {
            ChainError::Truncated { line } => ReceiptError::Truncated { line },
            ChainError::Framing { line, reason } | ChainError::BadBody { line, reason } => {
                ReceiptError::Framing { line, reason }
            }
            ChainError::Sequence {
                line,
                expected,
                found,
            } => ReceiptError::Sequence {
                line,
                expected,
                found,
            },
            ChainError::Chain {
                line,
                seq,
                expected,
                found,
            } => ReceiptError::Chain {
                line,
                seq,
                what: if line == 1 {
                    "the ceremony log's last line"
                } else {
                    "the previous record"
                },
                expected,
                found,
            },
            // An unsigned receipt has no signatures or keys.
            other @ (ChainError::BadSignature { .. }
            | ChainError::HighS { .. }
            | ChainError::TrustedKey(_)
            | ChainError::Signing(_)) => ReceiptError::CeremonyLog(other.to_string()),
        }
    }
}

/// The writer's side: the receipt's chain (see [`crate::core::chain`]), continuing the ceremony
/// log's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptChain(Chain);

impl ReceiptChain {
    /// The chain right after the ceremony log `log` (its bytes as on disk, not verified here:
    /// `keyrite audit verify` does that with the trusted key).
    pub fn after_ceremony_log(log: &[u8]) -> Result<ReceiptChain, ReceiptError> {
        let bad = |s: &str| ReceiptError::CeremonyLog(s.to_string());
        let text = log
            .strip_suffix(b"\n")
            .ok_or_else(|| bad("it does not end with a complete record"))?;
        let last = match text.iter().rposition(|&b| b == b'\n') {
            Some(i) => &text[i + 1..],
            None => text,
        };
        if last.is_empty() {
            return Err(bad("it is empty"));
        }
        #[derive(serde::Deserialize)]
        struct Line {
            body: SeqOnly,
        }
        #[derive(serde::Deserialize)]
        struct SeqOnly {
            seq: u64,
        }
        let line: Line = serde_json::from_slice(last)
            .map_err(|e| ReceiptError::CeremonyLog(format!("its last line: {e}")))?;
        Ok(ReceiptChain(Chain::after(line.body.seq, last)))
    }

    /// The chain right after a ceremony log verified with the trusted key: `next_seq` and the
    /// SHA-256 of its last line, from [`crate::core::signed_ceremony::SignedCeremony`].
    pub fn after_verified_log(next_seq: u64, head: String) -> ReceiptChain {
        ReceiptChain(Chain::resume(next_seq, head))
    }

    pub fn next_seq(&self) -> u64 {
        self.0.next_seq()
    }

    pub fn head(&self) -> &str {
        self.0.head()
    }

    /// Builds the next record from its typed form; returns the whole line including its newline.
    pub fn append(&mut self, time: Timestamp, record: &Record) -> Vec<u8> {
        self.record(time, record.step(), &[], record.to_data())
    }

    /// Builds the next record; returns the whole line including its newline.
    pub fn record(
        &mut self,
        time: Timestamp,
        step: &str,
        actors: &[String],
        data: Map<String, Value>,
    ) -> Vec<u8> {
        self.0.append_unsigned(time, step, actors, data)
    }
}

/// One key the receipt says was imported.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReceiptKey {
    pub line: usize,
    pub seq: u64,
    pub time: Timestamp,
    pub key: String,
    pub key_arn: String,
    pub kind: String,
    pub encrypted_key_material_sha256: String,
    pub import_token_sha256: String,
    pub import_request_id: Option<String>,
    pub rotate_request_id: Option<String>,
    pub key_material_id: Option<String>,
    pub state: String,
    pub pre_rotation_ciphertext_sha256: Option<String>,
    /// A multi-Region key's replicas, each given the same material in its own Region.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<record::ReplicaImported>,
}

/// What a receipt says, as [`verify_chain`] found it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReceiptReport {
    pub records: usize,
    /// How many `import.start` records: one per run of `keyrite kms import`.
    pub runs: usize,
    /// Whether the last run wrote its `import.end`.
    pub finished: bool,
    pub keys: Vec<ReceiptKey>,
    /// (key, key material id) of pending material rolled back.
    pub rolled_back: Vec<(String, String)>,
    /// Aliases moved, in order, with when.
    pub alias_moves: Vec<(Timestamp, AliasMoved)>,
    /// SHA-256 of the receipt's last line.
    pub head_sha256: String,
}

/// Checks the receipt's framing, sequence and chain from `start` (the chain right after the
/// ceremony log), and the content of each record. Returns what it says and the chain to append to.
pub fn verify_chain(
    receipt: &[u8],
    start: &ReceiptChain,
) -> Result<(ReceiptReport, ReceiptChain), ReceiptError> {
    let mut chain = start.clone();
    let mut report = ReceiptReport {
        records: 0,
        runs: 0,
        finished: false,
        keys: Vec::new(),
        rolled_back: Vec::new(),
        alias_moves: Vec::new(),
        head_sha256: start.head().to_string(),
    };
    for line in chain::lines(receipt) {
        let (line_no, line) = line?;
        let body = chain.0.accept(line_no, line, Seal::Unsigned)?;
        let content = |reason: String| ReceiptError::Content {
            line: line_no,
            seq: body.seq,
            reason,
        };
        let text = |name: &str| -> Result<String, ReceiptError> {
            body.data
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| content(format!("{} has no {name}", body.step)))
        };
        let lacks = |m: Missing| content(format!("{} has no {}", body.step, m.0));
        if line_no == 1 && body.step != step::START {
            return Err(content(format!(
                "the first record must be {}, this one is {}",
                step::START,
                body.step
            )));
        }
        match body.step.as_str() {
            step::START => {
                let format = text("format")?;
                if format != FORMAT {
                    return Err(content(format!(
                        "the receipt format is {format:?}, this keyrite reads {FORMAT:?}"
                    )));
                }
                report.runs += 1;
                report.finished = false;
            }
            step::KEY_IMPORTED => {
                if report.finished {
                    return Err(content(format!(
                        "a {} record follows {} without a new {}",
                        step::KEY_IMPORTED,
                        step::END,
                        step::START
                    )));
                }
                let k = KeyImported::from_data(&body.data).map_err(lacks)?;
                report.keys.push(ReceiptKey {
                    line: line_no,
                    seq: body.seq,
                    time: body.time,
                    key: k.key,
                    key_arn: k.key_arn,
                    kind: k.kind,
                    encrypted_key_material_sha256: k.encrypted_key_material_sha256,
                    import_token_sha256: k.import_token_sha256,
                    import_request_id: k.import_request_id,
                    rotate_request_id: k.rotate_request_id,
                    key_material_id: k.key_material_id,
                    state: k.state,
                    pre_rotation_ciphertext_sha256: k.pre_rotation_ciphertext_sha256,
                    replicas: k.replicas,
                });
            }
            step::KEY_ROLLED_BACK => {
                report
                    .rolled_back
                    .push((text("key")?, text("key_material_id")?));
            }
            step::ALIAS_MOVED => {
                report
                    .alias_moves
                    .push((body.time, AliasMoved::from_data(&body.data).map_err(lacks)?));
            }
            step::KEY_ROTATION_VERIFIED => {
                let result = text("result")?;
                if result != "passed" && result != "failed" {
                    return Err(content(format!(
                        "{} result is {result:?}, not passed or failed",
                        step::KEY_ROTATION_VERIFIED
                    )));
                }
                text("key")?;
            }
            step::END => report.finished = true,
            other => return Err(content(format!("unknown step {other:?}"))),
        }
        report.records += 1;
    }
    report.head_sha256 = chain.head().to_string();
    Ok((report, chain))
}

/// The receipt against a verified ceremony log: it continues that log's chain, every run imported
/// the bundle the ceremony wrote, and every key record names a key of the ceremony with the wrapped
/// material the ceremony recorded.
pub fn verify(receipt: &[u8], ceremony: &Report) -> Result<ReceiptReport, ReceiptError> {
    let last = ceremony
        .records
        .last()
        .ok_or_else(|| ReceiptError::CeremonyLog("it has no records".into()))?;
    let start = ReceiptChain(Chain::resume(last.seq + 1, ceremony.head_sha256.clone()));
    let (report, _) = verify_chain(receipt, &start)?;
    check_runs(receipt, ceremony)?;
    check_records(receipt, ceremony, &report)?;
    for k in &report.keys {
        let content = |reason: String| ReceiptError::Content {
            line: k.line,
            seq: k.seq,
            reason,
        };
        let logged = ceremony
            .keys
            .iter()
            .find(|l| l.key == k.key)
            .ok_or_else(|| content(format!("key {:?} is not a key of this ceremony", k.key)))?;
        if logged.key_arn != k.key_arn {
            return Err(content(format!(
                "{}: imported into {}, the ceremony made it for {}",
                k.key, k.key_arn, logged.key_arn
            )));
        }
        match &logged.wrapped {
            Some((_, sha)) if *sha == k.encrypted_key_material_sha256 => {}
            Some((_, sha)) => {
                return Err(content(format!(
                    "{}: the material sent hashes to {}, the ceremony wrapped {sha}",
                    k.key, k.encrypted_key_material_sha256
                )));
            }
            None => {
                return Err(content(format!(
                    "{}: the ceremony log records no wrapped material",
                    k.key
                )));
            }
        }
    }
    Ok(report)
}

/// Every `import.start` names the bundle the ceremony wrote and the ceremony log's head.
fn check_runs(receipt: &[u8], ceremony: &Report) -> Result<(), ReceiptError> {
    for (i, line) in receipt.split(|&b| b == b'\n').enumerate() {
        let Ok(body) = chain::sealed_body(i + 1, line, Seal::Unsigned) else {
            continue;
        };
        if body.step != step::START {
            continue;
        }
        let get = |n: &str| body.data.get(n).and_then(Value::as_str).unwrap_or("");
        let content = |reason: String| ReceiptError::Content {
            line: i + 1,
            seq: body.seq,
            reason,
        };
        let Some(final_manifest) = ceremony.final_manifest_sha256.as_deref() else {
            return Err(content(
                "an import of a ceremony that was aborted: its bundle holds no wrapped keys to import"
                    .into(),
            ));
        };
        if get("manifest_sha256") != final_manifest {
            return Err(content(format!(
                "this run imported bundle {}, the ceremony wrote {final_manifest}",
                get("manifest_sha256"),
            )));
        }
        if get("ceremony_log_head") != ceremony.head_sha256 {
            return Err(content(format!(
                "this run names ceremony log head {}, the log's is {}",
                get("ceremony_log_head"),
                ceremony.head_sha256
            )));
        }
    }
    Ok(())
}

/// What every record must hold against the ceremony it continues: no record dated before the
/// ceremony's last record (the receipt cannot describe an import of material not yet made); a
/// rollback only of a key of this ceremony (its name and ARN); and once an import run has
/// finished, every key the ceremony wrapped accounted for, imported or explicitly rolled back.
fn check_records(
    receipt: &[u8],
    ceremony: &Report,
    report: &ReceiptReport,
) -> Result<(), ReceiptError> {
    let ended = ceremony
        .records
        .last()
        .ok_or_else(|| ReceiptError::CeremonyLog("it has no records".into()))?;
    let mut run = String::new();
    let mut import_finished: Option<(usize, u64)> = None;
    for (i, line) in receipt.split(|&b| b == b'\n').enumerate() {
        let Ok(body) = chain::sealed_body(i + 1, line, Seal::Unsigned) else {
            continue;
        };
        let content = |reason: String| ReceiptError::Content {
            line: i + 1,
            seq: body.seq,
            reason,
        };
        if body.time < ended.time {
            return Err(content(format!(
                "{} is dated {}, before the ceremony's last record ({}, {}): a receipt records what happened after the ceremony",
                body.step, body.time, ended.step, ended.time
            )));
        }
        let get = |n: &str| body.data.get(n).and_then(Value::as_str).unwrap_or("");
        match body.step.as_str() {
            step::START => run = get("run").to_string(),
            step::KEY_ROLLED_BACK => {
                let key = get("key");
                let logged = ceremony.keys.iter().find(|l| l.key == key).ok_or_else(|| {
                    content(format!(
                        "a rollback of key {key:?}, which this ceremony did not produce"
                    ))
                })?;
                if logged.key_arn != get("key_arn") {
                    return Err(content(format!(
                        "a rollback of {key} in {}, the ceremony made it for {}",
                        get("key_arn"),
                        logged.key_arn
                    )));
                }
            }
            step::END if run == "import" => import_finished = Some((i + 1, body.seq)),
            _ => {}
        }
    }
    if let Some((line, seq)) = import_finished {
        for logged in ceremony.keys.iter().filter(|k| k.wrapped.is_some()) {
            let imported = report.keys.iter().any(|k| k.key == logged.key);
            let rolled_back = report.rolled_back.iter().any(|(k, _)| *k == logged.key);
            if !imported && !rolled_back {
                return Err(ReceiptError::Content {
                    line,
                    seq,
                    reason: format!(
                        "an import run finished here, but the receipt accounts for no record of key {}, which the ceremony wrapped: neither imported nor rolled back",
                        logged.key
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::sha256_hex;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    const CEREMONY: &[u8] = b"{\"body\":{\"seq\":0,\"x\":1},\"sig\":\"00\"}\n{\"body\":{\"seq\":4,\"x\":2},\"sig\":\"00\"}\n";

    fn receipt() -> (Vec<u8>, ReceiptChain) {
        let start = ReceiptChain::after_ceremony_log(CEREMONY).unwrap();
        let mut c = start.clone();
        let mut out = Vec::new();
        out.extend(c.record(
            t(0),
            step::START,
            &[],
            data(&[("format", Some(FORMAT)), ("manifest_sha256", Some("m"))]),
        ));
        out.extend(c.record(
            t(1),
            step::KEY_IMPORTED,
            &[],
            data(&[
                ("key", Some("prod-s3")),
                ("key_arn", Some("arn")),
                ("kind", Some("rotation")),
                ("encrypted_key_material_sha256", Some("aa")),
                ("import_token_sha256", Some("bb")),
                ("import_request_id", Some("req-1")),
                ("rotate_request_id", None),
                ("key_material_id", Some("mat")),
                ("state", Some("Enabled")),
            ]),
        ));
        out.extend(c.record(
            t(2),
            step::ALIAS_MOVED,
            &[],
            data(&[
                ("key", Some("prod-s3")),
                ("alias", Some("alias/prod-s3")),
                ("from_key_arn", Some("old")),
                ("to_key_arn", Some("arn")),
                ("request_id", None),
            ]),
        ));
        out.extend(c.record(t(3), step::END, &[], data(&[("keys", Some("2"))])));
        (out, start)
    }

    #[test]
    fn the_chain_continues_from_the_ceremony_logs_last_line() {
        let start = ReceiptChain::after_ceremony_log(CEREMONY).unwrap();
        assert_eq!(start.next_seq(), 5);
        assert_eq!(
            start.head(),
            sha256_hex(b"{\"body\":{\"seq\":4,\"x\":2},\"sig\":\"00\"}")
        );
        let (r, start) = receipt();
        let (report, chain) = verify_chain(&r, &start).unwrap();
        assert_eq!(report.records, 4);
        assert_eq!(report.runs, 1);
        assert!(report.finished);
        assert_eq!(report.keys[0].import_request_id.as_deref(), Some("req-1"));
        assert_eq!(report.keys[0].rotate_request_id, None);
        assert_eq!(report.alias_moves.len(), 1);
        assert_eq!(report.alias_moves[0].0, t(2));
        assert_eq!(report.alias_moves[0].1.from_key_arn, "old");
        assert_eq!(report.alias_moves[0].1.request_id, None);
        assert_eq!(chain.next_seq(), 9);
    }

    #[test]
    fn any_edit_removal_or_reordering_is_detected() {
        let (r, start) = receipt();
        let lines: Vec<&[u8]> = r.split_inclusive(|&b| b == b'\n').collect();
        let flipped = {
            let mut v = r.clone();
            let i = v.windows(5).position(|w| w == b"req-1").unwrap();
            v[i + 4] = b'2';
            v
        };
        let removed = [lines[0], lines[2]].concat();
        let reordered = [lines[0], lines[2], lines[1]].concat();
        let other_ceremony =
            ReceiptChain::after_ceremony_log(b"{\"body\":{\"seq\":4,\"x\":3},\"sig\":\"00\"}\n")
                .unwrap();
        assert!(matches!(
            verify_chain(&flipped, &start),
            Err(ReceiptError::Chain { line: 3, .. })
        ));
        assert!(matches!(
            verify_chain(&removed, &start),
            Err(ReceiptError::Sequence { line: 2, .. })
        ));
        assert!(matches!(
            verify_chain(&reordered, &start),
            Err(ReceiptError::Sequence { line: 2, .. })
        ));
        assert!(matches!(
            verify_chain(&r, &other_ceremony),
            Err(ReceiptError::Chain { line: 1, .. })
        ));
        assert!(matches!(
            verify_chain(&r[..r.len() - 1], &start),
            Err(ReceiptError::Truncated { line: 4 })
        ));
    }
}
