//! The capability probe on the real token in use (SoftHSM2 by default, kryoptic with
//! KEYRITE_TEST_MODULE): it accepts exactly the algorithms the token does correctly and refuses
//! the others, naming the token, the mechanism and the algorithm that works.

use crate::common;

use common::flow::*;
use common::*;
use keyrite::core::algorithm::WrappingAlgorithm;
use keyrite::hsm::probe::probe;

#[test]
fn the_probe_accepts_exactly_what_the_token_does_and_names_the_alternative() {
    own_token!();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let supported = supported_algorithms();
    let alternative = default_algorithm();
    for algorithm in WrappingAlgorithm::ALL {
        let result = probe(&session, TOKEN_LABEL, algorithm);
        if supported.contains(&algorithm) {
            let report = result.unwrap_or_else(|e| panic!("{algorithm} refused: {e}"));
            assert_eq!(report.algorithm, algorithm);
            assert_eq!(report.token, TOKEN_LABEL);
            assert!(
                report.result.contains("decrypts in software"),
                "{}",
                report.result
            );
            eprintln!(
                "{}: {algorithm}: CKA_WRAP_WITH_TRUSTED {}",
                hsm().module.display(),
                report.wrap_with_trusted
            );
        } else {
            let e = result.expect_err(&format!("{algorithm} must be refused"));
            let s = e.to_string();
            assert!(s.starts_with("capability probe: "), "{s}");
            assert!(s.contains(&format!("token {TOKEN_LABEL:?}")), "{s}");
            assert!(s.contains(&format!("cannot wrap with {algorithm}")), "{s}");
            let mechanism = if algorithm.is_rsa_aes() {
                // Both soft tokens lack the mechanism: the probe asks the token, by number.
                "CKM_RSA_AES_KEY_WRAP (OAEP SHA-"
            } else {
                "CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256) was refused: C_WrapKey failed with CKR_"
            };
            assert!(s.contains(mechanism), "{s}");
            if algorithm.is_rsa_aes() {
                assert!(
                    s.contains(
                        "is not available: C_GetMechanismInfo failed with CKR_MECHANISM_INVALID"
                    ),
                    "{s}"
                );
            }
            assert!(s.contains(&format!("use {alternative},")), "{s}");
            assert_eq!(e.exit_code(), keyrite::core::exit::ExitCode::Refused);
        }
    }
}

#[test]
fn the_probe_leaves_no_objects_behind() {
    own_token!();
    let before = hsm().object_count();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    probe(&session, TOKEN_LABEL, WrappingAlgorithm::RsaesOaepSha1).unwrap();
    let _ = probe(&session, TOKEN_LABEL, WrappingAlgorithm::RsaesOaepSha256);
    assert!(
        session
            .find_secret_keys("keyrite-probe/throwaway-aes")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        session.object_count().unwrap(),
        before,
        "no object of any kind is left"
    );
}

#[test]
fn a_ceremony_the_token_cannot_do_is_refused_before_any_key_is_generated() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = external_key("probe-refused");
    let algorithm = "RSA_AES_KEY_WRAP_SHA_256";
    let p = prepare(dir.path(), &[&alias], algorithm);
    let objects_before = hsm().object_count();
    let out = ceremony_cmd(dir.path(), &p, &[&alias], algorithm)
        .assert()
        .code(keyrite::core::exit::ExitCode::Refused as i32)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "capability probe: token {TOKEN_LABEL:?} cannot wrap with {algorithm}: CKM_RSA_AES_KEY_WRAP"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("use {},", default_algorithm())),
        "{stderr}"
    );
    // Nothing was generated and the bundle is as prepared.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["ceremony"].is_null(), "{manifest}");
    assert!(manifest["keys"][0]["generated"].is_null(), "{manifest}");
    assert_eq!(
        hsm().object_count(),
        objects_before,
        "no object was made in the token"
    );
    assert!(
        !tree(&p.bundle)
            .iter()
            .any(|f| f.ends_with("EncryptedKeyMaterial.bin"))
    );
}
