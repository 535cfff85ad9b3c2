//! The reads themselves, through aws-sdk-s3, aws-sdk-rds and aws-sdk-dynamodb (the `resources`
//! feature; `absent.rs` stands in for them in a build without it).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_kms::error::ProvideErrorMetadata;
use futures_util::stream::{self, StreamExt};

use super::{CONCURRENCY, Calls, Result, TableFailure, sdk};
use crate::core::inventory::{Resource, ResourceKind};

fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    // A local S3 (LocalStack) answers on one host: buckets go in the path, not the host name.
    let local = config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(local)
            .build(),
    )
}

/// Every bucket in `region` whose default encryption names a KMS key, with its tags.
/// `ListBuckets` is account-wide: call it once and pass its result to each region.
pub async fn list_buckets(
    config: &SdkConfig,
    calls: &Calls,
) -> Result<Vec<(String, Option<String>)>> {
    let client = s3_client(config);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        calls.count("s3:ListBuckets");
        let page = client
            .list_buckets()
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(sdk("all buckets", "s3:ListBuckets"))?;
        for b in page.buckets() {
            if let Some(name) = b.name() {
                out.push((name.to_string(), b.bucket_region().map(str::to_string)));
            }
        }
        token = page.continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The region of a bucket ListBuckets listed without one.
pub async fn bucket_region(config: &SdkConfig, bucket: &str, calls: &Calls) -> Result<String> {
    calls.count("s3:GetBucketLocation");
    let out = s3_client(config)
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(sdk(bucket, "s3:GetBucketLocation"))?;
    Ok(match out.location_constraint() {
        Some(c) if !c.as_str().is_empty() => c.as_str().to_string(),
        // No constraint: the bucket is in us-east-1.
        _ => "us-east-1".to_string(),
    })
}

/// The bucket as a resource when its default encryption names a KMS key.
pub async fn bucket(
    config: &SdkConfig,
    bucket: &str,
    region: &str,
    calls: &Calls,
) -> Result<Option<Resource>> {
    let client = s3_client(config);
    calls.count("s3:GetBucketEncryption");
    let enc = match client.get_bucket_encryption().bucket(bucket).send().await {
        Ok(o) => o,
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            return Ok(None);
        }
        Err(e) => return Err(sdk(bucket, "s3:GetBucketEncryption")(e)),
    };
    let key = enc
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .find(|d| d.sse_algorithm().as_str().starts_with("aws:kms"))
        .and_then(|d| d.kms_master_key_id())
        .map(str::to_string);
    // SSE-KMS without a key id is the AWS managed key aws/s3: not an EXTERNAL key.
    let Some(key) = key else { return Ok(None) };
    calls.count("s3:GetBucketTagging");
    let tags = match client.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(e) if e.code() == Some("NoSuchTagSet") => BTreeMap::new(),
        Err(e) => return Err(sdk(bucket, "s3:GetBucketTagging")(e)),
    };
    Ok(Some(Resource {
        kind: ResourceKind::S3Bucket,
        name: bucket.to_string(),
        region: region.to_string(),
        key_setting: key,
        tags,
    }))
}

fn rds_tags(tags: &[aws_sdk_rds::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// An RDS instance or cluster as its service describes it, if encrypted under a KMS key.
fn encrypted_rds(
    kind: ResourceKind,
    region: &str,
    encrypted: Option<bool>,
    key: Option<&str>,
    name: Option<&str>,
    tags: &[aws_sdk_rds::types::Tag],
) -> Option<Resource> {
    match (encrypted, key, name) {
        (Some(true), Some(key), Some(name)) => Some(Resource {
            kind,
            name: name.to_string(),
            region: region.to_string(),
            key_setting: key.to_string(),
            tags: rds_tags(tags),
        }),
        _ => None,
    }
}

/// The region's encrypted RDS instances (their tags come with them).
pub async fn rds_instances(
    config: &SdkConfig,
    region: &str,
    calls: &Calls,
) -> Result<Vec<Resource>> {
    let client = aws_sdk_rds::Client::new(config);
    let mut pages = client.describe_db_instances().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        calls.count("rds:DescribeDBInstances");
        let page = page.map_err(sdk(region, "rds:DescribeDBInstances"))?;
        out.extend(page.db_instances().iter().filter_map(|d| {
            encrypted_rds(
                ResourceKind::RdsInstance,
                region,
                d.storage_encrypted(),
                d.kms_key_id(),
                d.db_instance_identifier(),
                d.tag_list(),
            )
        }));
    }
    Ok(out)
}

/// The region's encrypted RDS (Aurora) clusters (their tags come with them).
pub async fn rds_clusters(
    config: &SdkConfig,
    region: &str,
    calls: &Calls,
) -> Result<Vec<Resource>> {
    let client = aws_sdk_rds::Client::new(config);
    let mut pages = client.describe_db_clusters().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        calls.count("rds:DescribeDBClusters");
        let page = page.map_err(sdk(region, "rds:DescribeDBClusters"))?;
        out.extend(page.db_clusters().iter().filter_map(|c| {
            encrypted_rds(
                ResourceKind::RdsCluster,
                region,
                c.storage_encrypted(),
                c.kms_key_id(),
                c.db_cluster_identifier(),
                c.tag_list(),
            )
        }));
    }
    Ok(out)
}

/// The region's DynamoDB tables encrypted under a customer managed KMS key, with their tags, and
/// the tables that could not be read (the listing failing fails the whole).
pub async fn dynamodb(
    config: &SdkConfig,
    region: &str,
    calls: &Calls,
) -> Result<(Vec<Resource>, Vec<TableFailure>)> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        calls.count("dynamodb:ListTables");
        let page = client
            .list_tables()
            .set_exclusive_start_table_name(start.clone())
            .send()
            .await
            .map_err(sdk(region, "dynamodb:ListTables"))?;
        names.extend(page.table_names().iter().cloned());
        start = page.last_evaluated_table_name().map(str::to_string);
        if start.is_none() {
            break;
        }
    }
    let read: Vec<(String, Result<Option<Resource>>)> = stream::iter(names)
        .map(|name| {
            let client = &client;
            async move {
                let r = table(client, &name, region, calls).await;
                (name, r)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for (name, r) in read {
        match r {
            Ok(found) => out.extend(found),
            Err(e) => failed.push((name, e)),
        }
    }
    Ok((out, failed))
}

/// One table as a resource when it is encrypted under a customer managed KMS key.
async fn table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    region: &str,
    calls: &Calls,
) -> Result<Option<Resource>> {
    calls.count("dynamodb:DescribeTable");
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(sdk(name, "dynamodb:DescribeTable"))?;
    let Some(table) = described.table() else {
        return Ok(None);
    };
    let Some(key) = table
        .sse_description()
        .and_then(|s| s.kms_master_key_arn())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let mut tags = BTreeMap::new();
    if let Some(arn) = table.table_arn() {
        let mut token: Option<String> = None;
        loop {
            calls.count("dynamodb:ListTagsOfResource");
            let page = client
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(sdk(name, "dynamodb:ListTagsOfResource"))?;
            for t in page.tags() {
                tags.insert(t.key().to_string(), t.value().to_string());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(Some(Resource {
        kind: ResourceKind::DynamodbTable,
        name: name.to_string(),
        region: region.to_string(),
        key_setting: key,
        tags,
    }))
}
