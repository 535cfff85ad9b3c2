//! Files: created new, written whole and fsynced, atomically replaced; the bundle directory; the
//! append-only, fsynced JSON Lines log file.

pub mod bundle;
pub mod error;
pub mod fs;
pub mod ledger_dir;
pub mod log_file;
pub mod receipt_file;
pub mod tty;

pub use error::IoError;
