//! Bad input through the real binary: each case gives a clear error, its documented exit code,
//! and leaves no partial output (no new files, no HSM key, no KMS change).

use crate::common;

use std::path::Path;

use common::flow::*;
use common::*;

const VERIFICATION_FAILED: i32 = 3;
const REFUSED: i32 = 5;
const OPERATION_FAILED: i32 = 6;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn key_state(alias: &str) -> String {
    let rt = rt();
    let c = rt.block_on(client());
    let d = rt.block_on(c.describe_key().key_id(alias).send()).unwrap();
    d.key_metadata
        .unwrap()
        .key_state
        .unwrap()
        .as_str()
        .to_string()
}

/// Runs the ceremony expecting failure; checks the bundle is exactly as before and no HSM key was made.
fn ceremony_fails(dir: &Path, p: &Prepared, alias: &str, code: i32, want: &str) {
    let before = tree(&p.bundle);
    let manifest_before = std::fs::read(p.bundle.join("manifest.json")).unwrap();
    let objects_before = hsm().object_count();
    let out = ceremony_cmd(dir, p, &[alias], default_algorithm())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(want), "want {want:?} in: {err}");
    assert!(
        err.contains("what to do:"),
        "the error says what to do: {err}"
    );
    assert_eq!(tree(&p.bundle), before, "no file added or removed");
    assert_eq!(
        std::fs::read(p.bundle.join("manifest.json")).unwrap(),
        manifest_before
    );
    assert_eq!(
        hsm().object_count(),
        objects_before,
        "no HSM key (no object at all) was generated"
    );
}

fn setup(name: &str) -> (tempfile::TempDir, String, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let (alias, p) = prepare_for_new_key(dir.path(), name);
    (dir, alias, p)
}

#[test]
fn a_tampered_wrapping_public_key_stops_the_ceremony() {
    own_token!();
    let (dir, alias, p) = setup("tamper-pub");
    let name = alias.trim_start_matches("alias/");
    let path = p.bundle.join(name).join("WrappingPublicKey.bin");
    let mut der = std::fs::read(&path).unwrap();
    let last = der.len() - 10;
    der[last] ^= 0x01;
    std::fs::write(&path, der).unwrap();
    ceremony_fails(
        dir.path(),
        &p,
        &alias,
        VERIFICATION_FAILED,
        "WrappingPublicKey.bin does not match the manifest",
    );
}

#[test]
fn a_manifest_with_a_wrong_hash_stops_the_ceremony() {
    own_token!();
    let (dir, alias, p) = setup("tamper-manifest");
    let path = p.bundle.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (file, hash) = v["files"].as_object().unwrap().iter().next().unwrap();
    let hash_str = hash.as_str().unwrap();
    let flipped = if hash_str.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{flipped}", &hash_str[..63]);
    assert_ne!(wrong, hash.as_str().unwrap());
    std::fs::write(&path, text.replace(hash.as_str().unwrap(), &wrong)).unwrap();
    let p = Prepared {
        bundle: p.bundle.clone(),
        fingerprint: keyrite::core::digest::sha256_hex(&std::fs::read(&path).unwrap()),
    };
    ceremony_fails(
        dir.path(),
        &p,
        &alias,
        VERIFICATION_FAILED,
        &format!("{file} does not match the manifest"),
    );
}

#[test]
fn a_missing_bundle_file_stops_ceremony_and_import() {
    own_token!();
    let (dir, alias, p) = setup("missing");
    let name = alias.trim_start_matches("alias/");
    let token = p.bundle.join(name).join("ImportToken.bin");
    std::fs::remove_file(&token).unwrap();
    ceremony_fails(
        dir.path(),
        &p,
        &alias,
        VERIFICATION_FAILED,
        "ImportToken.bin is missing",
    );

    let out = import_cmd(&p.bundle).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("ImportToken.bin is missing"));
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");
}

#[test]
fn a_fingerprint_read_out_wrong_stops_the_ceremony() {
    own_token!();
    let (dir, alias, p) = setup("fingerprint");
    let mut wrong = p.fingerprint.clone().into_bytes();
    wrong[5] = if wrong[5] == b'a' { b'b' } else { b'a' };
    let p = Prepared {
        bundle: p.bundle.clone(),
        fingerprint: String::from_utf8(wrong).unwrap(),
    };
    ceremony_fails(
        dir.path(),
        &p,
        &alias,
        VERIFICATION_FAILED,
        "not the bundle that was prepared",
    );
}

