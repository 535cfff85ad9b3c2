//! `kms status --resources` before and after a ceremony rotates three of nine keys: the overdue
//! keys' resources are listed, then cleared. KMS and S3 are LocalStack, RDS and DynamoDB moto;
//! the rotation is a real prepare, ceremony (SoftHSM2) and import.
//!
//! STUB OF AWS BEHAVIOUR: CloudTrail LookupEvents (no local emulator implements it) is an
//! aws-smithy-mocks client answering as CloudTrail does: for three keys the last successful
//! ImportKeyMaterial was 400 days ago, for the other six 10 days ago. Like CloudTrail, it has not
//! yet delivered the events of an import made seconds ago (delivery takes minutes).

use crate::common;

use std::collections::BTreeMap;

use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{Event, LookupAttributeKey};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use jiff::Timestamp;

use common::flow::full_rotation;
use common::nine::nine_keys_with_resources;
use common::*;
use keyrite::app::status::{StatusRequest, run_with_trail, verdict};
use keyrite::core::key_age::{AgeSource, Compliance, Policy};
use keyrite::kms::status::StatusReport;

/// CloudTrail as a stub: the last successful material event of each key ARN, `days` ago, plus a
/// failed one since (which must not count).
fn trail(last_import_days_ago: BTreeMap<String, i64>) -> aws_sdk_cloudtrail::Client {
    let now = Timestamp::now().as_second();
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(move |req| {
        let attr = &req.lookup_attributes()[0];
        assert_eq!(attr.attribute_key(), &LookupAttributeKey::ResourceName);
        let arn = attr.attribute_value();
        let mut out = LookupEventsOutput::builder();
        if let Some(days) = last_import_days_ago.get(arn) {
            // Newest first, as CloudTrail returns them.
            out = out
                .events(
                    Event::builder()
                        .event_name("ImportKeyMaterial")
                        .event_time(DateTime::from_secs(now - 86_400))
                        .cloud_trail_event(r#"{"errorCode":"ExpiredImportTokenException"}"#)
                        .build(),
                )
                .events(
                    Event::builder()
                        .event_name("ImportKeyMaterial")
                        .event_time(DateTime::from_secs(now - days * 86_400))
                        .cloud_trail_event(r#"{"eventName":"ImportKeyMaterial"}"#)
                        .build(),
                );
        }
        out.build()
    });
    mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&rule])
}

fn status(
    trail: aws_sdk_cloudtrail::Client,
    receipts: Vec<std::path::PathBuf>,
    grace_days: u32,
) -> StatusReport {
    let target = keyrite::kms::KmsTarget {
        region: Some("us-east-1".into()),
        ..kms_target()
    };
    // The resources' services: S3 on LocalStack (AWS_ENDPOINT_URL), RDS and DynamoDB on moto.
    // SAFETY: set before any client of this test reads them; the values do not change.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", kms_endpoint());
        std::env::set_var("AWS_ENDPOINT_URL_RDS", common::services::aws_endpoint());
        std::env::set_var(
            "AWS_ENDPOINT_URL_DYNAMODB",
            common::services::aws_endpoint(),
        );
    }
    run_with_trail(
        &target,
        &StatusRequest {
            policy: Policy::default(),
            grace_days,
            receipts,
            cloudtrail: true,
            resources: true,
            services: Default::default(),
        },
        Some(trail),
    )
    .expect("status")
}

