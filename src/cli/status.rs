//! `keyrite kms status` on the command line: a table for people, JSON for machines, and an exit
//! code a scheduled job can alert on (0: no key past due; 7: at least one NON_COMPLIANT).

use std::path::PathBuf;

use clap::Args;

use crate::app::error::{Error, Result};
use crate::app::status;
use crate::cli::aws_args::AwsArgs;
use crate::core::inventory::Services;
use crate::core::key_age::Compliance;
use crate::core::key_age::{
    DEFAULT_DUE_SOON_DAYS, DEFAULT_POLICY_DAYS, DaysError, Policy, days_in_range,
};

/// `--policy-days`: 1 to 36500 (a hundred years).
fn policy_days(text: &str) -> std::result::Result<u32, DaysError> {
    days_in_range("--policy-days", text, 1)
}

/// `--due-soon-days`: 0 to 36500.
fn due_soon_days(text: &str) -> std::result::Result<u32, DaysError> {
    days_in_range("--due-soon-days", text, 0)
}

/// `--grace-days`: 0 to 36500.
fn grace_days(text: &str) -> std::result::Result<u32, DaysError> {
    days_in_range("--grace-days", text, 0)
}
use crate::kms::cloudtrail::TrailLookup;
use crate::kms::status::{RotationsLookup, StatusReport};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The longest a key's material may stay current, in days (1 to 36500).
    #[arg(long, default_value_t = DEFAULT_POLICY_DAYS, value_parser = policy_days)]
    pub policy_days: u32,
    /// A key is DUE_SOON this many days before it falls due (0 to 36500).
    #[arg(long, default_value_t = DEFAULT_DUE_SOON_DAYS, value_parser = due_soon_days)]
    pub due_soon_days: u32,
    /// Bundle directories (or their import-receipt.log) whose receipts name the ceremony that
    /// produced each key's material. Repeat, or give several.
    #[arg(long, num_args = 1..)]
    pub receipts: Vec<PathBuf>,
    /// Keys created or rotated within this many days are not reported late (0: no grace; at
    /// most 36500).
    #[arg(long, default_value_t = 0, value_parser = grace_days)]
    pub grace_days: u32,
    /// Also take each key's last material change from CloudTrail LookupEvents
    /// (needs cloudtrail:LookupEvents).
    #[arg(long)]
    pub cloudtrail: bool,
    /// List under each key the S3 buckets, RDS databases and DynamoDB tables it protects, so
    /// NON_COMPLIANT and DUE_SOON say what is exposed.
    #[arg(long)]
    pub resources: bool,
    /// With --resources: the services whose resources are listed, comma-separated: s3, rds,
    /// dynamodb (default: all). Leave out one the caller may not read.
    #[arg(long, requires = "resources", value_parser = crate::cli::inventory::services, default_value = "s3,rds,dynamodb")]
    pub services: Services,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: StatusArgs) -> Result<()> {
    if a.policy_days == 0 {
        return Err(Error::PolicyDays);
    }
    let policy = Policy {
        max_age_days: a.policy_days,
        due_soon_days: a.due_soon_days,
    };
    let report = status::run_with(
        &a.aws.target(),
        &status::StatusRequest {
            policy,
            grace_days: a.grace_days,
            receipts: a.receipts.clone(),
            cloudtrail: a.cloudtrail,
            resources: a.resources,
            services: a.services.clone(),
        },
    )?;
    let table = table(&report);
    crate::cli::output::print_report(&table, &report, a.json);
    status::verdict(&report)
}

/// Appends one line of the table: every value in it (aliases, key ids, reasons from AWS) is
/// kept on that line, a newline in one shown escaped.
fn push_line(s: &mut String, line: String) {
    s.push_str(&crate::core::terminal::one_line(&line));
    s.push('\n');
}

