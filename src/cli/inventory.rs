//! `keyrite kms inventory` on the command line: per key, the resources it protects, with the
//! findings marked; JSON for machines.

use std::path::PathBuf;

use clap::Args;

use crate::app::error::{Error, Result};
use crate::app::inventory;
use crate::core::inventory::{Services, UnknownService};
use crate::core::plan::Plan;
use crate::core::terminal::{counted, one_line};
use crate::io::fs as fsio;
use crate::kms::KmsTarget;
use crate::kms::inventory::InventoryReport;

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// A region to inventory; repeat for more (default: the plan's regions, else the SDK's).
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// The services whose resources are listed, comma-separated: s3, rds, dynamodb (default:
    /// all). Leave out one the caller may not read.
    #[arg(long, value_parser = services, default_value = "s3,rds,dynamodb")]
    pub services: Services,
    /// A rotation plan: what each planned alias is for, and its [segregation] rules.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// AWS profile (default: AWS_PROFILE or the SDK's default chain)
    #[arg(long)]
    pub profile: Option<String>,
    /// KMS endpoint (default: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL or AWS's). S3, RDS and
    /// DynamoDB take theirs from AWS_ENDPOINT_URL_S3, _RDS, _DYNAMODB.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InventoryArgs) -> Result<()> {
    let plan = match &a.plan {
        Some(path) => {
            let text = fsio::read_text(path, "a plan")?;
            Some(Plan::parse(&text).map_err(|problem| Error::Plan {
                path: path.clone(),
                problem: Box::new(problem),
            })?)
        }
        None => None,
    };
    let target = KmsTarget {
        profile: a.profile.clone(),
        region: a.regions.first().cloned(),
        endpoint_url: a.endpoint_url.clone(),
        ..KmsTarget::default()
    };
    let report = inventory::run(&target, &a.regions, &a.services, plan.as_ref())?;
    let table = table(&report);
    crate::cli::output::print_report(&table, &report, a.json);
    inventory::verdict(&report)
}

/// `--services`: s3, rds, dynamodb, comma-separated; anything else is a usage error (exit 2).
pub fn services(text: &str) -> std::result::Result<Services, UnknownService> {
    Services::parse(text)
}

fn table(r: &InventoryReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "EXTERNAL keys in {} at {}: {}, {} of {}, {}",
        r.regions.join(", "),
        r.checked_at,
        counted(r.keys.len(), "key"),
        counted(
            r.keys.iter().map(|k| k.resources.len()).sum::<usize>(),
            "resource"
        ),
        r.services
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        counted(r.calls.total as usize, "API call")
    );
    for k in &r.keys {
        let aliases = if k.key.aliases.is_empty() {
            "(no alias)".to_string()
        } else {
            k.key.aliases.join(",")
        };
        let _ = writeln!(s, "{aliases}  {}", k.key.key_arn);
        if !k.key.related_regions.is_empty() {
            let _ = writeln!(
                s,
                "    multi-Region: the same key material in {} too (read as well)",
                k.key.related_regions.join(", ")
            );
        }
        if k.resources.is_empty() {
            let _ = writeln!(s, "    (no resource found)");
        }
        for u in &k.resources {
            let mut flags = Vec::new();
            if u.escapes_alias_review {
                flags.push(format!(
                    "NAMED BY {}: keeps working across rotation but escapes alias-based review",
                    u.named_by.as_str().to_uppercase()
                ));
            }
            for v in &u.segregation {
                flags.push(format!("SEGREGATION: {v}"));
            }
            let _ = writeln!(
                s,
                "    {:<15} {:<40} {:<12} by {:<13} {}",
                u.kind.as_str(),
                u.name,
                u.region,
                u.named_by.as_str(),
                flags.join("; ")
            );
        }
    }
    let _ = writeln!(
        s,
        "resources naming their key by id or ARN: {}; breaking segregation: {}",
        r.named_outside_alias, r.segregation_violations
    );
    for u in &r.unreadable {
        let _ = writeln!(
            s,
            "{}",
            one_line(&format!(
                "UNREADABLE {} (its resources are unknown, not absent); what to do: {}",
                u.summary(),
                u.what_to_do
            ))
        );
    }
    s
}