#[test]
fn overdue_keys_list_their_resources_until_a_ceremony_rotates_them() {
    own_token!();
    let nine = nine_keys_with_resources();
    let dir = tempfile::tempdir().unwrap();
    // dev and int (us-east-1) get their first material; status reads that region.
    let us: Vec<&str> = nine
        .keys
        .iter()
        .filter(|(_, (_, _, r))| *r == "us-east-1")
        .map(|(_, (alias, _, _))| alias.as_str())
        .collect();
    assert_eq!(us.len(), 6);
    full_rotation(dir.path(), &us);
    let overdue = ["dev-s3", "dev-rds", "int-dynamodb"];
    let days: BTreeMap<String, i64> = nine
        .keys
        .iter()
        .filter(|(_, (_, _, r))| *r == "us-east-1")
        .map(|(short, (_, arn, _))| {
            (
                arn.clone(),
                if overdue.contains(&short.as_str()) {
                    400
                } else {
                    10
                },
            )
        })
        .collect();
    let ours = |r: &StatusReport| -> BTreeMap<String, keyrite::kms::status::KeyStatus> {
        r.keys
            .iter()
            .filter_map(|k| {
                let short = k
                    .aliases
                    .first()?
                    .strip_prefix(&format!("alias/{}/", nine.prefix))?;
                Some((short.to_string(), k.clone()))
            })
            .collect()
    };

    // Before: three keys past the policy by CloudTrail, each listing what it exposes. (No
    // receipt: the first material stands for material imported long ago, as CloudTrail says.)
    let before = status(trail(days.clone()), vec![], 0);
    let keys = ours(&before);
    assert_eq!(keys.len(), 6);
    for (short, k) in &keys {
        let m = k.material.as_ref().unwrap();
        assert_eq!(m.source, AgeSource::Cloudtrail, "{short}");
        let resources = k.resources.as_ref().unwrap();
        assert_eq!(resources.len(), 1, "{short}");
        if overdue.contains(&short.as_str()) {
            assert_eq!(k.compliance, Compliance::NonCompliant, "{short}");
            assert_eq!(m.age_days, 400);
        } else {
            assert_eq!(k.compliance, Compliance::Compliant, "{short}");
        }
    }
    let err = verdict(&before).unwrap_err();
    assert_eq!(err.exit_code(), keyrite::app::error::ExitCode::NonCompliant);
    let msg = err.to_string();
    for short in overdue {
        let (alias, _, _) = &nine.keys[short];
        let resource = &keys[short].resources.as_ref().unwrap()[0].name;
        assert!(
            msg.contains(&format!("{alias} (exposes {resource})")),
            "{msg}"
        );
    }
    // These keys were created minutes ago: a 7-day grace period holds them.
    let graced = status(trail(days.clone()), vec![], 7);
    for short in overdue {
        let k = &ours(&graced)[short];
        assert_eq!(k.compliance, Compliance::Compliant);
        assert!(k.material.as_ref().unwrap().grace_until.is_some());
    }

    // The ceremony rotates the three.
    let three: Vec<&str> = overdue.iter().map(|s| nine.keys[*s].0.as_str()).collect();
    let (second, _) = full_rotation(dir.path(), &three);

    // After: CloudTrail has not delivered the new events yet; the receipt names the current
    // material, imported now. Nothing is exposed.
    let after = status(trail(days), vec![second.bundle.clone()], 0);
    let keys = ours(&after);
    for (short, k) in &keys {
        assert_eq!(k.compliance, Compliance::Compliant, "{short}");
        if overdue.contains(&short.as_str()) {
            let m = k.material.as_ref().unwrap();
            assert_eq!(m.source, AgeSource::Receipt, "{short}");
            assert_eq!(m.age_days, 0);
            assert_eq!(k.ceremony.as_ref().unwrap().bundle, second.bundle);
        }
    }
    if let Err(e) = verdict(&after) {
        let msg = e.to_string();
        assert!(!msg.contains(&nine.prefix), "{msg}");
    }
}

/// `kms status --resources` when RDS cannot be read (its endpoint is LocalStack, which does not
/// emulate RDS: the same answer as for a role without rds:DescribeDBInstances). The buckets and
/// tables are listed; RDS is reported unknown for the region, not silently empty; exit 10. With
/// `--services s3,dynamodb` the report is complete for what was asked: exit 0.
#[test]
fn status_reports_resources_it_could_not_read_as_unknown_and_exits_partial() {
    own_token!();
    let nine = nine_keys_with_resources();
    let run = |services: Option<&str>| {
        let mut cmd = common::services::keyrite_all_services();
        cmd.env("AWS_ENDPOINT_URL_RDS", kms_endpoint()).args([
            "kms",
            "status",
            "--resources",
            "--region",
            "us-east-1",
            "--json",
        ]);
        if let Some(s) = services {
            cmd.args(["--services", s]);
        }
        cmd.output().unwrap()
    };
    let o = run(None);
    let table = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(10), "{table}");
    let v: serde_json::Value = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let key = |short: &str| {
        let alias = &nine.keys[short].0;
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["aliases"][0] == *alias)
            .unwrap()
            .clone()
    };
    assert_eq!(
        key("dev-s3")["resources"][0]["name"],
        format!("{}-dev-data", nine.prefix)
    );
    assert_eq!(
        key("dev-dynamodb")["resources"].as_array().unwrap().len(),
        1
    );
    let unread = v["resources_unreadable"].as_array().unwrap();
    assert!(!unread.is_empty());
    for u in unread {
        assert_eq!(u["service"], "rds", "{u}");
        assert_eq!(u["region"], "us-east-1", "{u}");
    }
    assert!(
        unread
            .iter()
            .any(|u| u["operation"] == "rds:DescribeDBInstances")
    );
    assert!(
        table.contains(
            "UNKNOWN        rds resources in us-east-1: not read (rds:DescribeDBClusters "
        ),
        "{table}"
    );
    assert!(
        table.contains(" of resources failed") && table.contains("--services s3,dynamodb"),
        "{table}"
    );

    let o = run(Some("s3,dynamodb"));
    let table = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{table}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("resources_unreadable").is_none(), "{v}");
    assert!(!table.contains("UNKNOWN"), "{table}");
}
