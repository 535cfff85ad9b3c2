//! The matrix on the token in use: every wrapping algorithm the token really does (as the
//! capability probe finds it) x RSA_2048 and RSA_4096 wrapping keys goes prepare -> ceremony ->
//! import into the local KMS, and KMS then holds exactly the HSM's key: a KMS ciphertext decrypts
//! inside the HSM. The algorithms the token cannot do are refused by the probe (tests/hsm/probe.rs).

use crate::common;

use aws_sdk_kms::primitives::Blob;
use common::flow::*;
use common::*;
use keyrite::app::localkms::decrypt_localstack_ciphertext;
use keyrite::core::algorithm::WrappingAlgorithm;
use keyrite::hsm::probe::probe;

/// The algorithms the probe accepts on this token; they must be the ones the token is known to do.
fn probed_algorithms() -> Vec<WrappingAlgorithm> {
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let found: Vec<_> = WrappingAlgorithm::ALL
        .into_iter()
        .filter(|a| probe(&session, TOKEN_LABEL, *a).is_ok())
        .collect();
    assert_eq!(found, supported_algorithms());
    found
}

fn round_trip(spec: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    for algorithm in probed_algorithms() {
        let alg = algorithm.as_str();
        let (alias, _) = rt.block_on(create_key(&client, true, &format!("matrix-{alg}-{spec}")));
        let p = prepare_with_spec(dir.path(), &[&alias], alg, spec);
        let out = ceremony_cmd_with_spec(dir.path(), &p, &[&alias], alg, spec)
            .assert()
            .success()
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "capability probe on token {TOKEN_LABEL:?}: CKM_RSA_PKCS_OAEP"
            )),
            "{alg} {spec}: {stderr}"
        );
        import_cmd(&p.bundle).assert().success();

        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["wrapping_algorithm"], alg);
        assert_eq!(manifest["wrapping_key_spec"], spec);
        let wrapped_len = std::fs::metadata(
            p.bundle
                .join(manifest["keys"][0]["name"].as_str().unwrap())
                .join("EncryptedKeyMaterial.bin"),
        )
        .unwrap()
        .len();
        let bits: u64 = spec.trim_start_matches("RSA_").parse().unwrap();
        assert_eq!(wrapped_len, bits / 8, "{alg} {spec}");

        let label = manifest["keys"][0]["generated"]["hsm_label"]
            .as_str()
            .unwrap();
        let session = hsm().token().login(&hsm().pin()).unwrap();
        let found = session.find_secret_keys(label).unwrap();
        assert_eq!(found.len(), 1, "{alg} {spec}");
        let plaintext = format!("matrix {alg} {spec}");
        let ct = rt
            .block_on(
                client
                    .encrypt()
                    .key_id(&alias)
                    .plaintext(Blob::new(plaintext.as_bytes()))
                    .encryption_context("matrix", alg)
                    .send(),
            )
            .unwrap()
            .ciphertext_blob
            .unwrap()
            .into_inner();
        let recovered =
            decrypt_localstack_ciphertext(&session, found[0], &ct, &[("matrix", alg)]).unwrap();
        assert_eq!(recovered, plaintext.as_bytes(), "{alg} {spec}");
        assert!(
            !session.value_is_readable(found[0]).unwrap(),
            "{alg} {spec}: CKA_VALUE must be unreadable"
        );
    }
}

#[test]
fn every_supported_algorithm_with_rsa_2048_imports_and_decrypts_in_the_hsm() {
    own_token!();
    round_trip("RSA_2048");
}

#[test]
fn every_supported_algorithm_with_rsa_4096_imports_and_decrypts_in_the_hsm() {
    own_token!();
    round_trip("RSA_4096");
}
