//! keyrite-monitor: `keyrite kms status` as an AWS Config custom rule. On each periodic
//! notification it measures every EXTERNAL key of its region against the rotation policy, exactly
//! as `kms status --resources --cloudtrail` does ([`keyrite::app::status::report`]), and reports
//! each key to Config with `PutEvaluations`: NON_COMPLIANT past due, naming the resources the key
//! exposes; COMPLIANT otherwise; NOT_APPLICABLE for a key awaiting its first material;
//! NON_COMPLIANT for a key it could not read (a key policy denying DescribeKey or ListKeyRotations), naming AWS's code. A
//! service whose resources could not be read is named in each annotation as unknown, never as
//! "protects no resource"; the rest is evaluated. What a
//! verdict means and how the annotation reads is [`keyrite::core::config_rule`]'s.
//!
//! [`handle`] is a plain async function: the Lambda runtime (main.rs) calls it, and so can a test.

pub mod evaluations;
pub mod event;

use jiff::Timestamp;
use keyrite::app::status::{self, StatusRequest};
use keyrite::core::config_rule::{self, KeyFacts};
use keyrite::core::inventory::{Service, Services};
use keyrite::kms::KmsTarget;
use keyrite::kms::cloudtrail::CloudTrailClient;
use keyrite::kms::status::Receipts;
use serde::Serialize;

pub use evaluations::Evaluation;
pub use event::ConfigEvent;

/// What went wrong, said so that the rule's failure in Config and its log say what to do.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("the AWS Config event is not one this rule handles: {0}")]
    Event(String),
    #[error("checking the keys failed: {0}")]
    Status(#[from] keyrite::app::error::Error),
    #[error(
        "AWS Config PutEvaluations failed: {0}. What to do: check that the function's role allows config:PutEvaluations"
    )]
    PutEvaluations(String),
    #[error(
        "AWS Config refused {count} evaluation(s), the first for key {first}. What to do: read the rule's log for the evaluation sent"
    )]
    Refused { count: usize, first: String },
}

/// The clients the rule talks through: KMS and the resources' services from `target`, CloudTrail
/// (when given) for each key's last material change, and Config for the evaluations.
pub struct Monitor {
    pub target: KmsTarget,
    pub trail: Option<CloudTrailClient>,
    pub config: aws_sdk_config::Client,
}

impl Monitor {
    /// The clients of the Lambda's own environment (AWS_REGION, the function's role).
    pub async fn from_environment() -> Result<Monitor, MonitorError> {
        let target = KmsTarget::default();
        let sdk = keyrite::kms::sdk_config(&target, false)
            .await
            .map_err(keyrite::app::error::Error::from)?;
        Ok(Monitor {
            trail: Some(CloudTrailClient::new(&sdk)),
            config: aws_sdk_config::Client::new(&sdk),
            target,
        })
    }
}

/// What one run reported.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub region: String,
    pub checked_at: Timestamp,
    pub evaluations: Vec<Evaluation>,
}

/// Handles one Config event: evaluates every EXTERNAL key and puts the evaluations with the
/// event's result token.
pub async fn handle(event: &ConfigEvent, monitor: &Monitor) -> Result<Outcome, MonitorError> {
    let invoked = event.invoking()?;
    let params = event.parameters()?;
    let req = StatusRequest {
        policy: params.policy,
        grace_days: params.grace_days,
        receipts: Vec::new(),
        cloudtrail: monitor.trail.is_some(),
        resources: true,
        services: Services::default(),
    };
    let now = Timestamp::now();
    let report = status::report(
        &monitor.target,
        &req,
        &Receipts::default(),
        monitor.trail.as_ref(),
        now,
    )
    .await?;
    // The services whose resources could not all be read (the rule reads one region).
    let mut unread: Vec<Service> = report
        .resources_unreadable
        .iter()
        .map(|u| u.service)
        .collect();
    unread.sort();
    unread.dedup();
    let evaluations: Vec<Evaluation> = report
        .keys
        .iter()
        .map(|k| {
            let name = k.aliases.first().unwrap_or(&k.key_id);
            let behind = k.replicas_behind();
            let e = config_rule::evaluate(&KeyFacts {
                name,
                state: &k.state,
                compliance: k.compliance,
                material: k.material.as_ref(),
                max_age_days: report.policy.max_age_days,
                resources: k.resources.as_deref(),
                unread: &unread,
                replicas_behind: &behind,
            });
            Evaluation {
                key_id: k.key_id.clone(),
                key_arn: k.key_arn.clone(),
                compliance: e.compliance.as_str(),
                annotation: e.annotation,
            }
        })
        .chain(report.unreadable.iter().map(|u| {
            let e = config_rule::unreadable(&u.key_id, &u.operation, &u.code);
            Evaluation {
                key_id: u.key_id.clone(),
                key_arn: String::new(),
                compliance: e.compliance.as_str(),
                annotation: e.annotation,
            }
        }))
        .collect();
    let ordering = invoked.notification_time.unwrap_or(now);
    evaluations::put(&monitor.config, &event.result_token, ordering, &evaluations).await?;
    Ok(Outcome {
        region: report.region,
        checked_at: now,
        evaluations,
    })
}
