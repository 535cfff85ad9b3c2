//! `ceremony-report.txt`: what the room copies into its paper log once the ceremony finished,
//! written into the bundle (created new, written whole, fsynced). It holds no secret: names,
//! the bundle fingerprint, and each key's HSM label, check value and wrapped material's digest.

use std::fmt::Write as _;
use std::path::Path;

use super::CeremonyReport;
use crate::app::error::Result;
use crate::core::digest::{grouped, word_lines};
use crate::core::script::{Answers, Script};
use crate::core::terminal::one_line;
use crate::io::fs as fsio;

/// The report's file name in the bundle directory.
pub const REPORT_FILE: &str = "ceremony-report.txt";

/// The command that imports the bundle on the connected side: `kms import` verifies the ceremony
/// log with the log public key the enrolment (or rehearsal) published, and refuses without it.
pub fn import_command(bundle_dir: &str) -> String {
    format!(
        "keyrite kms import --bundle {bundle_dir} --trust {}",
        crate::app::enrol::LOG_PUBLIC_KEY
    )
}

/// The report's text. `at`: when the ceremony finished.
pub fn text(
    script: &Script,
    answers: &Answers,
    token: &str,
    bundle_dir: &Path,
    report: &CeremonyReport,
    at: jiff::Timestamp,
) -> String {
    let mut t = String::new();
    let clean = |s: &str| one_line(s).into_owned();
    let _ = writeln!(t, "keyrite ceremony report");
    let _ = writeln!(t, "ceremony      {}", clean(&script.ceremony.name));
    let _ = writeln!(t, "finished      {}", at.strftime("%Y-%m-%d %H:%M:%S UTC"));
    let _ = writeln!(t, "operator      {}", clean(&answers.operator));
    let _ = writeln!(
        t,
        "witness       {}",
        answers.witness.as_deref().map_or("(none)".into(), clean)
    );
    if !answers.custodians.is_empty() {
        let names: Vec<String> = answers.custodians.iter().map(|c| clean(&c.name)).collect();
        let _ = writeln!(t, "custodians    {}", names.join(", "));
    }
    let _ = writeln!(t, "token         {}", clean(token));
    let _ = writeln!(
        t,
        "bundle        {}",
        clean(&bundle_dir.display().to_string())
    );
    let _ = writeln!(t, "fingerprint   {}", grouped(&report.prepared_fingerprint));
    for line in word_lines(&report.prepared_fingerprint) {
        let _ = writeln!(t, "              {line}");
    }
    if let Some(p) = &report.probe {
        let _ = writeln!(t, "probe         {}", clean(&p.result));
        let _ = writeln!(t, "wrap trusted  {}", clean(&p.wrap_with_trusted));
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{}:",
        crate::core::terminal::counted(report.keys.len(), "key")
    );
    for (i, k) in report.keys.iter().enumerate() {
        let _ = writeln!(t, "{:>3} {}", i + 1, clean(&k.name));
        let _ = writeln!(t, "    check value        {}", clean(&k.check_value));
        let _ = writeln!(t, "    HSM label          {}", clean(&k.hsm_label));
        let _ = writeln!(
            t,
            "    material SHA-256   {}",
            clean(&k.encrypted_key_material_sha256)
        );
        for (region, sha) in &k.replicas {
            let _ = writeln!(
                t,
                "    replica {:<10} {} (the same key, wrapped for its Region)",
                clean(region),
                clean(sha)
            );
        }
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "next: carry the bundle to the connected side; there, {}",
        import_command("<its directory>")
    );
    t
}

/// Writes the report into the bundle directory; an existing file is refused, never replaced.
pub fn write(bundle_dir: &Path, text: &str) -> Result<()> {
    fsio::write_new_beneath(bundle_dir, REPORT_FILE, text.as_bytes())?;
    Ok(())
}
