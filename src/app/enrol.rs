//! `keyrite quorum enroll`: one-time custody set-up of a token.
//!
//! Shamir mode: initialise the token in an empty slot with a random SO PIN that is discarded (so
//! nobody can reset the user PIN behind the quorum's back), draw the user PIN from the token's RNG,
//! split it M-of-N among the named custodians, generate the log-signing key in the token, and
//! leave for auditors the log public key (PEM + fingerprint) and the roster (commitments to the
//! shares) signed by that key. Each share is shown to its custodian alone, once.
//! HSM-enforced mode: the token exists (its own tooling set up M-of-N); keyrite generates the log
//! key and writes the signed roster of names.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use cryptoki::types::AuthPin;
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::app::error::{Error, Result};
use crate::app::quorum::{MemoryLock, login_with_pin_bytes, roster_log_path};
use crate::core::custody::shares::{CustodianShare, split};
use crate::core::custody::{EnrolScript, PIN_BYTES, QuorumMode, RosterFile, pin_text};
use crate::core::digest::{grouped, sha256_hex};
use crate::core::ledger::{Entry, EntryKind, Ledger};
use crate::core::log::{LogChain, TrustedKey, public_key_pem, step};
use crate::hsm::token::UserSession;
use crate::hsm::{LOG_KEY_LABEL, Token};
use crate::io::fs::{self as fsio, FsError};

pub const ROSTER_FILE: &str = "roster.json";
pub const LOG_PUBLIC_KEY: &str = "log-public-key.pem";

/// What `keyrite quorum enroll` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct EnrolRequest {
    /// The enrolment script (TOML).
    pub script: PathBuf,
    /// The PKCS#11 module, unless the script names one.
    pub module: Option<PathBuf>,
    /// Shares to the custodians' share files instead of the terminal.
    pub headless: bool,
    /// The user PIN file of an HSM-enforced token without a PIN pad.
    pub pin_source: Option<PathBuf>,
}

/// A token enrolled with a Shamir quorum, before its shares are handed out.
pub struct Enrolled {
    pub token: Token,
    pub roster: RosterFile,
    pub roster_json: Vec<u8>,
    pub roster_log: Vec<u8>,
    pub log_key: TrustedKey,
    /// The token's ledger, begun with the enrolment, and its first checkpoint.
    pub ledger: Vec<u8>,
    pub checkpoint: Vec<u8>,
    /// In the roster's order. Handed out once, then dropped (wiped).
    pub shares: Vec<CustodianShare>,
}

fn os_random_pin() -> Result<AuthPin> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut()).map_err(|e| Error::Random {
        detail: e.to_string(),
    })?;
    Ok(AuthPin::new(
        data_encoding::HEXLOWER.encode(raw.as_ref()).into(),
    ))
}

/// Initialises a fresh token with a quorum-held PIN (see the module docs).
pub fn enrol_shamir(
    module: &Path,
    label: &str,
    threshold: u8,
    names: &[String],
) -> Result<Enrolled> {
    // Refuse a bad policy before the token is touched.
    crate::core::custody::shares::split(&[0u8; PIN_BYTES], threshold, names, "check")?;
    let so_pin = os_random_pin()?;
    let (token, raw) =
        Token::initialise_with_random_pin(module, label, &so_pin, PIN_BYTES, pin_text)?;
    // The SO PIN is discarded here: nobody holds it.
    drop(so_pin);
    let mut locks = MemoryLock::new();
    locks.lock(&raw);
    let session = login_with_pin_bytes(&token, &raw)?;
    let roster_id = data_encoding::HEXLOWER.encode(session.random(16)?.as_slice());
    let (roster, shares) = split(&raw, threshold, names, &roster_id)?;
    self_check(&roster, &shares, &raw)?;
    drop(raw);
    drop(locks);
    let log_key = session.generate_log_key(LOG_KEY_LABEL)?;
    let roster = RosterFile::new(QuorumMode::Shamir, label, log_key.fingerprint(), roster);
    let signed = sign_roster(&session, &roster, &log_key)?;
    drop(session);
    Ok(Enrolled {
        token,
        roster,
        roster_json: signed.json,
        roster_log: signed.log,
        ledger: signed.ledger,
        checkpoint: signed.checkpoint,
        log_key,
        shares,
    })
}

