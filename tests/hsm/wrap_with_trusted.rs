//! CKA_WRAP_WITH_TRUSTED on ceremony keys, with the security officer's step: the SO marks the
//! KMS wrapping public key CKA_TRUSTED, the ceremony key is generated CKA_WRAP_WITH_TRUSTED, and
//! then the token wraps it under that key only. SoftHSM2 enforces the attribute and lets the SO
//! set CKA_TRUSTED; kryoptic refuses CKA_TRUSTED on a public key, so there the SO step is refused
//! with the PKCS#11 function and code before any key is generated.

use crate::common;

use common::flow::*;
use common::*;
use keyrite::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use keyrite::core::wrapping_key::WrappingPublicKey;

#[test]
fn ceremony_keys_wrap_only_under_the_key_the_security_officer_trusted() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _arn) = external_key("trusted");
    let alg = default_algorithm();
    let so_pin = dir.path().join("so-pin");
    write_secret(&so_pin, format!("{SO_PIN}\n"));
    let p = prepare(dir.path(), &[&alias], alg);
    let run = ceremony_cmd(dir.path(), &p, &[&alias], alg)
        .arg("--so-pin-source")
        .arg(&so_pin)
        .assert();

    if !hsm().is_softhsm() {
        let out = run.failure().get_output().stderr.clone();
        let err = String::from_utf8(out).unwrap();
        assert!(
            err.contains("import the KMS wrapping public key as trusted (security officer): C_CreateObject failed with CKR_ATTRIBUTE_TYPE_INVALID"),
            "{err}"
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap())
                .unwrap();
        assert!(m.get("ceremony").is_none(), "nothing was generated");
        return;
    }

    run.success();
    import_cmd(&p.bundle).assert().success();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    let name = m["keys"][0]["name"].as_str().unwrap();
    let label = m["keys"][0]["generated"]["hsm_label"].as_str().unwrap();
    let log = std::fs::read_to_string(p.bundle.join("ceremony.log")).unwrap();
    assert!(log.contains("\"wrap_with_trusted\":\"true\""), "{log}");

    let session = hsm().token().login(&hsm().pin()).unwrap();
    let [key] = session.find_secret_keys(label).unwrap()[..] else {
        panic!("one key labelled {label}");
    };
    assert!(session.wraps_only_with_trusted(key).unwrap());
    // The same KMS wrapping key, imported by the user (untrusted): the token refuses the wrap.
    let der = std::fs::read(p.bundle.join(format!("{name}/WrappingPublicKey.bin"))).unwrap();
    let public = WrappingPublicKey::from_der(&der, WrappingKeySpec::Rsa4096).unwrap();
    let untrusted = session
        .import_wrapping_key(&public, "untrusted-copy")
        .unwrap();
    let err = session
        .wrap(untrusted, key, WrappingAlgorithm::RsaesOaepSha1)
        .expect_err("an untrusted key must not wrap it")
        .to_string();
    assert!(
        err.contains("C_WrapKey failed with CKR_KEY_NOT_WRAPPABLE"),
        "{err}"
    );
}

/// The escrow copy of a key generated CKA_WRAP_WITH_TRUSTED can be re-wrapped for re-import only
/// with the security officer's step again (each KMS wrapping key is new). On kryoptic, which
/// cannot mark a key trusted, the key is generated without the attribute and a re-wrap asked to
/// use the SO step is refused at that step.
#[test]
fn a_rewrap_of_a_trusted_only_key_needs_the_security_officer_again() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (alias, arn) = rt.block_on(create_key(&client, true, "trusted-rewrap"));
    let alg = default_algorithm();
    let so_pin = dir.path().join("so-pin");
    write_secret(&so_pin, format!("{SO_PIN}\n"));
    let first = prepare(dir.path(), &[&alias], alg);
    let mut original = ceremony_cmd(dir.path(), &first, &[&alias], alg);
    if hsm().is_softhsm() {
        original.arg("--so-pin-source").arg(&so_pin);
    }
    original.assert().success();
    import_cmd(&first.bundle).assert().success();
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();

    let rewrap = |p: &Prepared| {
        let mut cmd = ceremony_cmd(dir.path(), p, &[&alias], alg);
        cmd.arg("--rewrap").arg("--escrow-from").arg(&first.bundle);
        cmd
    };
    if !hsm().is_softhsm() {
        let p = prepare(dir.path(), &[&alias], alg);
        let err = rewrap(&p)
            .arg("--so-pin-source")
            .arg(&so_pin)
            .assert()
            .failure()
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("CKR_ATTRIBUTE_TYPE_INVALID"), "{err}");
        return;
    }
    let without = prepare(dir.path(), &[&alias], alg);
    let err = rewrap(&without)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("C_WrapKey failed with CKR_KEY_NOT_WRAPPABLE"),
        "{err}"
    );
    assert!(err.contains("--so-pin-source"), "{err}");

    let with = prepare(dir.path(), &[&alias], alg);
    rewrap(&with)
        .arg("--so-pin-source")
        .arg(&so_pin)
        .assert()
        .success();
    import_cmd(&with.bundle).assert().success();
}
