//! The ceremony log on disk: created new (never overwritten), one signed record appended at a
//! time, each written whole and fsynced before the ceremony goes on. A crash leaves every complete
//! record intact; at most the last line is cut short.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::core::log::{LogChain, LogSigner};
use crate::error::Error;
use crate::fsio::FsError;

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
        let mut opts = OpenOptions::new();
        opts.append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o644);
        }
        let file = opts.open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                FsError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                FsError::Io {
                    action: "create",
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| FsError::Io {
                action: "fsync directory",
                path: dir.to_path_buf(),
                source,
            })?;
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
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| FsError::Io {
                action: "append to",
                path: self.path.clone(),
                source,
            })?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
