//! The ceremony's entry: what it needs besides the operators' answers, and the one code path
//! of the terminal UI, a headless run and the rehearsal once the answers are in.

use std::path::{Path, PathBuf};

use cryptoki::types::AuthPin;

use super::preflight::Preflight;
use super::{Access, CeremonyReport, CeremonyRequest, run};
use crate::app::error::{Error, Result};
use crate::app::quorum;
use crate::core::ceremony::ResumeChoice;
use crate::core::custody::{CustodianEntry, QuorumMode};
use crate::core::digest::sha256_hex;
use crate::core::script::{Answers, Script};
use crate::hsm::pin::read_pin;
use crate::hsm::{Token, TokenUri};
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
        })
    }
}

/// The ceremony with the operators' answers, after the [`preflight`](super::preflight::preflight):
/// the one code path of the terminal UI and of a headless run.
pub fn perform(
    inputs: &CeremonyInputs,
    checked: &Preflight,
    answers: &Answers,
) -> Result<CeremonyReport> {
    inputs
        .script
        .check_people(&answers.operator, answers.witness.as_deref())
        .map_err(|what| Error::Refused {
            what,
            hint: "name the witness, a second person who watches the ceremony (answers: witness = \"...\")".into(),
        })?;
    let resume = match (&checked.interrupted, answers.resume) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Error::Refused {
                what: "the answers say resume, but this bundle holds no interrupted ceremony"
                    .into(),
                hint: "drop resume from the answers".into(),
            });
        }
        (Some(i), None) => {
            return Err(Error::Refused {
                what: format!(
                    "{}: this bundle holds an interrupted ceremony ({} record(s), {} key(s) wrapped)",
                    inputs.bundle.display(),
                    i.records,
                    i.keys_wrapped
                ),
                hint: "choose in the answers: resume = \"finish\" (the keys not yet wrapped) or resume = \"abort\" (destroy the keys never written)".into(),
            });
        }
        (Some(i), Some(choice)) => {
            if let (ResumeChoice::Finish, Some(why)) = (choice, &i.cannot_finish) {
                return Err(Error::Refused {
                    what: format!("the interrupted ceremony cannot be finished: {why}"),
                    hint: "abort it (resume = \"abort\") and prepare a new bundle".into(),
                });
            }
            Some(choice)
        }
    };
    let CeremonyInputs {
        script,
        script_sha256,
        uri,
        module: _,
        so_pin,
        escrow,
        bundle,
        roster,
    } = inputs;
    let token = &checked.token;
    let report = match (roster, &checked.roster) {
        (Some(_), Some(roster)) => {
            if so_pin.is_some() {
                return Err(Error::Usage {
                    what: "--so-pin-source cannot be combined with --roster: the quorum login and the security officer's step need separate login states".into(),
                    hint: "run the ceremony without --so-pin-source".into(),
                });
            }
            run_with_quorum(&QuorumCeremony {
                token,
                uri,
                roster,
                script,
                script_sha256,
                bundle_dir: bundle,
                answers,
                escrow: escrow.as_ref(),
                resume,
            })?
        }
        _ => {
            if !answers.custodians.is_empty() {
                return Err(Error::Usage {
                    what: "the answers name custodians, but no --roster was given".into(),
                    hint: "pass --roster roster.json (from `keyrite quorum enroll`)".into(),
                });
            }
            let pin_path = uri.pin_source.clone().ok_or_else(|| Error::Usage {
                what: "the token URI has no pin-source, and no --roster was given".into(),
                hint: "open the HSM by quorum with --roster roster.json, or (rehearsals and tests) add ?pin-source=file:/path to --token".into(),
            })?;
            let pin = read_pin(&pin_path)?;
            run(&CeremonyRequest {
                script,
                script_sha256,
                bundle_dir: bundle,
                token,
                access: Access::Pin(&pin),
                quorum: None,
                answers,
                escrow: escrow.as_ref(),
                so_pin: so_pin.as_ref(),
                resume,
            })?
        }
    };
    Ok(report)
}

/// What `keyrite ceremony --roster` was given.
struct QuorumCeremony<'a> {
    token: &'a Token,
    uri: &'a TokenUri,
    roster: &'a quorum::RosterInput,
    script: &'a Script,
    script_sha256: &'a str,
    bundle_dir: &'a Path,
    answers: &'a Answers,
    /// A re-wrap ceremony's escrow records (see [`crate::app::escrow`]).
    escrow: Option<&'a crate::app::escrow::Escrow>,
    resume: Option<ResumeChoice>,
}

/// The ceremony opened by the custodians' quorum: the gate, then [`ceremony::run`] on the session
/// it opened, with the quorum's evidence bound into the log.
fn run_with_quorum(q: &QuorumCeremony<'_>) -> Result<CeremonyReport> {
    let roster = q.roster;
    if q.uri.pin_source.is_some() && roster.file.mode == QuorumMode::Shamir {
        return Err(Error::Usage {
            what: "the token URI names a pin-source, but the roster holds the PIN as custodians' shares".into(),
            hint: "drop ?pin-source from --token: the custodians' shares open the HSM".into(),
        });
    }
    let token = q.token;
    let entries: Vec<CustodianEntry<'_>> = q
        .answers
        .custodians
        .iter()
        .map(|c| CustodianEntry {
            name: &c.name,
            typed_share: c.share.as_ref().map(|s| s.expose_to_gate()),
        })
        .collect();
    let fallback = match &q.uri.pin_source {
        Some(p) => quorum::HsmEnforcedLogin::PinFile(p),
        None => quorum::HsmEnforcedLogin::None,
    };
    let (session, evidence) = quorum::open(token, roster, &entries, fallback)?;
    drop(entries);
    eprintln!(
        "quorum met: {} of {} ({}); the HSM is open",
        evidence.names().join(", "),
        evidence.custodians_total,
        evidence.mode.as_str()
    );
    run(&CeremonyRequest {
        script: q.script,
        script_sha256: q.script_sha256,
        bundle_dir: q.bundle_dir,
        token,
        access: Access::Session(&session),
        quorum: Some(&evidence),
        answers: q.answers,
        escrow: q.escrow,
        so_pin: None,
        resume: q.resume,
    })
}
