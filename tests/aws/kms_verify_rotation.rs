//! `keyrite kms verify-rotation` after real rotations (prepare, ceremony on SoftHSM2, import into
//! the local KMS): it passes for the bundle whose material is current, with a ciphertext made
//! before the rotation (given, and the one the import saved) still decrypting, and fails with
//! exit 3 when the saved ciphertext was altered and for a bundle whose material is no longer
//! current. Each result is appended to the bundle's import receipt, whose chain still
//! verifies.

use crate::common;

use aws_sdk_kms::primitives::Blob;
use common::flow::full_rotation;
use common::*;

fn receipt_steps(bundle: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("import-receipt.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["body"].clone())
        .filter(|b| b["step"] == "key.rotation_verified")
        .collect()
}

#[test]
fn passes_after_a_real_rotation_and_fails_with_exit_3_when_the_material_is_not_the_bundles() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (a1, _) = rt.block_on(create_key(&client, true, "verify-a"));
    let (a2, _) = rt.block_on(create_key(&client, true, "verify-b"));
    let keys = [a1.as_str(), a2.as_str()];
    let (first, _) = full_rotation(dir.path(), &keys);

    // Data encrypted under the first material.
    let old = rt
        .block_on(
            client
                .encrypt()
                .key_id(&a1)
                .plaintext(Blob::new(b"before".to_vec()))
                .send(),
        )
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let old_file = dir.path().join("old.bin");
    std::fs::write(&old_file, old.as_ref()).unwrap();
    // A bucket under the first key's alias, and the inventory before the rotation.
    let bucket = unique("verify-bucket");
    rt.block_on(common::services::bucket("us-east-1", &bucket, &a1, &[]));
    let before = common::services::inventory_file(dir.path());

    let (second, _) = full_rotation(dir.path(), &keys);

    let out = common::services::keyrite_all_services()
        .args(["kms", "verify-rotation", "--json", "--bundle"])
        .arg(&second.bundle)
        .arg("--ciphertext")
        .arg(&old_file)
        .arg("--inventory")
        .arg(&before)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    for k in v["keys"].as_array().unwrap() {
        assert_eq!(k["key_material_id"], k["expected_key_material_id"]);
        // Material, state, Encrypt, Decrypt, the ciphertext the import saved before the
        // rotation, and the resources of the earlier inventory (the bucket, or a note of none).
        assert_eq!(k["checks"].as_array().unwrap().len(), 6, "{k}");
        assert!(
            k["checks"]
                .to_string()
                .contains("the ciphertext made before the rotation still decrypts under"),
            "{k}"
        );
    }
    // The import saved one per key that had material; the first import had none to save.
    let saved = |b: &std::path::Path| -> Vec<std::path::PathBuf> {
        tree(b)
            .into_iter()
            .filter(|f| f.ends_with("/pre-rotation.ciphertext"))
            .map(|f| b.join(f))
            .collect()
    };
    assert_eq!(saved(&second.bundle).len(), 2);
    assert!(saved(&first.bundle).is_empty());
    assert!(v["old_ciphertexts"][0]["result"]["Ok"].as_str().is_some());
    assert!(
        v["keys"][0]["checks"]
            .to_string()
            .contains(&format!("ok: s3-bucket {bucket} (us-east-1) resolves to")),
        "{v}"
    );
    let recorded = receipt_steps(&second.bundle);
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|r| r["data"]["result"] == "passed"));
    assert!(recorded.iter().any(|r| {
        r["data"]["checks"]
            .to_string()
            .contains("made before the rotation")
    }));

    // RDS unreadable (its endpoint LocalStack, which does not emulate RDS): a resource missing
    // from the fresh inventory could be one the rotation lost or one not read, so the recheck
    // stops, exit 6, naming the calls; nothing is recorded.
    let out = common::services::keyrite_all_services()
        .env("AWS_ENDPOINT_URL_RDS", kms_endpoint())
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&second.bundle)
        .arg("--inventory")
        .arg(&before)
        .assert()
        .code(6);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("cannot be checked against the earlier inventory"),
        "{stderr}"
    );
    assert!(stderr.contains("rds:DescribeDBInstances"), "{stderr}");
    assert!(
        stderr.contains("what to do: allow rds:DescribeDBClusters to the caller's role"),
        "{stderr}"
    );
    // verify-rotation has no --services: the hint does not offer it.
    assert!(!stderr.contains("--services"), "{stderr}");
    assert_eq!(receipt_steps(&second.bundle).len(), 2);

    // A saved ciphertext altered after the import: exit 3, naming it.
    let tampered = &saved(&second.bundle)[0];
    let mut bytes = std::fs::read(tampered).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(tampered, &bytes).unwrap();
    let out = keyrite()
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&second.bundle)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("it was altered"), "{stderr}");
    assert!(stderr.contains("no longer decrypts"), "{stderr}");
    assert_eq!(
        receipt_steps(&second.bundle)
            .iter()
            .filter(|r| r["data"]["result"] == "failed")
            .count(),
        1
    );

    // The first bundle's material is no longer current.
    let out = keyrite()
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&first.bundle)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("the rotation did not take"), "{stderr}");
    assert!(stderr.contains("the import recorded"), "{stderr}");
    let recorded = receipt_steps(&first.bundle);
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|r| r["data"]["result"] == "failed"));

    // Both receipts still continue their ceremony logs' chains.
    for b in [&first.bundle, &second.bundle] {
        keyrite()
            .args(["audit", "verify"])
            .arg(b)
            .arg("--trust")
            .arg(hsm().log_public_key())
            .assert()
            .success();
    }
}

