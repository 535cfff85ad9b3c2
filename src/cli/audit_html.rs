//! `audit report --html`: the auditor's printable page. One self-contained HTML file: inline CSS
//! with a print stylesheet, no script, no image, no link to fetch, so it opens the same on an
//! offline machine and prints into a binder. It is rendered from the same verified
//! [`AuditReport`] as `audit verify` (nothing from a file that did not verify). maud escapes every
//! interpolated string for HTML, and each value from the log, manifest or receipt is first shown
//! with its control characters escaped ([`one_line`]), as on a terminal.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::app::audit::{AuditReport, BundleSigners};
use crate::core::digest::grouped;
use crate::core::log::CeremonyOutcome;
use crate::core::terminal::{counted_u64, one_line};

/// The page's stylesheet: screen and print.
const STYLE: &str = r#"
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; color: #111; margin: 2em auto; max-width: 60em; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #999; margin-top: 1.6em; padding-bottom: 0.1em; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.4em; text-align: left; vertical-align: top; }
th { background: #eee; }
.kv th { width: 14em; }
.mono, code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.92em; overflow-wrap: anywhere; word-break: break-all; }
.verdict { border: 2px solid; padding: 0.6em 0.8em; font-weight: bold; margin: 0.8em 0; }
.ok { border-color: #1a7f37; background: #e9f7ec; }
.warn { border-color: #b35900; background: #fff3e0; }
.sign td { height: 2.4em; }
.muted { color: #555; }
footer { margin-top: 2em; font-size: 0.85em; color: #555; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 9pt; }
  h2 { break-after: avoid; }
  tr, .verdict, .sign { break-inside: avoid; }
  .ok, .warn, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// A value from the evidence, its control characters shown escaped.
fn t(s: &str) -> String {
    one_line(s).into_owned()
}

/// The page.
pub fn render(r: &AuditReport) -> String {
    let l = &r.log_report;
    let b = &l.binding;
    let name = r.ceremony.as_deref().map(t);
    let verdict_class = match l.outcome {
        CeremonyOutcome::Complete => "verdict ok",
        _ => "verdict warn",
    };
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Ceremony audit: " (name.as_deref().unwrap_or("unnamed ceremony")) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Key ceremony audit report" }
                p.muted { "Ceremony " strong { (name.as_deref().unwrap_or("(name not recorded)")) } " · keyrite audit report" }
                p class=(verdict_class) { (t(&crate::cli::audit_text::headline(r))) }
                (ceremony_table(r))
                (deviations(r))
                (participants(r))
                (keys(r))
                (timeline(r))
                (files(r))
                (receipt(r))
                (ledger(r))
                footer {
                    "Rendered by keyrite " (env!("CARGO_PKG_VERSION")) " from the records above, after they verified against the trusted log key "
                    span.mono { (l.trusted_key_sha256) } ". Log head sha256 " span.mono { (l.head_sha256) } "."
                    @if b.roles.is_none() { " This log records no roles: the names are those its records list." }
                }
            }
        }
    };
    page.into_string()
}

