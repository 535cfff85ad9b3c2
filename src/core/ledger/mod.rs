//! The token's ledger: every ceremony, enrolment and re-wrap its log key closed, as the leaves of
//! an RFC 6962 Merkle tree (each leaf the SHA-256 of that log's final record), with checkpoints
//! signed by the log key (C2SP tlog-checkpoint, signed-note) and cosigned by witnesses outside
//! the room (C2SP tlog-cosignature). A signed log proves a ceremony was not changed; the ledger's
//! size proves how many there were, and a witness's cosignature that nobody was shown another
//! history.

pub mod cosignature;
pub mod note;
pub mod proof;
pub mod tree;
pub mod witness;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::chain::{LogSigner, TrustedKey};
use crate::core::digest::sha256_hex;
use cosignature::{Cosigned, WitnessKey};
use note::{Head, NoteProblem};
use proof::{ConsistencyProof, InclusionProof};
use tree::{NodeHash, Tree, TreeError};

/// The ledger file, in the ledger directory and (a copy) in each bundle.
pub const FILE_NAME: &str = "ledger.jsonl";
/// The last checkpoint the log key signed, in the ledger directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";
pub const FORMAT: &str = "keyrite-ledger/1";

/// What closed a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Ceremony,
    Rewrap,
    Enrolment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Ceremony => "ceremony",
            EntryKind::Rewrap => "rewrap",
            EntryKind::Enrolment => "enrolment",
        }
    }
}

/// One leaf: the final record's SHA-256 (what the tree commits to) and, for people, what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub kind: EntryKind,
    /// SHA-256 (hex) of the log's final record line, as the hash chain computes it.
    pub final_record_sha256: String,
    /// The bundle's prepared fingerprint (a ceremony) or the roster's SHA-256 (an enrolment).
    pub subject: String,
    pub time: Timestamp,
}

impl Entry {
    pub fn leaf(&self) -> Result<NodeHash, LedgerError> {
        hash_of(&self.final_record_sha256)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    origin: String,
}

/// Why a ledger or its evidence does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is unreadable at line {line}: {problem}")]
    Syntax { line: usize, problem: String },
    #[error("the ledger is for {found}, not for this log key ({expected})")]
    OtherOrigin { found: String, expected: String },
    #[error("the checkpoint: {0}")]
    Checkpoint(#[from] NoteProblem),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("{0}")]
    Proof(#[from] proof::ProofSyntax),
    #[error(
        "the ledger copy does not give the checkpoint's root at size {size}: it is not the ledger the log key signed"
    )]
    CopyDiffers { size: u64 },
    #[error(
        "leaf {index} of the checkpoint is {found}, not this ceremony's final record {expected}"
    )]
    OtherLeaf {
        index: u64,
        found: String,
        expected: String,
    },
    #[error(transparent)]
    Cosignature(#[from] cosignature::CosignatureProblem),
    #[error("{found} of the {required} witness cosignature(s) required: {missing}")]
    TooFewWitnesses {
        found: usize,
        required: usize,
        missing: String,
    },
    #[error("{0} is not a SHA-256 in hex")]
    NotAHash(String),
}

fn hash_of(hex: &str) -> Result<NodeHash, LedgerError> {
    data_encoding::HEXLOWER
        .decode(hex.as_bytes())
        .ok()
        .and_then(|b| <NodeHash>::try_from(b).ok())
        .ok_or_else(|| LedgerError::NotAHash(hex.to_string()))
}

/// The whole ledger: its origin and its entries, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub origin: String,
    pub entries: Vec<Entry>,
}

