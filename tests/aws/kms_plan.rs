//! `keyrite kms prepare --plan` against the local KMS: a 9-key plan (alias/{dev,int,prod}-{s3,
//! rds,dynamodb}, under a prefix unique to this run since the local KMS is shared by all tests)
//! prepared into one bundle and rotated end to end, and the keys a plan must refuse.

use crate::common;

use std::path::{Path, PathBuf};

use common::flow::*;
use common::*;

struct Planned {
    environment: &'static str,
    service: &'static str,
    alias: String,
    account: String,
    region: &'static str,
    key_id: Option<String>,
}

fn write_plan(dir: &Path, keys: &[Planned], extra: &str) -> PathBuf {
    let mut s = format!("[plan]\nname = \"test plan\"\n{extra}");
    for k in keys {
        s.push_str(&format!(
            "\n[[key]]\nenvironment = \"{}\"\nservice = \"{}\"\nalias = \"{}\"\naccount = \"{}\"\nregion = \"{}\"\n",
            k.environment, k.service, k.alias, k.account, k.region
        ));
        if let Some(id) = &k.key_id {
            s.push_str(&format!("key_id = \"{id}\"\n"));
        }
    }
    let p = dir.join(format!("{}.toml", unique("plan")));
    std::fs::write(&p, s).unwrap();
    p
}

fn prepare_plan_cmd(plan: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = keyrite();
    cmd.args([
        "kms",
        "prepare",
        "--json",
        "--algorithm",
        default_algorithm(),
        "--plan",
    ])
    .arg(plan)
    .arg("--out")
    .arg(out);
    cmd
}

/// Creates an EXTERNAL (or AWS_KMS) key and points `alias` at it; returns (key id, ARN).
async fn key_with_alias(
    client: &keyrite::kms::Client,
    external: bool,
    alias: &str,
) -> (String, String) {
    let mut req = client.create_key();
    if external {
        req = req.origin(aws_sdk_kms::types::OriginType::External);
    }
    let meta = req.send().await.unwrap().key_metadata.unwrap();
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .unwrap();
    (meta.key_id().to_string(), meta.arn().unwrap().to_string())
}

fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap().to_string()
}

#[test]
fn a_nine_key_plan_across_two_regions_is_prepared_into_one_bundle_and_rotated_end_to_end() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    // prod lives in another region than dev and int.
    let eu_client = rt
        .block_on(keyrite::kms::connect(&keyrite::kms::KmsTarget {
            region: Some("eu-west-1".into()),
            ..kms_target()
        }))
        .unwrap();
    let prefix = unique("plan9");
    let mut planned = Vec::new();
    let mut arns = Vec::new();
    for environment in ["dev", "int", "prod"] {
        for service in ["s3", "rds", "dynamodb"] {
            let alias = format!("alias/{prefix}/{environment}-{service}");
            let (region, c) = if environment == "prod" {
                ("eu-west-1", &eu_client)
            } else {
                ("us-east-1", &client)
            };
            let (key_id, arn) = rt.block_on(key_with_alias(c, true, &alias));
            planned.push(Planned {
                environment,
                service,
                alias,
                account: account_of(&arn),
                region,
                // Half the plan pins the key the alias must point to.
                key_id: (arns.len() % 2 == 0).then_some(key_id),
            });
            arns.push(arn);
        }
    }
    let plan = write_plan(dir.path(), &planned, "");
    let bundle = dir.path().join("bundle");

    let out = prepare_plan_cmd(&plan, &bundle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();

    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let keys = v["manifest"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 9);
    for ((k, p), arn) in keys.iter().zip(&planned).zip(&arns) {
        assert_eq!(k["key_arn"], arn.as_str());
        assert_eq!(k["alias"], p.alias.as_str());
        assert_eq!(k["region"], p.region);
        assert_eq!(arn.split(':').nth(3), Some(p.region));
        assert_eq!(k["key_state"], "PendingImport");
        for f in ["WrappingPublicKey.bin", "ImportToken.bin"] {
            assert!(bundle.join(k["name"].as_str().unwrap()).join(f).is_file());
        }
    }

    // The same bundle through the ceremony and the import: every key gets material.
    let aliases: Vec<&str> = planned.iter().map(|p| p.alias.as_str()).collect();
    let prepared = Prepared {
        bundle: bundle.clone(),
        fingerprint: v["fingerprint"].as_str().unwrap().to_string(),
    };
    // The script pins each key's ARN: prod's are in another region than dev's and int's.
    let mut script = format!(
        "[ceremony]\nname = \"nine keys, two regions\"\n\n[wrapping]\nalgorithm = \"{}\"\nkey_spec = \"RSA_4096\"\n",
        default_algorithm()
    );
    for (alias, arn) in aliases.iter().zip(&arns) {
        script.push_str(&format!("\n[[key]]\nkey = \"{alias}\"\narn = \"{arn}\"\n"));
    }
    script.push_str(UNSIGNED);
    let script_path = dir.path().join("script.toml");
    std::fs::write(&script_path, script).unwrap();
    let answers = write_answers(dir.path(), &prepared.fingerprint);
    ceremony_cmd_with_answers(&script_path, &prepared, &answers)
        .assert()
        .success();
    import_cmd(&bundle).assert().success();
    for (arn, p) in arns.iter().zip(&planned) {
        let c = if p.region == "eu-west-1" {
            &eu_client
        } else {
            &client
        };
        let meta = rt
            .block_on(c.describe_key().key_id(arn).send())
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.key_state.unwrap().as_str(), "Enabled", "{arn}");
        assert!(meta.current_key_material_id.is_some(), "{arn}");
    }
}

