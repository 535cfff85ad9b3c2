//! Closing the token's ledger at the end of a ceremony, a re-wrap or an enrolment: the log's
//! final record becomes a leaf, the log key signs the checkpoint of the whole ledger, and the
//! bundle gets the checkpoint with this log's inclusion proof, the consistency proof from the
//! previous checkpoint and a copy of the ledger. Idempotent: closing the same log again (after a
//! stop) adds no leaf and rewrites the same evidence.

use std::path::Path;

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::app::ledger_error::LedgerError;
use crate::core::chain::{LogSigner, TrustedKey};
use crate::core::ledger::cosignature::WitnessKey;
use crate::core::ledger::{
    self, Entry, EntryKind, Ledger, LedgerReport, Sealed, UnshownClosing, note,
};
use crate::io::fs as fsio;
use crate::io::ledger_dir;

/// The ledger directory of a token enrolled with a roster: `ledger/` in the roster's directory.
pub fn beside_roster(roster: &Path) -> std::path::PathBuf {
    roster
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("ledger")
}

/// The ledger directory as found, checked against the log key and its last checkpoint.
pub struct OpenLedger {
    pub ledger: Ledger,
    /// The size of the last checkpoint the log key signed (0: none yet).
    pub previous: u64,
}

/// Reads and checks the ledger in `dir` for `log_key`: its origin, and that it extends the last
/// checkpoint the log key signed (a ledger cut short or changed is refused).
pub fn open(dir: &Path, log_key: &TrustedKey) -> Result<OpenLedger> {
    let files = ledger_dir::read(dir)?;
    let path = dir.join(ledger::FILE_NAME);
    let problem = |problem| LedgerError::Ledger {
        path: path.clone(),
        problem,
    };
    let ledger = match &files.ledger {
        Some(bytes) => {
            let l = Ledger::parse(bytes).map_err(problem)?;
            l.check_origin(log_key).map_err(problem)?;
            l
        }
        None => Ledger::new(log_key),
    };
    let previous = match &files.checkpoint {
        None => 0,
        Some(bytes) => {
            let cp = note::verify(bytes, log_key).map_err(|e| LedgerError::Ledger {
                path: dir.join(ledger::CHECKPOINT_FILE),
                problem: e.into(),
            })?;
            let tree = ledger.tree().map_err(problem)?;
            let holds =
                ledger.size() >= cp.head.size && tree.root(cp.head.size).ok() == Some(cp.head.root);
            if !holds {
                return Err(LedgerError::Cut {
                    path,
                    entries: ledger.size(),
                    size: cp.head.size,
                }
                .into());
            }
            cp.head.size
        }
    };
    Ok(OpenLedger { ledger, previous })
}

/// What a closing appended and signed.
#[derive(Debug, Clone)]
pub struct Closed {
    pub index: u64,
    pub size: u64,
    pub previous: u64,
}

/// Closes the ledger in `ledger_dir` with the log at `log_path` (its last line is the final
/// record), writing the evidence into `bundle`.
pub fn close<S: LogSigner>(
    ledger_dir: &Path,
    bundle: &Path,
    log_path: &Path,
    kind: EntryKind,
    subject: &str,
    signer: &S,
    log_key: &TrustedKey,
) -> Result<Closed>
where
    Error: From<S::Error>,
{
    let log = fsio::read_nofollow(log_path)?;
    let final_record = ledger::final_record_sha256(&log).ok_or_else(|| LedgerError::Ledger {
        path: log_path.to_path_buf(),
        problem: ledger::LedgerError::NotAHash("the log's last record (none)".into()),
    })?;
    let OpenLedger {
        mut ledger,
        previous,
    } = open(ledger_dir, log_key)?;
    let entry = Entry {
        kind,
        final_record_sha256: final_record,
        subject: subject.to_string(),
        time: Timestamp::now(),
    };
    let sealed: Sealed =
        ledger::seal(&mut ledger, entry, previous, signer, log_key)?.map_err(|problem| {
            LedgerError::Ledger {
                path: ledger_dir.join(ledger::FILE_NAME),
                problem,
            }
        })?;
    let copy = ledger.to_bytes();
    ledger_dir::write(ledger_dir, &copy, &sealed.checkpoint)?;
    ledger_dir::write_bundle(
        bundle,
        &sealed.inclusion.to_bytes(),
        &sealed.consistency.to_bytes(),
        &copy,
    )?;
    Ok(Closed {
        index: sealed.index,
        size: ledger.size(),
        previous: sealed.consistency.old,
    })
}