impl Ledger {
    pub fn new(log_key: &TrustedKey) -> Ledger {
        Ledger {
            origin: note::origin(log_key),
            entries: Vec::new(),
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Ledger, LedgerError> {
        let text = std::str::from_utf8(bytes).map_err(|_| LedgerError::Syntax {
            line: 1,
            problem: "not UTF-8 text".into(),
        })?;
        let mut lines = text.lines().enumerate();
        let syntax = |line: usize, e: serde_json::Error| LedgerError::Syntax {
            line: line + 1,
            problem: e.to_string(),
        };
        let (n, first) = lines.next().ok_or(LedgerError::Syntax {
            line: 1,
            problem: "empty".into(),
        })?;
        let header: Header = serde_json::from_str(first).map_err(|e| syntax(n, e))?;
        if header.format != FORMAT {
            return Err(LedgerError::Syntax {
                line: 1,
                problem: format!("format {:?}, expected {FORMAT:?}", header.format),
            });
        }
        let mut entries = Vec::new();
        for (n, l) in lines {
            let e: Entry = serde_json::from_str(l).map_err(|e| syntax(n, e))?;
            e.leaf()?;
            entries.push(e);
        }
        Ok(Ledger {
            origin: header.origin,
            entries,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            format: FORMAT.to_string(),
            origin: self.origin.clone(),
        };
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        for e in &self.entries {
            out.extend(serde_json::to_vec(e).unwrap_or_default());
            out.push(b'\n');
        }
        out
    }

    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn tree(&self) -> Result<Tree, LedgerError> {
        let leaves = self
            .entries
            .iter()
            .map(Entry::leaf)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tree::of(&leaves))
    }

    /// The index of the entry whose final record is `final_record_sha256`.
    pub fn position(&self, final_record_sha256: &str) -> Option<u64> {
        self.entries
            .iter()
            .position(|e| e.final_record_sha256 == final_record_sha256)
            .map(|i| i as u64)
    }

    /// Checks the ledger belongs to `log_key`.
    pub fn check_origin(&self, log_key: &TrustedKey) -> Result<(), LedgerError> {
        let expected = note::origin(log_key);
        if self.origin != expected {
            return Err(LedgerError::OtherOrigin {
                found: self.origin.clone(),
                expected,
            });
        }
        Ok(())
    }
}

/// What a closing writes into the bundle, besides the ledger copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub index: u64,
    pub checkpoint: Vec<u8>,
    pub inclusion: InclusionProof,
    pub consistency: ConsistencyProof,
}

/// Appends `entry` (unless the ledger holds its final record already: a closing repeated after a
/// stop adds nothing) and signs the checkpoint of the whole ledger with the log key. `previous`
/// is the size of the last checkpoint signed: the consistency proof starts there.
pub fn seal<S: LogSigner>(
    ledger: &mut Ledger,
    entry: Entry,
    previous: u64,
    signer: &S,
    log_key: &TrustedKey,
) -> Result<Result<Sealed, LedgerError>, S::Error> {
    // Sealed before (a closing repeated after a stop): the proof starts where it started then,
    // before this leaf.
    let (index, previous) = match ledger.position(&entry.final_record_sha256) {
        Some(i) => (i, previous.min(i)),
        None => {
            if let Err(e) = entry.leaf() {
                return Ok(Err(e));
            }
            ledger.entries.push(entry);
            (ledger.size() - 1, previous)
        }
    };
    let size = ledger.size();
    let evidence = (|| {
        let tree = ledger.tree()?;
        let head = Head {
            origin: ledger.origin.clone(),
            size,
            root: tree.root(size)?,
        };
        let previous = previous.min(size);
        Ok::<_, LedgerError>((
            head,
            tree.inclusion(index, size)?,
            tree.consistency(previous, size)?,
            previous,
        ))
    })();
    let (head, path, cons, previous) = match evidence {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let checkpoint = match note::sign(signer, log_key, &head)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.into())),
    };
    Ok(Ok(Sealed {
        index,
        inclusion: InclusionProof {
            index,
            path,
            checkpoint: checkpoint.clone(),
        },
        checkpoint,
        consistency: ConsistencyProof {
            old: previous,
            path: cons,
        },
    }))
}

/// What `audit verify` learns of a bundle's ledger evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    pub origin: String,
    /// This ceremony's leaf.
    pub index: u64,
    /// How many closings of the log key the checkpoint counts.
    pub size: u64,
    pub root: String,
    /// The size of the checkpoint signed before this one.
    pub previous_size: u64,
    /// The ledger copy's entries (checked against the checkpoint's root).
    pub entries: Vec<Entry>,
    pub cosignatures: Vec<Cosigned>,
}

/// A leaf of a checkpoint the auditor was not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnshownClosing {
    pub index: u64,
    pub entry: Entry,
}

/// The bundle's ledger files, as read.
pub struct BundleLedger<'a> {
    pub proof: &'a [u8],
    pub consistency: &'a [u8],
    pub copy: &'a [u8],
}

