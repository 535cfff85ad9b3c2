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

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ceremony::{Machine, Outcome, Record, Refusal};
use super::digest::sha256_hex;
use crate::core::chain::{self, Chain, ChainError, Seal};
pub use crate::core::chain::{
    Body, GENESIS_PREV, LogSigner, TrustedKey, low_s, normalize_low_s, public_key_pem,
};

pub use super::ceremony::record::FORMAT;
pub use super::ceremony::step;
pub use super::ceremony::{LoggedKey, LoggedQuorum};
/// The file name of the log inside a bundle.
pub const FILE_NAME: &str = "ceremony.log";

/// The writer's side of the ceremony log's chain (see [`crate::core::chain`]).
#[derive(Debug, Clone, Default)]
pub struct LogChain(Chain);

impl LogChain {
    pub fn new() -> LogChain {
        LogChain(Chain::genesis())
    }

    /// The chain after the complete records of `log` (each line ending in a newline): what
    /// appending to an interrupted log continues from. Verify the records first.
    pub fn continuing(log: &[u8]) -> LogChain {
        let mut next_seq = 0;
        let mut head = GENESIS_PREV.to_string();
        for line in log.split_inclusive(|&b| b == b'\n') {
            if let Some(line) = line.strip_suffix(b"\n") {
                head = sha256_hex(line);
                next_seq += 1;
            }
        }
        LogChain(Chain::resume(next_seq, head))
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
        "the log ends at seq {last_seq} without a {end} or {aborted} record\n  what to do: the ceremony was interrupted or the log's tail was cut off; the records present verify, but the ceremony is not evidenced as complete. Run `keyrite ceremony` again on the same bundle to finish or abort it",
        end = step::END,
        aborted = step::ABORTED
    )]
    Unfinished { last_seq: u64 },
    #[error(
        "the log says it is signed by key {logged}; you trusted {trusted}\n  what to do: its start record names another log key than the one given with --trust (a log of another token, or the wrong PEM): pass the log public key published for the token that ran this ceremony; if that is the one you gave, the log is not that token's"
    )]
    SignedByOtherKey { logged: String, trusted: String },
    #[error(
        "the trusted log key is unusable: {0}\n  what to do: pass the log public key as PEM (-----BEGIN PUBLIC KEY-----), as exported at enrolment"
    )]
    TrustedKey(String),
    #[error("signing a log record: {0}\n  what to do: check the HSM and start again")]
    Signing(String),
    #[error(transparent)]
    NotAsSigned(Box<FieldDiffers>),
    #[error(
        "the ceremony did not finish: {reason}; keyrite imports only what a complete ceremony wrapped, and nothing was sent to KMS\n  what to do: finish the ceremony (`keyrite ceremony` on the same bundle), or prepare a new bundle"
    )]
    AbortedCeremony { reason: String },
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

/// A manifest field that is not what the signed log recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{key}: the bundle's {field} is {bundle}, but the signed ceremony log records {signed}; nothing was sent to KMS\n  what to do: the bundle was altered after its ceremony, or its ceremony.log belongs to another bundle; do not import it. Keep it as evidence and use the bundle exactly as the ceremony wrote it (check it with `keyrite audit verify`)"
)]
pub struct FieldDiffers {
    pub key: String,
    pub field: String,
    pub bundle: String,
    pub signed: String,
}

fn seq_suffix(seq: Option<u64>) -> String {
    seq.map(|s| format!(" (claims seq {s})"))
        .unwrap_or_default()
}

/// What the start record binds: the tool, the script, the prepared manifest, the token, the log
/// key and, with a quorum, the roster.
pub type Binding = super::ceremony::record::Start;

/// One record, as listed in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordSummary {
    pub line: usize,
    pub seq: u64,
    pub time: Timestamp,
    pub step: String,
    pub actors: Vec<String>,
}

/// How a ceremony's log closes: an end record (complete), an aborted record, or neither (the
/// ceremony was interrupted and never taken up again, or the log's tail is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CeremonyOutcome {
    Complete,
    Aborted,
    Unfinished,
}

impl CeremonyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyOutcome::Complete => "complete",
            CeremonyOutcome::Aborted => "aborted",
            CeremonyOutcome::Unfinished => "unfinished",
        }
    }
}

/// An interrupted ceremony taken up again, as its resumed record tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interruption {
    pub seq: u64,
    pub time: Timestamp,
    /// What the operators chose: finish or abort.
    pub choice: super::ceremony::ResumeChoice,
    /// The keyrite that took it up again.
    pub tool_version: String,
    pub tool_sha256: String,
}

