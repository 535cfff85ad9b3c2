//! Multi-Region keys against the local KMS: `kms prepare` refuses a multi-Region primary and its
//! replica, naming their Regions, before any import parameters are fetched and without writing a
//! bundle (importing one bundle into one Region would leave the other Regions behind: KMS never
//! copies imported material between related multi-Region keys); `kms status` reads each replica
//! in its own Region and names one left behind.

use crate::common;

use common::*;

/// A client of the local KMS in `region`.
fn client_in(region: &str) -> keyrite::kms::Client {
    let client = rt().block_on(client());
    keyrite::kms::Client::from_conf(
        client
            .config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    )
}

/// An EXTERNAL multi-Region primary in `primary` with an alias, replicated to `replica` before
/// any import (LocalStack's ReplicateKey copies the primary as it is: a replica made now is
/// PendingImport, as AWS's is). Returns (alias, key id).
fn primary_with_a_replica(primary: &str, replica: &str) -> (String, String) {
    let client = client_in(primary);
    rt().block_on(async {
        let meta = client
            .create_key()
            .origin(aws_sdk_kms::types::OriginType::External)
            .multi_region(true)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let id = meta.key_id().to_string();
        let replica = client
            .replicate_key()
            .key_id(&id)
            .replica_region(replica)
            .send()
            .await
            .unwrap();
        assert_eq!(
            replica.replica_key_metadata().and_then(|m| m.key_state()),
            Some(&aws_sdk_kms::types::KeyState::PendingImport),
            "a replica of an EXTERNAL primary made before any import waits for its material"
        );
        let alias = format!("alias/{}", unique("mrk"));
        client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        (alias, id)
    })
}

#[test]
fn prepare_refuses_a_multi_region_primary_and_its_replica_naming_their_regions() {
    own_token!();
    let (alias, id) = primary_with_a_replica("us-east-1", "eu-west-1");
    let dir = tempfile::tempdir().unwrap();

    // `kms prepare` of one key in one Region: (exit code, stderr); no bundle may be written.
    let prepare = |key: &str, region: &str, out: &str| {
        let out = dir.path().join(out);
        let run = keyrite()
            .env("AWS_REGION", region)
            .args(["kms", "prepare", "--key", key, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(
            !out.exists(),
            "no bundle is written for a refused key: {err}"
        );
        (run.status.code(), err)
    };

    let (code, err) = prepare(&alias, "us-east-1", "bundle-primary");
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains(&format!(
            "{alias}: a multi-Region primary key (primary in us-east-1; replicas in eu-west-1)"
        )),
        "{err}"
    );
    assert!(err.contains("would leave the others behind"), "{err}");
    assert!(err.contains("what to do: leave this key out"), "{err}");

    // The replica, named by its ARN in its own Region.
    let replica_arn = format!("arn:aws:kms:eu-west-1:{}:key/{id}", account());
    let (code, err) = prepare(&replica_arn, "eu-west-1", "bundle-replica");
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("a multi-Region replica key (primary in us-east-1; replicas in"),
        "{err}"
    );

    // Both keys still wait for their material: nothing was imported anywhere.
    let client = client_in("us-east-1");
    rt().block_on(async {
        let state = client
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state
            .unwrap();
        assert_eq!(state, aws_sdk_kms::types::KeyState::PendingImport);
    });
}