#[test]
fn a_bundle_for_another_script_stops_the_ceremony() {
    own_token!();
    let (dir, alias, p) = setup("other-script");
    let out = ceremony_cmd(
        dir.path(),
        &p,
        &["alias/some-other-key"],
        default_algorithm(),
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the script names keys"),
        "{}",
        stderr(&out)
    );
    assert!(
        !p.bundle
            .join(alias.trim_start_matches("alias/"))
            .join("EncryptedKeyMaterial.bin")
            .exists()
    );
}

#[test]
fn prepare_refuses_a_key_kms_generated_and_writes_nothing() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let (external, _) = rt.block_on(create_key(&c, true, "good"));
    let (aws_owned, _) = rt.block_on(create_key(&c, false, "aws-origin"));
    let out_dir = dir.path().join("bundle");
    let out = keyrite()
        .args([
            "kms",
            "prepare",
            "--algorithm",
            "RSAES_OAEP_SHA_1",
            "--key",
            &external,
            "--key",
            &aws_owned,
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(REFUSED), "{err}");
    assert!(
        err.contains(&format!("{aws_owned}: origin is AWS_KMS, not EXTERNAL")),
        "{err}"
    );
    assert!(!out_dir.exists(), "no bundle directory is left behind");
}

#[test]
fn prepare_of_an_unknown_alias_says_so_and_writes_nothing() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let alias = format!("alias/{}", unique("nobody"));
    let out = keyrite()
        .args(["kms", "prepare", "--key", &alias, "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(OPERATION_FAILED), "{err}");
    assert!(
        err.contains("NotFoundException") && err.contains("check the alias"),
        "{err}"
    );
    assert!(!out_dir.exists());
}

#[test]
fn prepare_never_writes_into_an_existing_directory() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let out = keyrite()
        .args(["kms", "prepare", "--key", "alias/x", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(REFUSED));
    assert!(stderr(&out).contains("exists already"));
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn an_edited_parameters_validity_is_refused_as_an_altered_bundle_before_calling_kms() {
    own_token!();
    let (dir, alias, p) = setup("expired");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    // The manifest is bound by the signed log (its end record names the manifest's SHA-256),
    // so an edited validity is refused as an altered bundle before any KMS call; parameters
    // that expire between the ceremony and the import are refused by the import's own check
    // (app::import::preflight; tests/stub/kms_stub.rs, preflight_refuses_…_expired_parameters_…).
    let path = p.bundle.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["keys"][0]["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let out = import_cmd(&p.bundle).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(VERIFICATION_FAILED), "{err}");
    assert!(err.contains("the signed ceremony log records"), "{err}");
    assert!(err.contains("nothing was sent to KMS"), "{err}");
    assert_eq!(key_state(&alias), "PendingImport");
}

#[test]
fn import_refuses_tampered_wrapped_material_and_a_bundle_without_ceremony() {
    own_token!();
    let (dir, alias, p) = setup("tamper-material");
    // No ceremony log: nothing signed to act on (verification, exit 3), nothing sent.
    let out = import_cmd(&p.bundle).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("has not been through a ceremony"));
    assert_eq!(key_state(&alias), "PendingImport");

    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let path = p
        .bundle
        .join(alias.trim_start_matches("alias/"))
        .join("EncryptedKeyMaterial.bin");
    let mut b = std::fs::read(&path).unwrap();
    b[0] ^= 0x80;
    std::fs::write(&path, b).unwrap();
    let out = import_cmd(&p.bundle).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("EncryptedKeyMaterial.bin does not match the manifest"));
    assert_eq!(key_state(&alias), "PendingImport");
}

#[test]
fn a_bundle_is_used_for_one_ceremony_only() {
    own_token!();
    let (dir, alias, p) = setup("twice");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let before = tree(&p.bundle);
    let out = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .output()
        .unwrap();
    // The manifest changed with the ceremony, so the prepared fingerprint no longer matches
    // either; the refusal must name the real reason.
    assert_eq!(out.status.code(), Some(REFUSED), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has been through a ceremony already"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(&p.bundle), before);
}
