//! The connected side trusts only what the HSM signed: `kms import` and `kms rollback` verify the
//! bundle's ceremony log with the trusted log key (`--trust`, or KEYRITE_LOG_TRUST, which the
//! test environment sets to the test token's key) and act on no manifest field the log does not
//! vouch for, before the first KMS call. Each test is one attack, run through the real binary
//! against the local KMS: the refusal's exit code and message, and the local KMS's state after
//! it (no material imported, no alias moved) show that nothing was sent.
//!
//! The forged `imported` journal stage needs ListKeyRotations, which LocalStack answers with
//! HTTP 501: that attack is in tests/kms_stub.rs (a stub of AWS's documented behaviour).

use crate::common;

use std::path::{Path, PathBuf};

use common::flow::*;
use common::*;

const VERIFICATION_FAILED: i32 = 3;
const USAGE: i32 = 2;

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// (key state, current key material id) in the local KMS.
fn kms_state(arn: &str) -> (String, Option<String>) {
    let rt = rt();
    let meta = rt
        .block_on(async { client().await.describe_key().key_id(arn).send().await })
        .unwrap()
        .key_metadata
        .unwrap();
    (
        meta.key_state.unwrap().as_str().to_string(),
        meta.current_key_material_id,
    )
}

/// The ARN an alias names in the local KMS.
fn alias_target(alias: &str) -> String {
    let rt = rt();
    rt.block_on(async { client().await.describe_key().key_id(alias).send().await })
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `kms import` of `bundle` (trusting the test token's log key through KEYRITE_LOG_TRUST).
fn import(bundle: &Path) -> std::process::Output {
    import_cmd(bundle).output().unwrap()
}

fn assert_refused(out: &std::process::Output, code: i32, want: &[&str]) -> String {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{text}");
    for w in want {
        assert!(text.contains(w), "{w:?} missing from:\n{text}");
    }
    assert!(text.contains("what to do:"), "{text}");
    text
}

/// The manifest's one key entry.
fn entry(manifest: &serde_json::Value) -> &serde_json::Value {
    &manifest["keys"][0]
}

/// Attack: a hand-made bundle. The attacker prepares a bundle for their own EXTERNAL key, wraps
/// material they know with its wrapping key (openssl, as the AWS docs do), makes the manifest
/// look ceremonied, says the key takes over the victim's alias, and copies the ceremony.log of a
/// genuine bundle. Refused before any KMS call: the attacker's key stays PendingImport, the
/// victim's alias is where it was.
#[test]
fn a_hand_made_bundle_with_a_copied_log_is_refused_and_nothing_reaches_kms() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let genuine = ceremony_for_new_key(dir.path(), "trust-genuine");
    let (victim_alias, victim_arn) = external_key("trust-victim");
    let (attacker_alias, attacker_arn) = external_key("trust-attacker");
    let forged = prepare(dir.path(), &[&attacker_alias], default_algorithm());

    let m_path = forged.bundle.join("manifest.json");
    let mut m = read_json(&m_path);
    let name = entry(&m)["name"].as_str().unwrap().to_string();
    let material = dir.path().join("known-material.bin");
    std::fs::write(&material, [0x42u8; 32]).unwrap();
    let wrapped = forged.bundle.join(&name).join("EncryptedKeyMaterial.bin");
    let md = if default_algorithm() == "RSAES_OAEP_SHA_1" {
        "sha1"
    } else {
        "sha256"
    };
    let status = std::process::Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(forged.bundle.join(&name).join("WrappingPublicKey.bin"))
        .args(["-pkeyopt", "rsa_padding_mode:oaep"])
        .args(["-pkeyopt", &format!("rsa_oaep_md:{md}")])
        .args(["-pkeyopt", &format!("rsa_mgf1_md:{md}")])
        .arg("-in")
        .arg(&material)
        .arg("-out")
        .arg(&wrapped)
        .status()
        .unwrap();
    assert!(status.success());
    let genuine_m = read_json(&genuine.prepared.bundle.join("manifest.json"));
    m["files"][format!("{name}/EncryptedKeyMaterial.bin")] =
        keyrite::core::digest::sha256_hex(&std::fs::read(&wrapped).unwrap()).into();
    m["keys"][0]["generated"] = entry(&genuine_m)["generated"].clone();
    m["keys"][0]["takes_over"] =
        serde_json::json!({"alias": victim_alias, "previous_key_arn": victim_arn});
    m["ceremony"] = genuine_m["ceremony"].clone();
    write_json(&m_path, &m);
    std::fs::copy(
        genuine.prepared.bundle.join("ceremony.log"),
        forged.bundle.join("ceremony.log"),
    )
    .unwrap();

    let out = import(&forged.bundle);
    let text = assert_refused(
        &out,
        VERIFICATION_FAILED,
        &[
            "the bundle's keys is",
            "but the signed ceremony log records",
            "nothing was sent to KMS",
        ],
    );
    assert!(!text.contains("update-alias"), "{text}");
    assert_eq!(kms_state(&attacker_arn).0, "PendingImport");
    assert_eq!(alias_target(&victim_alias), victim_arn);
    assert_eq!(alias_target(&attacker_alias), attacker_arn);
    assert!(!forged.bundle.join("import-progress.json").exists());
    assert!(!forged.bundle.join("import-receipt.log").exists());
}

/// Attack: `takes_over` added to a genuine bundle after its ceremony. The signed start record
/// binds no alias move for the key: refused, naming takes_over; the victim's alias stays. The same
/// bundle with its manifest as the ceremony wrote it imports.
#[test]
fn takes_over_added_after_the_ceremony_is_refused_by_name() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let c = ceremony_for_new_key(dir.path(), "trust-late");
    let (victim_alias, victim_arn) = external_key("trust-late-victim");
    let m_path = c.prepared.bundle.join("manifest.json");
    let original = std::fs::read(&m_path).unwrap();
    let mut m = read_json(&m_path);
    m["keys"][0]["takes_over"] =
        serde_json::json!({"alias": victim_alias, "previous_key_arn": victim_arn});
    write_json(&m_path, &m);

    let out = import(&c.prepared.bundle);
    let text = assert_refused(
        &out,
        VERIFICATION_FAILED,
        &[
            "takes_over is",
            &format!("{victim_alias} from {victim_arn}"),
            "the signed ceremony log records no alias move",
        ],
    );
    // Not even the AWS CLI fallback (which would move the alias by hand) is printed.
    assert!(!text.contains("update-alias"), "{text}");
    assert_eq!(kms_state(&c.arn).0, "PendingImport");
    assert_eq!(alias_target(&victim_alias), victim_arn);

    // The bundle as its ceremony left it goes through (the refusal was the forged field's).
    std::fs::write(&m_path, original).unwrap();
    let out = import(&c.prepared.bundle);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(kms_state(&c.arn).0, "Enabled");
    assert_eq!(alias_target(&victim_alias), victim_arn);
}

