//! `keyrite audit`: verify and replay, with the verification report printed for people.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::app::audit::{self, AuditReport};
use crate::app::error::Result;
use crate::app::replay;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify a ceremony log (and its bundle) against the published log public key.
    Verify(VerifyArgs),
    /// Step through a ceremony log as the operators saw it.
    Replay(ReplayArgs),
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
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

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

pub fn run(cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Replay(a) => replay::run(&a.target, a.trust.as_deref(), a.text),
        AuditCommand::Verify(a) => {
            let result = audit::verify(&a.target, &a.trust)
                .and_then(|r| match &a.script {
                    Some(script) => audit::check_script(script, &r.log_report).map(|()| r),
                    None => Ok(r),
                })
                .and_then(|r| match a.require_quorum {
                    true => audit::require_quorum(&r).map(|()| r),
                    false => Ok(r),
                });
            // A failure is reported, as JSON too, where every command's is (cli::failure).
            if let Ok(r) = &result {
                print_report(r);
                if a.json {
                    let v = serde_json::json!({ "ok": true, "report": r });
                    println!("{v}");
                }
            }
            result.map(|_| ())
        }
    }
}

fn print_report(r: &AuditReport) {
    let l = &r.log_report;
    crate::say_line!("ceremony log {}: verified", r.log.display());
    crate::say_line!("  trusted log key   sha256 {}", l.trusted_key_sha256);
    crate::say_line!(
        "  records           {} (seq 0..{}), every signature and the hash chain hold",
        l.records.len(),
        l.records.len().saturating_sub(1)
    );
    crate::say_line!(
        "  tool              keyrite {} {} build (sha256 {})",
        l.binding.tool_version,
        l.binding.tool_features.as_deref().unwrap_or("unrecorded"),
        l.binding.tool_sha256
    );
    crate::say_line!("  script            sha256 {}", l.binding.script_sha256);
    crate::say_line!("  prepared bundle   sha256 {}", l.binding.manifest_sha256);
    crate::say_line!("  token             {}", l.binding.token_label);
    if let Some(p) = &l.binding.provenance {
        let who = |v: &[String]| {
            if v.is_empty() {
                "nobody".to_string()
            } else {
                v.join(", ")
            }
        };
        crate::say_line!(
            "  prepared by       {} (public key sha256)",
            who(&p.prepared_by)
        );
        crate::say_line!(
            "  countersigned by  {} (public key sha256)",
            who(&p.cosigned_by)
        );
    }
    crate::say_line!("  authorised by     {}", r.authorised_by.describe());
    if l.resumptions > 0 {
        crate::say_line!(
            "  interrupted       {} time(s); taken up again on the same bundle",
            l.resumptions
        );
    }
    if let Some(a) = &l.aborted {
        crate::say_line!("  ABORTED           {}", a.reason);
        crate::say_line!(
            "  destroyed         {} key(s) never written: {}",
            a.destroyed.len(),
            a.destroyed.join(", ")
        );
    }
    for rec in &l.records {
        crate::say_line!(
            "  [{:>4}] {}  {:<15} {}",
            rec.seq,
            rec.time,
            rec.step,
            rec.actors.join(", ")
        );
    }
    for k in &l.keys {
        crate::say_line!(
            "  key {:<24} check value {}  HSM label {}",
            k.key,
            k.check_value,
            k.hsm_label
        );
        if let Some(r) = &k.rewrap_of {
            crate::say_line!(
                "      re-wrap of the escrowed key of bundle {} (its log sha256 {}), KeyMaterialId {}",
                r.escrow_bundle_sha256,
                r.escrow_log_sha256.as_deref().unwrap_or("unrecorded"),
                r.key_material_id
                    .as_deref()
                    .unwrap_or("not logged (KMS checks it at import)")
            );
        }
    }
    match &r.bundle_files {
        Some(files) => {
            crate::say_line!("  bundle files match the log:");
            for f in files {
                crate::say_line!("    {:<40} sha256 {}", f.file, f.sha256);
            }
        }
        None => {
            crate::say_line!("  bundle files: not checked (a log file was given, not a bundle)")
        }
    }
    crate::say_line!("  log head          sha256 {}", l.head_sha256);
    match &r.receipt {
        Some(rc) => {
            crate::say_line!(
                "  import receipt    {} record(s) in {} run(s), continuing the log's chain{}",
                rc.records,
                rc.runs,
                if rc.finished {
                    ""
                } else {
                    "; the last run did not finish"
                }
            );
            for k in &rc.keys {
                crate::say_line!(
                    "    {} {:<24} {:<13} material {}  request {}{}",
                    k.time,
                    k.key,
                    k.kind,
                    k.key_material_id.as_deref().unwrap_or("?"),
                    k.import_request_id.as_deref().unwrap_or("unknown"),
                    k.rotate_request_id
                        .as_deref()
                        .map(|r| format!(", rotation request {r}"))
                        .unwrap_or_default()
                );
            }
            crate::say_line!("  receipt head      sha256 {}", rc.head_sha256);
        }
        None => crate::say_line!("  import receipt    none (the bundle has not been imported)"),
    }
}