/// Before any share is handed out: the first M and the last M shares, as a custodian would type
/// them, pass the gate and rebuild exactly the PIN the token was given.
fn self_check(
    roster: &crate::core::custody::shares::Roster,
    shares: &[CustodianShare],
    raw: &[u8],
) -> Result<()> {
    let m = usize::from(roster.threshold);
    let typed: Vec<Zeroizing<String>> = shares.iter().map(CustodianShare::encode).collect();
    for pick in [&typed[..m], &typed[typed.len() - m..]] {
        let texts: Vec<&str> = pick.iter().map(|t| t.as_str()).collect();
        let rebuilt = crate::core::custody::shares::combine(roster, &texts)?;
        if rebuilt.as_slice() != raw {
            return Err(Error::SharesDoNotRebuild);
        }
    }
    Ok(())
}

/// The roster, its signed log, and the token's ledger begun with the enrolment.
pub struct SignedRoster {
    pub json: Vec<u8>,
    pub log: Vec<u8>,
    /// The ledger whose first leaf is the roster log's record, and its checkpoint.
    pub ledger: Vec<u8>,
    pub checkpoint: Vec<u8>,
}

/// The roster file and its one-record signed log; the ledger's first entry, the enrolment,
/// signed by the log key while the token is open.
fn sign_roster(
    session: &UserSession,
    roster: &RosterFile,
    log_key: &TrustedKey,
) -> Result<SignedRoster> {
    let json = roster.to_json();
    let signer = session.log_signer(LOG_KEY_LABEL)?;
    let line = LogChain::new().record(
        &signer,
        Timestamp::now(),
        step::QUORUM_ENROLLED,
        &roster
            .roster
            .custodians
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        roster.enrolled_data(&sha256_hex(&json)),
    )?;
    let mut ledger = Ledger::new(log_key);
    let entry = Entry {
        kind: EntryKind::Enrolment,
        final_record_sha256: crate::core::ledger::final_record_sha256(&line).unwrap_or_default(),
        subject: sha256_hex(&json),
        time: Timestamp::now(),
    };
    let sealed =
        crate::core::ledger::seal(&mut ledger, entry, 0, &signer, log_key)?.map_err(|problem| {
            crate::app::ledger_error::LedgerError::Ledger {
                path: PathBuf::from(crate::core::ledger::FILE_NAME),
                problem,
            }
        })?;
    Ok(SignedRoster {
        json,
        log: line,
        ledger: ledger.to_bytes(),
        checkpoint: sealed.checkpoint,
    })
}

/// Writes the public results into `out` (which exists): roster.json, roster.log,
/// log-public-key.pem. Returns the log key's fingerprint.
pub fn write_public(
    out: &Path,
    roster_json: &[u8],
    roster_log: &[u8],
    log_key: &TrustedKey,
    ledger: (&[u8], &[u8]),
) -> Result<String> {
    let (pem, fingerprint) = public_key_pem(log_key.key())?;
    let roster_path = out.join(ROSTER_FILE);
    fsio::write_new(&out.join(LOG_PUBLIC_KEY), pem.as_bytes())?;
    fsio::write_new(&roster_path, roster_json)?;
    fsio::write_new(&roster_log_path(&roster_path), roster_log)?;
    let ledger_dir = crate::app::ledger::beside_roster(&roster_path);
    fsio::create_dir_new(&ledger_dir)?;
    fsio::write_new(&ledger_dir.join(crate::core::ledger::FILE_NAME), ledger.0)?;
    fsio::write_new(
        &ledger_dir.join(crate::core::ledger::CHECKPOINT_FILE),
        ledger.1,
    )?;
    Ok(fingerprint)
}

