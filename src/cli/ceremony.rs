//! `keyrite ceremony`: the terminal UI by default, line by line with --plain, or headless with an
//! answers file.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::app::ceremony::preflight::preflight;
use crate::app::ceremony::progress::ProgressSink;
use crate::app::ceremony::start::{CeremonyInputs, CeremonyPaths, perform};
use crate::app::error::{Error, Result};
use crate::core::script::Answers;
use crate::io::fs as fsio;

#[derive(Args, Debug)]
pub struct HsmArgs {
    /// The PKCS#11 module.
    #[arg(long, env = "KEYRITE_PKCS11_MODULE", default_value = crate::hsm::softhsm::DEFAULT_MODULE)]
    pub module: PathBuf,
    /// The token, by label: pkcs11:token=LABEL?pin-source=file:/path (RFC 7512).
    #[arg(long)]
    pub token: String,
}

#[derive(Args, Debug)]
pub struct CeremonyArgs {
    /// The ceremony script (TOML).
    #[arg(long)]
    pub script: PathBuf,
    /// The bundle prepared on the connected side.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Run without the terminal UI, taking the operators' answers from --answers (by default the
    /// operators answer at the terminal).
    #[arg(long, requires = "answers")]
    pub headless: bool,
    /// Ask the operators' questions line by line instead of in the full-screen app: for a serial
    /// console or a screen reader. The same questions and checks; shares are not echoed.
    #[arg(long, conflicts_with = "headless")]
    pub plain: bool,
    /// The operators' answers (TOML) for a headless run.
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// The roster written at enrolment (roster.json, with roster.log next to it): the HSM is
    /// opened by the custodians' quorum ([[custodian]] entries in the answers), not a PIN file.
    #[arg(long)]
    pub roster: Option<PathBuf>,
    /// The token's ledger directory (ledger.jsonl and its last checkpoint): the ceremony is
    /// appended there, the log key signs the new checkpoint, and the bundle gets the checkpoint
    /// with this ceremony's inclusion proof. Default with --roster: ledger/ next to roster.json.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    #[command(flatten)]
    pub hsm: HsmArgs,
    /// Print the result (each key's HSM label, check value and wrapped material SHA-256) as JSON
    /// on stdout (the lines for people go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Re-wrap: instead of generating keys, wrap the escrowed keys of an earlier ceremony (whose
    /// material expired or was deleted in KMS) for re-import. Needs --escrow-from.
    #[arg(long, requires = "escrow_from")]
    pub rewrap: bool,
    /// The earlier, imported bundle that recorded the escrowed keys' labels, check values and
    /// KeyMaterialIds (with its import-progress.json).
    #[arg(long, requires = "rewrap")]
    pub escrow_from: Option<PathBuf>,
    /// A file holding the security officer's PIN (first line): the SO marks the KMS wrapping keys
    /// CKA_TRUSTED and the ceremony keys are generated CKA_WRAP_WITH_TRUSTED (SECURITY.md).
    #[arg(long)]
    pub so_pin_source: Option<PathBuf>,
}

pub fn run(a: CeremonyArgs) -> Result<()> {
    if !a.headless && a.answers.is_some() {
        return Err(Error::AnswersWithoutHeadless);
    }
    let inputs = CeremonyInputs::load(&CeremonyPaths {
        script: &a.script,
        bundle: &a.bundle,
        token: &a.hsm.token,
        module: &a.hsm.module,
        roster: a.roster.as_deref(),
        so_pin_source: a.so_pin_source.as_deref(),
        escrow_from: a.escrow_from.as_deref(),
        ledger: a.ledger.as_deref(),
    })?;
    // Everything that needs no person, before anyone is asked for anything: here, or (in the
    // full-screen app) ticked off on its first screen.
    let checked = if a.headless || a.plain {
        let checked = preflight(&inputs)?;
        if let Some(warning) = crate::tui::short_of_time(&inputs, &checked) {
            crate::say!("warning: {warning}");
        }
        Some(checked)
    } else {
        None
    };
    let report = if let (true, Some(checked)) = (a.headless, &checked) {
        let answers_path = a.answers.as_deref().unwrap_or(Path::new(""));
        // Shares may be in it: read into zeroizing memory, refused if others may read it.
        let answers_bytes = fsio::read_secret(answers_path, "an answers file")?;
        let mut locks = crate::app::quorum::MemoryLock::new();
        locks.lock(&answers_bytes);
        let answers_text =
            std::str::from_utf8(&answers_bytes).map_err(|_| crate::io::fs::FsError::NotText {
                path: answers_path.to_path_buf(),
                kind: "an answers file".into(),
            })?;
        let answers = Answers::parse(&answers_path.display().to_string(), answers_text)?;
        let report = perform(&inputs, checked, &answers, ProgressSink::lines())?;
        drop(answers);
        drop(answers_bytes);
        drop(locks);
        report
    } else if let Some(checked) = &checked {
        crate::tui::plain::run(&inputs, checked)?
    } else {
        crate::tui::ceremony(&inputs)?
    };
    crate::app::ceremony::print_report(&report);
    if a.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    Ok(())
}
