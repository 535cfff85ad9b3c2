//! The ledger on disk: `<ledger dir>/ledger.jsonl` and `<ledger dir>/checkpoint` (the last
//! checkpoint the log key signed), each replaced whole, fsynced and renamed into place; and the
//! ledger's evidence in a bundle (`ledger.tlog-proof`, `ledger.consistency`, `ledger.jsonl`).

use std::path::{Path, PathBuf};

use super::fs::{self as fsio, FsError};
use crate::core::ledger::{self, proof};

/// The files of a ledger directory, as read (None: not there yet).
pub struct LedgerFiles {
    pub ledger: Option<Vec<u8>>,
    pub checkpoint: Option<Vec<u8>>,
}

fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    if !fsio::exists_nofollow(path) {
        return Ok(None);
    }
    fsio::read_nofollow(path).map(Some)
}

/// Reads the ledger directory `dir` (which need not exist yet).
pub fn read(dir: &Path) -> Result<LedgerFiles, FsError> {
    fsio::refuse_symlink(dir)?;
    Ok(LedgerFiles {
        ledger: read_if_there(&dir.join(ledger::FILE_NAME))?,
        checkpoint: read_if_there(&dir.join(ledger::CHECKPOINT_FILE))?,
    })
}

/// Writes the ledger, then the checkpoint that signs it (a stop between the two leaves a ledger
/// one entry ahead of its checkpoint, which the next closing signs).
pub fn write(dir: &Path, ledger_bytes: &[u8], checkpoint: &[u8]) -> Result<(), FsError> {
    fsio::refuse_symlink(dir)?;
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|source| FsError::Io {
            action: "create directory",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    fsio::replace_again(&dir.join(ledger::FILE_NAME), ledger_bytes)?;
    fsio::replace_again(&dir.join(ledger::CHECKPOINT_FILE), checkpoint)
}

/// The bundle's ledger files.
pub fn bundle_paths(bundle: &Path) -> [PathBuf; 3] {
    [
        bundle.join(proof::PROOF_FILE),
        bundle.join(proof::CONSISTENCY_FILE),
        bundle.join(ledger::FILE_NAME),
    ]
}

/// Writes (or rewrites, after a stop) the ledger's evidence into the bundle.
pub fn write_bundle(
    bundle: &Path,
    inclusion: &[u8],
    consistency: &[u8],
    copy: &[u8],
) -> Result<(), FsError> {
    let [p, c, l] = bundle_paths(bundle);
    fsio::replace_again(&l, copy)?;
    fsio::replace_again(&c, consistency)?;
    fsio::replace_again(&p, inclusion)
}

/// The bundle's ledger files, as read; None when the bundle has no ledger proof.
pub fn read_bundle(bundle: &Path) -> Result<Option<[Vec<u8>; 3]>, FsError> {
    let [p, c, l] = bundle_paths(bundle);
    if !fsio::exists_nofollow(&p) {
        return Ok(None);
    }
    Ok(Some([
        fsio::read_nofollow(&p)?,
        fsio::read_nofollow(&c)?,
        fsio::read_nofollow(&l)?,
    ]))
}

/// Replaces the bundle's proof file (a witness adds its cosignature to the checkpoint in it).
pub fn replace_proof(bundle: &Path, inclusion: &[u8]) -> Result<(), FsError> {
    fsio::replace_again(&bundle.join(proof::PROOF_FILE), inclusion)
}
