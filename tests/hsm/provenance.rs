//! Bundle provenance against a connected-side insider who writes the bundle: the preparer signs
//! the manifest's fingerprint (`kms prepare --sign-with`), a second person countersigns after
//! checking the keys (`kms cosign`), and a ceremony script with `[provenance]` refuses, before
//! anyone types a secret, a bundle without enough valid signatures by its listed signers. Each
//! refusal is checked as in `tests/hsm/hostile.rs`: the message, the exit code (README "Exit codes"),
//! no HSM object created and no file written anywhere under the test's directory.

use crate::common;

use std::path::{Path, PathBuf};

use common::flow::{Prepared, ceremony_cmd_with_answers, import_cmd};
use common::*;
use p256::pkcs8::EncodePrivateKey;

const USAGE: i32 = 2;
const VERIFICATION_FAILED: i32 = 3;
const REFUSED: i32 = 5;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A signer's P-256 key file (0600) and its public key's SHA-256.
fn signer_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let seed = keyrite::core::digest::sha256_hex(unique(name).as_bytes());
    let key = p256::ecdsa::SigningKey::from_slice(
        &data_encoding::HEXLOWER_PERMISSIVE
            .decode(seed.as_ref())
            .unwrap(),
    )
    .unwrap();
    let pem = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let path = dir.join(format!("{name}.pem"));
    write_secret(&path, pem.as_bytes());
    let trusted = keyrite::core::log::TrustedKey::from_key(*key.verifying_key()).unwrap();
    (path, trusted.fingerprint().to_string())
}

/// `kms prepare --sign-with` for a fresh EXTERNAL key.
fn prepare_signed(dir: &Path, alias: &str, signer: Option<&Path>) -> Prepared {
    let bundle = dir.join(unique("bundle"));
    let mut cmd = keyrite();
    cmd.args(["kms", "prepare", "--json", "--out"])
        .arg(&bundle)
        .args([
            "--algorithm",
            default_algorithm(),
            "--wrapping-spec",
            "RSA_4096",
        ])
        .args(["--key", alias]);
    if let Some(s) = signer {
        cmd.arg("--sign-with").arg(s);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    Prepared {
        bundle,
        fingerprint: v["fingerprint"].as_str().unwrap().to_string(),
    }
}

fn cosign(bundle: &Path, signer: &str) -> std::process::Output {
    keyrite()
        .args(["kms", "cosign", "--yes", "--bundle"])
        .arg(bundle)
        .args(["--sign-with", signer])
        .output()
        .unwrap()
}

/// A ceremony script for `alias` that requires `required` of `signers`.
fn script_requiring(dir: &Path, alias: &str, signers: &[&str], required: usize) -> PathBuf {
    let script = write_script(dir, &[alias], default_algorithm(), "RSA_4096");
    let mut text = std::fs::read_to_string(&script)
        .unwrap()
        .replace(UNSIGNED, "");
    let list: Vec<String> = signers.iter().map(|s| format!("{s:?}")).collect();
    text.push_str(&format!(
        "\n[provenance]\nsigners = [{}]\nrequired = {required}\n",
        list.join(", ")
    ));
    std::fs::write(&script, text).unwrap();
    script
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// The ceremony must be refused before anyone types a secret: exit code, message, no HSM
/// object created, no file added, removed or changed anywhere under `dir`.
fn refused(dir: &Path, script: &Path, p: &Prepared, code: i32, want: &[&str]) -> String {
    let answers = write_answers(dir, &p.fingerprint);
    let objects = hsm().object_count();
    let before = snapshot(dir);
    let out = ceremony_cmd_with_answers(script, p, &answers)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for w in want {
        assert!(err.contains(w), "want {w:?} in: {err}");
    }
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(hsm().object_count(), objects, "no HSM object was created");
    let after = snapshot(dir);
    assert_eq!(after, before, "no file was written");
    err
}

#[test]
fn an_unsigned_bundle_is_refused_when_the_script_asks_for_signatures() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = flow_key("prov-unsigned");
    let (_, a) = signer_key(dir.path(), "alice");
    let p = prepare_signed(dir.path(), &alias, None);
    let script = script_requiring(dir.path(), &alias, &[&a], 1);
    refused(
        dir.path(),
        &script,
        &p,
        VERIFICATION_FAILED,
        &["requires the bundle to be signed", "has no provenance.json"],
    );
}

#[test]
fn one_signature_of_two_required_is_refused_and_the_missing_signer_named() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = flow_key("prov-one-of-two");
    let (a_key, a) = signer_key(dir.path(), "alice");
    let (_, b) = signer_key(dir.path(), "bob");
    let p = prepare_signed(dir.path(), &alias, Some(&a_key));
    let script = script_requiring(dir.path(), &alias, &[&a, &b], 2);
    refused(
        dir.path(),
        &script,
        &p,
        VERIFICATION_FAILED,
        &[
            "requires signatures by 2 distinct listed signers; 1 of them signed",
            &format!("Signed by: {a} (prepare)"),
            &format!("Listed and missing: {b}"),
        ],
    );
}

