//! The resources the inventory looks at, read from their services: S3 buckets' default
//! encryption, RDS instances and clusters (StorageEncrypted, KmsKeyId), DynamoDB tables
//! (SSEDescription), each with its tags. Read calls only. Every call is counted, so a run can say
//! what it cost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_kms::error::ProvideErrorMetadata;
use serde::Serialize;

use super::KmsError;

/// How many resource reads run at once.
pub const CONCURRENCY: usize = 8;

type Result<T, E = KmsError> = std::result::Result<T, E>;

/// API calls made, by operation.
#[derive(Debug, Default)]
pub struct Calls(std::sync::Mutex<BTreeMap<&'static str, u64>>, AtomicU64);

impl Calls {
    pub fn count(&self, op: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op).or_default() += 1;
        }
        self.1.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> CallCount {
        CallCount {
            total: self.total(),
            by_operation: self
                .0
                .lock()
                .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
                .unwrap_or_default(),
        }
    }
}

/// What a run cost in API calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCount {
    pub total: u64,
    pub by_operation: BTreeMap<String, u64>,
}

/// Maps an SDK error of any AWS service to one naming the thing and the operation.
pub(super) fn sdk<E, R>(
    what: &str,
    op: &'static str,
) -> impl FnOnce(aws_sdk_kms::error::SdkError<E, R>) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let what = what.to_string();
    move |e| KmsError::from_sdk(&what, op, e)
}

/// A DynamoDB table that could not be read, with why.
pub type TableFailure = (String, KmsError);

// The reads: the SDKs' clients with the `resources` feature, a stand-in without it that answers
// every read with "not in this build" (reported like any service that could not be read).
#[cfg(feature = "resources")]
mod read;
#[cfg(not(feature = "resources"))]
#[path = "resources/absent.rs"]
mod read;
pub use read::{bucket, bucket_region, dynamodb, list_buckets, rds_clusters, rds_instances};
