//! Throwaway SoftHSM2 token directories for rehearsals and tests: their own config and token
//! directory, so nothing touches the system's tokens.

use std::path::{Path, PathBuf};

use crate::io::fs as fsio;

pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Writes `<dir>/softhsm2.conf` and `<dir>/tokens/`, returns the config path to put in
/// `SOFTHSM2_CONF`.
pub fn create_token_dir(dir: &Path) -> Result<PathBuf, fsio::FsError> {
    let tokens = dir.join("tokens");
    fsio::create_dir_new(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "# keyrite: a throwaway SoftHSM2 token directory\ndirectories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        tokens.display()
    );
    fsio::write_new(&conf, text.as_bytes())?;
    Ok(conf)
}