#[test]
fn a_signature_by_an_unlisted_key_is_refused() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = flow_key("prov-unlisted");
    let (_, a) = signer_key(dir.path(), "alice");
    let (mallory_key, mallory) = signer_key(dir.path(), "mallory");
    let p = prepare_signed(dir.path(), &alias, Some(&mallory_key));
    let script = script_requiring(dir.path(), &alias, &[&a], 1);
    refused(
        dir.path(),
        &script,
        &p,
        VERIFICATION_FAILED,
        &[
            &format!("{mallory} (prepare, not listed)"),
            &format!("Listed and missing: {a}"),
        ],
    );
}

/// The substitution: the insider writes another RSA public key (here: another KMS key's
/// wrapping key, as good as their own) into the signed and countersigned bundle, recomputes its
/// hash in the manifest, reads out the new fingerprint, and rewrites the fingerprint the
/// signatures claim to cover. The signatures no longer verify, whether or not the script asks
/// for them; only with the signatures removed and a script that asks for none does the
/// ceremony take the bundle, as every keyrite did before signatures.
#[test]
fn a_substituted_wrapping_key_with_recomputed_hashes_is_refused() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = flow_key("prov-subst");
    let (other_alias, _) = flow_key("prov-subst-other");
    let (a_key, a) = signer_key(dir.path(), "alice");
    let (b_key, b) = signer_key(dir.path(), "bob");
    let p = prepare_signed(dir.path(), &alias, Some(&a_key));
    let out = cosign(&p.bundle, b_key.to_str().unwrap());
    assert!(out.status.success(), "{}", stderr(&out));
    let other = prepare_signed(dir.path(), &other_alias, None);

    let name = alias.trim_start_matches("alias/");
    let other_name = other_alias.trim_start_matches("alias/");
    let theirs =
        std::fs::read(other.bundle.join(other_name).join("WrappingPublicKey.bin")).unwrap();
    let ours = p.bundle.join(name).join("WrappingPublicKey.bin");
    let old_sha = keyrite::core::digest::sha256_hex(&std::fs::read(&ours).unwrap());
    std::fs::write(&ours, &theirs).unwrap();
    let manifest_path = p.bundle.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace(&old_sha, &keyrite::core::digest::sha256_hex(&theirs));
    std::fs::write(&manifest_path, &text).unwrap();
    let new_fp = keyrite::core::digest::sha256_hex(text.as_bytes());
    let prov_path = p.bundle.join("provenance.json");
    let prov = std::fs::read_to_string(&prov_path)
        .unwrap()
        .replace(&p.fingerprint, &new_fp);
    std::fs::write(&prov_path, prov).unwrap();
    let substituted = Prepared {
        bundle: p.bundle.clone(),
        fingerprint: new_fp,
    };

    let script = script_requiring(dir.path(), &alias, &[&a, &b], 2);
    refused(
        dir.path(),
        &script,
        &substituted,
        VERIFICATION_FAILED,
        &[
            "provenance.json: signature 1 (prepare)",
            "does not verify over this bundle's fingerprint",
            "do not use it",
        ],
    );
    // The same bundle under a script that asks for no signatures: the attack goes through.
    let plain = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let answers = write_answers(dir.path(), &substituted.fingerprint);
    let out = ceremony_cmd_with_answers(&plain, &substituted, &answers)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "signatures present are checked even when the script asks for none: {err}"
    );
    assert!(err.contains("does not verify"), "{err}");
    std::fs::remove_file(&prov_path).unwrap();
    let answers = write_answers(dir.path(), &substituted.fingerprint);
    ceremony_cmd_with_answers(&plain, &substituted, &answers)
        .assert()
        .success();
}

