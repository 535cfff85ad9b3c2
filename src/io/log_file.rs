//! The ceremony log on disk: created new (never overwritten), one signed record appended at a
//! time, each written whole and fsynced before the ceremony goes on. A crash leaves every complete
//! record intact; at most the last line is cut short.

use std::fs::File;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Map, Value};

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

    pub fn path(&self) -> &Path {
        &self.path
    }
}
