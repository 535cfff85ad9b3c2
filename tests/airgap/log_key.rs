//! The log-signing key on a real PKCS#11 token: generated inside, never extractable, signing with
//! CKM_ECDSA in a form the software verifier accepts.

use crate::common;

use common::*;
use keyrite::core::log::{LogChain, LogSigner, TrustedKey, data, public_key_pem};
use keyrite::hsm::{HsmError, LOG_KEY_LABEL};

#[test]
fn the_log_key_is_a_non_extractable_token_key() {
    own_token!();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let p = session.log_key_protection(LOG_KEY_LABEL).unwrap();
    assert!(p.token, "{p:?}");
    assert!(p.sensitive, "{p:?}");
    assert!(!p.extractable, "{p:?}");
    assert!(p.never_extractable, "{p:?}");
    assert!(!p.value_readable, "{p:?}");
    assert!(p.is_protected());
}

#[test]
fn token_signatures_verify_with_the_exported_pem_and_fail_for_other_bytes() {
    own_token!();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let signer = session.log_signer(LOG_KEY_LABEL).unwrap();
    let pem = std::fs::read_to_string(hsm().log_public_key()).unwrap();
    let trusted = TrustedKey::from_pem(&pem).unwrap();
    assert_eq!(trusted.fingerprint(), signer.public_key().fingerprint());
    let (again, _) = public_key_pem(signer.public_key().key()).unwrap();
    assert_eq!(again, pem);

    let sig = signer.sign(b"a record body").unwrap();
    assert_eq!(sig.len(), 64, "CKM_ECDSA on P-256 returns raw r||s");
    assert!(trusted.verifies(b"a record body", &sig));
    assert!(!trusted.verifies(b"a record bodY", &sig));

    // A record signed in the token passes the signature and chain check (which come first), and
    // is then judged by the ceremony's rules: a lone key.generated record is not a ceremony.
    let mut chain = LogChain::new();
    let line = chain
        .record(
            &signer,
            jiff::Timestamp::now(),
            "key.generated",
            &["Alice".to_string()],
            data(&[("key", "k")]),
        )
        .unwrap();
    let err = keyrite::core::log::verify(&line, &trusted).unwrap_err();
    assert!(
        matches!(err, keyrite::core::log::LogError::Step { line: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("key.generated record"), "{err}");
    // The same record with one byte changed fails on its signature instead.
    let mut forged = line.clone();
    let at = forged.windows(3).position(|w| w == b"k\"}").unwrap();
    forged[at] = b'j';
    let err = keyrite::core::log::verify(&forged, &trusted).unwrap_err();
    assert!(
        !matches!(err, keyrite::core::log::LogError::Step { .. }),
        "a changed record must fail before the ceremony rules: {err}"
    );
}

#[test]
fn a_second_log_key_with_the_same_label_is_refused_and_a_missing_one_named() {
    own_token!();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let err = session.generate_log_key(LOG_KEY_LABEL).unwrap_err();
    assert!(matches!(err, HsmError::Refused { .. }), "{err}");
    let err = session.log_signer("no-such-log-key").err().unwrap();
    assert!(
        err.to_string()
            .contains("the token holds no log-signing key labelled \"no-such-log-key\""),
        "{err}"
    );
}