/// Writes one custodian's share to a file of their own: created new, mode 0600, fsynced.
fn write_share_file(path: &Path, name: &str, label: &str, share: &CustodianShare) -> Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |action: &'static str| {
        move |source| FsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            FsError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            io("create")(e)
        }
    })?;
    let header = format!(
        "# keyrite share of {name} for token {label:?} (index {}). Keep it alone; type it back exactly.\n",
        share.index()
    );
    // Locked like the PIN, and sized once so no growing buffer leaves a copy behind.
    let mut locks = crate::app::quorum::MemoryLock::new();
    let encoded = share.encode();
    locks.lock(encoded.as_bytes());
    let mut text = Zeroizing::new(String::with_capacity(header.len() + encoded.len() + 1));
    text.push_str(&header);
    text.push_str(&encoded);
    text.push('\n');
    locks.lock(text.as_bytes());
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write"))?;
    Ok(())
}

/// How shares reach their custodians at a terminal (the operators' app implements it).
pub trait ShareHandover {
    /// Checked before the token is touched: refuse here when the shares cannot be shown.
    fn ready(&mut self) -> Result<()>;
    /// Shows each custodian their share alone and has them type it back. An error means someone
    /// left: nothing is written.
    fn hand_over(
        &mut self,
        label: &str,
        threshold: u8,
        names: &[String],
        shares: &[CustodianShare],
    ) -> Result<()>;
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Enrols the token; returns the summary `--json` prints.
/// Without `handover` (headless), each share goes to its custodian's share file.
pub fn run(
    a: &EnrolRequest,
    handover: Option<&mut dyn ShareHandover>,
) -> Result<serde_json::Value> {
    let text = fsio::read_text(&a.script, "an enrolment script")?;
    let script = EnrolScript::parse(&text, a.headless).map_err(|problem| Error::EnrolScript {
        path: a.script.clone(),
        problem,
    })?;
    let base = a
        .script
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out = resolve(base, &script.out);
    let module = script
        .token
        .module
        .clone()
        .or_else(|| a.module.clone())
        .unwrap_or_else(|| PathBuf::from(crate::hsm::softhsm::DEFAULT_MODULE));
    let share_files: Vec<Option<PathBuf>> = script
        .custodians
        .iter()
        .map(|c| c.share_file.as_ref().map(|f| resolve(base, f)))
        .collect();
    // Everything that could refuse is checked before the token is touched.
    if out.exists() {
        return Err(FsError::Exists { path: out }.into());
    }
    if a.headless {
        for f in share_files.iter().flatten() {
            if f.exists() {
                return Err(FsError::Exists { path: f.clone() }.into());
            }
            if let Some(dir) = f.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                return Err(Error::ShareDirMissing { file: f.clone() });
            }
        }
    }
    let names = script.names();
    let label = script.token.label.clone();
    if let Some(parent) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::EnrolOutDirMissing { out });
    }
    let mut handover = match handover {
        Some(h) if !a.headless && script.quorum == QuorumMode::Shamir => {
            h.ready()?;
            Some(h)
        }
        _ => None,
    };
    let fingerprint = match script.quorum {
        QuorumMode::Shamir => {
            let enrolled = enrol_shamir(&module, &label, script.threshold, &names)?;
            // The roster and the log key are written only once every custodian has their share:
            // an enrolment left half way leaves nothing that verifies.
            if let Some(h) = handover.as_mut() {
                h.hand_over(&label, script.threshold, &names, &enrolled.shares)?;
            }
            if a.headless {
                for ((name, share), file) in names.iter().zip(&enrolled.shares).zip(&share_files) {
                    let file = file.as_ref().ok_or_else(|| Error::NoShareFile {
                        name: name.to_string(),
                    })?;
                    write_share_file(file, name, &label, share)?;
                    crate::say!(
                        "share of {name} (index {}) written to {} (mode 0600)",
                        share.index(),
                        file.display()
                    );
                }
            } else if handover.is_none() {
                return Err(Error::ShareTerminal {
                    detail: "no terminal to show the shares on".into(),
                });
            }
            fsio::create_dir_new(&out)?;
            write_public(
                &out,
                &enrolled.roster_json,
                &enrolled.roster_log,
                &enrolled.log_key,
                (&enrolled.ledger, &enrolled.checkpoint),
            )?
        }
        QuorumMode::HsmEnforced => {
            fsio::create_dir_new(&out)?;
            enrol_hsm_enforced(&module, &script, a, &out)?
        }
    };
    let roster_path = out.join(ROSTER_FILE);
    crate::say!(
        "enrolled token {label:?}: quorum {} of {} ({}), custodians {}",
        script.threshold,
        names.len(),
        script.quorum.as_str(),
        names.join(", ")
    );
    crate::say!(
        "log public key for auditors: {} sha256 {}",
        out.join(LOG_PUBLIC_KEY).display(),
        grouped(&fingerprint)
    );
    crate::say!(
        "roster: {} signed by the log key in {}",
        roster_path.display(),
        roster_log_path(&roster_path).display()
    );
    Ok(serde_json::json!({
            "token_label": label,
            "mode": script.quorum.as_str(),
            "threshold": script.threshold,
            "custodians": names,
            "log_public_key": out.join(LOG_PUBLIC_KEY),
            "log_key_sha256": fingerprint,
            "roster": roster_path,
            "roster_log": roster_log_path(&roster_path),
    }))
}

