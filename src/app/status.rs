//! `keyrite kms status`: every EXTERNAL key of the region with the age of its current material
//! against the rotation policy, and the verdict a scheduled job alerts on.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::core::key_age::{Compliance, Policy};
use crate::kms::status::{Receipts, StatusReport};
use crate::kms::{self, KmsTarget};

/// Every EXTERNAL key's status; `receipts` name the ceremonies that produced their material.
pub fn run(target: &KmsTarget, policy: Policy, receipts: &[PathBuf]) -> Result<StatusReport> {
    let receipts = Receipts::load(receipts)?;
    let rt = kms::runtime()?;
    let report = rt.block_on(async {
        let client = kms::connect(target).await?;
        kms::status::status(&client, policy, &receipts, Timestamp::now()).await
    })?;
    Ok(report)
}

/// The exit a scheduled job alerts on: Ok when no key is past due, [`Error::NonCompliant`] (exit
/// code 7) naming the keys that are.
pub fn verdict(report: &StatusReport) -> Result<()> {
    let late: Vec<&str> = report
        .keys
        .iter()
        .filter(|k| k.compliance == Compliance::NonCompliant)
        .map(|k| k.aliases.first().map_or(k.key_id.as_str(), String::as_str))
        .collect();
    if !late.is_empty() {
        return Err(Error::PastPolicy {
            keys: late.iter().map(|k| k.to_string()).collect(),
            max_age_days: report.policy.max_age_days,
        });
    }
    Ok(())
}
