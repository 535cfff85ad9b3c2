//! The hash chain every keyrite log is made of: the ceremony log, a roster's own log and the import
//! receipt. This is the one copy of its framing, of how a record is appended and of how the chain is
//! checked; each log adds only the rules of its own steps.
//!
//! A record is one line. A signed record (ceremony log, roster log) is exactly
//!
//! ```text
//! {"body":<body JSON>,"sig":"<128 lower-case hex: ECDSA P-256 r||s>"}\n
//! ```
//!
//! and an unsigned one (the import receipt, written on the connected side without the HSM)
//! `{"body":<body JSON>}\n`. The body is `{"seq":…,"time":"…Z","step":"…","actors":[…],"data":{…},
//! "prev":"<hex>"}`. `prev` is the SHA-256 of the previous record's whole line as written (without
//! the newline), so the chain binds the signatures too; a log's first record has [`GENESIS_PREV`],
//! and the receipt's first record continues the ceremony log's last line.
//!
//! The checker never re-serialises: it cuts the body out of the line by position, checks the
//! signature on those bytes, and only then parses them. The framing is fixed, so a line has exactly
//! one byte form and any edit to it is detected.

use jiff::Timestamp;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::digest::sha256_hex;

/// The `prev` of a log's first record.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HEAD: &[u8] = b"{\"body\":";
const SIG_HEAD: &[u8] = b",\"sig\":\"";
const SIGNED_TAIL: &[u8] = b"\"}";
const UNSIGNED_TAIL: &[u8] = b"}";
const SIG_HEX_LEN: usize = 128;
const SIGNED_FRAME_LEN: usize = HEAD.len() + SIG_HEAD.len() + SIG_HEX_LEN + SIGNED_TAIL.len();

/// A record's body: what is signed and chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub seq: u64,
    pub time: Timestamp,
    pub step: String,
    pub actors: Vec<String>,
    pub data: Map<String, Value>,
    pub prev: String,
}

/// Signs log records: ECDSA P-256 over SHA-256 of `message`, returning the raw 64-byte r||s with
/// s in its low form (s <= n/2: see [`low_s`]). The HSM implementation takes the digest in
/// software and signs it with CKM_ECDSA.
pub trait LogSigner {
    type Error;
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Self::Error>;
}

/// A software key signs too: test corpora and benchmarks use it; a ceremony signs in the HSM.
impl LogSigner for SigningKey {
    type Error = ChainError;
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ChainError> {
        let digest = Sha256::digest(message);
        let sig: Signature = self
            .sign_prehash(&digest)
            .map_err(|_| ChainError::Signing("the software key failed to sign".into()))?;
        Ok(sig.normalize_s().to_bytes().to_vec())
    }
}

/// The trusted log key, parsed from PEM.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: VerifyingKey,
    fingerprint: String,
}

impl TrustedKey {
    pub fn from_pem(pem: &str) -> Result<TrustedKey, ChainError> {
        let key = VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|e| ChainError::TrustedKey(e.to_string()))?;
        TrustedKey::from_key(key)
    }

    pub fn from_key(key: VerifyingKey) -> Result<TrustedKey, ChainError> {
        let der = key
            .to_public_key_der()
            .map_err(|e| ChainError::TrustedKey(e.to_string()))?;
        Ok(TrustedKey {
            key,
            fingerprint: sha256_hex(der.as_bytes()),
        })
    }

    /// SHA-256 of the key's DER SubjectPublicKeyInfo, hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks a raw r||s signature over SHA-256 of `message`. Only the low-S form is accepted:
    /// ECDSA signatures are malleable ((r, s) and (r, n - s) both verify), and a log whose lines
    /// have one byte form each must not accept the second.
    pub fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        low_s(&sig)
            && self
                .key
                .verify_prehash(&Sha256::digest(message), &sig)
                .is_ok()
    }

    /// True when `sig` is the high-S twin of a valid signature of `message`: the malleated form.
    fn verifies_high_s(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        !low_s(&sig)
            && self
                .key
                .verify_prehash(&Sha256::digest(message), &sig.normalize_s())
                .is_ok()
    }
}

/// True when s <= n/2 (the form [`LogSigner`]s write).
pub fn low_s(sig: &Signature) -> bool {
    sig.normalize_s() == *sig
}

/// A raw r||s signature with s in its low form (unchanged if it already is, or unparsable).
pub fn normalize_low_s(sig: Vec<u8>) -> Vec<u8> {
    match Signature::from_slice(&sig) {
        Ok(s) => s.normalize_s().to_bytes().to_vec(),
        Err(_) => sig,
    }
}

