//! `keyrite kms inventory` against real local services: KMS and S3 on LocalStack, RDS and
//! DynamoDB on moto. Nine EXTERNAL keys alias/<prefix>/{dev,int,prod}-{s3,rds,dynamodb}, dev and
//! int in us-east-1 and prod in eu-west-1, each protecting a resource of its service; one bucket
//! names its key by ARN and one dev bucket sits under the prod S3 key. Both are reported.

use crate::common;

use common::own_token;

use std::collections::BTreeMap;

use common::nine::nine_keys_with_resources;
use common::services::*;

#[test]
fn nine_keys_across_two_regions_with_their_resources_and_the_two_findings() {
    own_token!();
    let nine = nine_keys_with_resources();
    let out = keyrite_all_services()
        .args([
            "kms",
            "inventory",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--json",
        ])
        .assert()
        .success();
    let o = out.get_output();
    let table = String::from_utf8_lossy(&o.stderr).to_string();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("inventory --json");
    assert_eq!(v["regions"], serde_json::json!(["eu-west-1", "us-east-1"]));
    let keys = v["keys"].as_array().unwrap();
    let ours: BTreeMap<String, &serde_json::Value> = keys
        .iter()
        .filter_map(|k| {
            let a = k["aliases"][0].as_str()?;
            let short = a.strip_prefix(&format!("alias/{}/", nine.prefix))?;
            Some((short.to_string(), k))
        })
        .collect();
    assert_eq!(ours.len(), 9, "{table}");
    for (short, (_, arn, region)) in &nine.keys {
        let k = ours[short];
        assert_eq!(k["key_arn"], *arn);
        assert_eq!(k["region"], *region);
        let (env, svc) = short.split_once('-').unwrap();
        assert_eq!(k["purpose"]["environment"], env);
        assert_eq!(k["purpose"]["service"], svc);
        let resources = k["resources"].as_array().unwrap();
        let want = if short == "prod-s3" { 2 } else { 1 };
        assert_eq!(resources.len(), want, "{short}: {table}");
        for r in resources {
            assert_eq!(r["region"], *region);
        }
    }
    let dev_bucket = &ours["dev-s3"]["resources"][0];
    assert_eq!(dev_bucket["name"], format!("{}-dev-data", nine.prefix));
    assert_eq!(dev_bucket["named_by"], "key-arn");
    assert_eq!(dev_bucket["escapes_alias_review"], true);
    assert_eq!(ours["int-s3"]["resources"][0]["named_by"], "alias");
    assert_eq!(ours["int-rds"]["resources"][0]["kind"], "rds-cluster");
    assert_eq!(ours["prod-rds"]["resources"][0]["kind"], "rds-instance");
    assert_eq!(
        ours["dev-dynamodb"]["resources"][0]["kind"],
        "dynamodb-table"
    );
    // Only the dev bucket under prod-s3 breaks segregation; only dev-data escapes alias review.
    let flagged: Vec<(String, String)> = ours
        .values()
        .flat_map(|k| k["resources"].as_array().unwrap())
        .filter(|r| !r["segregation"].as_array().unwrap().is_empty())
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["segregation"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        flagged,
        [(
            format!("{}-logs", nine.prefix),
            "a dev resource protected by a prod key".to_string()
        )]
    );
    let by_arn: Vec<&str> = ours
        .values()
        .flat_map(|k| k["resources"].as_array().unwrap())
        .filter(|r| r["escapes_alias_review"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(by_arn, [format!("{}-dev-data", nine.prefix)]);
    // People see both in the table.
    assert!(table.contains("NAMED BY KEY ARN"), "{table}");
    assert!(
        table.contains("SEGREGATION: a dev resource protected by a prod key"),
        "{table}"
    );
    assert!(v["calls"]["total"].as_u64().unwrap() > 0);
}

#[test]
fn a_plan_gives_purposes_and_segregation_rules() {
    own_token!();
    let nine = nine_keys_with_resources();
    let dir = tempfile::tempdir().unwrap();
    // The plan calls prod "production" and reads the environment from a tag named "stage" only,
    // so the dev-tagged bucket under prod-s3 is no longer recognised as dev by tag; its name has
    // no environment word either.
    let mut plan = String::from(
        "[plan]\nname = \"inventory\"\n\n[segregation]\nenvironments = [\"dev\", \"int\", \"production\"]\nenvironment_tags = [\"stage\"]\n",
    );
    for (short, (alias, arn, region)) in &nine.keys {
        let (env, svc) = short.split_once('-').unwrap();
        let env = if env == "prod" { "production" } else { env };
        let account = arn.split(':').nth(4).unwrap();
        plan.push_str(&format!(
            "\n[[key]]\nenvironment = \"{env}\"\nservice = \"{svc}\"\nalias = \"{alias}\"\naccount = \"{account}\"\nregion = \"{region}\"\n"
        ));
    }
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    let out = keyrite_all_services()
        .args(["kms", "inventory", "--json", "--plan"])
        .arg(&path)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    // The plan's two regions, without --region.
    assert_eq!(v["regions"], serde_json::json!(["eu-west-1", "us-east-1"]));
    let prod_s3 = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["aliases"][0] == nine.keys["prod-s3"].0)
        .unwrap();
    assert_eq!(prod_s3["purpose"]["environment"], "production");
    let resources = prod_s3["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    // "<prefix>-prod-data": "prod" is not an environment of this plan; no tag "stage": unknown.
    assert!(
        resources
            .iter()
            .all(|r| r["segregation"].as_array().unwrap().is_empty())
    );
}

#[test]
fn kms_status_with_resources_lists_what_each_key_protects() {
    own_token!();
    let nine = nine_keys_with_resources();
    let out = keyrite_all_services()
        .args([
            "kms",
            "status",
            "--resources",
            "--grace-days",
            "7",
            "--region",
            "us-east-1",
            "--json",
        ])
        .assert()
        .success();
    let o = out.get_output();
    let table = String::from_utf8_lossy(&o.stderr).to_string();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["grace_days"], 7);
    let (dev_s3, _, _) = &nine.keys["dev-s3"];
    let k = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["aliases"][0] == *dev_s3)
        .unwrap();
    // Pending import: nothing to age, nothing exposed; the bucket is listed.
    assert_eq!(k["compliance"], "NO_MATERIAL");
    assert_eq!(
        k["resources"][0]["name"],
        format!("{}-dev-data", nine.prefix)
    );
    assert!(
        table.contains(&format!(
            "protects       s3 bucket {}-dev-data us-east-1",
            nine.prefix
        )),
        "{table}"
    );
    // A key of the other region is not in this region's report.
    let (prod_s3, _, _) = &nine.keys["prod-s3"];
    assert!(
        !v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["aliases"][0] == *prod_s3)
    );
}

