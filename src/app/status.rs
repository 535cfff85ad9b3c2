//! `keyrite kms status`: every EXTERNAL key of the region with the age of its current material
//! against the rotation policy, and the verdict a scheduled job alerts on.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::core::inventory::{SegregationRules, Services};
use crate::core::key_age::{Compliance, Policy};
use crate::kms::inventory::InventoryScope;
use crate::kms::status::{Receipts, StatusReport};
use crate::kms::{self, KmsTarget};

/// Every EXTERNAL key's status; `receipts` name the ceremonies that produced their material.
pub fn run(target: &KmsTarget, policy: Policy, receipts: &[PathBuf]) -> Result<StatusReport> {
    let receipts = Receipts::load(receipts)?;
    let rt = kms::runtime()?;
    let report = rt.block_on(async {
        let client = kms::connect(target).await?;
        kms::status::status(&client, policy, &receipts, Timestamp::now()).await
    })?;
    Ok(report)
}

/// What `kms status` is asked beyond the policy.
#[derive(Debug, Clone, Default)]
pub struct StatusRequest {
    pub policy: Policy,
    pub grace_days: u32,
    pub receipts: Vec<PathBuf>,
    /// Ask CloudTrail LookupEvents for each key's last material change.
    pub cloudtrail: bool,
    /// List the resources each key protects (the inventory of the same region).
    pub resources: bool,
    /// The services whose resources are listed (with `resources`).
    pub services: Services,
}

/// Every EXTERNAL key's status as `req` asks.
pub fn run_with(target: &KmsTarget, req: &StatusRequest) -> Result<StatusReport> {
    run_with_trail(target, req, None)
}

/// [`run_with`], asking this CloudTrail client (when given) rather than one made for `target`.
pub fn run_with_trail(
    target: &KmsTarget,
    req: &StatusRequest,
    trail: Option<kms::cloudtrail::CloudTrailClient>,
) -> Result<StatusReport> {
    let receipts = Receipts::load(&req.receipts)?;
    let rt = kms::runtime()?;
    rt.block_on(async {
        let trail = if let Some(t) = trail {
            Some(t)
        } else if req.cloudtrail {
            let config = kms::sdk_config(target, false).await?;
            Some(kms::cloudtrail::CloudTrailClient::new(&config))
        } else {
            None
        };
        report(target, req, &receipts, trail.as_ref(), Timestamp::now()).await
    })
}

/// The report `kms status` makes, as of `now`: every EXTERNAL key of `target`'s region measured
/// against `req`'s policy, CloudTrail asked through `trail` when given, and the resources each
/// key protects when `req.resources`. The AWS Config rule (keyrite-monitor) calls this too, from
/// its own runtime.
pub async fn report(
    target: &KmsTarget,
    req: &StatusRequest,
    receipts: &Receipts,
    trail: Option<&kms::cloudtrail::CloudTrailClient>,
    now: Timestamp,
) -> Result<StatusReport> {
    let client = kms::connect(target).await?;
    let options = kms::status::StatusOptions {
        policy: req.policy,
        grace_days: req.grace_days,
        trail,
    };
    let mut report = kms::status::status_with(&client, &options, receipts, now).await?;
    if req.resources {
        let scope = InventoryScope {
            services: &req.services,
            rules: &SegregationRules::default(),
            purposes: &Default::default(),
        };
        let inventory =
            kms::inventory::inventory(target, std::slice::from_ref(&report.region), scope, now)
                .await?;
        report.resources_unreadable = inventory.unreadable;
        for k in &mut report.keys {
            k.resources = Some(
                inventory
                    .keys
                    .iter()
                    .find(|i| i.key.key_arn == k.key_arn)
                    .map(|i| i.resources.clone())
                    .unwrap_or_default(),
            );
        }
    }
    Ok(report)
}

