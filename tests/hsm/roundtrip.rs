//! One key's BYOK round trip on a real PKCS#11 token and the local KMS, proved end to end: KMS
//! ends up holding exactly the key the HSM generated, and rotation keeps the ARN and alias.

use crate::common;

use aws_sdk_kms::primitives::Blob;
use common::flow::*;
use common::*;
use keyrite::app::localkms::decrypt_localstack_ciphertext;

fn hsm_key(
    label: &str,
) -> (
    keyrite::hsm::token::UserSession,
    cryptoki::object::ObjectHandle,
) {
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let found = session.find_secret_keys(label).unwrap();
    assert_eq!(found.len(), 1, "exactly one HSM key labelled {label}");
    (session, found[0])
}

fn label_of(manifest: &serde_json::Value) -> String {
    manifest["keys"][0]["generated"]["hsm_label"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn kms_encrypt(
    client: &keyrite::kms::Client,
    key: &str,
    plaintext: &[u8],
    ctx: &[(&str, &str)],
) -> Vec<u8> {
    let mut req = client.encrypt().key_id(key).plaintext(Blob::new(plaintext));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

#[test]
fn kms_holds_exactly_the_material_the_hsm_generated() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (alias, arn) = rt.block_on(create_key(&client, true, "roundtrip"));

    let (_p, manifest) = full_rotation(dir.path(), &[&alias]);

    let (session, key) = hsm_key(&label_of(&manifest));
    let ctx = [("app", "ledger"), ("env", "dev")];
    let plaintext = b"the quick brown fox: 33 bytes!!!!";
    let ct = rt.block_on(kms_encrypt(&client, &alias, plaintext, &ctx));
    let recovered = decrypt_localstack_ciphertext(&session, key, &ct, &ctx).unwrap();
    assert_eq!(recovered, plaintext);
    // The proof can fail: the wrong context (AAD) is rejected by the HSM.
    assert!(decrypt_localstack_ciphertext(&session, key, &ct, &[("app", "other")]).is_err());
    let described = rt
        .block_on(client.describe_key().key_id(&alias).send())
        .unwrap();
    let meta = described.key_metadata.unwrap();
    assert_eq!(meta.arn.as_deref(), Some(arn.as_str()));
    assert_eq!(meta.key_state.unwrap().as_str(), "Enabled");
    assert!(meta.current_key_material_id.is_some());
}

#[test]
fn a_second_rotation_keeps_arn_and_alias_and_old_ciphertext_decrypts() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let (alias, arn) = rt.block_on(create_key(&client, true, "rotate"));

    let (_, first) = full_rotation(dir.path(), &[&alias]);
    let material_1 = rt
        .block_on(client.describe_key().key_id(&alias).send())
        .unwrap()
        .key_metadata
        .unwrap();
    let before = rt.block_on(kms_encrypt(
        &client,
        &alias,
        b"written before the rotation",
        &[],
    ));

    let (_, second) = full_rotation(dir.path(), &[&alias]);
    let material_2 = rt
        .block_on(client.describe_key().key_id(&alias).send())
        .unwrap()
        .key_metadata
        .unwrap();

    assert_eq!(
        material_2.arn.as_deref(),
        Some(arn.as_str()),
        "the key ARN did not change"
    );
    assert_eq!(
        material_2.key_id, material_1.key_id,
        "the alias still points at the same key"
    );
    assert_ne!(
        material_2.current_key_material_id, material_1.current_key_material_id,
        "the current key material changed"
    );
    assert_eq!(
        second["keys"][0]["key_state"], "Enabled",
        "the second prepare saw a key with material"
    );

    // Old ciphertext still decrypts through KMS.
    let old = rt
        .block_on(client.decrypt().ciphertext_blob(Blob::new(before)).send())
        .unwrap();
    assert_eq!(
        old.plaintext.unwrap().into_inner(),
        b"written before the rotation"
    );

    // New ciphertext decrypts in the HSM with the new key only.
    let new_ct = rt.block_on(kms_encrypt(&client, &alias, b"written after", &[]));
    let (session, new_key) = hsm_key(&label_of(&second));
    let (_, old_key) = hsm_key(&label_of(&first));
    assert_ne!(new_key, old_key);
    assert_eq!(
        decrypt_localstack_ciphertext(&session, new_key, &new_ct, &[]).unwrap(),
        b"written after"
    );
    assert!(decrypt_localstack_ciphertext(&session, old_key, &new_ct, &[]).is_err());
}

#[test]
fn the_generated_key_cannot_be_read_and_its_check_value_is_the_tokens() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = external_key("attrs");
    let (_, manifest) = full_rotation(dir.path(), &[&alias]);

    let (session, key) = hsm_key(&label_of(&manifest));
    assert!(
        !session.value_is_readable(key).unwrap(),
        "CKA_VALUE must be unreadable"
    );

    let recorded = manifest["keys"][0]["generated"]["check_value"]
        .as_str()
        .unwrap();
    let computed = data_encoding::HEXLOWER.encode(&session.check_value(key).unwrap());
    assert_eq!(
        recorded, computed,
        "the manifest records the check value the HSM computes"
    );
    match session.token_check_value(key).unwrap() {
        Some(token_kcv) => assert_eq!(data_encoding::HEXLOWER.encode(&token_kcv), recorded),
        None => assert!(
            !hsm().is_softhsm(),
            "SoftHSM2 offers CKA_CHECK_VALUE; it must be compared"
        ),
    }
}