/// Verifies a bundle's ledger evidence for the log whose final record is `final_record_sha256`:
/// the checkpoint signed by `log_key`, this log's leaf included in it, the ledger copy giving its
/// root, the consistency proof from the previous checkpoint, and at least `required` of
/// `witnesses` cosigning it.
pub fn verify_bundle(
    files: &BundleLedger<'_>,
    final_record_sha256: &str,
    log_key: &TrustedKey,
    witnesses: &[WitnessKey],
    required: usize,
) -> Result<LedgerReport, LedgerError> {
    let inclusion = InclusionProof::parse(files.proof)?;
    let checkpoint = note::verify(&inclusion.checkpoint, log_key)?;
    let head = &checkpoint.head;
    let leaf = hash_of(final_record_sha256)?;
    tree::verify_inclusion(
        &inclusion.path,
        inclusion.index,
        head.size,
        &head.root,
        &leaf,
    )?;
    let copy = Ledger::parse(files.copy)?;
    copy.check_origin(log_key)?;
    let tree = copy.tree()?;
    if copy.size() < head.size || tree.root(head.size)? != head.root {
        return Err(LedgerError::CopyDiffers { size: head.size });
    }
    let listed = &copy.entries[inclusion.index as usize].final_record_sha256;
    if listed != final_record_sha256 {
        return Err(LedgerError::OtherLeaf {
            index: inclusion.index,
            found: listed.clone(),
            expected: final_record_sha256.to_string(),
        });
    }
    let cons = ConsistencyProof::parse(files.consistency)?;
    let old_root = tree.root(cons.old)?;
    tree::verify_consistency(&cons.path, cons.old, &old_root, head.size, &head.root)?;
    let cosignatures = cosignature::verified_cosignatures(&checkpoint.note, witnesses)?;
    if cosignatures.len() < required {
        let missing: Vec<&str> = witnesses
            .iter()
            .filter(|w| !cosignatures.iter().any(|c| c.witness == w.name))
            .map(|w| w.name.as_str())
            .collect();
        return Err(LedgerError::TooFewWitnesses {
            found: cosignatures.len(),
            required,
            missing: if missing.is_empty() {
                "none named".into()
            } else {
                format!("no cosignature by {}", missing.join(", "))
            },
        });
    }
    Ok(LedgerReport {
        origin: head.origin.clone(),
        index: inclusion.index,
        size: head.size,
        root: head.root_base64(),
        previous_size: cons.old,
        entries: copy.entries[..head.size as usize].to_vec(),
        cosignatures,
    })
}

/// The SHA-256 of a log's final record line (without its newline), as the chain hashes it.
pub fn final_record_sha256(log: &[u8]) -> Option<String> {
    let log = log.strip_suffix(b"\n")?;
    let last = log.rsplit(|&b| b == b'\n').next()?;
    (!last.is_empty()).then(|| sha256_hex(last))
}

#[cfg(test)]
mod tests {
    use super::note::test_log_key as log_key;
    use super::*;
    use ed25519_dalek::SigningKey as WitnessSigningKey;

    fn entry(i: u8) -> Entry {
        Entry {
            kind: EntryKind::Ceremony,
            final_record_sha256: sha256_hex(&[i]),
            subject: format!("bundle {i}"),
            time: Timestamp::from_second(1_700_000_000 + i64::from(i)).unwrap(),
        }
    }