#[test]
fn a_signed_and_countersigned_bundle_goes_through_and_the_log_names_both_signers() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, arn) = flow_key("prov-good");
    let (a_key, a) = signer_key(dir.path(), "alice");
    let p = prepare_signed(dir.path(), &alias, Some(&a_key));

    // The countersigner sees each key before signing, and a "no" signs nothing.
    let token_signer = format!(
        "pkcs11:token={TOKEN_LABEL};object={}?pin-source=file:{}",
        keyrite::hsm::LOG_KEY_LABEL,
        hsm().pin_file.display()
    );
    let prov_before = std::fs::read(p.bundle.join("provenance.json")).unwrap();
    let out = keyrite()
        .args(["kms", "cosign", "--bundle"])
        .arg(&p.bundle)
        .args(["--sign-with", &token_signer])
        .write_stdin("n\n")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(REFUSED), "{err}");
    for want in [
        alias.as_str(),
        arn.as_str(),
        &format!("account  {}   region us-east-1", account()),
        "wrapping key SHA-256",
        &format!("signed (prepare) by {a}"),
        "countersign this bundle? [y/N]",
    ] {
        assert!(err.contains(want), "want {want:?} in: {err}");
    }
    assert_eq!(
        std::fs::read(p.bundle.join("provenance.json")).unwrap(),
        prov_before
    );

    // Countersigned with a key pair in a PKCS#11 token (here the test token's).
    let out = cosign(&p.bundle, &token_signer);
    assert!(out.status.success(), "{}", stderr(&out));
    let token_pem = hsm().log_public_key();
    let b = keyrite::core::log::TrustedKey::from_pem(&std::fs::read_to_string(&token_pem).unwrap())
        .unwrap()
        .fingerprint()
        .to_string();
    assert!(stderr(&out).contains(&format!("countersigned by {b}")));
    // The same signer again is refused.
    let out = cosign(&p.bundle, &token_signer);
    assert_eq!(out.status.code(), Some(REFUSED), "{}", stderr(&out));
    assert!(stderr(&out).contains("has signed this bundle already"));

    // Listed by SHA-256 and by PEM path.
    let script = script_requiring(dir.path(), &alias, &[&a, token_pem.to_str().unwrap()], 2);
    let answers = write_answers(dir.path(), &p.fingerprint);
    ceremony_cmd_with_answers(&script, &p, &answers)
        .assert()
        .success();
    import_cmd(&p.bundle).assert().success();

    let log = std::fs::read_to_string(p.bundle.join("ceremony.log")).unwrap();
    assert!(
        log.contains(&format!(
            "\"prepared_by\":[\"{a}\"],\"cosigned_by\":[\"{b}\"]"
        )),
        "{log}"
    );
    let out = keyrite()
        .args(["audit", "verify"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(&token_pem)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // The report is on stdout.
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("prepared by       {a}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("countersigned by  {b}")),
        "{report}"
    );
    let out = keyrite()
        .args(["audit", "replay", "--text"])
        .arg(p.bundle.join("ceremony.log"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("bundle prepared by      {a}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("bundle countersigned by {b}")),
        "{text}"
    );
    // The audit holds the bundle's signatures to the log: one dropped is found.
    let prov_path = p.bundle.join("provenance.json");
    let mut prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&prov_path).unwrap()).unwrap();
    prov["signatures"].as_array_mut().unwrap().pop();
    std::fs::write(&prov_path, serde_json::to_vec_pretty(&prov).unwrap()).unwrap();
    let out = keyrite()
        .args(["audit", "verify"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(&token_pem)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(VERIFICATION_FAILED), "{err}");
    assert!(
        err.contains("(cosign), the log's ceremony.start record names"),
        "{err}"
    );
}

#[test]
fn a_signing_key_file_others_may_read_is_refused_before_anything_is_fetched() {
    own_token!();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = flow_key("prov-key-mode");
    let (key, _) = signer_key(dir.path(), "alice");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let bundle = dir.path().join("bundle");
    let out = keyrite()
        .args(["kms", "prepare", "--out"])
        .arg(&bundle)
        .args(["--algorithm", default_algorithm(), "--key", &alias])
        .arg("--sign-with")
        .arg(&key)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(USAGE), "{err}");
    assert!(err.contains("mode is 0640"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!bundle.exists(), "no bundle was written");
}

/// A fresh EXTERNAL key in the local KMS: (alias, ARN).
fn flow_key(name: &str) -> (String, String) {
    common::flow::external_key(name)
}