/// Attack: the script names one alias, the prepared bundle's new key takes over another. The
/// ceremony's preflight refuses it before anyone types a secret; no log is written.
#[test]
fn a_bundle_taking_over_another_alias_than_the_scripts_is_refused_at_preflight() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (dev_alias, _) = external_key("trust-dev2");
    let (prod_alias, prod_arn) = external_key("trust-prod2");
    let p = prepare(dir.path(), &[&dev_alias], default_algorithm());
    let m_path = p.bundle.join("manifest.json");
    let mut m = read_json(&m_path);
    m["keys"][0]["takes_over"] =
        serde_json::json!({"alias": prod_alias, "previous_key_arn": prod_arn});
    write_json(&m_path, &m);
    let p = Prepared {
        fingerprint: keyrite::core::digest::sha256_hex(&std::fs::read(&m_path).unwrap()),
        bundle: p.bundle,
    };
    let script = write_script(dir.path(), &[&dev_alias], default_algorithm(), "RSA_4096");
    let answers = write_answers(dir.path(), &p.fingerprint);
    let out = ceremony_cmd_with_answers(&script, &p, &answers)
        .output()
        .unwrap();
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&format!("takes over {prod_alias}")), "{text}");
    assert!(
        text.contains(&format!("the script names {dev_alias}")),
        "{text}"
    );
    assert!(!p.bundle.join("ceremony.log").exists());
    assert_eq!(alias_target(&prod_alias), prod_arn);
}