/// The JSON documents a `--json` run printed on stdout: the report, then (when it failed) the
/// error.
fn json_documents(stdout: &[u8]) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<serde_json::Value>()
        .map(|d| d.expect("JSON on stdout"))
        .collect()
}

/// RDS cannot be read: its endpoint is LocalStack, which does not emulate RDS and answers every
/// RDS call with an error, as AWS does for a role without rds:DescribeDBInstances. S3 (LocalStack)
/// and DynamoDB (moto) still answer. The inventory lists what it could read, names each RDS call
/// that failed with its region, exits 10 (partial), and `--services s3,dynamodb` leaves RDS out.
#[test]
fn an_unreadable_service_is_named_per_region_and_the_others_still_listed() {
    own_token!();
    let nine = nine_keys_with_resources();
    let regions = ["--region", "us-east-1", "--region", "eu-west-1"];
    let out = keyrite_all_services()
        .env("AWS_ENDPOINT_URL_RDS", common::kms_endpoint())
        .args(["kms", "inventory", "--json"])
        .args(regions)
        .assert()
        .code(10);
    let o = out.get_output();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let docs = json_documents(&o.stdout);
    assert_eq!(docs.len(), 2, "the report, then the error: {stderr}");
    let (v, err) = (&docs[0], &docs[1]);
    assert_eq!(err["error"]["exit_code"], 10);
    let ours = |v: &serde_json::Value| -> BTreeMap<String, usize> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| {
                let a = k["aliases"][0].as_str()?;
                let short = a.strip_prefix(&format!("alias/{}/", nine.prefix))?;
                Some((short.to_string(), k["resources"].as_array().unwrap().len()))
            })
            .collect()
    };
    // S3 and DynamoDB resources are listed; the RDS keys' are unknown.
    let listed = ours(v);
    assert_eq!(listed.len(), 9, "{stderr}");
    for (short, n) in &listed {
        let want = match short.as_str() {
            "prod-s3" => 2,
            s if s.ends_with("-rds") => 0,
            _ => 1,
        };
        assert_eq!(*n, want, "{short}: {stderr}");
    }
    // Each RDS call is named with its region; nothing else is unreadable.
    let unread = v["unreadable"].as_array().unwrap();
    for region in ["eu-west-1", "us-east-1"] {
        for op in ["rds:DescribeDBInstances", "rds:DescribeDBClusters"] {
            let u = unread
                .iter()
                .find(|u| u["region"] == region && u["operation"] == op)
                .unwrap_or_else(|| panic!("{op} in {region} not reported: {unread:?}"));
            assert_eq!(u["service"], "rds");
            assert!(!u["code"].as_str().unwrap().is_empty());
            let todo = u["what_to_do"].as_str().unwrap();
            assert!(todo.contains(&format!("allow {op}")), "{todo}");
            assert!(todo.contains("--services s3,dynamodb"), "{todo}");
        }
    }
    assert!(unread.iter().all(|u| u["service"] == "rds"), "{unread:?}");
    // People see it too, and it is not blamed on KMS.
    assert!(
        stderr.contains("UNREADABLE rds in us-east-1: rds:DescribeDBInstances failed"),
        "{stderr}"
    );
    assert!(stderr.contains("what to do:"), "{stderr}");
    assert!(!stderr.contains("KMS"), "{stderr}");

    // Without RDS: a complete report of what was asked, exit 0, no RDS call made.
    let out = keyrite_all_services()
        .env("AWS_ENDPOINT_URL_RDS", common::kms_endpoint())
        .args(["kms", "inventory", "--json", "--services", "s3,dynamodb"])
        .args(regions)
        .assert()
        .success();
    let o = out.get_output();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let docs = json_documents(&o.stdout);
    assert_eq!(docs.len(), 1, "{stderr}");
    let v = &docs[0];
    assert_eq!(v["services"], serde_json::json!(["s3", "dynamodb"]));
    assert_eq!(v["unreadable"], serde_json::json!([]));
    assert_eq!(ours(v), listed);
    let calls = v["calls"]["by_operation"].as_object().unwrap();
    assert!(calls.keys().all(|op| !op.starts_with("rds:")), "{calls:?}");
    assert!(!stderr.contains("UNREADABLE"), "{stderr}");
    assert!(!stderr.contains("rds:"), "{stderr}");
}

#[test]
fn an_unknown_service_is_a_usage_error_naming_the_valid_ones() {
    own_token!();
    for args in [
        &["kms", "inventory", "--services", "s3,ec2"][..],
        &["kms", "status", "--resources", "--services", "ec2"][..],
    ] {
        let out = common::keyrite().args(args).assert().code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains("\"ec2\""), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the services are s3, rds and dynamodb"),
            "{args:?}: {stderr}"
        );
    }
}
