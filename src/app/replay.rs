//! `keyrite audit replay`: steps an auditor through a ceremony log as the operators saw it. In a
//! terminal, one screen per record (Enter for the next, q to stop); otherwise, or with --text, all
//! screens as text. With --trust, the log (and its bundle) is verified first and replay refuses a
//! log that does not verify.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::app::error::{Error, Result};
use crate::core::{log, replay};
use crate::io::fs as fsio;

/// Replays the log of `target` (a bundle directory or a log file), verified first against
/// `trust` when given; `text` prints every screen without paging.
pub fn run(target: &Path, trust: Option<&Path>, text: bool) -> Result<()> {
    let log_path = if target.is_dir() {
        target.join(log::FILE_NAME)
    } else {
        target.to_path_buf()
    };
    let bytes = fsio::read(&log_path)?;
    match trust {
        Some(trust) => {
            let report = crate::app::audit::verify(target, trust)?;
            crate::say!(
                "verified: {} records signed by the trusted log key; replaying {}",
                report.log_report.records.len(),
                log_path.display()
            );
        }
        None => crate::say!(
            "NOT VERIFIED: replaying {} as written; pass --trust <log-public-key.pem> to check it first",
            log_path.display()
        ),
    }
    let bodies = log::bodies(&bytes)?;
    let interactive = !text && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut input = std::io::stdin().lock();
    let io = |e: std::io::Error| Error::ReplayOutput {
        detail: e.to_string(),
    };
    for (i, body) in bodies.iter().enumerate() {
        if interactive {
            write!(out, "\x1b[2J\x1b[H").map_err(io)?;
        }
        // Every field is text from the log file: shown escaped, never obeyed by the terminal.
        let screen = replay::screen(body, bodies.len());
        write!(out, "{}", crate::core::terminal::for_terminal(&screen)).map_err(io)?;
        if interactive {
            let last = i + 1 == bodies.len();
            write!(
                out,
                "\n{}",
                if last {
                    "[end of log] Enter to leave "
                } else {
                    "Enter: next step · q: stop "
                }
            )
            .map_err(io)?;
            out.flush().map_err(io)?;
            let mut answer = String::new();
            input.read_line(&mut answer).map_err(io)?;
            if answer.trim().eq_ignore_ascii_case("q") {
                break;
            }
        } else {
            writeln!(out).map_err(io)?;
        }
    }
    Ok(())
}
