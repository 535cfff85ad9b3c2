//! Config `PutEvaluations`: one evaluation per key (resource type `AWS::KMS::Key`, resource id the
//! key id), at most 100 per call as the API allows, all with the event's result token.

use aws_sdk_config::primitives::DateTime;
use aws_sdk_config::types::{ComplianceType, Evaluation as ConfigEvaluation};
use jiff::Timestamp;
use keyrite::core::config_rule::RESOURCE_TYPE;
use serde::Serialize;

use crate::MonitorError;

/// The most evaluations one PutEvaluations call takes.
pub const BATCH: usize = 100;

/// One key's evaluation as the rule puts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub key_id: String,
    pub key_arn: String,
    /// COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE.
    pub compliance: &'static str,
    pub annotation: String,
}

/// Puts `evaluations` with `result_token`, ordered at `ordering`.
pub async fn put(
    client: &aws_sdk_config::Client,
    result_token: &str,
    ordering: Timestamp,
    evaluations: &[Evaluation],
) -> Result<(), MonitorError> {
    let at = DateTime::from_secs(ordering.as_second());
    for batch in evaluations.chunks(BATCH) {
        let mut request = client.put_evaluations().result_token(result_token);
        for e in batch {
            let built = ConfigEvaluation::builder()
                .compliance_resource_type(RESOURCE_TYPE)
                .compliance_resource_id(&e.key_id)
                .compliance_type(ComplianceType::from(e.compliance))
                .annotation(&e.annotation)
                .ordering_timestamp(at)
                .build()
                .map_err(|err| MonitorError::PutEvaluations(err.to_string()))?;
            request = request.evaluations(built);
        }
        let out = request.send().await.map_err(|err| {
            use aws_sdk_config::error::ProvideErrorMetadata;
            MonitorError::PutEvaluations(format!(
                "{}{}",
                err.code().unwrap_or("no error code"),
                err.message().map(|m| format!(": {m}")).unwrap_or_default()
            ))
        })?;
        let failed = out.failed_evaluations();
        if let Some(first) = failed.first() {
            return Err(MonitorError::Refused {
                count: failed.len(),
                first: first.compliance_resource_id().to_string(),
            });
        }
    }
    Ok(())
}
