//! A build without the `resources` feature has no S3, RDS or DynamoDB client (their SDKs are
//! most of the connected build's compile time, and the rehearsal needs none of them): every read
//! answers "not in this build", which the inventory reports as a service it could not read, with
//! the rebuild as what to do.

use aws_config::SdkConfig;

use super::{Calls, Result, TableFailure};
use crate::core::inventory::{NOT_IN_THIS_BUILD, Resource};
use crate::kms::KmsError;

fn absent(what: &str, operation: &'static str) -> KmsError {
    KmsError::Service {
        key: what.to_string(),
        operation,
        code: NOT_IN_THIS_BUILD.to_string(),
        message: "this keyrite was built without its `resources` feature (the S3, RDS, DynamoDB and CloudTrail clients)".to_string(),
        hint: crate::core::inventory::REBUILD_WITH_RESOURCES.to_string(),
    }
}

pub async fn list_buckets(
    _config: &SdkConfig,
    _calls: &Calls,
) -> Result<Vec<(String, Option<String>)>> {
    Err(absent("all buckets", "s3:ListBuckets"))
}

pub async fn bucket_region(_config: &SdkConfig, bucket: &str, _calls: &Calls) -> Result<String> {
    Err(absent(bucket, "s3:GetBucketLocation"))
}

pub async fn bucket(
    _config: &SdkConfig,
    bucket: &str,
    _region: &str,
    _calls: &Calls,
) -> Result<Option<Resource>> {
    Err(absent(bucket, "s3:GetBucketEncryption"))
}

pub async fn rds_instances(
    _config: &SdkConfig,
    region: &str,
    _calls: &Calls,
) -> Result<Vec<Resource>> {
    Err(absent(region, "rds:DescribeDBInstances"))
}

pub async fn rds_clusters(
    _config: &SdkConfig,
    region: &str,
    _calls: &Calls,
) -> Result<Vec<Resource>> {
    Err(absent(region, "rds:DescribeDBClusters"))
}

pub async fn dynamodb(
    _config: &SdkConfig,
    region: &str,
    _calls: &Calls,
) -> Result<(Vec<Resource>, Vec<TableFailure>)> {
    Err(absent(region, "dynamodb:ListTables"))
}
