//! The ceremony log on disk: created new (never overwritten), one signed record appended at a
//! time, each written whole and fsynced before the ceremony goes on. A crash leaves every complete
//! record intact; at most the last line is cut short.

use std::fs::File;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::core::ceremony::Record;
use crate::core::log::{LogChain, LogSigner};
use crate::io::fs::{self as fsio, FsError};

/// Why a record was not appended: the signer failed (its own error), or the file did.
#[derive(Debug)]
pub enum AppendError<E> {
    Sign(E),
    Write(FsError),
}

pub struct CeremonyLogFile<'s, S: LogSigner> {
    file: File,
    path: PathBuf,
    chain: LogChain,
    signer: &'s S,
    actors: Vec<String>,
}

impl<'s, S: LogSigner> CeremonyLogFile<'s, S> {
    /// Creates `path`, which must not exist, and fsyncs its directory.
    pub fn create(path: &Path, signer: &'s S, actors: Vec<String>) -> Result<Self, FsError> {
        let file = fsio::create_append_new(path)?;
        Ok(CeremonyLogFile {
            file,
            path: path.to_path_buf(),
            chain: LogChain::new(),
            signer,
            actors,
        })
    }

    /// Opens an interrupted ceremony's log to append to it. A last record cut off by the crash
    /// (no newline at its end) was never complete and is cut away, fsynced. Returns the file and
    /// the complete records' bytes; `verify` checks those before anything is appended (their
    /// signatures, sequence and chain), and the chain continues from them.
    pub fn reopen<E: From<FsError>>(
        path: &Path,
        signer: &'s S,
        actors: Vec<String>,
        verify: impl FnOnce(&[u8]) -> Result<(), E>,
    ) -> Result<(Self, Vec<u8>), E> {
        let io = |action: &'static str| {
            move |source| FsError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let mut file = fsio::open_read_append_nofollow(path)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io("read"))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        verify(&bytes[..complete])?;
        if complete < bytes.len() {
            file.set_len(complete as u64)
                .map_err(io("cut the partial last record of"))?;
            file.sync_data().map_err(io("sync"))?;
            bytes.truncate(complete);
        }
        Ok((
            CeremonyLogFile {
                file,
                path: path.to_path_buf(),
                chain: LogChain::continuing(&bytes),
                signer,
                actors,
            },
            bytes,
        ))
    }

    /// Signs the next record and appends it; returns once it is on stable storage.
    pub fn append(
        &mut self,
        step: &str,
        data: Map<String, Value>,
    ) -> Result<(), AppendError<S::Error>> {
        let line = self
            .chain
            .record(self.signer, Timestamp::now(), step, &self.actors, data)
            .map_err(AppendError::Sign)?;
        fsio::append_synced(&mut self.file, &self.path, &line).map_err(AppendError::Write)
    }

    /// Signs a record the ceremony engine accepted and appends it.
    pub fn write(&mut self, record: &Record) -> Result<(), AppendError<S::Error>> {
        self.append(record.step(), record.to_data())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key that signs the records (it signs the ledger's checkpoint too).
    pub fn signer(&self) -> &'s S {
        self.signer
    }
}