/// A key imported once, then a second ceremony for it (a rotation bundle: the key had material
/// when it was prepared). Returns (dir, ceremonied key, rotation bundle, current material).
fn rotation_bundle(name: &str) -> (tempfile::TempDir, Ceremonied, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let c = ceremony_for_new_key(dir.path(), name);
    let out = import(&c.prepared.bundle);
    assert!(out.status.success(), "{}", stderr(&out));
    let (state, material) = kms_state(&c.arn);
    assert_eq!(state, "Enabled");
    let second = ceremony_done(dir.path(), &[&c.alias]);
    assert_eq!(
        entry(&read_json(&second.bundle.join("manifest.json")))["key_state"],
        "Enabled"
    );
    (dir, c, second.bundle, material.unwrap())
}

fn forge_stage(bundle: &Path, stage: serde_json::Value) {
    let m = std::fs::read(bundle.join("manifest.json")).unwrap();
    let name = entry(&read_json(&bundle.join("manifest.json")))["name"]
        .as_str()
        .unwrap()
        .to_string();
    write_json(
        &bundle.join("import-progress.json"),
        &serde_json::json!({
            "format": "keyrite-import-progress/1",
            "bundle_fingerprint": keyrite::core::digest::sha256_hex(&m),
            "keys": { name: stage },
        }),
    );
}

/// Attack: a forged `sending` stage claiming a first import, on a key that already has material.
/// Before, nothing was sent, the run exited 0 as a "first import" and the receipt recorded the old
/// material as this bundle's. Now: refused, exit 3, nothing recorded, the material unchanged.
#[test]
fn a_forged_sending_stage_on_a_key_with_material_is_refused() {
    own_token!();
    let (_dir, c, bundle, material) = rotation_bundle("trust-sending");
    forge_stage(
        &bundle,
        serde_json::json!({"stage": "sending", "first": true}),
    );
    let out = import(&bundle);
    assert_refused(
        &out,
        VERIFICATION_FAILED,
        &[
            "import-progress.json records the stage sending with first=true",
            "the signed manifest prepared the key for a rotation",
            "nothing was sent and nothing rotated",
        ],
    );
    assert_eq!(kms_state(&c.arn), ("Enabled".into(), Some(material)));
    let receipt = std::fs::read_to_string(bundle.join("import-receipt.log")).unwrap_or_default();
    assert!(!receipt.contains("first import"), "{receipt}");
    assert!(!receipt.contains("key.imported"), "{receipt}");
}

/// Attack: a forged `imported` stage claiming a first import of the key's current material (so
/// that the receipt would call that material this bundle's). Refused, exit 3.
#[test]
fn a_forged_imported_stage_claiming_a_first_import_is_refused() {
    own_token!();
    let (_dir, c, bundle, material) = rotation_bundle("trust-imported");
    forge_stage(
        &bundle,
        serde_json::json!({"stage": "imported", "first": true, "key_material_id": material}),
    );
    let out = import(&bundle);
    assert_refused(
        &out,
        VERIFICATION_FAILED,
        &["the stage imported with first=true", "for a rotation"],
    );
    assert_eq!(kms_state(&c.arn), ("Enabled".into(), Some(material)));
}