/// What a verified log says, as [`verify`] found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub outcome: CeremonyOutcome,
    pub records: Vec<RecordSummary>,
    pub binding: Binding,
    pub keys: Vec<LoggedKey>,
    /// The manifest the ceremony wrote, by hash (from the end record); None for an aborted
    /// ceremony.
    pub final_manifest_sha256: Option<String>,
    /// The ceremony was abandoned: the log closes with an aborted record.
    pub aborted: Option<AbortedCeremony>,
    /// How many times the ceremony was interrupted and taken up again.
    pub resumptions: usize,
    /// Each time it was taken up again, in order.
    pub interruptions: Vec<Interruption>,
    /// SHA-256 of the last line: what a continuation (the import receipt) chains to.
    pub head_sha256: String,
    /// SHA-256 of the trusted key's DER SubjectPublicKeyInfo.
    pub trusted_key_sha256: String,
    /// The quorum that opened the HSM, when the start record binds a roster.
    pub quorum: Option<LoggedQuorum>,
}

/// An abandoned ceremony, as its aborted record tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbortedCeremony {
    pub reason: String,
    /// HSM labels of the keys destroyed (generated under the bundle, never written).
    pub destroyed: Vec<String>,
}

/// Verifies a whole ceremony log against the trusted key: every line framed, every signature,
/// sequence from 0 without gaps, the prev chain, then each record read as its typed
/// [`Record`] and taken by the ceremony's own order rules ([`Machine`]): the start record's
/// bindings first, and an end or aborted record last. The error names the first bad record.
/// A log without its end or aborted record is refused ([`LogError::Unfinished`]).
pub fn verify(log: &[u8], trusted: &TrustedKey) -> Result<Report, LogError> {
    let report = verify_records(log, trusted)?;
    if report.outcome == CeremonyOutcome::Unfinished {
        return Err(LogError::Unfinished {
            last_seq: report.records.len().saturating_sub(1) as u64,
        });
    }
    Ok(report)
}

