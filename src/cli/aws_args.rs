//! The AWS arguments every `kms` command takes: profile, region, endpoint.

use clap::Args;

use crate::kms::KmsTarget;

#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS profile (default: AWS_PROFILE or the SDK's default chain)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// KMS endpoint (default: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL or AWS's)
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn target(&self) -> KmsTarget {
        KmsTarget {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            ..KmsTarget::default()
        }
    }
}