fn table(r: &StatusReport) -> String {
    let mut s = String::new();
    push_line(
        &mut s,
        format!(
            "EXTERNAL keys in {} at {} (policy {} days, due soon within {} days)",
            r.region, r.checked_at, r.policy.max_age_days, r.policy.due_soon_days
        ),
    );
    push_line(
        &mut s,
        format!(
            "{:<14} {:<32} {:<13} {:<66} {:>5} {:<11} {:<24} CEREMONY",
            "STATUS", "ALIASES", "STATE", "KEY MATERIAL", "AGE", "DUE", "AGE FROM"
        ),
    );
    // What each key protects is unknown where a service could not be read: one line a service
    // and region, naming the calls that failed.
    let mut unknown: std::collections::BTreeMap<(&str, &str), Vec<String>> = Default::default();
    for u in &r.resources_unreadable {
        unknown
            .entry((u.service.as_str(), u.region.as_str()))
            .or_default()
            .push(format!("{} {}", u.operation, u.code));
    }
    for k in &r.keys {
        let (age, due, from) = match &k.material {
            Some(m) => (
                format!("{}d", m.age_days),
                m.due.strftime("%Y-%m-%d").to_string(),
                m.source.as_str(),
            ),
            None => ("-".into(), "-".into(), "-"),
        };
        let aliases = if k.aliases.is_empty() {
            k.key_id.clone()
        } else {
            k.aliases.join(",")
        };
        let ceremony = k
            .ceremony
            .as_ref()
            .map(|c| {
                format!(
                    "{} ({}, bundle {})",
                    c.bundle.display(),
                    c.kind,
                    &c.manifest_sha256[..16.min(c.manifest_sha256.len())]
                )
            })
            .unwrap_or_else(|| "-".into());
        push_line(
            &mut s,
            format!(
                "{:<14} {:<32} {:<13} {:<66} {:>5} {:<11} {:<24} {}",
                k.compliance.as_str(),
                aliases,
                k.state,
                k.key_material_id.as_deref().unwrap_or("-"),
                age,
                due,
                from,
                ceremony
            ),
        );
        if let Some(until) = k.material.as_ref().and_then(|m| m.grace_until) {
            push_line(
                &mut s,
                format!(
                    "{:<14} in grace until {} (created or rotated within {} days)",
                    "",
                    until.strftime("%Y-%m-%d"),
                    r.grace_days
                ),
            );
        }
        for r in &k.replicas {
            push_line(
                &mut s,
                format!(
                    "{:<14} replica in {}: {} {}{}",
                    if r.behind.is_some() { "BEHIND" } else { "" },
                    r.region,
                    r.state,
                    r.key_material_id.as_deref().unwrap_or("(no material)"),
                    r.behind
                        .as_ref()
                        .map(|_| ": it does not hold the primary's current material")
                        .unwrap_or_default()
                ),
            );
        }
        for p in &k.superseded {
            push_line(
                &mut s,
                format!(
                    "{:<14} previous key of {}: superseded by {} at {} (kept to decrypt older data)",
                    "", p.alias, p.by_key_arn, p.moved_at
                ),
            );
        }
        if let Some(resources) = &k.resources {
            for u in resources {
                push_line(
                    &mut s,
                    format!(
                        "{:<14} {} {} {} ({})",
                        if matches!(k.compliance, Compliance::NonCompliant | Compliance::DueSoon) {
                            "EXPOSED"
                        } else {
                            "protects"
                        },
                        u.kind.as_str(),
                        u.name,
                        u.region,
                        k.compliance.as_str()
                    ),
                );
            }
            for ((service, region), calls) in &unknown {
                push_line(
                    &mut s,
                    format!(
                        "{:<14} {service} resources in {region}: not read ({})",
                        "UNKNOWN",
                        calls.join(", ")
                    ),
                );
            }
        }
    }
    for u in &r.resources_unreadable {
        push_line(
            &mut s,
            format!(
                "{:<14} {}; what to do: {}",
                "UNREADABLE",
                u.summary(),
                u.what_to_do
            ),
        );
    }
    for u in &r.unreadable {
        push_line(
            &mut s,
            format!(
                "{:<14} {:<32} {} refused: {} {} (not measured)",
                "UNREADABLE", u.key_id, u.operation, u.code, u.message
            ),
        );
    }
    if let Some(reason) = r.keys.iter().find_map(|k| match &k.cloudtrail {
        Some(TrailLookup::Unavailable { reason }) => Some(reason),
        _ => None,
    }) {
        push_line(
            &mut s,
            format!("note: {reason}; ages come from the other sources"),
        );
    }
    if let Some(reason) = r.keys.iter().find_map(|k| match &k.rotations {
        RotationsLookup::Unavailable { reason } => Some(reason),
        RotationsLookup::Listed => None,
    }) {
        push_line(
            &mut s,
            format!(
                "note: {reason}; ages come from import receipts where they name the current material, else from the key's creation date (an upper bound, marked estimate)"
            ),
        );
    }
    s
}

#[cfg(test)]
mod line_tests {
    use super::push_line;

    #[test]
    fn a_value_with_a_newline_stays_on_its_line() {
        let mut s = String::new();
        push_line(
            &mut s,
            format!(
                "{:<14} {}",
                "COMPLIANT", "alias/dev\nNON_COMPLIANT  alias/fake \u{1b}[2J"
            ),
        );
        assert_eq!(s.lines().count(), 1, "{s}");
        assert!(s.contains("alias/dev\\x0aNON_COMPLIANT"), "{s}");
        assert!(s.contains("\\x1b[2J"), "{s}");
    }
}
