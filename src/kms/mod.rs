//! The KMS adapter: aws-sdk-kms, typed calls that take a client and typed inputs and return
//! typed results or [`KmsError`]. `prepare` fetches import parameters into a bundle; `import`
//! and `rollback` make the calls of `keyrite kms import` and `kms rollback` (whose use cases are
//! `app::import` and `app::rollback`);
//! `inventory` and `resources` read which S3 buckets, RDS databases and DynamoDB tables each key
//! protects (read calls of aws-sdk-s3, aws-sdk-rds and aws-sdk-dynamodb).

pub mod clock;
pub mod cloudtrail;
mod error;
pub mod import;
pub mod inventory;
pub mod materials;
pub mod multi_region;
pub mod new_key;
pub mod plan;
pub mod prepare;
mod resend;
pub mod resources;
pub mod rollback;
pub mod status;
pub mod verify_rotation;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
pub use aws_sdk_kms::Client;
pub use error::KmsError;

/// Where KMS is: the SDK's usual environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
/// AWS_ENDPOINT_URL_KMS, credentials) unless the command line says otherwise.
#[derive(Debug, Clone, Default)]
pub struct KmsTarget {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Fixed dummy credentials, for a local KMS that accepts any (rehearsals and tests), with
    /// this access key id ([`LOCAL_ACCESS_KEY`] unless the caller needs another). LocalStack
    /// takes a 12-digit access key id as the account to act in, so a caller can keep its keys
    /// in an account of its own; with [`LOCAL_ACCESS_KEY`] it acts in its default account,
    /// 000000000000.
    pub local_credentials: Option<String>,
}

/// The access key id of the dummy credentials a rehearsal sends its local KMS.
pub const LOCAL_ACCESS_KEY: &str = "local";

/// How many times keyrite sends one KMS request at most, counting the first: throttling
/// (ThrottlingException, LimitExceededException) and transient errors (HTTP 5xx, timeouts) are
/// retried with the SDK's standard exponential backoff with jitter.
pub const MAX_ATTEMPTS: u32 = 5;

/// The retry policy of every KMS client keyrite makes.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The single-threaded async runtime every KMS conversation runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, KmsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KmsError::Runtime(e.to_string()))
}

pub async fn connect(target: &KmsTarget) -> Result<Client, KmsError> {
    let config = sdk_config(target, true).await?;
    let mut builder = aws_sdk_kms::config::Builder::from(&config);
    if let Some(clock) = clock::interceptor() {
        builder = builder.interceptor(clock);
    }
    Ok(Client::from_conf(builder.build()))
}

/// The SDK configuration for `target`. `--endpoint-url` names the KMS endpoint: with
/// `kms_endpoint` false (the other services' clients) it is left out, and those services take
/// theirs from the environment (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_RDS, …) or AWS's.
pub async fn sdk_config(
    target: &KmsTarget,
    kms_endpoint: bool,
) -> Result<aws_config::SdkConfig, KmsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
    if let Some(p) = &target.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &target.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if kms_endpoint && let Some(u) = &target.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    if let Some(access_key) = &target.local_credentials {
        loader = loader.credentials_provider(aws_sdk_kms::config::Credentials::new(
            access_key,
            "local",
            None,
            None,
            "keyrite-local-kms",
        ));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(KmsError::NoRegion);
    }
    Ok(config)
}