/// A public key as PEM SubjectPublicKeyInfo, and its fingerprint.
pub fn public_key_pem(key: &VerifyingKey) -> Result<(String, String), ChainError> {
    let pem = key
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| ChainError::TrustedKey(e.to_string()))?;
    let t = TrustedKey::from_key(*key)?;
    Ok((pem, t.fingerprint))
}

/// Why a chain does not hold, at its first bad line (from 1). Each log turns these into its own
/// error, with its own advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The last line has no newline.
    #[error("line {line}: the last record is cut off (no newline at its end)")]
    Truncated { line: usize },
    /// The line is not a record of this log's framing.
    #[error("line {line}: not a log record: {reason}")]
    Framing { line: usize, reason: String },
    /// The signature does not verify; `seq` is what the untrusted body claims, if readable.
    #[error("line {line}: the signature does not verify with the trusted log key")]
    BadSignature { line: usize, seq: Option<u64> },
    /// The signature is the high-S twin of a valid one: a malleated record.
    #[error("line {line}: the signature is in its high-S form, which keyrite never writes")]
    HighS { line: usize, seq: Option<u64> },
    /// The (signed) body does not parse as a [`Body`].
    #[error("line {line}: the record is not a valid log body: {reason}")]
    BadBody { line: usize, reason: String },
    #[error("line {line} (seq {found}): expected seq {expected}")]
    Sequence {
        line: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "line {line} (seq {seq}): prev is {found}, but the previous record hashes to {expected}"
    )]
    Chain {
        line: usize,
        seq: u64,
        expected: String,
        found: String,
    },
    /// The trusted key cannot be used.
    #[error("the trusted log key is unusable: {0}")]
    TrustedKey(String),
    /// A software signer failed.
    #[error("signing a log record: {0}")]
    Signing(String),
}

/// How a log's lines are sealed.
#[derive(Debug, Clone, Copy)]
pub enum Seal<'k> {
    /// Each line signed; checked against this key.
    Signed(&'k TrustedKey),
    /// No signature (the import receipt).
    Unsigned,
}

/// The lines of a log with their numbers (from 1), each without its newline; a last line without
/// a newline is [`ChainError::Truncated`].
pub fn lines(log: &[u8]) -> impl Iterator<Item = Result<(usize, &[u8]), ChainError>> {
    log.split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| match line.strip_suffix(b"\n") {
            Some(line) => Ok((i + 1, line)),
            None => Err(ChainError::Truncated { line: i + 1 }),
        })
}

/// One framed line: the body's bytes and, for a signed line, the signature's bytes.
struct Framed<'a> {
    body: &'a [u8],
    sig: Option<Vec<u8>>,
}

fn frame_signed(line_no: usize, line: &[u8]) -> Result<Framed<'_>, ChainError> {
    let bad = |reason: &str| ChainError::Framing {
        line: line_no,
        reason: reason.into(),
    };
    if line.len() < SIGNED_FRAME_LEN + 2 {
        return Err(bad("too short"));
    }
    if !line.starts_with(HEAD) {
        return Err(bad("it does not start with {\"body\":"));
    }
    if !line.ends_with(SIGNED_TAIL) {
        return Err(bad("it does not end with \"}"));
    }
    let sig_start = line.len() - SIGNED_TAIL.len() - SIG_HEX_LEN;
    let body_end = sig_start - SIG_HEAD.len();
    if &line[body_end..sig_start] != SIG_HEAD {
        return Err(bad("no \"sig\" field of 128 hex digits at its end"));
    }
    let sig_hex = &line[sig_start..line.len() - SIGNED_TAIL.len()];
    if !sig_hex
        .iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return Err(bad("the signature is not 128 lower-case hex digits"));
    }
    let sig = data_encoding::HEXLOWER_PERMISSIVE
        .decode(sig_hex.as_ref())
        .map_err(|_| bad("the signature is not hex"))?;
    Ok(Framed {
        body: &line[HEAD.len()..body_end],
        sig: Some(sig),
    })
}

fn frame_unsigned(line_no: usize, line: &[u8]) -> Result<Framed<'_>, ChainError> {
    let body = line
        .strip_prefix(HEAD)
        .and_then(|l| l.strip_suffix(UNSIGNED_TAIL))
        .ok_or_else(|| ChainError::Framing {
            line: line_no,
            reason: "the line is not {\"body\":…}".into(),
        })?;
    Ok(Framed { body, sig: None })
}