/// STUB OF AWS BEHAVIOUR: CloudTrail LookupEvents (no local emulator implements it) as an
/// aws-smithy-mocks client. With a failed call on the key since the import, verification fails;
/// with none, it passes. KMS and the rotation are real (LocalStack, SoftHSM2).
#[test]
fn with_cloudtrail_a_failed_call_on_the_key_since_the_import_fails_the_verification() {
    own_token!();
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_sdk_cloudtrail::primitives::DateTime;
    use aws_sdk_cloudtrail::types::Event;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (alias, arn) = rt.block_on(create_key(&client, true, "verify-trail"));
    let (p, _) = full_rotation(dir.path(), &[alias.as_str()]);
    let verified = keyrite::io::bundle::Bundle::verify(&p.bundle).unwrap();

    let trail = |failed: bool| {
        let arn = arn.clone();
        let rule =
            mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(move |req| {
                assert_eq!(req.lookup_attributes()[0].attribute_value(), arn);
                assert!(req.start_time().is_some(), "only events since the import");
                let mut out = LookupEventsOutput::builder().events(
                    Event::builder()
                        .event_name("Encrypt")
                        .event_time(DateTime::from_secs(jiff::Timestamp::now().as_second()))
                        .cloud_trail_event(r#"{"eventName":"Encrypt"}"#)
                        .build(),
                );
                if failed {
                    out = out.events(
                        Event::builder()
                            .event_name("Decrypt")
                            .event_time(DateTime::from_secs(jiff::Timestamp::now().as_second()))
                            .cloud_trail_event(
                                r#"{"eventName":"Decrypt","errorCode":"IncorrectKeyException"}"#,
                            )
                            .build(),
                    );
                }
                out.build()
            });
        mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&rule])
    };

    let clean = keyrite::app::verify_rotation::run_with_trail(
        &verified,
        Some(hsm().log_public_key().as_path()),
        &kms_target(),
        &[],
        Some(trail(false)),
    )
    .unwrap();
    assert!(clean.passed, "{clean:?}");
    assert!(
        clean.keys[0]
            .checks
            .iter()
            .any(|c| c.contains("CloudTrail shows no failed call"))
    );
    keyrite::app::verify_rotation::verdict(&clean).unwrap();

    let bad = keyrite::app::verify_rotation::run_with_trail(
        &verified,
        Some(hsm().log_public_key().as_path()),
        &kms_target(),
        &[],
        Some(trail(true)),
    )
    .unwrap();
    assert!(!bad.passed);
    let err = keyrite::app::verify_rotation::verdict(&bad).unwrap_err();
    assert_eq!(
        err.exit_code(),
        keyrite::app::error::ExitCode::VerificationFailed
    );
    assert!(
        err.to_string()
            .contains("CloudTrail: the key: Decrypt failed with IncorrectKeyException"),
        "{err}"
    );
    // Both runs are in the receipt.
    assert_eq!(receipt_steps(&p.bundle).len(), 2);
}

/// After a real rotation, the saved pre-rotation ciphertext deleted and its hash removed from the
/// import receipt (the chain rebuilt, as anyone who can write the bundle can: receipt records are
/// chained, not signed): verify-rotation fails with exit 3 naming the missing file, because the
/// signed manifest says the key had material when the bundle was prepared.
#[test]
fn a_rotation_whose_pre_rotation_ciphertext_and_its_hash_are_gone_fails_with_exit_3() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (alias, _) = rt.block_on(create_key(&client, true, "verify-gone"));
    full_rotation(dir.path(), &[&alias]);
    let (second, _) = full_rotation(dir.path(), &[&alias]);
    let saved: Vec<String> = tree(&second.bundle)
        .into_iter()
        .filter(|f| f.ends_with("/pre-rotation.ciphertext"))
        .collect();
    assert_eq!(saved.len(), 1, "the import saved one before rotating");
    std::fs::remove_file(second.bundle.join(&saved[0])).unwrap();

    common::flow::rewrite_receipt(&second.bundle, |bodies| {
        for b in bodies.iter_mut() {
            if let Some(data) = b["data"].as_object_mut() {
                data.remove("pre_rotation_ciphertext_sha256");
            }
        }
    });

    let out = keyrite()
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&second.bundle)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains(&saved[0]), "{stderr}");
    assert!(
        stderr.contains("the ciphertext made before the rotation is missing"),
        "{stderr}"
    );
}
