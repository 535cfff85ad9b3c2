//! The quorum gate at the ceremony: the roster, the custodians present, and the login they open.
//!
//! Shamir mode: every share is checked (decoded, matched to the custodian who entered it, held
//! against the roster's commitment) before the HSM is asked anything, so a wrong, duplicate,
//! foreign or missing share costs no login attempt. M valid shares rebuild the PIN in zeroizing
//! memory locked against swap (mlock), the token user logs in once, and the PIN is wiped.
//! HSM-enforced mode: the custodians' names are checked against the roster and the HSM itself
//! enforces the quorum at login. Either way the roster's signature is checked with the token's
//! log key before the ceremony starts, and what the log records is [`QuorumEvidence`].

use std::path::{Path, PathBuf};

use cryptoki::types::AuthPin;
use secrecy::ExposeSecret;

use crate::app::error::{Error, Result};
use crate::core::custody::{
    self, CustodianEntry, PIN_BYTES, QuorumEvidence, QuorumMode, RosterFile, pin_text,
};
use crate::core::digest::sha256_hex;
use crate::hsm::token::UserSession;
use crate::hsm::{LOG_KEY_LABEL, Token};
use crate::io::fs as fsio;

/// A roster as read from disk: `roster.json` and, next to it, its signed `roster.log`.
pub struct RosterInput {
    pub path: PathBuf,
    pub file: RosterFile,
    pub bytes: Vec<u8>,
    pub log: Vec<u8>,
    pub sha256: String,
}

/// The signed log of a roster file: `roster.json` -> `roster.log`.
pub fn roster_log_path(roster: &Path) -> PathBuf {
    roster.with_extension("log")
}