fn ceremony_table(r: &AuditReport) -> Markup {
    let l = &r.log_report;
    let b = &l.binding;
    html! {
        h2 { "Ceremony" }
        table.kv {
            tr { th { "Outcome" } td { (l.outcome.as_str()) } }
            tr { th { "Ceremony script" } td.mono { "sha256 " (b.script_sha256) } }
            tr { th { "Prepared bundle" } td.mono { "sha256 " (b.manifest_sha256) br; (grouped(&b.manifest_sha256)) } }
            @if let Some(f) = &l.final_manifest_sha256 {
                tr { th { "Final manifest" } td.mono { "sha256 " (f) } }
            }
            tr { th { "HSM token" } td { (t(&b.token_label)) } }
            tr { th { "Log key fingerprint" } td.mono { "sha256 " (l.trusted_key_sha256) br; (grouped(&l.trusted_key_sha256)) } }
            tr { th { "Log file" } td.mono { "sha256 " (r.log_sha256) " · " (l.records.len()) " records" } }
            tr { th { "keyrite that ran" } td { (t(&r.tool.version)) ", " (r.tool.build) br; span.mono { "binary sha256 " (r.tool.sha256) } } }
            @for (i, (v, sha)) in r.tool.resumed_with.iter().enumerate() {
                tr { th { "keyrite, resumption " (i + 1) } td { (t(v)) br; span.mono { "binary sha256 " (sha) } } }
            }
            tr { th { "Rebuilt binary" } td {
                @match &r.tool.matches_expected {
                    Some(e) => { "matches the auditor's own build: " span.mono { (e) } }
                    None => { "not compared (audit report --expect-binary SHA256)" }
                }
            } }
            tr { th { "Bundle provenance" } td {
                @match &r.bundle_signed_by {
                    BundleSigners::Signed { prepared_by, cosigned_by } => {
                        "prepared by " @if prepared_by.is_empty() { "nobody" } @for p in prepared_by { span.mono { (p) } " " }
                        br; "countersigned by " @if cosigned_by.is_empty() { "nobody" } @for c in cosigned_by { span.mono { (c) } " " }
                        br; span.muted { "(signers' public-key SHA-256, as the start record binds them)" }
                    }
                    BundleSigners::Unsigned => { "unsigned: the start record binds no provenance.json" }
                }
                @if let Some(reason) = &r.log_report.binding.provenance_waived {
                    br; "signatures waived by the script: " (t(reason))
                }
            } }
            tr { th { "Alias moves (signed)" } td {
                @if r.log_report.binding.alias_moves.is_empty() { "none" }
                @for m in &r.log_report.binding.alias_moves {
                    "key " (t(&m.key)) ": after its import it takes over " (t(&m.alias)) " from " span.mono { (t(&m.previous_key_arn)) } br;
                }
            } }
            tr { th { "HSM opened by" } td { (t(&r.authorised_by.describe())) } }
        }
    }
}

fn deviations(r: &AuditReport) -> Markup {
    let l = &r.log_report;
    let none = l.interruptions.is_empty() && l.outcome == CeremonyOutcome::Complete;
    html! {
        h2 { "Deviations" }
        @if none {
            p { "None: the ceremony ran once, start to end, without interruption." }
        } @else {
            ul {
                @for i in &l.interruptions {
                    li { "Interrupted; taken up again at record " (i.seq) " (" (i.time.strftime("%Y-%m-%d %H:%M:%S UTC")) ") to " strong { (i.choice.as_str()) } ", by keyrite " (t(&i.tool_version)) "." }
                }
                @if let Some(a) = &l.aborted {
                    li { strong { "Aborted: " } (t(&a.reason))
                        @if a.destroyed.is_empty() { " No key had to be destroyed." }
                        @else { " Destroyed in the HSM, never written: " @for d in &a.destroyed { span.mono { (t(d)) } " " } }
                    }
                }
                @if l.outcome == CeremonyOutcome::Unfinished {
                    li { strong { "Unfinished: " } "the log ends without an end or aborted record; the ceremony was interrupted and not taken up again, or the log's tail is missing." }
                }
            }
        }
    }
}

fn participants(r: &AuditReport) -> Markup {
    html! {
        h2 { "Participants and sign-off" }
        table.sign {
            tr { th { "Role" } th { "Name" } th style="width:30%" { "Signature" } th style="width:14%" { "Date" } }
            @for p in &r.participants {
                tr { td { (t(&p.role)) } td { (t(&p.name)) } td {} td {} }
            }
            tr { td { "auditor" } td {} td {} td {} }
        }
    }
}

fn keys(r: &AuditReport) -> Markup {
    html! {
        h2 { "Keys (" (r.key_table.len()) ")" }
        table {
            tr { th { "Key / alias" } th { "ARN, account, region" } th { "Check value" } th { "Wrapped material sha256" } th { "KeyMaterialId" } }
            @for k in &r.key_table {
                tr {
                    td { (t(&k.key)) @if let Some(a) = &k.alias { br; (t(a)) } }
                    td { span.mono { (t(&k.key_arn)) } br; "account " (t(&k.account)) ", " (t(&k.region)) }
                    td.mono { (t(&k.check_value)) }
                    td.mono {
                        (k.wrapped_sha256.as_deref().unwrap_or("not wrapped"))
                        @for (region, sha) in &k.replica_wraps { br; span.muted { "replica in " (t(region)) ": " } (t(sha)) }
                    }
                    td.mono {
                        (k.key_material_id.as_deref().map_or_else(|| "not imported".to_string(), t))
                        @if let Some(i) = &k.imported { br; span.muted { (t(i)) } }
                        @for m in &k.alias_moves { br; span.muted { (t(&m.alias)) " moved from " (t(&m.from_key_arn)) " to " (t(&m.to_key_arn)) } }
                    }
                }
            }
        }
    }
}

