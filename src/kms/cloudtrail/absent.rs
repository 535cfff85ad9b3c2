//! A build without the `resources` feature has no CloudTrail client: every lookup answers that
//! CloudTrail is not available in this build, with the rebuild as what to do.

use jiff::Timestamp;

use super::TrailLookup;

/// Stands in for CloudTrail's client in a build without it.
#[derive(Debug, Clone)]
pub struct CloudTrailClient;

impl CloudTrailClient {
    pub fn new(_config: &aws_config::SdkConfig) -> CloudTrailClient {
        CloudTrailClient
    }
}

fn reason() -> String {
    format!(
        "this keyrite was built without its `resources` feature (no CloudTrail client): {}",
        crate::core::inventory::REBUILD_WITH_RESOURCES
    )
}

pub async fn last_material_change(_client: &CloudTrailClient, _key_arn: &str) -> TrailLookup {
    TrailLookup::Unavailable { reason: reason() }
}

pub async fn errors_since(
    _client: &CloudTrailClient,
    _key_arn: &str,
    _since: Timestamp,
) -> Result<Vec<String>, String> {
    Err(reason())
}