impl RosterInput {
    pub fn load(path: &Path) -> Result<RosterInput> {
        let bytes = fsio::read(path)?;
        let log = fsio::read(&roster_log_path(path))?;
        RosterInput::from_bytes(path, bytes, log)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>, log: Vec<u8>) -> Result<RosterInput> {
        let file = RosterFile::parse(&bytes).map_err(|problem| Error::RosterFile {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(RosterInput {
            path: path.to_path_buf(),
            sha256: sha256_hex(&bytes),
            file,
            bytes,
            log,
        })
    }
}

/// Memory pages locked against swap while a secret is in them; unlocked on drop. Locking is best
/// effort (RLIMIT_MEMLOCK may forbid it); core dumps are disabled for the process either way.
pub struct MemoryLock {
    regions: Vec<(usize, usize)>,
}

impl MemoryLock {
    pub fn new() -> MemoryLock {
        MemoryLock {
            regions: Vec::new(),
        }
    }

    /// Locks the pages under `bytes`. Returns whether the system allowed it.
    pub fn lock(&mut self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        #[cfg(unix)]
        {
            let (ptr, len) = (bytes.as_ptr() as usize, bytes.len());
            // SAFETY: mlock only changes the residency of pages that `bytes` (a live borrow)
            // spans; it reads and writes no memory.
            let ok = unsafe { libc::mlock(ptr as *const libc::c_void, len) } == 0;
            if ok {
                self.regions.push((ptr, len));
            }
            ok
        }
        #[cfg(not(unix))]
        false
    }
}

impl Default for MemoryLock {
    fn default() -> Self {
        MemoryLock::new()
    }
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        for (ptr, len) in self.regions.drain(..) {
            // SAFETY: munlock of a range this guard locked; it touches no memory contents.
            unsafe {
                libc::munlock(ptr as *const libc::c_void, len);
            }
        }
    }
}

/// Logs in with PIN bytes rebuilt by the quorum: the text, the PIN object and the bytes all live
/// in locked, zeroizing memory until the login returns, then are wiped.
pub fn login_with_pin_bytes(token: &Token, raw: &[u8]) -> Result<UserSession> {
    let mut locks = MemoryLock::new();
    locks.lock(raw);
    let text = pin_text(raw);
    locks.lock(text.as_bytes());
    let pin = AuthPin::new(text.as_str().into());
    locks.lock(pin.expose_secret().as_bytes());
    let session = token.login(&pin)?;
    drop(pin);
    drop(text);
    drop(locks);
    Ok(session)
}

/// How a token without a PIN pad is logged in under an HSM-enforced quorum (soft tokens that stand
/// in for a PED HSM in rehearsals): the PIN file of the token URI.
pub enum HsmEnforcedLogin<'a> {
    PinFile(&'a Path),
    None,
}

/// Opens the HSM through the quorum: checks the custodians against the roster (and, in shamir
/// mode, combines their shares), logs in, and checks the roster's signature with the token's log
/// key. Nothing reaches the HSM before the shares or names are accepted.
pub fn open(
    token: &Token,
    roster: &RosterInput,
    entries: &[CustodianEntry<'_>],
    fallback: HsmEnforcedLogin<'_>,
) -> Result<(UserSession, QuorumEvidence)> {
    if roster.file.token_label != token.label() {
        return Err(Error::RosterOfOtherToken {
            roster: roster.path.clone(),
            roster_token: roster.file.token_label.clone(),
            token: token.label().to_string(),
        });
    }
    // Before any C_Login: the roster must be the one this token's log key signed (its public
    // half is read without login), so a forged roster (a lowered threshold, other commitments)
    // never makes genuine shares rebuild a wrong PIN that burns a try.
    check_roster_against_token(token, roster)?;
    warn_if_failed_logins(token)?;
    let (session, evidence) = match roster.file.mode {
        QuorumMode::Shamir => {
            // The typed shares are locked like the PIN they rebuild, for as long as they are
            // used here. (The pure core's short-lived decoding buffers are zeroized, not locked.)
            let mut locks = MemoryLock::new();
            for share in entries.iter().filter_map(|e| e.typed_share) {
                locks.lock(share.as_bytes());
            }
            let (raw, evidence) = custody::open_with_shares(&roster.file, &roster.sha256, entries)?;
            locks.lock(&raw);
            if raw.len() != PIN_BYTES {
                return Err(Error::SharesNotAPin);
            }
            (login_with_pin_bytes(token, &raw)?, evidence)
        }
        QuorumMode::HsmEnforced => {
            let mut evidence = custody::authorised_by_names(&roster.file, &roster.sha256, entries)?;
            let session = if token.has_protected_authentication_path()? {
                token.login_protected()?
            } else {
                match fallback {
                    HsmEnforcedLogin::PinFile(path) => {
                        evidence.login = custody::Login::PinFile;
                        token.login(&crate::hsm::pin::read_pin(path)?)?
                    }
                    HsmEnforcedLogin::None => {
                        return Err(Error::NoPinPadNoUriPinSource {
                            token: token.label().to_string(),
                        });
                    }
                }
            };
            (session, evidence)
        }
    };
    check_roster_signature(&session, roster)?;
    Ok((session, evidence))
}

/// The roster is the one this token's log key signed, checked with the key's public half read
/// from the token without logging in: nothing here spends a PIN try.
pub fn check_roster_against_token(token: &Token, roster: &RosterInput) -> Result<()> {
    let key = token.log_public_key(LOG_KEY_LABEL)?;
    custody::verify_roster_log(&roster.bytes, &roster.log, &key)
        .map(|_| ())
        .map_err(|problem| Error::RosterNotThisToken {
            path: roster.path.clone(),
            problem,
        })
}

/// Says so when the token reports wrong PINs entered since its last login (CKF_USER_PIN_COUNT_LOW):
/// someone tried the token outside this ceremony. The login itself is refused in the HSM layer
/// only when the flags say it could lock the token.
pub fn warn_if_failed_logins(token: &Token) -> Result<()> {
    if token.user_pin_counter()?.count_low {
        crate::say!(
            "warning: token {:?} reports a wrong user PIN entered since its last login (CKF_USER_PIN_COUNT_LOW); find out who tried it",
            crate::core::terminal::for_terminal(token.label())
        );
    }
    Ok(())
}

/// The roster is the one the token's log key signed.
fn check_roster_signature(session: &UserSession, roster: &RosterInput) -> Result<()> {
    let signer = session.log_signer(LOG_KEY_LABEL)?;
    custody::verify_roster_log(&roster.bytes, &roster.log, signer.public_key())
        .map(|_| ())
        .map_err(|problem| Error::RosterNotThisToken {
            path: roster.path.clone(),
            problem,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_secret_is_locked_and_unlocked() {
        let secret = zeroize::Zeroizing::new(vec![7u8; 32]);
        let mut lock = MemoryLock::new();
        assert!(lock.lock(&secret), "mlock of 32 bytes was refused");
        assert_eq!(lock.regions.len(), 1);
        assert!(lock.lock(&[]));
        drop(lock);
    }
}