/// Attack: `kms rollback` with a forged `takes_over`: the key's own alias would be moved "back" to
/// a key of the attacker's choosing. Refused, exit 3; the alias stays.
#[test]
fn rollback_with_a_forged_takes_over_is_refused_and_moves_no_alias() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let c = ceremony_for_new_key(dir.path(), "trust-rollback");
    let out = import(&c.prepared.bundle);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, attacker_arn) = external_key("trust-rollback-attacker");
    let m_path = c.prepared.bundle.join("manifest.json");
    let mut m = read_json(&m_path);
    m["keys"][0]["takes_over"] =
        serde_json::json!({"alias": c.alias, "previous_key_arn": attacker_arn});
    write_json(&m_path, &m);
    let out = keyrite()
        .args(["kms", "rollback", "--bundle"])
        .arg(&c.prepared.bundle)
        .output()
        .unwrap();
    assert_refused(
        &out,
        VERIFICATION_FAILED,
        &[
            "takes_over is",
            "the signed ceremony log records no alias move",
        ],
    );
    assert_eq!(alias_target(&c.alias), c.arn);
}

/// A script without `[provenance]` requires signatures: an unsigned bundle is refused before
/// anyone types a secret (exit 2, saying how to sign or waive), no log written. A script that
/// waives them with a reason takes it, the reason is in the signed start record, and `audit
/// verify` says plainly that the bundle is unsigned.
#[test]
fn an_unsigned_bundle_is_refused_under_default_provenance_and_a_waiver_is_logged() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, arn) = external_key("trust-unsigned");
    let p = prepare(dir.path(), &[&alias], default_algorithm());
    let waived = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let text = std::fs::read_to_string(&waived).unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, text.replace(UNSIGNED, "")).unwrap();
    assert!(
        !std::fs::read_to_string(&strict)
            .unwrap()
            .contains("provenance")
    );
    let answers = write_answers(dir.path(), &p.fingerprint);
    let out = ceremony_cmd_with_answers(&strict, &p, &answers)
        .output()
        .unwrap();
    assert_refused(
        &out,
        USAGE,
        &[
            "has no [provenance] section",
            "signed by its preparer and countersigned",
            "required = 0 with reason",
        ],
    );
    assert!(!p.bundle.join("ceremony.log").exists());
    assert_eq!(kms_state(&arn).0, "PendingImport");

    let answers = write_answers(dir.path(), &p.fingerprint);
    ceremony_cmd_with_answers(&waived, &p, &answers)
        .assert()
        .success();
    let out = keyrite()
        .args(["audit", "verify", "--trust"])
        .arg(hsm().log_public_key())
        .arg(&p.bundle)
        .output()
        .unwrap();
    // The report is on stdout.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("bundle unsigned"), "{text}");
    assert!(
        text.contains("signatures waived by the script: a test bundle, prepared unsigned"),
        "{text}"
    );
}

/// The log verified with another key than the one that signed it: refused, exit 3, nothing sent.
/// Without any trust key: refused, exit 2, saying how to give one.
#[test]
fn a_wrong_or_missing_trust_key_is_refused_before_any_kms_call() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let c = ceremony_for_new_key(dir.path(), "trust-wrong-key");
    let other = dir.path().join("other-log-key.pem");
    let key = p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap();
    let (pem, _) = keyrite::core::log::public_key_pem(key.verifying_key()).unwrap();
    std::fs::write(&other, pem).unwrap();

    let out = import_cmd(&c.prepared.bundle)
        .arg("--trust")
        .arg(&other)
        .output()
        .unwrap();
    assert_refused(
        &out,
        VERIFICATION_FAILED,
        &["the log says it is signed by key", "you trusted"],
    );
    assert_eq!(kms_state(&c.arn).0, "PendingImport");

    let out = import_cmd(&c.prepared.bundle)
        .env_remove("KEYRITE_LOG_TRUST")
        .output()
        .unwrap();
    assert_refused(
        &out,
        USAGE,
        &[
            "no log public key",
            "--trust <log-public-key.pem>",
            "KEYRITE_LOG_TRUST",
        ],
    );
    assert_eq!(kms_state(&c.arn).0, "PendingImport");
    assert!(!c.prepared.bundle.join("import-receipt.log").exists());
}
