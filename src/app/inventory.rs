//! `keyrite kms inventory`: which resources each EXTERNAL key protects, in one or more regions,
//! with the resources that name their key outside its alias and those that break segregation.

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::core::inventory::Services;
use crate::core::plan::Plan;
use crate::kms::inventory::{InventoryReport, InventoryScope};
use crate::kms::{self, KmsTarget};

/// The inventory of `regions` and `services`; no region given: the plan's regions, else the
/// SDK's region.
pub fn run(
    target: &KmsTarget,
    regions: &[String],
    services: &Services,
    plan: Option<&Plan>,
) -> Result<InventoryReport> {
    let rules = plan.and_then(|p| p.segregation.clone()).unwrap_or_default();
    let purposes = plan.map(Plan::purposes).unwrap_or_default();
    let rt = kms::runtime()?;
    let report = rt.block_on(async {
        let mut regions: Vec<String> = regions.to_vec();
        if regions.is_empty()
            && let Some(p) = plan
        {
            regions = p.regions().into_iter().map(str::to_string).collect();
        }
        if regions.is_empty() {
            let config = kms::sdk_config(target, true).await?;
            regions.extend(config.region().map(|r| r.to_string()));
        }
        regions.sort();
        regions.dedup();
        let scope = InventoryScope {
            services,
            rules: &rules,
            purposes: &purposes,
        };
        kms::inventory::inventory(target, &regions, scope, Timestamp::now()).await
    })?;
    Ok(report)
}

/// The exit the inventory ends with: Ok when every read was made, else
/// [`Error::ResourcesUnreadable`] (exit code 10, partial) naming each read that failed.
pub fn verdict(report: &InventoryReport) -> Result<()> {
    if report.unreadable.is_empty() {
        return Ok(());
    }
    let (reads, what_to_do) = Error::unread_parts(&report.unreadable, false);
    Err(Error::ResourcesUnreadable { reads, what_to_do })
}
