//! Rotation by a new key, end to end against the local KMS with a ceremony on the test token:
//! `kms prepare --new-key` creates a new EXTERNAL key like the alias's current one, the ceremony
//! (its script pinning the current key's ARN) wraps for it, `kms import` imports and only then
//! moves the alias; older ciphertext still decrypts under the previous key, a new Encrypt through
//! the alias uses the new key, verify-rotation passes (the bucket that names the alias follows it
//! to the new key, the table that resolved the previous key's ARN stays under it), status and inventory list both keys, and
//! `kms rollback` moves the alias back. The receipt, with its alias moves, verifies.

use crate::common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, OriginType, Tag};
use common::flow::{ceremony_cmd_with_answers, external_key, full_rotation};
use common::*;

/// The key the alias names now.
fn alias_target(client: &keyrite::kms::Client, alias: &str) -> String {
    rt().block_on(client.describe_key().key_id(alias).send())
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

fn encrypt(client: &keyrite::kms::Client, through: &str, data: &[u8]) -> (Vec<u8>, String) {
    let out = rt()
        .block_on(
            client
                .encrypt()
                .key_id(through)
                .plaintext(Blob::new(data.to_vec()))
                .send(),
        )
        .unwrap();
    (
        out.ciphertext_blob.unwrap().into_inner(),
        out.key_id.unwrap(),
    )
}

fn receipt_steps(bundle: &std::path::Path, step: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("import-receipt.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["body"].clone())
        .filter(|b| b["step"] == step)
        .collect()
}

#[test]
fn a_new_key_takes_over_the_alias_after_import_and_rollback_moves_it_back() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let client = rt().block_on(client());

    // The alias's current key, with a description, tags and material of an earlier ceremony.
    let old = rt()
        .block_on(
            client
                .create_key()
                .origin(OriginType::External)
                .description("orders data key")
                .tags(
                    Tag::builder()
                        .tag_key("environment")
                        .tag_value("prod")
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .unwrap()
        .key_metadata
        .unwrap();
    let old_arn = old.arn().unwrap().to_string();
    let alias = format!("alias/{}", unique("newkey"));
    rt().block_on(
        client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(old.key_id())
            .send(),
    )
    .unwrap();
    full_rotation(dir.path(), &[alias.as_str()]);
    let (old_ciphertext, under) = encrypt(&client, &alias, b"written before the new key");
    assert_eq!(under, old_arn);
    let old_file = dir.path().join("old.bin");
    std::fs::write(&old_file, &old_ciphertext).unwrap();
    // A bucket that names the alias, a table whose service resolved the key's ARN, and the
    // inventory before the rotation.
    let bucket = unique("orders");
    let table = unique("carts");
    rt().block_on(async {
        common::services::bucket("us-east-1", &bucket, &alias, &[]).await;
        common::services::table("us-east-1", &table, &old_arn).await;
    });
    let before = common::services::inventory_file(dir.path());

    // Prepare: a new key like the old one; the manifest says which alias it takes over.
    let bundle = dir.path().join(unique("bundle"));
    let out = keyrite()
        .args(["kms", "prepare", "--new-key", "--json", "--key", &alias])
        .args(["--algorithm", default_algorithm(), "--out"])
        .arg(&bundle)
        .assert()
        .success();
    let prepared: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let entry = &prepared["manifest"]["keys"][0];
    let new_arn = entry["key_arn"].as_str().unwrap().to_string();
    assert_ne!(new_arn, old_arn);
    assert_eq!(entry["requested"], alias.as_str());
    assert_eq!(entry["key_state"], "PendingImport");
    assert_eq!(entry["takes_over"]["alias"], alias.as_str());
    assert_eq!(entry["takes_over"]["previous_key_arn"], old_arn.as_str());
    let new = rt()
        .block_on(client.describe_key().key_id(&new_arn).send())
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(new.origin(), Some(&OriginType::External));
    assert_eq!(new.description(), Some("orders data key"));
    let policy = |arn: &str| {
        rt().block_on(
            client
                .get_key_policy()
                .key_id(arn)
                .policy_name("default")
                .send(),
        )
        .unwrap()
        .policy
        .unwrap()
    };
    assert_eq!(policy(&new_arn), policy(&old_arn));
    let tags: Vec<(String, String)> = rt()
        .block_on(client.list_resource_tags().key_id(&new_arn).send())
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect();
    assert!(
        tags.contains(&("environment".into(), "prod".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("keyrite:replaces".into(), old_arn.clone())),
        "{tags:?}"
    );
    // Nothing moves before the import.
    assert_eq!(alias_target(&client, &alias), old_arn);

    // The ceremony's script pins the key the alias names today; the new key is in its account
    // and region, so the bundle is accepted.
    let script = dir.path().join("pinned.toml");
    std::fs::write(
        &script,
        format!(
            "[ceremony]\nname = \"new key\"\n[wrapping]\nalgorithm = \"{}\"\nkey_spec = \"RSA_4096\"\n[[key]]\nkey = \"{alias}\"\narn = \"{old_arn}\"\n{}",
            default_algorithm(),
            common::UNSIGNED
        ),
    )
    .unwrap();
    let p = common::flow::Prepared {
        bundle: bundle.clone(),
        fingerprint: prepared["fingerprint"].as_str().unwrap().to_string(),
    };
    let answers = write_answers(dir.path(), &p.fingerprint);
    ceremony_cmd_with_answers(&script, &p, &answers)
        .assert()
        .success();

    // Import: into the new key, checked, then the alias moves.
    let out = keyrite()
        .args(["kms", "import", "--json", "--bundle"])
        .arg(&bundle)
        .assert()
        .success();
    let fallback = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        fallback.contains(&format!(
            "aws kms update-alias --region us-east-1 --alias-name {alias} --target-key-id {new_arn}"
        )),
        "{fallback}"
    );
    let imported: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(imported[0]["kind"], "first import");
    assert_eq!(imported[0]["alias_moved"]["from_key_arn"], old_arn.as_str());
    assert_eq!(imported[0]["alias_moved"]["to_key_arn"], new_arn.as_str());
    assert_eq!(alias_target(&client, &alias), new_arn);
    // Older data still decrypts, under the previous key, which stays enabled.
    let decrypted = rt()
        .block_on(
            client
                .decrypt()
                .ciphertext_blob(Blob::new(old_ciphertext.clone()))
                .send(),
        )
        .unwrap();
    assert_eq!(decrypted.key_id(), Some(old_arn.as_str()));
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"written before the new key"
    );
    let old_state = rt()
        .block_on(client.describe_key().key_id(&old_arn).send())
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(old_state.key_state(), Some(&KeyState::Enabled));
    // New data through the alias goes under the new key.
    let (_, under) = encrypt(&client, &alias, b"written after");
    assert_eq!(under, new_arn);
    let moved = receipt_steps(&bundle, "alias.moved");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["data"]["from_key_arn"], old_arn.as_str());
    assert_eq!(moved[0]["data"]["to_key_arn"], new_arn.as_str());
    let name = entry["name"].as_str().unwrap();
    assert!(bundle.join(name).join("pre-rotation.ciphertext").is_file());

    // verify-rotation: the new key's material, the alias, the previous key, the ciphertext the
    // import saved (under the previous key) and the one given, and the resources the earlier
    // inventory mapped to the previous key.
    let out = common::services::keyrite_all_services()
        .args(["kms", "verify-rotation", "--json", "--bundle"])
        .arg(&bundle)
        .arg("--ciphertext")
        .arg(&old_file)
        .arg("--inventory")
        .arg(&before)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], true, "{v}");
    let checks = v["keys"][0]["checks"].to_string();
    assert!(
        checks.contains(&format!(
            "the ciphertext made before the rotation still decrypts under {old_arn}"
        )),
        "{checks}"
    );
    assert!(
        checks.contains("is Enabled and decrypts older data"),
        "{checks}"
    );
    assert!(
        checks.contains(&format!(
            "ok: s3-bucket {bucket} (us-east-1) resolves to {new_arn}"
        )),
        "{checks}"
    );
    assert!(
        checks.contains(&format!(
            "note: dynamodb-table {table} (us-east-1) names the previous key {old_arn}"
        )),
        "{checks}"
    );
    assert_eq!(v["old_ciphertexts"][0]["result"]["Ok"], old_arn.as_str());

    // STUB OF AWS BEHAVIOUR: CloudTrail LookupEvents (no local emulator implements it) as an
    // aws-smithy-mocks client, answering a failed Decrypt on the previous key since the import
    // and nothing on the new one. KMS, the keys and the import are real.
    {
        use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
        use aws_sdk_cloudtrail::types::Event;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let failing = old_arn.clone();
        let rule =
            mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(move |req| {
                assert!(req.start_time().is_some(), "only events since the import");
                let mut out = LookupEventsOutput::builder();
                if req.lookup_attributes()[0].attribute_value() == failing {
                    out = out.events(
                        Event::builder()
                            .event_name("Decrypt")
                            .cloud_trail_event(
                                r#"{"eventName":"Decrypt","errorCode":"AccessDeniedException"}"#,
                            )
                            .build(),
                    );
                }
                out.build()
            });
        let trail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&rule]);
        let verified = keyrite::io::bundle::Bundle::verify(&bundle).unwrap();
        let v = keyrite::app::verify_rotation::run_with_trail(
            &verified,
            Some(hsm().log_public_key().as_path()),
            &kms_target(),
            &[],
            Some(trail),
        )
        .unwrap();
        assert!(!v.passed);
        let checks = v.keys[0].checks.join("\n");
        assert!(
            checks.contains("ok: CloudTrail shows no failed call on the key since the import"),
            "{checks}"
        );
        assert!(
            checks.contains(&format!(
                "FAILED: CloudTrail: the previous key {old_arn}: Decrypt failed with AccessDeniedException"
            )),
            "{checks}"
        );
    }

    // Status lists both keys, the old one as the alias's previous key.
    let out = keyrite()
        .args(["kms", "status", "--json", "--receipts"])
        .arg(&bundle)
        .assert()
        .success();
    let status: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let find = |arn: &str| {
        status["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_arn"] == arn)
            .unwrap_or_else(|| panic!("{arn} not in status"))
            .clone()
    };
    assert_eq!(find(&new_arn)["aliases"][0], alias.as_str());
    assert!(find(&new_arn).get("superseded").is_none());
    let previous = find(&old_arn);
    assert_eq!(previous["aliases"].as_array().unwrap().len(), 0);
    assert_eq!(previous["superseded"][0]["alias"], alias.as_str());
    assert_eq!(previous["superseded"][0]["by_key_arn"], new_arn.as_str());
    let out = keyrite()
        .args(["kms", "status", "--receipts"])
        .arg(&bundle)
        .assert()
        .success();
    let table = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        table.contains(&format!("previous key of {alias}: superseded by {new_arn}")),
        "{table}"
    );
    // The inventory lists both.
    let out = common::services::keyrite_all_services()
        .args(["kms", "inventory", "--json"])
        .assert()
        .success();
    let inventory = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(inventory.contains(&new_arn) && inventory.contains(&old_arn));

    // Rollback moves the alias back; new data goes under the previous key again.
    let out = keyrite()
        .args(["kms", "rollback", "--json", "--bundle"])
        .arg(&bundle)
        .assert()
        .success();
    let rolled: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(rolled[0]["result"], "alias_moved_back", "{rolled}");
    assert_eq!(alias_target(&client, &alias), old_arn);
    let (_, under) = encrypt(&client, &alias, b"after the rollback");
    assert_eq!(under, old_arn);
    // A second rollback finds nothing to move.
    let out = keyrite()
        .args(["kms", "rollback", "--json", "--bundle"])
        .arg(&bundle)
        .assert()
        .success();
    let again: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(again[0]["result"], "alias_on_previous_key", "{again}");
    let moved = receipt_steps(&bundle, "alias.moved");
    assert_eq!(moved.len(), 2);
    assert_eq!(moved[1]["data"]["from_key_arn"], new_arn.as_str());
    assert_eq!(moved[1]["data"]["to_key_arn"], old_arn.as_str());

    // The receipt, alias moves and all, continues the ceremony log's chain.
    keyrite()
        .args(["audit", "verify"])
        .arg(&bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .assert()
        .success();
}

/// A key named by ARN has no alias to take over: refused before any key is created.
#[test]
fn a_new_key_is_refused_for_a_key_named_by_arn() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, arn) = external_key("newkey-arn");
    let out = keyrite()
        .args(["kms", "prepare", "--new-key", "--key", &arn, "--out"])
        .arg(dir.path().join("b"))
        .assert()
        .code(5);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("this is not an alias"), "{stderr}");
    assert!(!dir.path().join("b").exists());
}
