//! Shell completions and manual pages, generated from the command line's own definition, so they
//! always match the build they come from (the air-gap build has no `kms` pages).
//!
//!   keyrite completions bash > /etc/bash_completion.d/keyrite
//!   keyrite man --out /usr/local/share/man/man1

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::Shell;

use crate::app::error::{Error, Result};
use crate::io::fs as fsio;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (keyrite.1, keyrite-kms-prepare.1, ...) into this directory,
    /// which must exist; no page already there is overwritten. Without it, keyrite.1 goes to
    /// stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::Stdout {
        detail: e.to_string(),
    }
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(a: &CompletionsArgs, mut cmd: clap::Command) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "keyrite", &mut out);
    std::io::stdout().write_all(&out).map_err(stdout_error)
}

/// The manual pages of every visible command, as (file name, roff text), the top-level page first.
pub fn man_pages(cmd: clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut page = Vec::new();
        man.render(&mut page)?;
        page.extend_from_slice(exit_status().as_bytes());
        out.push((man.get_filename(), page));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), out)?;
        }
        Ok(())
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    walk(cmd, &mut pages).map_err(|e| Error::ManPages {
        detail: e.to_string(),
    })?;
    Ok(pages)
}

/// The EXIT STATUS section every page ends with, from the one list of codes.
fn exit_status() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for code in crate::core::exit::ExitCode::ALL {
        // roff: a leading dot or quote would be a request; a backslash an escape.
        let text = code.meaning().replace('\\', "\\e").replace('-', "\\-");
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", code as u8, text));
    }
    s
}

/// Prints keyrite.1 on stdout, or writes every page into `out`.
pub fn man(a: &ManArgs, cmd: clap::Command) -> Result<()> {
    let pages = man_pages(cmd)?;
    match &a.out {
        None => {
            let (_, top) = pages.first().ok_or_else(|| Error::ManPages {
                detail: "no page was rendered".into(),
            })?;
            std::io::stdout().write_all(top).map_err(stdout_error)
        }
        Some(dir) => write_pages(dir, &pages),
    }
}

fn write_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::ManOutNotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    for (name, page) in pages {
        let path = dir.join(name);
        fsio::write_new(&path, page)?;
        crate::say!("wrote {}", path.display());
    }
    Ok(())
}
