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
