//! The import receipt on disk (`<bundle>/import-receipt.log`): opened for append, its existing
//! records checked first (a resumed import continues the same chain), one record written and
//! fsynced at a time.

use std::fs::File;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::core::receipt::record::{KeyRolledBack, Record, RotationVerified, RunStart};
use crate::core::receipt::{self, AliasMoved, ImportOutcome, ReceiptChain};
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::io::error::IoError;
use crate::io::fs as fsio;

type Result<T, E = IoError> = std::result::Result<T, E>;

pub struct ReceiptFile {
    file: File,
    path: PathBuf,
    chain: ReceiptChain,
    written: usize,
}

impl ReceiptFile {
    /// Opens (or creates) the bundle's receipt and appends this run's `import.start`; `run` is
    /// the command (import, rollback). The chain continues from the last record of the ceremony
    /// log `signed` verified, not from whatever the log file's last line is now.
    pub fn open(
        bundle: &VerifiedBundle,
        run: &str,
        signed: &SignedCeremony,
    ) -> Result<ReceiptFile> {
        let (next_seq, head) = signed.receipt_start();
        let start = ReceiptChain::after_verified_log(next_seq, head);
        let path = bundle.dir().join(receipt::FILE_NAME);
        // A link planted in a returned bundle would make the import create or append to any
        // file this user can write: links are refused, never followed.
        let chain = if fsio::exists_nofollow(&path) {
            receipt::verify_chain(&fsio::read_nofollow(&path)?, &start)?.1
        } else {
            start.clone()
        };
        let file = fsio::open_append_nofollow(&path)?;
        let mut r = ReceiptFile {
            file,
            path,
            chain,
            written: 0,
        };
        r.append(&Record::Start(RunStart {
            run: run.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            manifest_sha256: bundle.fingerprint().to_string(),
            ceremony_log_head: start.head().to_string(),
        }))?;
        Ok(r)
    }

    fn append(&mut self, record: &Record) -> Result<()> {
        let line = self.chain.append(Timestamp::now(), record);
        fsio::append_synced(&mut self.file, &self.path, &line)?;
        Ok(())
    }

    /// Appends one record of this run's work (not its start or end), counted in its `import.end`.
    fn append_counted(&mut self, record: &Record) -> Result<()> {
        self.append(record)?;
        self.written += 1;
        Ok(())
    }

    /// Records one key KMS accepted.
    pub fn imported(&mut self, o: &ImportOutcome) -> Result<()> {
        self.append_counted(&Record::KeyImported(o.into()))
    }

    /// Records an alias moved from one key to another (rotation by a new key).
    pub fn alias_moved(&mut self, m: &AliasMoved) -> Result<()> {
        self.append_counted(&Record::AliasMoved(m.clone()))
    }

    /// Records pending material deleted by `kms rollback`.
    pub fn rolled_back(&mut self, r: KeyRolledBack) -> Result<()> {
        self.append_counted(&Record::KeyRolledBack(r))
    }

    /// Records what `kms verify-rotation` found for one key.
    pub fn rotation_verified(&mut self, v: RotationVerified) -> Result<()> {
        self.append_counted(&Record::RotationVerified(v))
    }

    /// Closes this run with `import.end`.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.append(&Record::End { keys: self.written })?;
        Ok(self.path)
    }
}
