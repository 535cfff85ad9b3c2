//! The ceremony log on disk: created new (never overwritten), one signed record appended at a
//! time, each written whole and fsynced before the ceremony goes on. A crash leaves every complete
//! record intact; at most the last line is cut short.

use std::fs::File;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::app::error::Error;
use crate::core::ceremony::Record;
use crate::core::log::{LogChain, LogSigner};
use crate::io::fs as fsio;

pub struct CeremonyLogFile<'s, S: LogSigner> {
    file: File,
    path: PathBuf,
    chain: LogChain,
    signer: &'s S,
    actors: Vec<String>,
}

impl<'s, S> CeremonyLogFile<'s, S>
where
    S: LogSigner,
    Error: From<S::Error>,
{
    /// Creates `path`, which must not exist, and fsyncs its directory.
    pub fn create(path: &Path, signer: &'s S, actors: Vec<String>) -> Result<Self, Error> {
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
    pub fn reopen(
        path: &Path,
        signer: &'s S,
        actors: Vec<String>,
        verify: impl FnOnce(&[u8]) -> Result<(), Error>,
    ) -> Result<(Self, Vec<u8>), Error> {
        let io = |action: &'static str| {
            move |source| fsio::FsError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        let mut bytes = fsio::read(path)?;
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
    pub fn append(&mut self, step: &str, data: Map<String, Value>) -> Result<(), Error> {
        let line = self
            .chain
            .record(self.signer, Timestamp::now(), step, &self.actors, data)?;
        fsio::append_synced(&mut self.file, &self.path, &line)?;
        Ok(())
    }

    /// Signs a record the ceremony engine accepted and appends it.
    pub fn write(&mut self, record: &Record) -> Result<(), Error> {
        self.append(record.step(), record.to_data())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
