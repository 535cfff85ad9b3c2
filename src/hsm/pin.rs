//! PINs from pin-source files (`pkcs11:...?pin-source=file:/path`, `--so-pin-source`).

use std::path::Path;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::HsmError;

/// Reads a PIN from a pin-source file: the first line, kept in zeroizing memory.
pub fn read_pin(path: &Path) -> Result<AuthPin, HsmError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| HsmError::PinSource {
        path: path.into(),
        message: e.kind().to_string(),
    })?);
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