fn timeline(r: &AuditReport) -> Markup {
    html! {
        h2 { "Timeline" }
        table {
            tr { th { "Seq" } th { "UTC" } th { "Step" } th { "Who" } }
            @for rec in &r.log_report.records {
                tr {
                    td { (rec.seq) }
                    td.mono { (rec.time.strftime("%Y-%m-%d %H:%M:%S")) }
                    td { (t(&rec.step)) }
                    td { (rec.actors.iter().map(|a| t(a)).collect::<Vec<_>>().join(", ")) }
                }
            }
        }
    }
}

fn files(r: &AuditReport) -> Markup {
    html! {
        h2 { "Files" }
        table {
            tr { th { "File" } th { "Role" } th { "SHA-256" } }
            @for f in &r.input_files {
                tr { td { (t(&f.file)) } td { "input / evidence" } td.mono { (f.sha256) } }
            }
            @if let Some(out) = &r.bundle_files {
                @for f in out {
                    tr { td { (t(&f.file)) } td { "output, as the log recorded it" } td.mono { (f.sha256) } }
                }
            } @else {
                tr { td colspan="3" { "A log file was given, not a bundle: the bundle's files were not checked." } }
            }
        }
    }
}

fn ledger(r: &AuditReport) -> Markup {
    html! {
        h2 { "Token ledger and witnesses" }
        @match &r.ledger {
            None => { p.warn { "None: the bundle carries no ledger proof. The ceremony was not entered in the token's ledger, so nothing shows it was the only one." } }
            Some(g) => {
                p { "This ceremony is leaf " strong { (g.index) } " of " strong { (g.size) }
                    ": the checkpoint signed by the log key counts " (counted_u64(g.size, "closing")) " of it; the checkpoint before counted " (g.previous_size) "." }
                p.mono { (t(&g.origin)) " · root " (g.root) }
                table {
                    tr { th { "Leaf" } th { "What" } th { "UTC" } th { "Bundle or roster" } th { "Final record SHA-256" } }
                    @for (i, e) in g.entries.iter().enumerate() {
                        tr {
                            td { (i) @if i as u64 == g.index { " (this ceremony)" } }
                            td { (e.kind.as_str()) }
                            td.mono { (e.time.strftime("%Y-%m-%d %H:%M:%S")) }
                            td.mono { (t(&e.subject)) }
                            td.mono { (e.final_record_sha256) }
                        }
                    }
                }
                @if g.cosignatures.is_empty() {
                    p.warn { "No witness named to the verification has cosigned this checkpoint." }
                } @else {
                    table {
                        tr { th { "Witness" } th { "Cosigned (UTC)" } }
                        @for c in &g.cosignatures {
                            tr {
                                td { (t(&c.witness)) }
                                td.mono { (jiff::Timestamp::from_second(c.time as i64).map(|x| x.strftime("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|_| c.time.to_string())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn receipt(r: &AuditReport) -> Markup {
    html! {
        h2 { "Import receipt" }
        @match &r.receipt {
            None => { p { "None: the bundle has not been imported." } }
            Some(rc) => {
                p { (crate::core::terminal::counted(rc.records, "record")) " in "
                    (crate::core::terminal::counted(rc.runs, "run")) ", continuing the log's chain"
                    @if !rc.finished { "; the last run did not finish" } "." }
                table {
                    tr { th { "UTC" } th { "Key" } th { "What" } th { "KeyMaterialId" } th { "Request ids" } }
                    @for k in &rc.keys {
                        tr {
                            td.mono { (k.time.strftime("%Y-%m-%d %H:%M:%S")) }
                            td { (t(&k.key)) }
                            td { (t(&k.kind)) ": " (t(&k.state)) }
                            td.mono { (k.key_material_id.as_deref().map_or_else(|| "?".to_string(), t)) }
                            td.mono { (k.import_request_id.as_deref().map_or_else(|| "unknown".to_string(), t))
                                @if let Some(rot) = &k.rotate_request_id { br; (t(rot)) } }
                        }
                    }
                }
                p.mono { "receipt head sha256 " (rc.head_sha256) }
            }
        }
    }
}