/// The exit a scheduled job alerts on: Ok when no key is past due, [`Error::PastPolicy`] (exit
/// code 7) naming the keys that are, else [`Error::ReplicasBehind`] (exit code 7) naming each
/// multi-Region replica that does not hold its primary's material, else [`Error::KeysUnreadable`] (exit code 10) naming the
/// keys that could not be read, else [`Error::ResourcesUnreadable`] (exit code 10) naming the
/// resource reads that failed.
pub fn verdict(report: &StatusReport) -> Result<()> {
    let late: Vec<String> = report
        .keys
        .iter()
        .filter(|k| k.compliance == Compliance::NonCompliant)
        .map(|k| {
            let name = k.aliases.first().map_or(k.key_id.clone(), String::clone);
            match &k.resources {
                Some(r) if !r.is_empty() => format!(
                    "{name} (exposes {})",
                    r.iter()
                        .map(|u| u.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => name,
            }
        })
        .collect();
    if !late.is_empty() {
        return Err(Error::PastPolicy {
            keys: late.iter().map(|k| k.to_string()).collect(),
            max_age_days: report.policy.max_age_days,
        });
    }
    let behind: Vec<String> = report
        .keys
        .iter()
        .flat_map(|k| {
            let name = k.aliases.first().map_or(k.key_id.clone(), String::clone);
            k.replicas_behind().into_iter().map(move |why| {
                crate::core::terminal::one_line(&format!("{name} in {why}")).into_owned()
            })
        })
        .collect();
    if !behind.is_empty() {
        return Err(Error::ReplicasBehind { replicas: behind });
    }
    if !report.unreadable.is_empty() {
        return Err(Error::KeysUnreadable {
            keys: report
                .unreadable
                .iter()
                .map(|u| {
                    crate::core::terminal::one_line(&format!(
                        "{} ({} {})",
                        u.key_id, u.operation, u.code
                    ))
                    .into_owned()
                })
                .collect(),
        });
    }
    if !report.resources_unreadable.is_empty() {
        let (reads, what_to_do) = Error::unread_parts(&report.resources_unreadable, false);
        return Err(Error::ResourcesUnreadable { reads, what_to_do });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exit::ExitCode;
    use crate::core::inventory::{Service, Unreadable};
    use crate::core::key_age::{AgeSource, assess};
    use crate::kms::status::{KeyStatus, RotationsLookup};

    fn report(age_days: i64, resources_unreadable: bool) -> StatusReport {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let since = Timestamp::from_second(1_800_000_000 - age_days * 86_400).unwrap();
        let age = assess(Policy::default(), since, AgeSource::Receipt, now);
        let unread = Unreadable::new(
            &Services::default(),
            Service::Rds,
            "us-east-1",
            "rds:DescribeDBInstances",
            None,
            "AccessDenied",
            "not authorized",
        );
        StatusReport {
            region: "us-east-1".into(),
            checked_at: now,
            policy: Policy::default(),
            grace_days: 0,
            keys: vec![KeyStatus {
                key_id: "k1".into(),
                key_arn: "arn:aws:kms:us-east-1:000000000000:key/k1".into(),
                aliases: vec!["alias/prod-s3".into()],
                state: "Enabled".into(),
                key_material_id: Some("m1".into()),
                compliance: age.compliance,
                material: Some(age),
                ceremony: None,
                rotations: RotationsLookup::Listed,
                cloudtrail: None,
                superseded: Vec::new(),
                resources: Some(Vec::new()),
                replicas: Vec::new(),
            }],
            unreadable: Vec::new(),
            resources_unreadable: if resources_unreadable {
                vec![unread]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn resources_not_read_make_the_report_partial_unless_a_key_is_past_due() {
        let exit = |r: &StatusReport| verdict(r).err().map(|e| e.exit_code());
        assert_eq!(exit(&report(10, false)), None);
        let partial = verdict(&report(10, true)).unwrap_err();
        assert_eq!(partial.exit_code(), ExitCode::StatusPartial);
        let text = partial.to_string();
        for part in [
            "rds in us-east-1: rds:DescribeDBInstances failed: AccessDenied",
            "what to do: allow rds:DescribeDBInstances",
            "--services s3,dynamodb",
        ] {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
        assert_eq!(exit(&report(400, true)), Some(ExitCode::NonCompliant));
    }

    #[test]
    fn a_replica_left_behind_is_non_compliant_and_named_after_any_key_past_due() {
        let with_replica = |days: i64, material: Option<&str>| {
            let mut r = report(days, false);
            let facts = crate::core::replicas::ReplicaFacts {
                region: "eu-west-1",
                state: "Enabled",
                key_material_id: material,
            };
            r.keys[0].replicas.push(crate::kms::status::ReplicaStatus {
                region: "eu-west-1".into(),
                key_arn: "arn:aws:kms:eu-west-1:000000000000:key/k1".into(),
                state: "Enabled".into(),
                key_material_id: material.map(str::to_string),
                behind: crate::core::replicas::behind(Some("m1"), &facts),
            });
            r
        };
        assert!(verdict(&with_replica(10, Some("m1"))).is_ok());
        let err = verdict(&with_replica(10, Some("m0"))).unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::NonCompliant);
        let text = err.to_string();
        assert!(
            text.starts_with("1 multi-Region replica left behind by a rotation: alias/prod-s3 in eu-west-1: its current material is m0, the primary's is m1"),
            "{text}"
        );
        assert!(
            text.contains("what to do: import the primary's current material"),
            "{text}"
        );
        // A key past due is named first, as before.
        let err = verdict(&with_replica(400, Some("m0"))).unwrap_err();
        assert!(err.to_string().contains("past the 365-day policy"), "{err}");
    }
}
