//! `audit verify`'s report for people: plain text an auditor can file (stdout or `--out`). Every
//! value comes from the verified log, the manifest it binds or the receipt that continues it, and
//! is shown escaped on one line: a hostile ARN cannot move the cursor, clear the screen or start a
//! line of its own.

use std::fmt::Write;

use crate::app::audit::{AuditReport, BundleSigners};
use crate::core::log::CeremonyOutcome;
use crate::core::terminal::{for_terminal, one_line};

/// The first line: what was verified and how the ceremony ended.
pub fn headline(r: &AuditReport) -> String {
    let l = &r.log_report;
    let n = l.records.len();
    let what = match l.outcome {
        CeremonyOutcome::Complete => "verified: ceremony complete".to_string(),
        CeremonyOutcome::Aborted => "verified: ceremony ABORTED (no key to import)".to_string(),
        CeremonyOutcome::Unfinished => {
            "verified as far as it goes: ceremony UNFINISHED (no end or aborted record)".to_string()
        }
    };
    format!(
        "ceremony log {}: {what}; {} signed by the trusted log key {}",
        one_line(&r.log.display().to_string()),
        crate::core::terminal::counted(n, "record"),
        l.trusted_key_sha256
    )
}

/// The whole report, one value per line.
pub fn render(r: &AuditReport) -> String {
    let mut s = String::new();
    let l = &r.log_report;
    let b = &l.binding;
    let mut line = |text: String| {
        let _ = writeln!(s, "{}", for_terminal(&text));
    };
    line(headline(r));
    line(format!("  outcome           {}", l.outcome.as_str()));
    line(format!(
        "  ceremony          {}",
        r.ceremony
            .as_deref()
            .map_or_else(|| "(name not recorded)".into(), one_line)
    ));
    line(format!("  script            sha256 {}", b.script_sha256));
    line(format!("  prepared bundle   sha256 {}", b.manifest_sha256));
    line(format!("  token             {}", one_line(&b.token_label)));
    line(format!(
        "  log key           sha256 {}",
        l.trusted_key_sha256
    ));
    line(format!(
        "  records           {} (seq 0..{}), every signature and the hash chain hold",
        l.records.len(),
        l.records.len().saturating_sub(1)
    ));
    line(format!(
        "  tool              keyrite {} {} (binary sha256 {})",
        one_line(&r.tool.version),
        r.tool.build,
        r.tool.sha256
    ));
    for (i, (v, sha)) in r.tool.resumed_with.iter().enumerate() {
        line(format!(
            "  tool, resumption {}  keyrite {} (binary sha256 {sha})",
            i + 1,
            one_line(v)
        ));
    }
    if let Some(e) = &r.tool.matches_expected {
        line(format!(
            "  expected binary   sha256 {e}: the binary that ran is this build"
        ));
    }
    match &r.bundle_signed_by {
        BundleSigners::Signed {
            prepared_by,
            cosigned_by,
        } => {
            let who = |v: &[String]| {
                if v.is_empty() {
                    "nobody".to_string()
                } else {
                    v.join(", ")
                }
            };
            line(format!(
                "  prepared by       {} (public key sha256)",
                who(prepared_by)
            ));
            line(format!(
                "  countersigned by  {} (public key sha256)",
                who(cosigned_by)
            ));
        }
        BundleSigners::Unsigned => {
            line("  bundle signed by  nobody: bundle unsigned (the start record binds no provenance.json)".into())
        }
    }
    if let Some(reason) = &l.binding.provenance_waived {
        line(format!(
            "  signatures waived by the script: {}",
            one_line(reason)
        ));
    }
    if l.binding.alias_moves.is_empty() {
        line("  alias moves       none".into());
    }
    for m in &l.binding.alias_moves {
        line(format!(
            "  ALIAS MOVE        key {}: after its import it takes over {} from {}",
            one_line(&m.key),
            one_line(&m.alias),
            one_line(&m.previous_key_arn)
        ));
    }
    line(format!(
        "  authorised by     {}",
        one_line(&r.authorised_by.describe())
    ));
    for p in &r.participants {
        line(format!("  {:<17} {}", one_line(&p.role), one_line(&p.name)));
    }
    if l.interruptions.is_empty() {
        line("  interruptions     none".into());
    }
    for i in &l.interruptions {
        line(format!(
            "  interrupted       taken up again at seq {} ({}) to {}",
            i.seq,
            i.time,
            i.choice.as_str()
        ));
    }
    if let Some(a) = &l.aborted {
        line(format!("  ABORTED           {}", one_line(&a.reason)));
        line(format!(
            "  destroyed         {} never written: {}",
            crate::core::terminal::counted(a.destroyed.len(), "key"),
            a.destroyed
                .iter()
                .map(|d| one_line(d).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    line("  keys:".into());
    for k in &r.key_table {
        line(format!(
            "    {}  alias {}",
            one_line(&k.key),
            k.alias.as_deref().map_or_else(|| "-".into(), one_line)
        ));
        line(format!("      ARN            {}", one_line(&k.key_arn)));
        line(format!(
            "      account        {}  region {}",
            one_line(&k.account),
            one_line(&k.region)
        ));
        line(format!("      check value    {}", one_line(&k.check_value)));
        line(format!("      HSM label      {}", one_line(&k.hsm_label)));
        line(format!(
            "      wrapped        {}",
            k.wrapped_sha256
                .as_deref()
                .map_or_else(|| "not wrapped".to_string(), |h| format!("sha256 {h}"))
        ));
        for (region, sha) in &k.replica_wraps {
            line(format!(
                "      replica        {}: wrapped again, sha256 {}",
                one_line(region),
                one_line(sha)
            ));
        }
        line(format!(
            "      KeyMaterialId  {}",
            k.key_material_id
                .as_deref()
                .map_or_else(|| "none (not imported)".into(), one_line)
        ));
        if let Some(i) = &k.imported {
            line(format!("      imported       {}", one_line(i)));
        }
        for m in &k.alias_moves {
            line(format!(
                "      alias moved    {} from {} to {}",
                one_line(&m.alias),
                one_line(&m.from_key_arn),
                one_line(&m.to_key_arn)
            ));
        }
        if let Some(logged) = l.keys.iter().find(|x| x.key == k.key)
            && let Some(rw) = &logged.rewrap_of
        {
            line(format!(
                "      re-wrap of the escrowed key of bundle {} (its log sha256 {})",
                rw.escrow_bundle_sha256,
                rw.escrow_log_sha256.as_deref().unwrap_or("unrecorded")
            ));
        }
    }
    for rec in &l.records {
        line(format!(
            "  [{:>4}] {}  {:<15} {}",
            rec.seq,
            rec.time,
            one_line(&rec.step),
            rec.actors
                .iter()
                .map(|a| one_line(a).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    match &r.bundle_files {
        Some(files) => {
            line("  bundle files match the log:".into());
            for f in files {
                line(format!("    {:<40} sha256 {}", one_line(&f.file), f.sha256));
            }
        }
        None => line("  bundle files: not checked (a log file was given, not a bundle)".into()),
    }
    line("  input and evidence files:".into());
    for f in &r.input_files {
        line(format!("    {:<40} sha256 {}", one_line(&f.file), f.sha256));
    }
    line(format!("  log head          sha256 {}", l.head_sha256));
    match &r.receipt {
        Some(rc) => {
            line(format!(
                "  import receipt    {} in {}, continuing the log's chain{}",
                crate::core::terminal::counted(rc.records, "record"),
                crate::core::terminal::counted(rc.runs, "run"),
                if rc.finished {
                    ""
                } else {
                    "; the last run did not finish"
                }
            ));
            for k in &rc.keys {
                line(format!(
                    "    {} {:<24} {:<13} material {}  request {}{}",
                    k.time,
                    one_line(&k.key),
                    one_line(&k.kind),
                    k.key_material_id.as_deref().map_or("?".into(), one_line),
                    k.import_request_id
                        .as_deref()
                        .map_or("unknown".into(), one_line),
                    k.rotate_request_id
                        .as_deref()
                        .map(|r| format!(", rotation request {}", one_line(r)))
                        .unwrap_or_default()
                ));
            }
            line(format!("  receipt head      sha256 {}", rc.head_sha256));
        }
        None => line("  import receipt    none (the bundle has not been imported)".into()),
    }
    for l in ledger_lines(r.ledger.as_ref()) {
        line(l);
    }
    s
}

/// The ledger's lines of the report: this ceremony's leaf, the count the checkpoint signs, every
/// closing it counts, and the witnesses who cosigned it.
pub fn ledger_lines(ledger: Option<&crate::core::ledger::LedgerReport>) -> Vec<String> {
    let Some(g) = ledger else {
        return vec![
            "  ledger            none: the bundle carries no ledger proof (the ceremony was not entered in the token's ledger)".into(),
        ];
    };
    let mut out = vec![
        format!(
            "  ledger            leaf {} of {}: the checkpoint signed by the log key counts {} of it; the checkpoint before counted {}",
            g.index,
            g.size,
            crate::core::terminal::counted_u64(g.size, "closing"),
            g.previous_size
        ),
        format!("  ledger origin     {}", one_line(&g.origin)),
        format!("  ledger root       {} (size {})", g.root, g.size),
    ];
    for (i, e) in g.entries.iter().enumerate() {
        out.push(format!(
            "    leaf {i:<3} {:<9} {}  {}  final record sha256 {}{}",
            e.kind.as_str(),
            e.time,
            one_line(&e.subject),
            e.final_record_sha256,
            if i as u64 == g.index {
                "  <- this ceremony"
            } else {
                ""
            }
        ));
    }
    if g.cosignatures.is_empty() {
        out.push(
            "  cosigned by       no witness named (--witness) has cosigned this checkpoint".into(),
        );
    }
    for c in &g.cosignatures {
        let when = jiff::Timestamp::from_second(c.time as i64)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| c.time.to_string());
        out.push(format!(
            "  cosigned by       witness {} at {when}",
            one_line(&c.witness)
        ));
    }
    out
}
