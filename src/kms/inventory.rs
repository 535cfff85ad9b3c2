//! `keyrite kms inventory`: every EXTERNAL key of the regions asked, with its aliases and the
//! resources whose encryption names it. The calls per run are bounded by the number of keys,
//! buckets and tables, never by keys × resources: the keys of each region are read once and the
//! resources matched to them in memory (core::inventory).

use std::collections::BTreeMap;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::OriginType;
use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::Serialize;

use super::KmsError;
use super::resources::{self, CallCount, Calls, sdk};
use super::{Client, KmsTarget};

type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::inventory::{self, Key, KeyResources, Purpose, Resource, SegregationRules};

/// How many read calls per service the inventory has in flight at once.
pub use super::resources::CONCURRENCY;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryReport {
    pub regions: Vec<String>,
    pub checked_at: Timestamp,
    pub keys: Vec<KeyResources>,
    /// Resources naming their key by id or ARN.
    pub named_outside_alias: usize,
    /// Resources whose environment or service differs from their key's.
    pub segregation_violations: usize,
    pub calls: CallCount,
}

/// The EXTERNAL keys of the client's region, with their aliases.
pub async fn external_keys(client: &Client, region: &str, calls: &Calls) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        calls.count("kms:ListKeys");
        let page = client
            .list_keys()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(sdk("all keys", "ListKeys"))?;
        keys.extend(
            page.keys()
                .iter()
                .filter_map(|k| k.key_id().map(str::to_string)),
        );
        marker = page.next_marker().map(str::to_string);
        if !page.truncated() || marker.is_none() {
            break;
        }
    }
    let mut alias_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        calls.count("kms:ListAliases");
        let page = client
            .list_aliases()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(sdk("all keys", "ListAliases"))?;
        for a in page.aliases() {
            if let (Some(target), Some(name)) = (a.target_key_id(), a.alias_name()) {
                alias_of
                    .entry(target.to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
        marker = page.next_marker().map(str::to_string);
        if !page.truncated() || marker.is_none() {
            break;
        }
    }
    let described: Vec<_> = stream::iter(keys)
        .map(|key_id| async move {
            calls.count("kms:DescribeKey");
            let r = client.describe_key().key_id(&key_id).send().await;
            (key_id, r)
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    for (key_id, described) in described {
        let meta = match described {
            Ok(d) => match d.key_metadata {
                Some(m) => m,
                None => continue,
            },
            // Deleted between ListKeys and DescribeKey.
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NotFoundException") => {
                continue;
            }
            Err(e) => return Err(sdk(&key_id, "DescribeKey")(e)),
        };
        if meta.origin() != Some(&OriginType::External) {
            continue;
        }
        let mut aliases = alias_of.remove(&key_id).unwrap_or_default();
        aliases.sort();
        out.push(Key {
            key_arn: meta.arn().unwrap_or_default().to_string(),
            key_id,
            region: region.to_string(),
            aliases,
        });
    }
    Ok(out)
}

/// The inventory of `regions` (each once): keys from KMS, resources from S3, RDS and DynamoDB.
pub async fn inventory(
    target: &KmsTarget,
    regions: &[String],
    rules: &SegregationRules,
    purposes: &BTreeMap<String, Purpose>,
    now: Timestamp,
) -> Result<InventoryReport> {
    let calls = Calls::default();
    let mut keys = Vec::new();
    let mut found: Vec<Resource> = Vec::new();
    let mut configs = BTreeMap::new();
    for region in regions {
        let t = KmsTarget {
            region: Some(region.clone()),
            ..target.clone()
        };
        let kms = super::connect(&t).await?;
        keys.extend(external_keys(&kms, region, &calls).await?);
        let config = super::sdk_config(&t, false).await?;
        found.extend(resources::rds(&config, region, &calls).await?);
        found.extend(resources::dynamodb(&config, region, &calls).await?);
        configs.insert(region.clone(), config);
    }
    // S3 lists every bucket of the account at once; each is read in its own region.
    if let Some(first) = configs.values().next() {
        let mut placed = Vec::new();
        for (bucket, listed_region) in resources::list_buckets(first, &calls).await? {
            let region = match listed_region {
                Some(r) => r,
                None => resources::bucket_region(first, &bucket, &calls).await?,
            };
            if let Some(config) = configs.get(&region) {
                placed.push((bucket, region, config));
            }
        }
        let read: Vec<Result<Option<Resource>>> = stream::iter(&placed)
            .map(|(bucket, region, config)| resources::bucket(config, bucket, region, &calls))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for r in read {
            found.extend(r?);
        }
    }
    let keys = inventory::map(&keys, &found, rules, purposes);
    let uses = keys.iter().flat_map(|k| &k.resources);
    let named_outside_alias = uses.clone().filter(|r| r.escapes_alias_review).count();
    let segregation_violations = uses.filter(|r| !r.segregation.is_empty()).count();
    Ok(InventoryReport {
        regions: regions.to_vec(),
        checked_at: now,
        keys,
        named_outside_alias,
        segregation_violations,
        calls: calls.snapshot(),
    })
}
