//! `keyrite kms inventory`: which resources each EXTERNAL key protects, in one or more regions,
//! with the resources that name their key outside its alias and those that break segregation.

use jiff::Timestamp;

use crate::app::error::Result;
use crate::core::plan::Plan;
use crate::kms::inventory::InventoryReport;
use crate::kms::{self, KmsTarget};

/// The inventory of `regions`; none given: the plan's regions, else the SDK's region.
pub fn run(target: &KmsTarget, regions: &[String], plan: Option<&Plan>) -> Result<InventoryReport> {
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
        kms::inventory::inventory(target, &regions, &rules, &purposes, Timestamp::now()).await
    })?;
    Ok(report)
}