/// What `audit verify` requires of a bundle's ledger evidence.
#[derive(Debug, Clone, Default)]
pub struct LedgerPolicy {
    /// Witnesses whose cosignatures count.
    pub witnesses: Vec<WitnessKey>,
    /// How many of them must have cosigned the checkpoint (0: none required).
    pub required: usize,
    /// The closings the auditor was shown (ceremony logs, roster logs): every leaf of the
    /// checkpoint must be one of them or this ceremony. None: not checked.
    pub known: Option<Vec<KnownClosing>>,
}

/// A log the auditor was shown, by the SHA-256 of its final record.
#[derive(Debug, Clone)]
pub struct KnownClosing {
    pub path: std::path::PathBuf,
    pub final_record_sha256: String,
}

impl LedgerPolicy {
    /// Whether anything about the ledger is required at all (a bundle without a ledger proof
    /// then fails).
    pub fn requires_ledger(&self) -> bool {
        self.required > 0 || self.known.is_some()
    }
}

/// A witness key named on the command line: a vkey, or a file holding one.
pub fn witness_key(arg: &str) -> Result<WitnessKey> {
    let path = Path::new(arg);
    let text = if !arg.contains('+') && fsio::exists_nofollow(path) {
        fsio::read_text(path, "a witness verifier key")?
    } else {
        arg.to_string()
    };
    Ok(
        WitnessKey::parse_vkey(text.trim()).map_err(|problem| LedgerError::WitnessKey {
            what: crate::core::terminal::one_line(arg).into_owned(),
            problem,
        })?,
    )
}

