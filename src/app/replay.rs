//! `keyrite audit replay`: steps an auditor through a ceremony log as the operators saw it. At a
//! terminal, a pager in raw mode (Space/PgDn, b/PgUp, g/G, q, ? for help) over the screens
//! wrapped to the terminal's width, with a status line that always says what was verified;
//! otherwise, or with --text, every screen as text on stdout after the verification line. With
//! --trust, the log (and its bundle) is verified first and replay refuses a log that does not
//! verify.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::app::error::{Error, Result};
use crate::core::log::CeremonyOutcome;
use crate::core::pager::{self, Action, Pager};
use crate::core::terminal::for_terminal;
use crate::core::{log, replay};
use crate::io::fs as fsio;
use crate::io::tty::RawTerminal;

fn output_error(e: std::io::Error) -> Error {
    Error::ReplayOutput {
        detail: e.to_string(),
    }
}

/// Replays the log of `target` (a bundle directory or a log file), verified first against
/// `trust` when given; `text` prints every screen without paging.
pub fn run(target: &Path, trust: Option<&Path>, text: bool) -> Result<()> {
    let log_path = if target.is_dir() {
        target.join(log::FILE_NAME)
    } else {
        target.to_path_buf()
    };
    let bytes = fsio::read(&log_path)?;
    // The verification line, and its short form for the pager's status line.
    let (verified, status) = match trust {
        Some(trust) => {
            let report = crate::app::audit::verify(target, trust)?;
            let n = report.log_report.records.len();
            let outcome = match report.log_report.outcome {
                CeremonyOutcome::Complete => "complete".to_string(),
                other => other.as_str().to_uppercase(),
            };
            (
                format!("verified: {n} records signed by the trusted log key; ceremony {outcome}"),
                format!("verified ({n} records, ceremony {outcome})"),
            )
        }
        None => (
            "NOT VERIFIED: replayed as written; pass --trust <log-public-key.pem> to check it first".to_string(),
            "NOT VERIFIED (no --trust)".to_string(),
        ),
    };
    let bodies = log::bodies(&bytes)?;
    // Every field is text from the log file: shown escaped, never obeyed by the terminal.
    let screens: Vec<String> = bodies
        .iter()
        .map(|b| for_terminal(&replay::screen(b, bodies.len())).into_owned())
        .collect();
    let interactive = !text && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let headline = format!("{verified}\n  log: {}", log_path.display());
    if interactive {
        // Also on stderr, so it stays on the screen after the pager leaves.
        crate::say!("{headline}");
        return page(&screens.join("\n"), &status).map_err(output_error);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", for_terminal(&headline)).map_err(output_error)?;
    if trust.is_none() {
        crate::say!("{headline}");
    }
    for s in &screens {
        writeln!(out, "\n{s}").map_err(output_error)?;
    }
    out.flush().map_err(output_error)
}

/// The pager, until q.
fn page(text: &str, status: &str) -> std::io::Result<()> {
    let term = RawTerminal::enter()?;
    let (cols, rows) = term.size();
    let mut pager = Pager::new(text.to_string(), cols, rows);
    loop {
        let (cols, rows) = term.size();
        pager.resize(cols, rows);
        let (lines, status_line) = pager.frame(status);
        term.draw(&lines, &status_line)?;
        let keys = pager::keys(&term.read_keys()?);
        if keys.is_empty() {
            // End of input: nothing more will come.
            return Ok(());
        }
        for k in keys {
            if pager.handle(k) == Action::Quit {
                return Ok(());
            }
        }
    }
}
