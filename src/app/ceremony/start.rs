//! The ceremony's entry: what it needs besides the operators' answers, and the one code path
//! of the terminal UI, a headless run and the rehearsal once the answers are in.

use std::path::Path;

pub use super::inputs::{CeremonyInputs, CeremonyPaths};
use super::preflight::Preflight;
use super::progress::{Progress, ProgressSink};
use super::{Access, CeremonyReport, CeremonyRequest, run};
use crate::app::error::{Error, Result};
use crate::app::quorum;
use crate::core::ceremony::ResumeChoice;
use crate::core::custody::{CustodianEntry, QuorumMode};
use crate::core::digest::normalise_fingerprint;
use crate::core::script::{Answers, Script};
use crate::hsm::pin::read_pin;
use crate::hsm::{Token, TokenUri};

/// The ceremony with the operators' answers, after the [`preflight`](super::preflight::preflight):
/// the one code path of the terminal UI and of a headless run.
/// `progress` receives each step (the quorum met, every key's generate, check value, wrap, write,
/// read back, verify); [`ProgressSink::lines`] prints what a headless run prints.
pub fn perform(
    inputs: &CeremonyInputs,
    checked: &Preflight,
    answers: &Answers,
    progress: ProgressSink<'_>,
) -> Result<CeremonyReport> {
    // The answers are checked in the order of the ceremony's questions
    // (core::ceremony::questions), whoever gave them: the resume choice, who is present, the
    // bundle fingerprint, and only then (opening the HSM) the custodians' shares.
    let resume = match (&checked.interrupted, answers.resume) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Error::NothingToResume);
        }
        (Some(i), None) => {
            return Err(Error::InterruptedNeedsChoice {
                bundle: inputs.bundle.to_path_buf(),
                records: i.records,
                keys_wrapped: i.keys_wrapped,
            });
        }
        (Some(i), Some(choice)) => {
            if let (ResumeChoice::Finish, Some(why)) = (choice, &i.cannot_finish) {
                return Err(Error::CannotFinish { why: why.clone() });
            }
            Some(choice)
        }
    };
    inputs
        .script
        .check_people(&answers.operator, answers.witness.as_deref())
        .map_err(|problem| Error::WitnessMissing {
            problem: problem.to_string(),
        })?;
    let typed = normalise_fingerprint(&answers.bundle_fingerprint);
    if typed != checked.bundle.bundle.fingerprint() {
        return Err(Error::FingerprintMismatch {
            bundle: checked.bundle.bundle.fingerprint().to_string(),
            typed,
        });
    }
    let CeremonyInputs {
        script,
        script_sha256,
        uri,
        module: _,
        so_pin,
        escrow,
        bundle,
        roster,
        ledger,
        script_dir: _,
    } = inputs;
    let token = &checked.token;
    let report = match (roster, &checked.roster) {
        (Some(_), Some(roster)) => {
            if so_pin.is_some() {
                return Err(Error::SoPinSourceWithRoster);
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
                progress,
                provenance: checked.provenance.as_ref(),
                ledger: ledger.as_deref(),
            })?
        }
        _ => {
            if !answers.custodians.is_empty() {
                return Err(Error::CustodiansWithoutRoster);
            }
            let pin_path = uri.pin_source.clone().ok_or(Error::NoPinSource)?;
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
                progress,
                provenance: checked.provenance.as_ref(),
                ledger: ledger.as_deref(),
            })?
        }
    };
    // A finished ceremony (not an abort) leaves its report for the paper log in the bundle.
    if report.aborted.is_none() {
        let text = super::report::text(
            script,
            answers,
            &uri.token,
            bundle,
            &report,
            jiff::Timestamp::now(),
        );
        super::report::write(bundle, &text)?;
    }
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
    progress: ProgressSink<'a>,
    /// Who signed the bundle, as the preflight verified it.
    provenance: Option<&'a crate::core::provenance::Signers>,
    ledger: Option<&'a Path>,
}

/// The ceremony opened by the custodians' quorum: the gate, then [`ceremony::run`] on the session
/// it opened, with the quorum's evidence bound into the log.
fn run_with_quorum(q: &QuorumCeremony<'_>) -> Result<CeremonyReport> {
    let roster = q.roster;
    if q.uri.pin_source.is_some() && roster.file.mode == QuorumMode::Shamir {
        return Err(Error::PinSourceWithShares);
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
    q.progress.emit(Progress::QuorumMet {
        names: evidence.names(),
        custodians_total: evidence.custodians_total,
        mode: evidence.mode.as_str().to_string(),
    });
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
        progress: q.progress,
        provenance: q.provenance,
        ledger: q.ledger,
    })
}
