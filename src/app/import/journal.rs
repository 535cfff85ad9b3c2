//! The import's progress file (`import-progress.json` in the bundle), rewritten atomically after
//! every step: what a re-run resumes from, and what a rollback reads. Only a hint: whoever can
//! write the bundle can forge it, so every stage it claims is checked against KMS before it is
//! acted on ([`super::key`]).

use std::path::PathBuf;
use std::sync::Mutex;

use crate::app::error::{Error, Result};
use crate::core::import_progress::{self, ImportProgress, KeyProgress};
use crate::io::bundle::VerifiedBundle;
use crate::io::fs as fsio;

pub struct Journal {
    path: PathBuf,
    progress: ImportProgress,
}

impl Journal {
    /// The bundle's progress file, or a new one when no import of it was recorded.
    pub fn open(bundle: &VerifiedBundle) -> Result<Journal> {
        let path = bundle.dir().join(import_progress::FILE);
        if fsio::exists_nofollow(&path) {
            Journal::read(path, bundle, true)
        } else {
            Ok(Journal {
                path,
                progress: ImportProgress::new(bundle.fingerprint()),
            })
        }
    }

    /// The bundle's progress file, which a rollback needs: refused when no import was recorded.
    pub fn open_existing(bundle: &VerifiedBundle) -> Result<Journal> {
        let path = bundle.dir().join(import_progress::FILE);
        if !fsio::exists_nofollow(&path) {
            return Err(Error::NothingToRollBack {
                dir: bundle.dir().to_path_buf(),
                file: import_progress::FILE,
            });
        }
        Journal::read(path, bundle, false)
    }

    /// `resumable`: whether the error for a file of another bundle may suggest moving it away.
    fn read(path: PathBuf, bundle: &VerifiedBundle, resumable: bool) -> Result<Journal> {
        let progress = ImportProgress::parse(&fsio::read_nofollow(&path)?, bundle.fingerprint())
            .map_err(|e| Error::OtherImport {
                path: path.clone(),
                detail: e.to_string(),
                resumable,
            })?;
        Ok(Journal { path, progress })
    }

    pub fn get(&self, key: &str) -> Option<KeyProgress> {
        self.progress.get(key).cloned()
    }

    pub fn record(&mut self, key: &str, stage: KeyProgress) -> Result<()> {
        self.progress.set(key, stage);
        fsio::replace(&self.path, &self.progress.to_json())?;
        Ok(())
    }
}

/// A lock whose holder panicked: the task that held it failed.
pub fn poisoned() -> Error {
    Error::ImportTaskFailed
}

/// Records `stage` for `key` in the journal the import's tasks share.
pub fn record(journal: &Mutex<Journal>, key: &str, stage: KeyProgress) -> Result<()> {
    journal.lock().map_err(|_| poisoned())?.record(key, stage)
}

/// What the journal records for `key`, read under its lock.
pub fn get(journal: &Mutex<Journal>, key: &str) -> Result<Option<KeyProgress>> {
    Ok(journal.lock().map_err(|_| poisoned())?.get(key))
}