#[test]
fn a_plan_refuses_keys_that_are_not_external_misplaced_or_behind_a_moved_alias() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let prefix = unique("planbad");
    let good_alias = format!("alias/{prefix}/dev-s3");
    let (good_id, good_arn) = rt.block_on(key_with_alias(&client, true, &good_alias));
    // A second alias on the same key, for the planned key under test.
    let int_alias = format!("alias/{prefix}/int-s3");
    rt.block_on(
        client
            .create_alias()
            .alias_name(&int_alias)
            .target_key_id(&good_id)
            .send(),
    )
    .unwrap();
    let account = account_of(&good_arn);
    let good = || Planned {
        environment: "dev",
        service: "s3",
        alias: good_alias.clone(),
        account: account.clone(),
        region: "us-east-1",
        key_id: None,
    };
    let aws_alias = format!("alias/{prefix}/dev-rds");
    rt.block_on(key_with_alias(&client, false, &aws_alias));
    let (other_id, other_arn) = rt.block_on(key_with_alias(
        &client,
        true,
        &format!("alias/{prefix}/other"),
    ));

    let cases: Vec<(&str, Planned, &str)> = vec![
        (
            "not EXTERNAL",
            Planned {
                service: "rds",
                alias: aws_alias.clone(),
                ..good()
            },
            "not EXTERNAL",
        ),
        (
            "wrong account",
            Planned {
                account: "111122223333".into(),
                ..good()
            },
            "the plan says 111122223333",
        ),
        (
            "wrong region",
            Planned {
                region: "eu-west-1",
                ..good()
            },
            "region eu-west-1",
        ),
        (
            "alias points elsewhere (key id)",
            Planned {
                key_id: Some(other_id.clone()),
                ..good()
            },
            "the alias points at",
        ),
        (
            "alias points elsewhere (ARN)",
            Planned {
                key_id: Some(other_arn.clone()),
                ..good()
            },
            "the alias points at",
        ),
    ];
    for (what, bad, expect) in cases {
        // A good key first: one refused key must prepare nothing at all.
        let bad = Planned {
            environment: "int",
            alias: if bad.alias == good_alias {
                int_alias.clone()
            } else {
                bad.alias
            },
            ..bad
        };
        let plan = write_plan(dir.path(), &[good(), bad], "");
        let out = dir.path().join(unique("bundle"));
        let assert = prepare_plan_cmd(&plan, &out).assert().code(5);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expect), "{what}: {stderr}");
        assert!(stderr.contains("what to do:"), "{what}: {stderr}");
        assert!(!out.exists(), "{what}: a refused plan left {out:?}");
    }

    // Strict parsing: an unknown field is a usage error, before KMS is asked anything.
    let plan = write_plan(dir.path(), &[good()], "owner = \"x\"\n");
    let out = dir.path().join(unique("bundle"));
    let assert = prepare_plan_cmd(&plan, &out).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("unknown field"), "{stderr}");
    assert!(!out.exists());
}

/// `keyrite kms status --json` for the keys whose aliases start with `prefix`, keyed by alias.
fn status_of(
    prefix: &str,
    extra: &[&str],
    code: i32,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut cmd = keyrite();
    cmd.args(["kms", "status", "--json"]).args(extra);
    let out = cmd.assert().code(code).get_output().clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The local KMS has no ListKeyRotations (HTTP 501): the table says so.
    assert!(
        stderr.contains("ListKeyRotations is not implemented at this endpoint (HTTP 501"),
        "{stderr}"
    );
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| {
            let alias = k["aliases"].as_array()?.first()?.as_str()?.to_string();
            alias
                .starts_with(&format!("alias/{prefix}/"))
                .then(|| (alias, k.clone()))
        })
        .collect()
}