fn parse_body(line_no: usize, body: &[u8]) -> Result<Body, ChainError> {
    serde_json::from_slice(body).map_err(|e| ChainError::BadBody {
        line: line_no,
        reason: e.to_string(),
    })
}

/// One line's body, once its framing (and signature) hold: a signed body is parsed only after the
/// signature is checked, so an untrusted body is never interpreted (except for the seq in the
/// error message).
pub fn sealed_body(line_no: usize, line: &[u8], seal: Seal<'_>) -> Result<Body, ChainError> {
    let framed = match seal {
        Seal::Signed(_) => frame_signed(line_no, line)?,
        Seal::Unsigned => frame_unsigned(line_no, line)?,
    };
    if let (Seal::Signed(trusted), Some(sig)) = (seal, &framed.sig)
        && !trusted.verifies(framed.body, sig)
    {
        // Best effort, for the message only: the body is not trusted.
        let seq = serde_json::from_slice::<Body>(framed.body)
            .ok()
            .map(|b| b.seq);
        if trusted.verifies_high_s(framed.body, sig) {
            return Err(ChainError::HighS { line: line_no, seq });
        }
        return Err(ChainError::BadSignature { line: line_no, seq });
    }
    parse_body(line_no, framed.body)
}

/// A signed line's body as written, its signature not checked: what `audit replay` shows before
/// (or without) verification.
pub fn unverified_body(line_no: usize, line: &[u8]) -> Result<Body, ChainError> {
    parse_body(line_no, frame_signed(line_no, line)?.body)
}

/// A chain's position: the next sequence number and the hash of the last line. Writers append
/// with it; checkers accept lines with it. Both advance it the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    next_seq: u64,
    prev: String,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::genesis()
    }
}

impl Chain {
    /// Before a log's first record.
    pub fn genesis() -> Chain {
        Chain {
            next_seq: 0,
            prev: GENESIS_PREV.to_string(),
        }
    }

    /// Right after a line with sequence number `seq` whose bytes (without newline) are `line`.
    pub fn after(seq: u64, line: &[u8]) -> Chain {
        Chain {
            next_seq: seq + 1,
            prev: sha256_hex(line),
        }
    }

