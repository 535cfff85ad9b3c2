//! The expiry drill: material imported with KEY_MATERIAL_EXPIRES is deleted in KMS (the key goes
//! back to PendingImport, as it does when the material expires), then restored from the HSM escrow
//! by a re-wrap ceremony and re-imported as EXISTING_KEY_MATERIAL with its KeyMaterialId.
//!
//! What the local KMS shows: the deletion puts the key in PendingImport; the re-import of the
//! re-wrapped escrow copy is accepted with ImportType EXISTING_KEY_MATERIAL and the recorded
//! KeyMaterialId, and the key comes back Enabled with that same KeyMaterialId current.
//!
//! What only real AWS KMS can show (LocalStack cannot): that the KeyMaterialId check rejects
//! other material (AWS derives the id from key id + material; LocalStack does not check it), that
//! ValidTo is enforced (LocalStack ignores it), and that ciphertext made before the deletion
//! decrypts again afterwards (LocalStack's Encrypt/Decrypt break after delete-then-reimport).
//! Here the material's identity is proved on the HSM side instead: the escrowed key's check value
//! equals the one recorded at generation, and the re-wrapped file unwraps in KMS.
//!
//! Measured on LocalStack (2026.3): ImportKeyMaterial with EXISTING_KEY_MATERIAL ignores the
//! KeyMaterialId it is given (a made-up id is accepted), but the id it returns follows the
//! material: the same material comes back with the same id, other material with another. So
//! keyrite's own check of the returned id is what catches other material here; on AWS, KMS
//! refuses the import first.

use crate::common;

use common::flow::*;
use common::*;

fn manifest(bundle: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap()
}

async fn describe(client: &keyrite::kms::Client, key: &str) -> (String, Option<String>) {
    let meta = client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    (
        meta.key_state().unwrap().as_str().to_string(),
        meta.current_key_material_id().map(str::to_string),
    )
}

fn valid_to() -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)).to_string()
}

/// `keyrite ceremony --rewrap --escrow-from <earlier>` for a freshly prepared bundle.
fn rewrap_cmd(
    dir: &std::path::Path,
    fresh: &Prepared,
    keys: &[&str],
    earlier: &std::path::Path,
) -> assert_cmd::Command {
    let mut cmd = ceremony_cmd(dir, fresh, keys, default_algorithm());
    cmd.arg("--rewrap").arg("--escrow-from").arg(earlier);
    cmd
}

#[test]
fn expired_material_is_restored_from_the_hsm_escrow_with_the_same_key_material_id() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    // The original ceremony, imported with an expiry.
    let Ceremonied {
        alias,
        arn,
        algorithm: alg,
        prepared: first,
    } = ceremony_for_new_key(dir.path(), "escrow-drill");
    import_cmd(&first.bundle)
        .args(["--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to"])
        .arg(valid_to())
        .assert()
        .success();
    let original = manifest(&first.bundle);
    let generated = &original["keys"][0]["generated"];
    let (state, material_id) = rt.block_on(describe(&client, &arn));
    assert_eq!(state, "Enabled");
    let material_id = material_id.expect("KMS reports the imported KeyMaterialId");

    // The material goes away in KMS (deleted here; expiry has the same effect on AWS).
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();
    assert_eq!(rt.block_on(describe(&client, &arn)).0, "PendingImport");

    // Restored from the escrow: fresh import parameters, the same HSM key.
    let fresh = prepare(dir.path(), &[&alias], alg);
    let out = rewrap_cmd(dir.path(), &fresh, &[&alias], &first.bundle)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(generated["check_value"].as_str().unwrap()),
        "{text}"
    );
    let rewrapped = manifest(&fresh.bundle);
    let regenerated = &rewrapped["keys"][0]["generated"];
    assert_eq!(regenerated["hsm_label"], generated["hsm_label"]);
    assert_eq!(regenerated["check_value"], generated["check_value"]);
    assert_eq!(regenerated["generated_at"], generated["generated_at"]);
    assert_eq!(
        regenerated["reimport_of_key_material_id"].as_str(),
        Some(material_id.as_str())
    );
    assert_ne!(
        std::fs::read(fresh.bundle.join(format!(
            "{}/EncryptedKeyMaterial.bin",
            rewrapped["keys"][0]["name"].as_str().unwrap()
        )))
        .unwrap(),
        std::fs::read(first.bundle.join(format!(
            "{}/EncryptedKeyMaterial.bin",
            original["keys"][0]["name"].as_str().unwrap()
        )))
        .unwrap(),
        "the re-wrap is under the fresh wrapping key"
    );
    // The escrow copy is still the only key with that label: nothing new was generated.
    let session = hsm().token().login(&hsm().pin()).unwrap();
    assert_eq!(
        session
            .find_secret_keys(generated["hsm_label"].as_str().unwrap())
            .unwrap()
            .len(),
        1
    );
    // The signed log of the re-wrap names the escrow bundle (verified), not the KeyMaterialId:
    // that comes from the escrow bundle's unsigned import record, and the log signs only what
    // the ceremony verified. KMS checks the id at import (the manifest carries it, above).
    let log = std::fs::read_to_string(fresh.bundle.join("ceremony.log")).unwrap();
    assert!(!log.contains("reimport_of_key_material_id"), "{log}");
    assert!(!log.contains(&material_id), "{log}");
    let escrow_fingerprint = keyrite::core::digest::sha256_hex(
        &std::fs::read(first.bundle.join("manifest.json")).unwrap(),
    );
    assert!(
        log.contains(&format!(
            "\"escrow_bundle_sha256\":\"{escrow_fingerprint}\""
        )),
        "{log}"
    );

    // The re-wrap bundle passes the offline audit like any ceremony's.
    keyrite()
        .args(["audit", "verify"])
        .arg(&fresh.bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .assert()
        .success();

    // Re-imported as EXISTING_KEY_MATERIAL with that KeyMaterialId.
    let out = import_cmd(&fresh.bundle)
        .args(["--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to"])
        .arg(valid_to())
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("re-import of escrowed material"), "{text}");
    // The AWS CLI fallback printed for the operator does the same re-import.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "--import-type EXISTING_KEY_MATERIAL --key-material-id {material_id}"
        )),
        "{stderr}"
    );
    let (state, current) = rt.block_on(describe(&client, &arn));
    assert_eq!(state, "Enabled");
    assert_eq!(current.as_deref(), Some(material_id.as_str()));
}

