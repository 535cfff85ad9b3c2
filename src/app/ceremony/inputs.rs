//! What a ceremony needs besides the operators' answers: the script, the token URI, the SO PIN
//! and the escrow records, read and checked before the preflight.

use std::path::PathBuf;

use cryptoki::types::AuthPin;

use crate::app::error::Result;
use crate::core::digest::sha256_hex;
use crate::core::script::Script;
use crate::hsm::TokenUri;
use crate::hsm::pin::read_pin;
use crate::io::fs as fsio;

/// What a ceremony needs besides the operators' answers, read and checked before either the
/// terminal UI or a headless run asks for them.
pub struct CeremonyInputs {
    pub script: Script,
    pub script_sha256: String,
    pub uri: TokenUri,
    pub module: PathBuf,
    pub so_pin: Option<AuthPin>,
    pub escrow: Option<crate::app::escrow::Escrow>,
    pub bundle: PathBuf,
    pub roster: Option<PathBuf>,
    /// The token's ledger directory: `--ledger`, else `ledger/` next to the roster (None: a
    /// ceremony without a roster or `--ledger` is not entered in any ledger).
    pub ledger: Option<PathBuf>,
    /// The script's directory: its `[provenance]` signers' PEM paths are relative to it.
    pub script_dir: PathBuf,
}

/// Where the ceremony's inputs are, as the command line names them.
pub struct CeremonyPaths<'a> {
    pub script: &'a std::path::Path,
    pub bundle: &'a std::path::Path,
    pub token: &'a str,
    pub module: &'a std::path::Path,
    pub roster: Option<&'a std::path::Path>,
    pub so_pin_source: Option<&'a std::path::Path>,
    pub escrow_from: Option<&'a std::path::Path>,
    pub ledger: Option<&'a std::path::Path>,
}

impl CeremonyInputs {
    /// Reads and checks the script, the token URI, the SO PIN and the escrow records.
    pub fn load(a: &CeremonyPaths<'_>) -> Result<CeremonyInputs> {
        let script_bytes = fsio::read(a.script)?;
        let script_text = fsio::text(a.script, script_bytes.clone(), "a ceremony script")?;
        let script = Script::parse(&a.script.display().to_string(), &script_text)?;
        let uri = TokenUri::parse(a.token)?;
        let module = uri.module_path.clone().unwrap_or(a.module.to_path_buf());
        let script_sha256 = sha256_hex(&script_bytes);
        let so_pin = match a.so_pin_source {
            Some(path) => Some(read_pin(path)?),
            None => None,
        };
        let escrow = match a.escrow_from {
            Some(dir) => Some(crate::app::escrow::Escrow::load(dir)?),
            None => None,
        };
        Ok(CeremonyInputs {
            script,
            script_sha256,
            uri,
            module,
            so_pin,
            escrow,
            bundle: a.bundle.to_path_buf(),
            roster: a.roster.map(|p| p.to_path_buf()),
            ledger: a
                .ledger
                .map(std::path::Path::to_path_buf)
                .or_else(|| a.roster.map(crate::app::ledger::beside_roster)),
            script_dir: a
                .script
                .parent()
                .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
        })
    }
}
