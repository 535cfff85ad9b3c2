//! `keyrite audit`: verify and replay, with the verification report printed for people.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use std::io::Write;

use crate::app::audit::{self, AuditReport};
use crate::app::error::{Error, Result};
use crate::app::replay;
use crate::cli::{audit_html, audit_text};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify a ceremony log (and its bundle) against the published log public key; the report
    /// goes to stdout (or --out). Exit 0: complete; 8: aborted; 9: unfinished; 3: it does not
    /// verify.
    Verify(VerifyArgs),
    /// Step through a ceremony log as the operators saw it (a pager at a terminal; --text prints
    /// it all).
    Replay(ReplayArgs),
    /// The auditor's printable page: one self-contained HTML file (no scripts, nothing fetched)
    /// of the verified ceremony, with a sign-off line per participant.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A bundle directory (its ceremony.log and files are checked) or a ceremony log file.
    pub target: PathBuf,
    /// The published log public key (PEM SubjectPublicKeyInfo).
    #[arg(long)]
    pub trust: PathBuf,
    /// The ceremony script: check it is the one the log bound, and that the keys were generated
    /// and wrapped in its order.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Fail (exit 3) unless the log records that a quorum of custodians opened the HSM (a
    /// ceremony opened with a PIN file fails).
    #[arg(long)]
    pub require_quorum: bool,
    /// Fail (exit 3) unless the ceremony completed: an aborted or unfinished ceremony, which
    /// otherwise exits 8 or 9 with its report, fails as a verification failure.
    #[arg(long)]
    pub require_complete: bool,
    /// The SHA-256 of your own reproducible rebuild of keyrite (scripts/build-airgap): fail
    /// (exit 3) unless every binary the log says ran (the start, each resumption) is that one.
    #[arg(long, value_name = "SHA256")]
    pub expect_binary: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Write the report into this file (created new, never overwritten) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The report as JSON (the same fields) instead of text: {"ok", "outcome", "report"}; a
    /// failure is {"ok": false, "error": {...}}.
    #[arg(long)]
    pub json: bool,
}

/// What the bundle's ledger evidence (the token's checkpoint with this ceremony's inclusion
/// proof) must show.
#[derive(Args, Debug, Default)]
pub struct LedgerArgs {
    /// A witness whose cosignature counts: its verifier key as `keyrite witness init` printed it
    /// (name+keyid+base64), or a file holding it. Repeatable.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned the checkpoint (default: all of them).
    #[arg(long = "witnesses", value_name = "N")]
    pub required: Option<usize>,
    /// A closing of this token you were shown (a bundle directory or a roster.log): with one or
    /// more, every leaf the checkpoint counts must be one of them or this ceremony; a ceremony you
    /// were not shown fails the verification (exit 3), named. Repeatable.
    #[arg(long = "known", value_name = "BUNDLE|LOG")]
    pub known: Vec<PathBuf>,
}

impl LedgerArgs {
    pub fn policy(&self, trust: &std::path::Path) -> Result<crate::app::ledger::LedgerPolicy> {
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| crate::app::ledger::witness_key(w))
            .collect::<Result<Vec<_>>>()?;
        let required = self.required.unwrap_or(witnesses.len());
        if required > witnesses.len() {
            return Err(crate::app::ledger_error::LedgerError::WitnessCount {
                required,
                named: witnesses.len(),
            }
            .into());
        }
        let known = if self.known.is_empty() {
            None
        } else {
            let trusted = audit::trusted_key(trust)?;
            Some(
                self.known
                    .iter()
                    .map(|k| crate::app::ledger::known_closing(k, &trusted))
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        Ok(crate::app::ledger::LedgerPolicy {
            witnesses,
            required,
            known,
        })
    }
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A bundle directory (its ceremony.log) or a ceremony log file.
    pub target: PathBuf,
    /// Verify first against this published log public key (PEM).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Print every screen as text on stdout, the verification line first, without paging.
    #[arg(long)]
    pub text: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A bundle directory (its ceremony.log and files are checked) or a ceremony log file.
    pub target: PathBuf,
    /// The published log public key (PEM SubjectPublicKeyInfo): nothing goes on the page
    /// unless the log verifies with it.
    #[arg(long)]
    pub trust: PathBuf,
    /// The HTML file to write (created new, never overwritten).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// The ceremony script, checked as for `audit verify --script`.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// The SHA-256 of your own rebuild of keyrite, checked as for `audit verify`.
    #[arg(long, value_name = "SHA256")]
    pub expect_binary: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// The verified report with the checks both `verify` and `report` take.
fn verified(
    target: &std::path::Path,
    trust: &std::path::Path,
    script: Option<&std::path::Path>,
    expect_binary: Option<&str>,
    ledger: &LedgerArgs,
) -> Result<AuditReport> {
    let mut r = audit::verify_with(target, trust, &ledger.policy(trust)?)?;
    if let Some(script) = script {
        audit::check_script(script, &r.log_report)?;
    }
    if let Some(sha) = expect_binary {
        audit::expect_binary(&mut r, sha)?;
    }
    Ok(r)
}

/// Writes `bytes` to stdout, or into `out` (created new, fsynced).
fn emit(out: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            crate::io::fs::write_new(path, bytes)?;
            crate::say!("wrote {}", path.display());
            Ok(())
        }
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes)
                .and_then(|()| o.flush())
                .map_err(|e| Error::Stdout {
                    detail: e.to_string(),
                })
        }
    }
}

pub fn run(cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Replay(a) => replay::run(&a.target, a.trust.as_deref(), a.text),
        AuditCommand::Verify(a) => {
            let r = verified(
                &a.target,
                &a.trust,
                a.script.as_deref(),
                a.expect_binary.as_deref(),
                &a.ledger,
            )?;
            if a.require_quorum {
                audit::require_quorum(&r)?;
            }
            let verdict = audit::verdict(&r, a.require_complete);
            let mut bytes = if a.json {
                let mut v = serde_json::json!({
                    "ok": verdict.is_ok(),
                    "outcome": r.log_report.outcome,
                    "report": r,
                });
                // An outcome's error goes with its report, in the one JSON document.
                if let Err(e) = &verdict {
                    v["error"] = crate::cli::failure::json(e)["error"].clone();
                }
                v.to_string().into_bytes()
            } else {
                audit_text::render(&r).into_bytes()
            };
            if a.json {
                bytes.push(b'\n');
            }
            emit(a.out.as_deref(), &bytes)?;
            verdict
        }
        AuditCommand::Report(a) => {
            let r = verified(
                &a.target,
                &a.trust,
                a.script.as_deref(),
                a.expect_binary.as_deref(),
                &a.ledger,
            )?;
            let page = audit_html::render(&r);
            emit(Some(&a.html), page.as_bytes())?;
            crate::say!("{}", audit_text::headline(&r));
            Ok(())
        }
    }
}