#[test]
fn a_key_with_another_check_value_under_the_escrow_label_is_refused_before_any_wrap() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let Ceremonied {
        alias,
        arn,
        algorithm: alg,
        prepared: first,
    } = ceremony_for_new_key(dir.path(), "escrow-swap");
    import_cmd(&first.bundle).assert().success();
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();

    // Someone replaces the escrow copy with other material under the same label.
    let label = manifest(&first.bundle)["keys"][0]["generated"]["hsm_label"]
        .as_str()
        .unwrap()
        .to_string();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let [original] = session.find_secret_keys(&label).unwrap()[..] else {
        panic!("one escrow key");
    };
    // Keep the original out of the way under another label, then plant an impostor.
    session_relabel(&session, original, &format!("{label}/moved"));
    session.generate_ceremony_key(&label).unwrap();

    let fresh = prepare(dir.path(), &[&alias], alg);
    let before = tree(&fresh.bundle);
    let err = rewrap_cmd(dir.path(), &fresh, &[&alias], &first.bundle)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("find the escrowed key"), "{err}");
    assert!(err.contains("but the escrow bundle recorded"), "{err}");
    assert!(err.contains("this is not the escrowed material"), "{err}");
    assert_eq!(
        tree(&fresh.bundle)
            .into_iter()
            .filter(|p| p.ends_with("EncryptedKeyMaterial.bin"))
            .count(),
        0,
        "nothing was wrapped: {before:?}"
    );
}

#[test]
fn a_rewrap_needs_the_escrow_bundle_and_its_import_record() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let Ceremonied {
        alias,
        arn: _,
        algorithm: alg,
        prepared: first,
    } = ceremony_for_new_key(dir.path(), "escrow-noimport");
    // Never imported: there is no KeyMaterialId to restore.
    let fresh = prepare(dir.path(), &[&alias], alg);
    let err = rewrap_cmd(dir.path(), &fresh, &[&alias], &first.bundle)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("import-progress.json"), "{err}");
    // --rewrap without --escrow-from is a usage error.
    let mut cmd = ceremony_cmd(dir.path(), &fresh, &[&alias], alg);
    cmd.arg("--rewrap").assert().failure().code(2);
}

/// Renames a key object with a plain cryptoki session on the same token (keyrite itself never
/// relabels keys).
#[test]
fn other_material_presented_as_the_escrow_copy_is_caught_by_its_key_material_id() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let Ceremonied {
        alias,
        arn,
        algorithm: alg,
        prepared: first,
    } = ceremony_for_new_key(dir.path(), "escrow-other");
    import_cmd(&first.bundle).assert().success();
    let material_id = rt.block_on(describe(&client, &arn)).1.unwrap();
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();

    // A new ceremony's (different) material, its manifest edited to claim it is the escrow copy.
    let other = prepare(dir.path(), &[&alias], alg);
    ceremony_cmd(dir.path(), &other, &[&alias], alg)
        .assert()
        .success();
    let mut m = manifest(&other.bundle);
    m["keys"][0]["generated"]["reimport_of_key_material_id"] = material_id.clone().into();
    std::fs::write(
        other.bundle.join("manifest.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    // The manifest no longer says what the signed log recorded: refused before KMS is asked
    // (KMS's own KeyMaterialId check would have caught it after the import).
    let err = import_cmd(&other.bundle)
        .assert()
        .failure()
        .code(3)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains(&format!(
            "the bundle's reimport_of_key_material_id is {material_id}, but the signed ceremony log records none; nothing was sent to KMS"
        )),
        "{err}"
    );
    assert_eq!(rt.block_on(describe(&client, &arn)).0, "PendingImport");
}

fn session_relabel(
    _keyrite_session: &keyrite::hsm::token::UserSession,
    key: cryptoki::object::ObjectHandle,
    label: &str,
) {
    use cryptoki::object::Attribute;
    with_raw_session(|session| {
        session
            .update_attributes(key, &[Attribute::Label(label.as_bytes().to_vec())])
            .unwrap()
    });
}

#[test]
fn a_rewrap_of_a_key_that_still_has_its_material_is_refused_before_the_hsm() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let Ceremonied {
        alias,
        arn: _,
        algorithm: alg,
        prepared: first,
    } = ceremony_for_new_key(dir.path(), "escrow-enabled");
    import_cmd(&first.bundle).assert().success();
    // Not deleted: the key is Enabled when the new bundle is prepared.
    let fresh = prepare(dir.path(), &[&alias], alg);
    let out = rewrap_cmd(dir.path(), &fresh, &[&alias], &first.bundle)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(keyrite::core::exit::ExitCode::Refused as i32),
        "{err}"
    );
    assert!(
        err.contains("the key was Enabled when the bundle was prepared"),
        "{err}"
    );
    assert!(
        !fresh.bundle.join("ceremony.log").exists(),
        "refused before the HSM was touched"
    );
}