    /// At sequence number `next_seq` after a line whose SHA-256 is `head` (hex).
    pub fn resume(next_seq: u64, head: String) -> Chain {
        Chain {
            next_seq,
            prev: head,
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// SHA-256 of the last line (or [`GENESIS_PREV`]).
    pub fn head(&self) -> &str {
        &self.prev
    }

    fn body_bytes(
        &self,
        time: Timestamp,
        step: &str,
        actors: &[String],
        data: Map<String, Value>,
    ) -> Vec<u8> {
        let body = Body {
            seq: self.next_seq,
            time,
            step: step.to_string(),
            actors: actors.to_vec(),
            data,
            prev: self.prev.clone(),
        };
        // Serialising plain strings, numbers and maps cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn seal(&mut self, mut line: Vec<u8>) -> Vec<u8> {
        self.prev = sha256_hex(&line);
        self.next_seq += 1;
        line.push(b'\n');
        line
    }

    /// Builds and signs the next record; returns the whole line including its newline. The chain
    /// advances only when signing succeeded.
    pub fn append_signed<S: LogSigner>(
        &mut self,
        signer: &S,
        time: Timestamp,
        step: &str,
        actors: &[String],
        data: Map<String, Value>,
    ) -> Result<Vec<u8>, S::Error> {
        let body = self.body_bytes(time, step, actors, data);
        let sig = signer.sign(&body)?;
        let mut line = Vec::with_capacity(body.len() + SIGNED_FRAME_LEN + 1);
        line.extend_from_slice(HEAD);
        line.extend_from_slice(&body);
        line.extend_from_slice(SIG_HEAD);
        line.extend_from_slice(data_encoding::HEXLOWER.encode(&sig).as_bytes());
        line.extend_from_slice(SIGNED_TAIL);
        Ok(self.seal(line))
    }

    /// Builds the next unsigned record; returns the whole line including its newline.
    pub fn append_unsigned(
        &mut self,
        time: Timestamp,
        step: &str,
        actors: &[String],
        data: Map<String, Value>,
    ) -> Vec<u8> {
        let body = self.body_bytes(time, step, actors, data);
        let mut line = Vec::with_capacity(body.len() + HEAD.len() + UNSIGNED_TAIL.len() + 1);
        line.extend_from_slice(HEAD);
        line.extend_from_slice(&body);
        line.extend_from_slice(UNSIGNED_TAIL);
        self.seal(line)
    }

    /// Checks line `line_no` as the chain's next record: framing, signature, sequence number and
    /// `prev`; advances past it and returns its body.
    pub fn accept(
        &mut self,
        line_no: usize,
        line: &[u8],
        seal: Seal<'_>,
    ) -> Result<Body, ChainError> {
        let body = sealed_body(line_no, line, seal)?;
        if body.seq != self.next_seq {
            return Err(ChainError::Sequence {
                line: line_no,
                expected: self.next_seq,
                found: body.seq,
            });
        }
        if body.prev != self.prev {
            return Err(ChainError::Chain {
                line: line_no,
                seq: body.seq,
                expected: self.prev.clone(),
                found: body.prev,
            });
        }
        *self = Chain::after(body.seq, line);
        Ok(body)
    }
}

/// Every record of `log` from `start`, checked as a chain (framing, signatures, sequence, `prev`),
/// with nothing checked about their steps: (line number, body), and the chain after the last.
pub fn verified_records(
    log: &[u8],
    start: Chain,
    seal: Seal<'_>,
) -> Result<(Vec<(usize, Body)>, Chain), ChainError> {
    let mut chain = start;
    let mut out = Vec::new();
    for line in lines(log) {
        let (line_no, line) = line?;
        out.push((line_no, chain.accept(line_no, line, seal)?));
    }
    Ok((out, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[9u8; 32]).unwrap()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_795_000_000 + s).unwrap()
    }

    #[test]
    fn signed_lines_append_and_check_with_the_same_chain() {
        let k = key();
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        let mut w = Chain::genesis();
        let mut log = Vec::new();
        for i in 0..3 {
            log.extend(w.append_signed(&k, at(i), "s", &[], Map::new()).unwrap());
        }
        let (records, end) =
            verified_records(&log, Chain::genesis(), Seal::Signed(&trusted)).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(end, w);
        assert_eq!(records[2].1.seq, 2);
    }

    #[test]
    fn unsigned_lines_continue_a_signed_chain() {
        let k = key();
        let mut w = Chain::genesis();
        let first = w.append_signed(&k, at(0), "s", &[], Map::new()).unwrap();
        let start = Chain::after(0, first.strip_suffix(b"\n").unwrap());
        assert_eq!(start, w);
        let mut receipt = Vec::new();
        receipt.extend(w.append_unsigned(at(1), "r", &[], Map::new()));
        receipt.extend(w.append_unsigned(at(2), "r", &[], Map::new()));
        let (records, end) = verified_records(&receipt, start.clone(), Seal::Unsigned).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(end, w);
        // A signed checker refuses the unsigned framing, and vice versa.
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        assert!(matches!(
            verified_records(&receipt, start, Seal::Signed(&trusted)),
            Err(ChainError::Framing { line: 1, .. })
        ));
    }

    #[test]
    fn each_break_of_the_chain_is_named_at_its_line() {
        let k = key();
        let trusted = TrustedKey::from_key(*k.verifying_key()).unwrap();
        let mut w = Chain::genesis();
        let lines: Vec<Vec<u8>> = (0..3)
            .map(|i| w.append_signed(&k, at(i), "s", &[], Map::new()).unwrap())
            .collect();
        let check = |parts: &[&Vec<u8>]| {
            let log: Vec<u8> = parts.iter().flat_map(|l| l.iter().copied()).collect();
            verified_records(&log, Chain::genesis(), Seal::Signed(&trusted)).map(|_| ())
        };
        assert_eq!(
            check(&[&lines[0], &lines[2]]),
            Err(ChainError::Sequence {
                line: 2,
                expected: 1,
                found: 2
            })
        );
        let mut cut = lines[1].clone();
        cut.pop();
        assert_eq!(
            check(&[&lines[0], &cut]),
            Err(ChainError::Truncated { line: 2 })
        );
        let mut flipped = lines[1].clone();
        flipped[20] ^= 1;
        assert!(matches!(
            check(&[&lines[0], &flipped]),
            Err(ChainError::BadSignature { line: 2, .. } | ChainError::Framing { line: 2, .. })
        ));
        // A record signed by another key is refused even with a correct chain.
        let other = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let mut w2 = Chain::genesis();
        let forged = w2
            .append_signed(&other, at(0), "s", &[], Map::new())
            .unwrap();
        assert_eq!(
            check(&[&forged]),
            Err(ChainError::BadSignature {
                line: 1,
                seq: Some(0)
            })
        );
    }
}