fn enrol_hsm_enforced(
    module: &Path,
    script: &EnrolScript,
    a: &EnrolRequest,
    out: &Path,
) -> Result<String> {
    let token = Token::open(module, &script.token.label)?;
    let session = if token.has_protected_authentication_path()? {
        token.login_protected()?
    } else {
        let path = a
            .pin_source
            .as_ref()
            .ok_or_else(|| Error::NoPinPadNoPinSource {
                token: script.token.label.clone(),
            })?;
        token.login(&crate::hsm::pin::read_pin(path)?)?
    };
    let roster_id = data_encoding::HEXLOWER.encode(session.random(16)?.as_slice());
    let log_key = session.generate_log_key(LOG_KEY_LABEL)?;
    let roster = RosterFile::hsm_enforced(
        script.threshold,
        &script.names(),
        &script.token.label,
        log_key.fingerprint(),
        &roster_id,
    );
    let s = sign_roster(&session, &roster, &log_key)?;
    write_public(out, &s.json, &s.log, &log_key, (&s.ledger, &s.checkpoint))
}

/// `keyrite quorum verify`: the roster is the one the trusted log key signed.
pub fn verify(roster_path: &Path, trust: &Path) -> Result<()> {
    let pem = String::from_utf8(fsio::read(trust)?).map_err(|_| {
        crate::core::log::LogError::TrustedKey(format!("{} is not PEM text", trust.display()))
    })?;
    let trusted = TrustedKey::from_pem(&pem)?;
    let roster = crate::app::quorum::RosterInput::load(roster_path)?;
    let sha = crate::core::custody::verify_roster_log(&roster.bytes, &roster.log, &trusted)
        .map_err(|problem| Error::RosterNotSigned {
            path: roster_path.to_path_buf(),
            problem,
        })?;
    let r = &roster.file;
    crate::say!("roster {}: verified (sha256 {sha})", roster_path.display());
    crate::say!(
        "  token {:?}, quorum {} of {} ({}), log key sha256 {}",
        r.token_label,
        r.roster.threshold,
        r.roster.custodians.len(),
        r.mode.as_str(),
        r.log_key_sha256
    );
    for c in &r.roster.custodians {
        crate::say!("  custodian {:>3}  {}", c.index, c.name);
    }
    Ok(())
}