/// A closing the auditor was shown: a bundle directory (its ceremony.log) or a log file (a
/// roster.log), verified with the trusted log key.
pub fn known_closing(path: &Path, trusted: &TrustedKey) -> Result<KnownClosing> {
    let log_path = if path.is_dir() {
        path.join(crate::core::log::FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let bytes = fsio::read_nofollow(&log_path)?;
    crate::core::log::verified_records(&bytes, trusted)?;
    let final_record_sha256 =
        ledger::final_record_sha256(&bytes).ok_or_else(|| LedgerError::Ledger {
            path: log_path.clone(),
            problem: ledger::LedgerError::NotAHash("the log's last record (none)".into()),
        })?;
    Ok(KnownClosing {
        path: path.to_path_buf(),
        final_record_sha256,
    })
}

/// The bundle's ledger evidence checked for the ceremony log `log` (None: the bundle has none
/// and the policy requires none).
pub fn check_bundle(
    bundle: &Path,
    log: &[u8],
    trusted: &TrustedKey,
    policy: &LedgerPolicy,
) -> Result<Option<LedgerReport>> {
    let Some([proof, consistency, copy]) = ledger_dir::read_bundle(bundle)? else {
        if policy.requires_ledger() {
            return Err(LedgerError::NoEvidence {
                bundle: bundle.to_path_buf(),
            }
            .into());
        }
        return Ok(None);
    };
    let evidence = |problem| LedgerError::Evidence {
        bundle: bundle.to_path_buf(),
        problem,
    };
    let final_record = ledger::final_record_sha256(log)
        .ok_or_else(|| evidence(ledger::LedgerError::NotAHash("no final record".into())))?;
    let report = ledger::verify_bundle(
        &ledger::BundleLedger {
            proof: &proof,
            consistency: &consistency,
            copy: &copy,
        },
        &final_record,
        trusted,
        &policy.witnesses,
        policy.required,
    )
    .map_err(evidence)?;
    if let Some(known) = &policy.known {
        let unshown: Vec<UnshownClosing> = report
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                *i as u64 != report.index
                    && !known
                        .iter()
                        .any(|k| k.final_record_sha256 == e.final_record_sha256)
            })
            .map(|(i, e)| UnshownClosing {
                index: i as u64,
                entry: e.clone(),
            })
            .collect();
        if !unshown.is_empty() {
            return Err(LedgerError::Unshown {
                bundle: bundle.to_path_buf(),
                size: report.size,
                unshown,
            }
            .into());
        }
    }
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::chain::Chain;
    use crate::core::ledger::note::test_log_key as key;
    use p256::ecdsa::SigningKey;

    fn log(dir: &Path, sk: &SigningKey, n: u8) -> std::path::PathBuf {
        let mut chain = Chain::genesis();
        let mut bytes = Vec::new();
        for i in 0..=n {
            bytes.extend(
                chain
                    .append_signed(
                        sk,
                        Timestamp::from_second(1_700_000_000).unwrap(),
                        "step",
                        &[],
                        crate::core::log::data(&[("i", &i.to_string())]),
                    )
                    .unwrap(),
            );
        }
        let p = dir.join(format!("log{n}"));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A closing the auditor was shown is named by its log's final record, and only a log the
    /// trusted key signed counts.
    #[test]
    fn a_known_closing_is_its_verified_logs_final_record() {
        let (sk, tk) = key();
        let t = tempfile::tempdir().unwrap();
        let l = log(t.path(), &sk, 2);
        let k = known_closing(&l, &tk).unwrap();
        let bytes = std::fs::read(&l).unwrap();
        assert_eq!(
            Some(k.final_record_sha256),
            ledger::final_record_sha256(&bytes)
        );
        let other =
            TrustedKey::from_key(*SigningKey::from_slice(&[8u8; 32]).unwrap().verifying_key())
                .unwrap();
        assert!(known_closing(&l, &other).is_err());
    }

    #[test]
    fn closings_append_once_and_a_cut_ledger_is_refused() {
        let (sk, tk) = key();
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("ledger");
        let b = t.path().join("bundle");
        std::fs::create_dir(&b).unwrap();
        let l0 = log(t.path(), &sk, 0);
        let l1 = log(t.path(), &sk, 1);
        let c = close(&dir, &b, &l0, EntryKind::Ceremony, "a", &sk, &tk).unwrap();
        assert_eq!((c.index, c.size, c.previous), (0, 1, 0));
        let c = close(&dir, &b, &l1, EntryKind::Ceremony, "b", &sk, &tk).unwrap();
        assert_eq!((c.index, c.size, c.previous), (1, 2, 1));
        // Again after a stop: no new leaf, the consistency proof still from before this leaf.
        std::fs::write(dir.join("ledger.jsonl.new"), b"stale").unwrap();
        let c = close(&dir, &b, &l1, EntryKind::Ceremony, "b", &sk, &tk).unwrap();
        assert_eq!((c.index, c.size, c.previous), (1, 2, 1));
        // The bundle's evidence verifies for its log.
        let [p, cons, copy] = ledger_dir::read_bundle(&b).unwrap().unwrap();
        let last = ledger::final_record_sha256(&std::fs::read(&l1).unwrap()).unwrap();
        let r = ledger::verify_bundle(
            &ledger::BundleLedger {
                proof: &p,
                consistency: &cons,
                copy: &copy,
            },
            &last,
            &tk,
            &[],
            0,
        )
        .unwrap();
        assert_eq!((r.index, r.size), (1, 2));
        // Someone removes the first entry: the signed checkpoint gives it away.
        let mut cut = Ledger::parse(&std::fs::read(dir.join("ledger.jsonl")).unwrap()).unwrap();
        cut.entries.remove(0);
        std::fs::write(dir.join("ledger.jsonl"), cut.to_bytes()).unwrap();
        let err = close(&dir, &b, &l0, EntryKind::Ceremony, "a", &sk, &tk).unwrap_err();
        assert!(err.to_string().contains("cut or changed"), "{err}");
    }
}