/// The material, wrapped for `key_id`'s wrapping key in `client`'s Region as an operator would
/// by hand (openssl, RSAES_OAEP_SHA_256), and imported there.
fn import_by_hand(
    client: &keyrite::kms::Client,
    key_id: &str,
    material: &[u8],
    dir: &std::path::Path,
) {
    let region = client.config().region().unwrap().to_string();
    let params = rt()
        .block_on(
            client
                .get_parameters_for_import()
                .key_id(key_id)
                .wrapping_algorithm(aws_sdk_kms::types::AlgorithmSpec::RsaesOaepSha256)
                .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
                .send(),
        )
        .unwrap();
    let der = dir.join(format!("{region}.der"));
    let plain = dir.join(format!("{region}.material"));
    let wrapped = dir.join(format!("{region}.wrapped"));
    std::fs::write(&der, params.public_key().unwrap().as_ref()).unwrap();
    std::fs::write(&plain, material).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(&der)
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
        ])
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&wrapped)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt().block_on(
        client
            .import_key_material()
            .key_id(key_id)
            .import_token(aws_sdk_kms::primitives::Blob::new(
                params.import_token().unwrap().as_ref(),
            ))
            .encrypted_key_material(aws_sdk_kms::primitives::Blob::new(
                std::fs::read(&wrapped).unwrap(),
            ))
            .expiration_model(aws_sdk_kms::types::ExpirationModelType::KeyMaterialDoesNotExpire)
            .send(),
    )
    .unwrap();
}

/// `kms status` reads a multi-Region primary's replicas in their own Regions: a replica that
/// does not hold the primary's material is named and makes the key NON_COMPLIANT (exit 7) until
/// the same material is imported there too; then both Regions report one KeyMaterialId, and
/// ciphertext from one Region decrypts in the other.
///
/// Its keys live in two Regions no other test reads with `kms status` (the local KMS is shared by
/// the whole run, and `kms status` answers for every key of its Region).
#[test]
fn status_names_a_replica_left_behind_until_it_holds_the_primarys_material() {
    own_token!();
    let (home, away) = ("ca-central-1", "sa-east-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let primary = client_in(home);
    let replica = client_in(away);
    let mut material = [0u8; 32];
    getrandom::fill(&mut material).unwrap();
    import_by_hand(&primary, &id, &material, dir.path());

    let ours = || {
        let report = rt()
            .block_on(keyrite::kms::status::status(
                &primary,
                keyrite::core::key_age::Policy::default(),
                &keyrite::kms::status::Receipts::default(),
                jiff::Timestamp::now(),
            ))
            .unwrap();
        let key = report
            .keys
            .iter()
            .find(|k| k.key_id == id)
            .cloned()
            .unwrap();
        let alone = keyrite::kms::status::StatusReport {
            keys: vec![key.clone()],
            unreadable: Vec::new(),
            resources_unreadable: Vec::new(),
            ..report
        };
        (key, keyrite::app::status::verdict(&alone))
    };

    // The primary has its material; the replica, still PendingImport, is left behind.
    let (key, verdict) = ours();
    let primary_material = key.key_material_id.clone().unwrap();
    assert_eq!(key.replicas.len(), 1);
    assert_eq!(key.replicas[0].region, away);
    assert_eq!(
        key.replicas_behind(),
        vec![format!(
            "{away}: no key material (PendingImport), the primary's is {primary_material}"
        )]
    );
    let err = verdict.unwrap_err();
    assert_eq!(err.exit_code(), keyrite::app::error::ExitCode::NonCompliant);
    assert!(
        err.to_string().contains(&format!(
            "{alias} in {away}: no key material (PendingImport)"
        )),
        "{err}"
    );
    // The binary says the same, in its table and its exit code.
    let run = keyrite()
        .env("AWS_REGION", home)
        .args(["kms", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{alias} in {away}: no key material (PendingImport)"
        )),
        "{stderr}"
    );

    // The same material, wrapped for the replica's own Region, imported there.
    import_by_hand(&replica, &id, &material, dir.path());
    let (key, verdict) = ours();
    assert!(key.replicas_behind().is_empty(), "{:?}", key.replicas);
    assert!(verdict.is_ok(), "{verdict:?}");
    // The local KMS gives the same material the same KeyMaterialId in both Regions.
    assert_eq!(
        key.replicas[0].key_material_id.as_deref(),
        Some(primary_material.as_str())
    );
    // Ciphertext from one Region decrypts in the other.
    let ciphertext = rt()
        .block_on(
            primary
                .encrypt()
                .key_id(&id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(
                    b"across regions".to_vec(),
                ))
                .send(),
        )
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = rt()
        .block_on(replica.decrypt().ciphertext_blob(ciphertext).send())
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"across regions");
}