    fn files(s: &Sealed, copy: &Ledger) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        (
            s.inclusion.to_bytes(),
            s.consistency.to_bytes(),
            copy.to_bytes(),
        )
    }

    fn check(
        f: &(Vec<u8>, Vec<u8>, Vec<u8>),
        leaf: &str,
        tk: &TrustedKey,
        w: &[WitnessKey],
        n: usize,
    ) -> Result<LedgerReport, LedgerError> {
        verify_bundle(
            &BundleLedger {
                proof: &f.0,
                consistency: &f.1,
                copy: &f.2,
            },
            leaf,
            tk,
            w,
            n,
        )
    }

    #[test]
    fn each_closing_is_included_counted_and_consistent_with_the_last() {
        let (sk, tk) = log_key();
        let mut ledger = Ledger::new(&tk);
        let mut previous = 0;
        for i in 0..4u8 {
            let s = seal(&mut ledger, entry(i), previous, &sk, &tk)
                .unwrap()
                .unwrap();
            assert_eq!(s.index, u64::from(i));
            assert_eq!(s.consistency.old, previous);
            let f = files(&s, &ledger);
            let r = check(&f, &entry(i).final_record_sha256, &tk, &[], 0).unwrap();
            assert_eq!(
                (r.index, r.size, r.previous_size),
                (u64::from(i), u64::from(i) + 1, previous)
            );
            previous = r.size;
        }
        // Sealing a closing again adds no leaf.
        let again = seal(&mut ledger, entry(2), 4, &sk, &tk).unwrap().unwrap();
        assert_eq!(
            (again.index, ledger.size(), again.consistency.old),
            (2, 4, 2)
        );
        assert_eq!(Ledger::parse(&ledger.to_bytes()).unwrap(), ledger);
    }

    #[test]
    fn a_proof_for_another_leaf_or_checkpoint_is_refused() {
        let (sk, tk) = log_key();
        let mut ledger = Ledger::new(&tk);
        let a = seal(&mut ledger, entry(0), 0, &sk, &tk).unwrap().unwrap();
        let b = seal(&mut ledger, entry(1), 1, &sk, &tk).unwrap().unwrap();
        // B's files presented for A's log: the leaf is not A's.
        let fb = files(&b, &ledger);
        assert!(matches!(
            check(&fb, &entry(0).final_record_sha256, &tk, &[], 0),
            Err(LedgerError::Tree(TreeError::NotIncluded { .. }))
        ));
        // A's inclusion path against B's checkpoint (size 2): does not lead to its root.
        let mixed = InclusionProof {
            checkpoint: b.checkpoint.clone(),
            ..a.inclusion.clone()
        };
        let f = (mixed.to_bytes(), fb.1.clone(), fb.2.clone());
        assert!(matches!(
            check(&f, &entry(0).final_record_sha256, &tk, &[], 0),
            Err(LedgerError::Tree(TreeError::NotIncluded { .. }))
        ));
        // A ledger copy with an entry left out does not give the checkpoint's root.
        let mut short = ledger.clone();
        short.entries.remove(0);
        short.entries.push(entry(9));
        let f = (fb.0.clone(), fb.1.clone(), short.to_bytes());
        assert!(matches!(
            check(&f, &entry(1).final_record_sha256, &tk, &[], 0),
            Err(LedgerError::CopyDiffers { .. })
        ));
    }

    #[test]
    fn witnesses_are_counted_only_when_named_and_verified() {
        let (sk, tk) = log_key();
        let mut ledger = Ledger::new(&tk);
        let s = seal(&mut ledger, entry(0), 0, &sk, &tk).unwrap().unwrap();
        let wk = WitnessSigningKey::from_bytes(&[1u8; 32]);
        let w = WitnessKey::new("auditor.example/w", wk.verifying_key()).unwrap();
        let other = WitnessKey::new(
            "other.example/w",
            WitnessSigningKey::from_bytes(&[2u8; 32]).verifying_key(),
        )
        .unwrap();
        let note = signed_note::Note::from_bytes(&s.checkpoint).unwrap();
        let signer = cosignature::KeyWitness::new(&w.name, wk.clone()).unwrap();
        let cosigned = cosignature::cosign(&note, &signer, 1_700_000_500).unwrap();
        let inclusion = InclusionProof {
            checkpoint: cosigned.to_bytes(),
            ..s.inclusion.clone()
        };
        let f = (
            inclusion.to_bytes(),
            s.consistency.to_bytes(),
            ledger.to_bytes(),
        );
        let leaf = entry(0).final_record_sha256;
        let r = check(&f, &leaf, &tk, std::slice::from_ref(&w), 1).unwrap();
        assert_eq!(r.cosignatures[0].witness, "auditor.example/w");
        let err = check(&f, &leaf, &tk, &[w.clone(), other.clone()], 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("no cosignature by other.example/w"),
            "{err}"
        );
        // Without cosignatures, one required fails.
        let f0 = files(&s, &ledger);
        assert!(matches!(
            check(&f0, &leaf, &tk, std::slice::from_ref(&w), 1),
            Err(LedgerError::TooFewWitnesses { found: 0, .. })
        ));
    }

    #[test]
    fn the_final_record_hash_is_the_chain_head() {
        assert_eq!(final_record_sha256(b"a\nbc\n"), Some(sha256_hex(b"bc")));
        assert_eq!(final_record_sha256(b"a\nbc"), None);
        assert_eq!(final_record_sha256(b""), None);
    }
}
