//! `keyrite kms inventory`: every EXTERNAL key of the regions asked, with its aliases and the
//! resources whose encryption names it. The calls per run are bounded by the number of keys,
//! buckets and tables, never by keys × resources: the keys of each region are read once and the
//! resources matched to them in memory (core::inventory). A resource service that cannot be read
//! (a role without its permission, an endpoint that does not answer) is named in the report with
//! the call and AWS's error; the other services are still read.

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
use crate::core::inventory::{
    self, Key, KeyResources, Purpose, Resource, SegregationRules, Service, Services, Unreadable,
};

/// How many read calls per service the inventory has in flight at once.
pub use super::resources::CONCURRENCY;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryReport {
    pub regions: Vec<String>,
    /// The services whose resources were asked for.
    pub services: Services,
    pub checked_at: Timestamp,
    pub keys: Vec<KeyResources>,
    /// The reads that failed: their service's resources in that region (or the one bucket or
    /// table named) are unknown, so the report is partial.
    pub unreadable: Vec<Unreadable>,
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
            related_regions: related_regions(&meta, region),
        });
    }
    Ok(out)
}

/// The other Regions of a multi-Region key (its primary's and its replicas'), as AWS spells them;
/// none for a single-Region key. A Region name KMS should not answer is left out.
fn related_regions(meta: &aws_sdk_kms::types::KeyMetadata, own: &str) -> Vec<String> {
    let Some(config) = meta.multi_region_configuration() else {
        return Vec::new();
    };
    let mut out: Vec<String> = config
        .primary_key()
        .into_iter()
        .chain(config.replica_keys())
        .filter_map(|k| k.region())
        .filter(|r| *r != own && crate::core::names::check_region(r).is_ok())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A read of `service` that failed, as the report names it; an error that is not AWS's answer
/// (or its absence) stays an error.
fn unreadable(
    services: &Services,
    service: Service,
    region: &str,
    resource: Option<&str>,
    e: KmsError,
) -> Result<Unreadable> {
    match e {
        KmsError::Service {
            operation,
            code,
            message,
            ..
        } => Ok(Unreadable::new(
            services, service, region, operation, resource, &code, &message,
        )),
        KmsError::Unreachable {
            operation, detail, ..
        } => Ok(Unreadable::new(
            services,
            service,
            region,
            operation,
            resource,
            inventory::UNREACHABLE,
            &detail,
        )),
        other => Err(other),
    }
}

/// What an inventory is asked for beyond its regions.
#[derive(Debug, Clone, Copy)]
pub struct InventoryScope<'a> {
    pub services: &'a Services,
    pub rules: &'a SegregationRules,
    pub purposes: &'a BTreeMap<String, Purpose>,
}

/// The inventory of `regions` (each once): keys from KMS, resources from the services in
/// `scope`. A read of a resource service AWS refuses (or that gets no answer) does not stop the
/// inventory: it is reported in `unreadable`, and the rest is read.
pub async fn inventory(
    target: &KmsTarget,
    regions: &[String],
    scope: InventoryScope<'_>,
    now: Timestamp,
) -> Result<InventoryReport> {
    let services = scope.services;
    let calls = Calls::default();
    let mut keys = Vec::new();
    let mut found: Vec<Resource> = Vec::new();
    let mut unread: Vec<Unreadable> = Vec::new();
    let mut configs = BTreeMap::new();
    // The Regions asked, then every other Region a multi-Region key found is related to: its
    // replicas (or primary) there hold the same material, and what they protect is exposed with it.
    let mut regions: Vec<String> = regions.to_vec();
    let mut next = 0;
    while let Some(region) = regions.get(next).cloned() {
        next += 1;
        let region = &region;
        let t = KmsTarget {
            region: Some(region.clone()),
            ..target.clone()
        };
        let kms = super::connect(&t).await?;
        let found_keys = external_keys(&kms, region, &calls).await?;
        for r in found_keys.iter().flat_map(|k| &k.related_regions) {
            if !regions.contains(r) {
                regions.push(r.clone());
            }
        }
        keys.extend(found_keys);
        let config = super::sdk_config(&t, false).await?;
        if services.contains(Service::Rds) {
            for read in [
                resources::rds_instances(&config, region, &calls).await,
                resources::rds_clusters(&config, region, &calls).await,
            ] {
                match read {
                    Ok(r) => found.extend(r),
                    Err(e) => unread.push(unreadable(services, Service::Rds, region, None, e)?),
                }
            }
        }
        if services.contains(Service::Dynamodb) {
            match resources::dynamodb(&config, region, &calls).await {
                Ok((tables, failed)) => {
                    found.extend(tables);
                    for (name, e) in failed {
                        unread.push(unreadable(
                            services,
                            Service::Dynamodb,
                            region,
                            Some(&name),
                            e,
                        )?);
                    }
                }
                Err(e) => unread.push(unreadable(services, Service::Dynamodb, region, None, e)?),
            }
        }
        configs.insert(region.clone(), config);
    }
    // S3 lists every bucket of the account at once; each is read in its own region.
    if services.contains(Service::S3)
        && let Some((first_region, first)) = configs.iter().next()
    {
        match resources::list_buckets(first, &calls).await {
            // The account's buckets are unknown: so are those of every region asked.
            Err(e) => {
                let u = unreadable(services, Service::S3, first_region, None, e)?;
                for region in configs.keys() {
                    unread.push(Unreadable {
                        region: region.clone(),
                        ..u.clone()
                    });
                }
            }
            Ok(listed) => {
                let mut placed = Vec::new();
                for (bucket, listed_region) in listed {
                    let region = match listed_region {
                        Some(r) => r,
                        None => match resources::bucket_region(first, &bucket, &calls).await {
                            Ok(r) => r,
                            Err(e) => {
                                unread.push(unreadable(
                                    services,
                                    Service::S3,
                                    first_region,
                                    Some(&bucket),
                                    e,
                                )?);
                                continue;
                            }
                        },
                    };
                    if let Some(config) = configs.get(&region) {
                        placed.push((bucket, region, config));
                    }
                }
                let read: Vec<Result<Option<Resource>>> = stream::iter(&placed)
                    .map(|(bucket, region, config)| {
                        resources::bucket(config, bucket, region, &calls)
                    })
                    .buffered(CONCURRENCY)
                    .collect()
                    .await;
                for ((bucket, region, _), r) in placed.iter().zip(read) {
                    match r {
                        Ok(b) => found.extend(b),
                        Err(e) => {
                            unread.push(unreadable(services, Service::S3, region, Some(bucket), e)?)
                        }
                    }
                }
            }
        }
    }
    unread.sort_by(|a, b| {
        (a.service, &a.region, &a.operation, &a.resource).cmp(&(
            b.service,
            &b.region,
            &b.operation,
            &b.resource,
        ))
    });
    let keys = inventory::map(&keys, &found, scope.rules, scope.purposes);
    let uses = keys.iter().flat_map(|k| &k.resources);
    let named_outside_alias = uses.clone().filter(|r| r.escapes_alias_review).count();
    let segregation_violations = uses.filter(|r| !r.segregation.is_empty()).count();
    Ok(InventoryReport {
        regions,
        services: services.clone(),
        checked_at: now,
        keys,
        unreadable: unread,
        named_outside_alias,
        segregation_violations,
        calls: calls.snapshot(),
    })
}
