//! `keyrite quorum`: enrolment and roster verification.

use std::path::PathBuf;

use clap::Args;

use crate::app::enrol::{self, EnrolRequest};
use crate::app::error::Result;
use crate::core::custody::shares::CustodianShare;

#[derive(Args, Debug)]
pub struct EnrolArgs {
    /// The enrolment script (TOML): token label, quorum, custodians.
    #[arg(long)]
    pub script: PathBuf,
    /// The PKCS#11 module, unless the script names one.
    #[arg(long, env = "KEYRITE_PKCS11_MODULE")]
    pub module: Option<PathBuf>,
    /// Write each share to its custodian's share_file (mode 0600) instead of showing it on the
    /// terminal: for tests and scripted rehearsals.
    #[arg(long)]
    pub headless: bool,
    /// quorum = "hsm-enforced" on a token without a PIN pad or PED (a soft token standing in):
    /// the file holding its user PIN.
    #[arg(long)]
    pub pin_source: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The shares handed over on the enrolment screens.
pub struct TerminalHandover;

impl enrol::ShareHandover for TerminalHandover {
    fn ready(&mut self) -> Result<()> {
        crate::tui::enrol::check_terminal()
    }

    fn hand_over(
        &mut self,
        label: &str,
        threshold: u8,
        names: &[String],
        shares: &[CustodianShare],
    ) -> Result<()> {
        crate::tui::enrol::run(label, threshold, names, shares)
    }
}

impl EnrolArgs {
    pub fn run(&self) -> Result<()> {
        let summary = enrol::run(
            &EnrolRequest {
                script: self.script.clone(),
                module: self.module.clone(),
                headless: self.headless,
                pin_source: self.pin_source.clone(),
            },
            Some(&mut TerminalHandover),
        )?;
        if self.json {
            crate::say_out!("{summary}");
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RosterVerifyArgs {
    /// The roster (roster.json; its signed roster.log is read from next to it).
    pub roster: PathBuf,
    /// The published log public key (PEM).
    #[arg(long)]
    pub trust: PathBuf,
}

impl RosterVerifyArgs {
    pub fn run(&self) -> Result<()> {
        enrol::verify(&self.roster, &self.trust)
    }
}
