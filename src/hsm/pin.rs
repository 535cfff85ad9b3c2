//! PINs from pin-source files (`pkcs11:...?pin-source=file:/path`, `--so-pin-source`).

use std::path::Path;

use cryptoki::types::AuthPin;

use super::HsmError;
use crate::io::fs::FsError;

/// Reads a PIN from a pin-source file: the first line, kept in zeroizing memory. A file that group
/// or others may read is refused (exit 2), before the PIN is used.
pub fn read_pin(path: &Path) -> Result<AuthPin, HsmError> {
    let bytes = crate::io::fs::read_secret(path, "a PIN").map_err(|e| match e {
        FsError::Io { source, .. } => HsmError::PinSource {
            path: path.into(),
            message: source.kind().to_string(),
        },
        other => HsmError::File(other),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| HsmError::PinSource {
        path: path.into(),
        message: "not UTF-8".into(),
    })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(HsmError::PinSource {
            path: path.into(),
            message: "the first line is empty".into(),
        });
    }
    Ok(AuthPin::new(line.into()))
}
