//! `keyrite rehearse`: unattended with --headless or without a terminal; at a terminal, the
//! rehearsal's custodians are shown their shares on the enrolment screens and the operators run
//! the ceremony in their full-screen app, as they would run `keyrite ceremony --roster`.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::app::ceremony::print_report;
use crate::app::error::Result;
use crate::app::rehearse::{self, RehearseRequest};
use crate::core::digest::grouped;

#[derive(clap::Args, Debug)]
pub struct RehearseArgs {
    /// Run unattended (the default without a terminal). At a terminal, the rehearsal's
    /// custodians are shown their shares and the operators run the ceremony's app.
    #[arg(long)]
    pub headless: bool,
    /// Where to leave everything (must not exist). Default: ./keyrite-rehearsal-<time>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The ceremony script to rehearse (default: the built-in ceremony-scripts/rehearsal-nine.toml,
    /// nine keys alias/{dev,int,prod}-{s3,rds,dynamodb}).
    #[arg(long, conflicts_with = "quick")]
    pub script: Option<PathBuf>,
    /// Rehearse one key (the built-in ceremony-scripts/rehearsal.toml).
    #[arg(long)]
    pub quick: bool,
    /// The SoftHSM2 module.
    #[arg(long, default_value = crate::hsm::softhsm::DEFAULT_MODULE)]
    pub module: PathBuf,
    /// Use this running local KMS instead of starting one.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Rehearse multi-Region keys: each key a multi-Region primary with a replica in REGION
    /// (default us-west-2), the one HSM key wrapped for both Regions' wrapping keys and imported
    /// into both, proved in each Region and across them.
    #[arg(long, value_name = "REGION", num_args = 0..=1, default_missing_value = "us-west-2", value_parser = super::values::region_name)]
    pub multi_region: Option<String>,
}

pub fn run(a: RehearseArgs) -> Result<()> {
    let at_terminal =
        !a.headless && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let request = RehearseRequest {
        headless: !at_terminal,
        out: a.out,
        script: a.script,
        quick: a.quick,
        module: a.module,
        endpoint_url: a.endpoint_url,
        multi_region: a.multi_region,
    };
    if !at_terminal {
        return rehearse::run(&request);
    }
    let mut handover = super::quorum::TerminalHandover;
    let r = rehearse::start(&request, Some(&mut handover))?;
    crate::say!(
        "[5/6] the ceremony: the operators and {} of the custodians at this terminal; the connected side reads out the fingerprint {}",
        rehearse::TERMINAL_THRESHOLD,
        grouped(r.fingerprint())
    );
    // The connected side's read-out, on a screen of its own: the ceremony's app never shows it.
    crate::tui::readout::show(r.fingerprint())?;
    let inputs = r.ceremony_inputs()?;
    // The token is closed again when the ceremony returns.
    let started = std::time::Instant::now();
    let report = crate::tui::ceremony(&inputs)?;
    let minutes = started.elapsed().as_secs().div_ceil(60).max(1);
    crate::say!(
        "the ceremony took {minutes} min from its first frame until its result was closed: with `rehearsed_minutes = {minutes}` under [ceremony] in the production script, its preflight warns when less than that remains above the margin"
    );
    print_report(&report);
    // The proof needs the HSM open again: the rehearsal holds its custodians' shares.
    let (session, _) = r.open_hsm()?;
    r.finish(&session)
}