/// As [`verify`], but a log whose every record holds and that has not closed (no end or aborted
/// record: an interrupted ceremony) is reported, as [`CeremonyOutcome::Unfinished`], not refused.
/// Before any signature, the log key the start record names is compared with the trusted one, so
/// that a log of another token is told as such and not as tampering.
pub fn verify_records(log: &[u8], trusted: &TrustedKey) -> Result<Report, LogError> {
    if log.is_empty() {
        return Err(LogError::Empty);
    }
    check_named_key(log, trusted)?;
    let mut chain = Chain::genesis();
    let mut records = Vec::new();
    let mut interruptions = Vec::new();
    let mut machine = Machine::new();
    for line in chain::lines(log) {
        let (line_no, line) = line?;
        let body = chain.accept(line_no, line, Seal::Signed(trusted))?;
        let refused = |why: Refusal| match why {
            Refusal::Step(reason) => LogError::Step {
                line: line_no,
                seq: body.seq,
                reason,
            },
            Refusal::Quorum(reason) => LogError::Quorum {
                line: line_no,
                seq: body.seq,
                reason,
            },
        };
        let record = Record::from_data(&body.step, &body.data).map_err(refused)?;
        if let Record::Start(s) = &record
            && s.log_key_sha256 != trusted.fingerprint()
            && machine.start().is_none()
        {
            return Err(refused(Refusal::Step(format!(
                "the log names signing key {}, but the trusted key is {}",
                s.log_key_sha256,
                trusted.fingerprint()
            ))));
        }
        machine.accept(&record).map_err(refused)?;
        if let Record::Resumed(r) = &record {
            interruptions.push(Interruption {
                seq: body.seq,
                time: body.time,
                choice: r.choice,
                tool_version: r.tool_version.clone(),
                tool_sha256: r.tool_sha256.clone(),
            });
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
    let Some(start) = machine.start() else {
        return Err(LogError::Unfinished { last_seq });
    };
    let (outcome, final_manifest_sha256, aborted) = match machine.outcome() {
        Some(Outcome::Ended(e)) => (
            CeremonyOutcome::Complete,
            Some(e.manifest_sha256.clone()),
            None,
        ),
        Some(Outcome::Aborted(a)) => (
            CeremonyOutcome::Aborted,
            None,
            Some(AbortedCeremony {
                reason: a.reason.clone(),
                destroyed: a.destroyed.clone(),
            }),
        ),
        None => (CeremonyOutcome::Unfinished, None, None),
    };
    Ok(Report {
        outcome,
        records,
        binding: start.clone(),
        keys: machine.keys().to_vec(),
        final_manifest_sha256,
        aborted,
        resumptions: machine.resumptions(),
        interruptions,
        head_sha256: chain.head().to_string(),
        trusted_key_sha256: trusted.fingerprint().to_string(),
        quorum: machine.quorum().cloned(),
    })
}

/// The log key the first record names (read before its signature is checked) against the
/// trusted one. Only a well-formed SHA-256 is quoted back; anything else is left to the
/// signature check to refuse.
fn check_named_key(log: &[u8], trusted: &TrustedKey) -> Result<(), LogError> {
    let Some(Ok((line_no, line))) = chain::lines(log).next() else {
        return Ok(());
    };
    let Ok(body) = chain::unverified_body(line_no, line) else {
        return Ok(());
    };
    let named = body
        .data
        .get("log_key_sha256")
        .and_then(Value::as_str)
        .filter(|s| {
            s.len() == 64
                && s.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        });
    match named {
        Some(named) if body.step == step::START && named != trusted.fingerprint() => {
            Err(LogError::SignedByOtherKey {
                logged: named.to_string(),
                trusted: trusted.fingerprint().to_string(),
            })
        }
        _ => Ok(()),
    }
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
    /// (ceremony name, operator, witness), as the ceremony's answers named them.
    pub roles: Option<(&'a str, &'a str, Option<&'a str>)>,
    pub script_sha256: &'a str,
    pub manifest_sha256: &'a str,
    pub token_label: &'a str,
    pub log_key_sha256: &'a str,
}

impl StartData<'_> {
    pub fn to_data(&self) -> Map<String, Value> {
        let mut fields = vec![
            ("format", FORMAT),
            ("tool", "keyrite"),
            ("tool_version", self.tool_version),
            ("tool_sha256", self.tool_sha256),
            ("tool_features", self.tool_features),
        ];
        if let Some((ceremony, operator, witness)) = self.roles {
            fields.push(("ceremony", ceremony));
            fields.push(("operator", operator));
            if let Some(w) = witness {
                fields.push(("witness", w));
            }
        }
        fields.extend([
            ("script_sha256", self.script_sha256),
            ("manifest_sha256", self.manifest_sha256),
            ("token_label", self.token_label),
            ("log_key_sha256", self.log_key_sha256),
        ]);
        data(&fields)
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
            roles: Some(("unit", "Alice Admin", None)),
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
    fn a_log_of_another_key_is_told_as_such_before_any_signature() {
        let k = key();
        let log = good_log(&k);
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let trusted = TrustedKey::from_key(*other.verifying_key()).unwrap();
        let ours = TrustedKey::from_key(*k.verifying_key()).unwrap();
        assert_eq!(
            verify(&log, &trusted).unwrap_err(),
            LogError::SignedByOtherKey {
                logged: ours.fingerprint().to_string(),
                trusted: trusted.fingerprint().to_string(),
            }
        );
        let text = verify(&log, &trusted).unwrap_err().to_string();
        assert!(
            text.starts_with(&format!(
                "the log says it is signed by key {}; you trusted {}",
                ours.fingerprint(),
                trusted.fingerprint()
            )),
            "{text}"
        );
        // A start record that names the trusted key but was signed by another: a bad signature.
        let forged = good_log_with_start(&other, |d| {
            d.insert(
                "log_key_sha256".into(),
                Value::String(ours.fingerprint().into()),
            );
        });
        assert_eq!(
            verify(&forged, &ours).unwrap_err(),
            LogError::BadSignature {
                line: 1,
                seq: Some(0)
            }
        );
    }

    #[test]
    fn an_unfinished_log_is_reported_by_verify_records_and_refused_by_verify() {
        let k = key();
        let log = good_log(&k);
        let cut: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
        let partial = cut[..4].concat();
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        let r = verify_records(&partial, &trusted).unwrap();
        assert_eq!(r.outcome, CeremonyOutcome::Unfinished);
        assert_eq!(r.records.len(), 4);
        assert_eq!(r.final_manifest_sha256, None);
        assert!(matches!(
            verify(&partial, &trusted),
            Err(LogError::Unfinished { last_seq: 3 })
        ));
        assert_eq!(
            verify(&log, &trusted).unwrap().outcome,
            CeremonyOutcome::Complete
        );
        let roles = verify(&log, &trusted).unwrap().binding.roles.unwrap();
        assert_eq!(
            (
                roles.ceremony.as_str(),
                roles.operator.as_str(),
                roles.witness
            ),
            ("unit", "Alice Admin", None)
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
