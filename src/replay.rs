//! `keyrite audit replay`: steps an auditor through a ceremony log as the operators saw it. In a
//! terminal, one screen per record (Enter for the next, q to stop); otherwise, or with --text, all
//! screens as text. With --trust, the log (and its bundle) is verified first and replay refuses a
//! log that does not verify.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use crate::core::{log, replay};
use crate::error::{Error, Result};
use crate::fsio;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A bundle directory (its ceremony.log) or a ceremony log file.
    pub target: PathBuf,
    /// Verify first against this published log public key (PEM).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Print every screen as text, without paging.
    #[arg(long)]
    pub text: bool,
}

pub fn run(a: &ReplayArgs) -> Result<()> {
    let log_path = if a.target.is_dir() {
        a.target.join(log::FILE_NAME)
    } else {
        a.target.clone()
    };
    let bytes = fsio::read(&log_path)?;
    match &a.trust {
        Some(trust) => {
            let report = crate::audit::verify(&a.target, trust)?;
            eprintln!(
                "verified: {} records signed by the trusted log key; replaying {}",
                report.log_report.records.len(),
                log_path.display()
            );
        }
        None => eprintln!(
            "NOT VERIFIED: replaying {} as written; pass --trust <log-public-key.pem> to check it first",
            log_path.display()
        ),
    }
    let bodies = log::bodies(&bytes)?;
    let interactive = !a.text && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut input = std::io::stdin().lock();
    let io = |e: std::io::Error| Error::Environment {
        what: format!("cannot write the replay: {e}"),
        hint: "check the terminal or the output pipe".into(),
    };
    for (i, body) in bodies.iter().enumerate() {
        if interactive {
            write!(out, "\x1b[2J\x1b[H").map_err(io)?;
        }
        write!(out, "{}", replay::screen(body, bodies.len())).map_err(io)?;
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