fn rotate(dir: &Path, plan: &Path, aliases: &[&str], name: &str) -> PathBuf {
    let bundle = dir.join(name);
    let out = prepare_plan_cmd(plan, &bundle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let prepared = Prepared {
        bundle: bundle.clone(),
        fingerprint: v["fingerprint"].as_str().unwrap().to_string(),
    };
    ceremony_cmd(dir, &prepared, aliases, default_algorithm())
        .assert()
        .success();
    import_cmd(&bundle)
        .args(["--concurrency", "4"])
        .assert()
        .success();
    // Four at a time, each key imported once: nine keys done, nine receipt records, none twice.
    let progress: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("import-progress.json")).unwrap())
            .unwrap();
    let stages: Vec<_> = progress["keys"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| k["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stages, vec!["done"; 9]);
    let receipt = std::fs::read_to_string(bundle.join("import-receipt.log")).unwrap();
    let imported: std::collections::BTreeSet<String> = receipt
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["body"]["step"] == "key.imported")
        .map(|v| v["body"]["data"]["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(imported.len(), 9);
    assert_eq!(receipt.lines().count(), 11, "start, nine keys, end");
    bundle
}

#[test]
fn status_of_a_nine_key_plan_before_import_after_it_and_after_a_rotation() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let prefix = unique("status9");
    let mut planned = Vec::new();
    for environment in ["dev", "int", "prod"] {
        for service in ["s3", "rds", "dynamodb"] {
            let alias = format!("alias/{prefix}/{environment}-{service}");
            let (_, arn) = rt.block_on(key_with_alias(&client, true, &alias));
            planned.push(Planned {
                environment,
                service,
                alias,
                account: account_of(&arn),
                region: "us-east-1",
                key_id: None,
            });
        }
    }
    let plan = write_plan(dir.path(), &planned, "");
    let aliases: Vec<&str> = planned.iter().map(|p| p.alias.as_str()).collect();

    // Before: nine keys pending import, no material, nothing past due.
    let before = status_of(&prefix, &[], 0);
    assert_eq!(before.len(), 9);
    for k in before.values() {
        assert_eq!(k["state"], "PendingImport");
        assert_eq!(k["compliance"], "NO_MATERIAL");
        assert!(k["material"].is_null());
    }

    // After the first import: every key has material; the receipt dates it and names the ceremony.
    let first = rotate(dir.path(), &plan, &aliases, "first");
    let first_arg = first.to_str().unwrap();
    let after = status_of(&prefix, &["--receipts", first_arg], 0);
    assert_eq!(after.len(), 9);
    for (alias, k) in &after {
        assert_eq!(k["state"], "Enabled", "{alias}");
        assert_eq!(k["compliance"], "COMPLIANT", "{alias}");
        assert_eq!(k["material"]["source"], "receipt", "{alias}");
        assert_eq!(k["material"]["estimate"], false);
        assert_eq!(k["material"]["age_days"], 0);
        assert_eq!(k["ceremony"]["bundle"], first_arg);
        assert_eq!(k["ceremony"]["kind"], "first import");
        assert!(k["key_material_id"].is_string());
        assert_eq!(
            k["rotations"]["unavailable"]["reason"]
                .as_str()
                .map(|r| r.contains("501")),
            Some(true)
        );
    }

    // After a rotation: new material for every key, produced by the second ceremony.
    let second = rotate(dir.path(), &plan, &aliases, "second");
    let second_arg = second.to_str().unwrap();
    let rotated = status_of(&prefix, &["--receipts", first_arg, second_arg], 0);
    for (alias, k) in &rotated {
        assert_ne!(
            k["key_material_id"], after[alias]["key_material_id"],
            "{alias}"
        );
        assert_eq!(k["ceremony"]["bundle"], second_arg, "{alias}");
        assert_eq!(k["ceremony"]["kind"], "rotation", "{alias}");
        assert_eq!(k["compliance"], "COMPLIANT");
    }

    // Without receipts the age is the key's creation date, marked as an estimate; a one-day policy
    // with a five-day warning makes every key DUE_SOON, which still exits 0.
    let estimated = status_of(&prefix, &["--policy-days", "1", "--due-soon-days", "5"], 0);
    for k in estimated.values() {
        assert_eq!(k["material"]["source"], "key-creation-estimate");
        assert_eq!(k["material"]["estimate"], true);
        assert_eq!(k["compliance"], "DUE_SOON");
        assert!(k["ceremony"].is_null());
    }
}
