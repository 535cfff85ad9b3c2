//! Multi-Region keys against the local KMS (KMS never copies imported material between related
//! multi-Region keys): one ceremony wraps one HSM key for the primary's and each replica's own
//! wrapping key, `kms import` gives every Region the same material, and each rule's bad input is
//! refused by name; `kms status` reads each replica in its own Region and names one left behind.

use crate::common;

use common::flow;
use common::*;

/// A client of the local KMS in `region`.
pub(crate) fn client_in(region: &str) -> keyrite::kms::Client {
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
pub(crate) fn primary_with_a_replica(primary: &str, replica: &str) -> (String, String) {
    rt().block_on(create_multi_region_key(&client_in(primary), "mrk", replica))
}

/// The manifest of a bundle, as JSON.
fn manifest_of(bundle: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap()
}

/// The current KeyMaterialId and state of `id` in `client`'s Region.
pub(crate) fn material_in(client: &keyrite::kms::Client, id: &str) -> (Option<String>, String) {
    let meta = rt()
        .block_on(client.describe_key().key_id(id).send())
        .unwrap()
        .key_metadata
        .unwrap();
    (
        meta.current_key_material_id().map(str::to_string),
        meta.key_state().unwrap().as_str().to_string(),
    )
}

/// One ceremony gives a multi-Region primary and its replica the same HSM key: `kms prepare`
/// fetches a wrapping key in each Region, the ceremony wraps the one key once per Region (one
/// key.generated, a key.wrapped per Region), `kms import` imports into both, both Regions report
/// one KeyMaterialId, ciphertext from one Region decrypts in the other, and the HSM decrypts
/// what the replica's Region encrypted.
#[test]
fn one_ceremony_imports_the_same_hsm_key_into_a_primary_and_its_replica() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let p = flow::prepare(dir.path(), &[&alias], default_algorithm());

    let m = manifest_of(&p.bundle);
    let key = &m["keys"][0];
    let name = key["name"].as_str().unwrap();
    assert_eq!(key["replicas"][0]["region"], away);
    assert_eq!(key["replicas"][0]["key_state"], "PendingImport");
    let own = std::fs::read(p.bundle.join(name).join("WrappingPublicKey.bin")).unwrap();
    let theirs =
        std::fs::read(p.bundle.join(name).join(away).join("WrappingPublicKey.bin")).unwrap();
    assert_ne!(own, theirs, "each Region's KMS makes its own wrapping key");
    assert!(
        p.bundle
            .join(name)
            .join(away)
            .join("ImportToken.bin")
            .is_file()
    );

    flow::ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let log = std::fs::read_to_string(p.bundle.join("ceremony.log")).unwrap();
    let steps: Vec<String> = log
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let step = v["body"]["step"].as_str()?.to_string();
            step.starts_with("key.").then_some(step)
        })
        .collect();
    assert_eq!(
        steps,
        ["key.generated", "key.wrapped", "key.wrapped"],
        "{log}"
    );
    assert!(
        log.contains(&format!("\"replica_regions\":[\"{away}\"]")),
        "{log}"
    );
    assert!(log.contains(&format!("\"region\":\"{away}\"")), "{log}");
    // The replay tells the operators' story: one key, wrapped again for the replica's Region.
    let replay = keyrite()
        .args(["audit", "replay", "--text", "--trust"])
        .arg(hsm().log_public_key())
        .arg(&p.bundle)
        .output()
        .unwrap();
    let screens = String::from_utf8_lossy(&replay.stdout);
    assert!(
        screens.contains(&format!("then for its replicas in {away}")),
        "{screens}"
    );
    assert!(
        screens.contains(&format!(
            "again, for its replica in {away}'s own wrapping key"
        )),
        "{screens}"
    );
    assert!(
        p.bundle
            .join(name)
            .join(away)
            .join("EncryptedKeyMaterial.bin")
            .is_file()
    );

    let out = flow::import_cmd(&p.bundle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    let (primary_material, state) = material_in(&client_in(home), &id);
    assert_eq!(state, "Enabled");
    let (replica_material, state) = material_in(&client_in(away), &id);
    assert_eq!(state, "Enabled", "{out}");
    assert!(primary_material.is_some());
    assert_eq!(
        replica_material, primary_material,
        "one KeyMaterialId in both Regions"
    );
    let receipt = std::fs::read_to_string(p.bundle.join("import-receipt.log")).unwrap();
    assert!(
        receipt.contains(&format!("\"region\":\"{away}\"")),
        "{receipt}"
    );

    // Ciphertext from the primary's Region decrypts in the replica's.
    let ct = rt()
        .block_on(
            client_in(home)
                .encrypt()
                .key_id(&id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(b"across".to_vec()))
                .send(),
        )
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = rt()
        .block_on(client_in(away).decrypt().ciphertext_blob(ct).send())
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"across");
    // What the replica's Region encrypts, the HSM's key decrypts: the replica holds the HSM's key.
    let ct = rt()
        .block_on(
            client_in(away)
                .encrypt()
                .key_id(&id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(
                    b"from the replica".to_vec(),
                ))
                .send(),
        )
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let label = key_label(&p.bundle);
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let found = session.find_secret_keys(&label).unwrap();
    let plain =
        keyrite::app::localkms::decrypt_localstack_ciphertext(&session, found[0], ct.as_ref(), &[])
            .unwrap();
    assert_eq!(plain, b"from the replica");

    // verify-rotation looks at the replica in its own Region too.
    let run = keyrite()
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&p.bundle)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("replica in {away}: Enabled, current key material")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "the primary Region's ciphertext decrypts in {away}"
        )),
        "{said}"
    );

    // The auditor's check holds for the multi-Region ceremony, and fails on the replica's
    // wrapped material changed.
    let verify = || {
        keyrite()
            .args(["audit", "verify"])
            .arg(&p.bundle)
            .arg("--trust")
            .arg(hsm().log_public_key())
            .output()
            .unwrap()
    };
    let verified = verify();
    assert_eq!(verified.status.code(), Some(0));
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(
        text.contains(&format!("replica        {away}: wrapped again, sha256")),
        "audit verify's report names the replica's wrap: {text}"
    );
    let page = dir.path().join("report.html");
    keyrite()
        .args(["audit", "report"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(&format!("replica in {away}: ")),
        "the auditor's page names it too"
    );
    let theirs = p
        .bundle
        .join(name)
        .join(away)
        .join("EncryptedKeyMaterial.bin");
    let mut bytes = std::fs::read(&theirs).unwrap();
    bytes[0] ^= 1;
    std::fs::remove_file(&theirs).unwrap();
    std::fs::write(&theirs, &bytes).unwrap();
    let run = verify();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("{away}/EncryptedKeyMaterial.bin")),
        "{err}"
    );
}

/// The HSM label of the bundle's (first) key, after its ceremony.
fn key_label(bundle: &std::path::Path) -> String {
    manifest_of(bundle)["keys"][0]["generated"]["hsm_label"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A replica made after the bundle was prepared is in a Region the bundle holds no wrapping key
/// for: `kms import` refuses the key before anything is sent, naming the Region.
#[test]
fn import_refuses_a_key_with_a_replica_in_a_region_the_bundle_lacks() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let p = flow::ceremony_done(dir.path(), &[&alias]);
    let late = "ap-south-1";
    rt().block_on(
        client_in(home)
            .replicate_key()
            .key_id(&id)
            .replica_region(late)
            .send(),
    )
    .unwrap();
    let run = flow::import_cmd(&p.bundle).output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{err}");
    assert!(
        err.contains(&format!("KMS lists a replica of this key in {late}")),
        "{err}"
    );
    assert!(err.contains("prepare a new bundle"), "{err}");
    for region in [home, away, late] {
        assert_eq!(
            material_in(&client_in(region), &id),
            (None, "PendingImport".to_string()),
            "nothing was imported in {region}"
        );
    }
}

/// A replica that already holds material of its own (imported there by hand) would leave the
/// Regions with different KeyMaterialIds: `kms import` refuses before sending anything.
#[test]
fn import_refuses_a_replica_holding_other_material_different_key_material_ids() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let p = flow::ceremony_done(dir.path(), &[&alias]);
    let mut other = [0u8; 32];
    getrandom::fill(&mut other).unwrap();
    import_by_hand(&client_in(away), &id, &other, dir.path());
    let (theirs, _) = material_in(&client_in(away), &id);

    let run = flow::import_cmd(&p.bundle).output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{err}");
    assert!(
        err.contains(&format!(
            "its replica in {away} already holds {}",
            theirs.unwrap()
        )),
        "{err}"
    );
    assert!(err.contains("different KeyMaterialIds"), "{err}");
    assert_eq!(
        material_in(&client_in(home), &id),
        (None, "PendingImport".to_string()),
        "the primary was not imported"
    );
}

/// The bundle's wrapping key for one Region copied over another's (the manifest rewritten to
/// match, the fingerprint read out anew): the ceremony refuses the bundle at its preflight, and
/// nothing is generated in the HSM.
#[test]
fn the_ceremony_refuses_a_wrapping_key_reused_across_regions() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, _id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let mut p = flow::prepare(dir.path(), &[&alias], default_algorithm());
    let mut m = manifest_of(&p.bundle);
    let name = m["keys"][0]["name"].as_str().unwrap().to_string();
    let own = std::fs::read(p.bundle.join(&name).join("WrappingPublicKey.bin")).unwrap();
    let theirs = p
        .bundle
        .join(&name)
        .join(away)
        .join("WrappingPublicKey.bin");
    std::fs::remove_file(&theirs).unwrap();
    std::fs::write(&theirs, &own).unwrap();
    m["files"][format!("{name}/{away}/WrappingPublicKey.bin")] =
        serde_json::json!(keyrite::core::digest::sha256_hex(&own));
    let bytes = format!("{}\n", serde_json::to_string_pretty(&m).unwrap());
    std::fs::remove_file(p.bundle.join("manifest.json")).unwrap();
    std::fs::write(p.bundle.join("manifest.json"), &bytes).unwrap();
    p.fingerprint = keyrite::core::digest::sha256_hex(bytes.as_bytes());

    let objects = hsm().object_count();
    let run = flow::ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "the same wrapping public key is in the bundle for {home} and for {away}"
        )),
        "{err}"
    );
    assert_eq!(
        hsm().object_count(),
        objects,
        "nothing generated in the HSM"
    );
    assert!(!p.bundle.join("ceremony.log").exists());
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

/// `kms prepare --replicate-to` makes the replica an EXTERNAL multi-Region primary lacks (it waits
/// in PendingImport) and prepares the bundle for both Regions; a single-Region key is refused, and
/// so is the replica named as a key of its own.
#[test]
fn prepare_replicate_to_makes_the_replica_first_and_refuses_a_single_region_key() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let client = client_in(home);
    let id = rt().block_on(create_multi_region_primary(&client));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let run = keyrite()
        .args([
            "kms",
            "prepare",
            "--key",
            &id,
            "--replicate-to",
            away,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains(&format!("replica in {away}: arn:aws:kms:{away}:")),
        "the prepared replica is named: {said}"
    );
    assert_eq!(
        material_in(&client_in(away), &id),
        (None, "PendingImport".to_string())
    );
    let m = manifest_of(&out);
    assert_eq!(m["keys"][0]["replicas"][0]["region"], away);
    assert!(out.join(&id).join(away).join("ImportToken.bin").is_file());

    let (single, _) = rt().block_on(async { create_key(&client, true, "single").await });
    let refused = dir.path().join("refused");
    let run = keyrite()
        .args([
            "kms",
            "prepare",
            "--key",
            &single,
            "--replicate-to",
            away,
            "--out",
        ])
        .arg(&refused)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{err}");
    assert!(err.contains("this is a single-Region key"), "{err}");
    assert!(!refused.exists());
    // The replica itself is refused as a key of its own, naming its primary: its material
    // comes through the primary's bundle.
    let replica_arn = format!("arn:aws:kms:{away}:{}:key/{id}", account_of(&client, &id));
    let run = keyrite()
        .env("AWS_REGION", away)
        .args(["kms", "prepare", "--key", &replica_arn, "--out"])
        .arg(dir.path().join("replica"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{err}");
    assert!(
        err.contains(&format!("a multi-Region replica key (primary in {home}")),
        "{err}"
    );
    assert!(err.contains("prepare its primary"), "{err}");
    assert!(!dir.path().join("replica").exists());
    // A Region that is not AWS's grammar is a usage error.
    let run = keyrite()
        .args([
            "kms",
            "prepare",
            "--key",
            &id,
            "--replicate-to",
            "US-WEST-2",
            "--out",
        ])
        .arg(dir.path().join("usage"))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `keyrite rehearse --multi-region`: the key a multi-Region primary with a replica in another
/// Region, one ceremony, the HSM key imported into both, proved in each Region (KMS Encrypt there,
/// HSM decrypt) and across them (KMS Decrypt in the other Region).
#[test]
fn a_multi_region_rehearsal_proves_the_hsm_key_in_both_regions_and_across_them() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let alias = format!("alias/{}", unique("mrk-rehearsal"));
    let script = dir.path().join("rehearsal.toml");
    std::fs::write(
        &script,
        keyrite::app::rehearse::QUICK_SCRIPT.replace("alias/dev-s3", &alias),
    )
    .unwrap();
    let out_dir = dir.path().join("rehearsal");
    let run = keyrite()
        .args([
            "rehearse",
            "--headless",
            "--multi-region",
            "eu-central-1",
            "--script",
        ])
        .arg(&script)
        .arg("--out")
        .arg(&out_dir)
        .args(["--endpoint-url", &kms_endpoint()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("created (EXTERNAL multi-Region primary, pending import)"),
        "{err}"
    );
    assert!(
        err.contains("in eu-central-1: Enabled, key material"),
        "{err}"
    );
    assert!(
        err.contains("KMS Decrypt across the two Regions both ways: same plaintext"),
        "{err}"
    );
    let m = manifest_of(&out_dir.join("bundle"));
    assert_eq!(m["keys"][0]["replicas"][0]["region"], "eu-central-1");
    let id = m["keys"][0]["key_id"].as_str().unwrap();
    // The rehearsal acts in the local KMS's default account.
    let rehearsal_in = |region: &str| {
        rt().block_on(keyrite::kms::connect(&keyrite::kms::KmsTarget {
            region: Some(region.into()),
            local_credentials: Some(keyrite::kms::LOCAL_ACCESS_KEY.into()),
            ..kms_target()
        }))
        .unwrap()
    };
    let (primary, state) = material_in(&rehearsal_in("us-east-1"), id);
    assert_eq!(state, "Enabled");
    assert!(primary.is_some());
    assert_eq!(material_in(&rehearsal_in("eu-central-1"), id).0, primary);
}

/// `kms inventory` of the primary's Region reads the replica's Region too: the bucket there,
/// encrypted under the replica, holds data under the same key material and is listed, under the
/// replica, with the key marked multi-Region.
#[test]
fn inventory_of_the_primarys_region_reads_the_replicas_region_and_its_resources() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let bucket = unique("mrk-bucket").to_lowercase();
    let replica = format!(
        "arn:aws:kms:{away}:{}:key/{id}",
        account_of(&client_in(away), &id)
    );
    rt().block_on(common::services::bucket(away, &bucket, &replica, &[]));
    let out = common::services::keyrite_all_services()
        .args([
            "kms",
            "inventory",
            "--services",
            "s3",
            "--region",
            home,
            "--json",
        ])
        .assert()
        .success();
    let o = out.get_output();
    let table = String::from_utf8_lossy(&o.stderr).to_string();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let regions: Vec<&str> = v["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(regions.contains(&away), "{regions:?}");
    let keys = v["keys"].as_array().unwrap();
    let theirs = keys
        .iter()
        .find(|k| k["key_arn"] == replica.as_str())
        .unwrap_or_else(|| panic!("the replica is listed: {table}"));
    assert_eq!(theirs["related_regions"], serde_json::json!([home]));
    assert_eq!(theirs["resources"][0]["name"], bucket.as_str());
    let ours = keys
        .iter()
        .find(|k| k["aliases"][0] == alias.as_str())
        .unwrap();
    assert_eq!(ours["related_regions"], serde_json::json!([away]));
    assert!(
        table.contains(&format!(
            "multi-Region: the same key material in {away} too"
        )),
        "{table}"
    );
}

/// The account a key lives in, from its ARN.
fn account_of(client: &keyrite::kms::Client, id: &str) -> String {
    let arn = rt()
        .block_on(client.describe_key().key_id(id).send())
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    arn.split(':').nth(4).unwrap().to_string()
}

/// The script names every Region the material may go to: a bundle whose key has a replica the
/// script does not name (a replica added on the connected side) is refused at the ceremony's
/// preflight, before anyone types a secret, and nothing is generated.
#[test]
fn the_ceremony_refuses_a_replica_region_the_script_does_not_name() {
    own_token!();
    let (alias, _id) = primary_with_a_replica("us-east-1", "eu-west-1");
    let dir = tempfile::tempdir().unwrap();
    let p = flow::prepare(dir.path(), &[&alias], default_algorithm());
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let answers = write_answers(dir.path(), &p.fingerprint);
    let objects = hsm().object_count();
    let run = flow::ceremony_cmd_with_answers(&script, &p, &answers)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "the bundle wraps the key's material for replicas in eu-west-1, the script names none"
        ),
        "{err}"
    );
    assert_eq!(
        hsm().object_count(),
        objects,
        "nothing generated in the HSM"
    );
    assert!(!p.bundle.join("ceremony.log").exists());
}

/// The AWS CLI fallback `kms import` prints for a multi-Region key, run as printed by a shell
/// with the real AWS CLI: the primary's import keeps its KeyMaterialId, the replica is given the
/// same material under it, and both Regions then hold one KeyMaterialId.
#[test]
fn the_printed_aws_cli_fallback_imports_a_multi_region_key_into_both_regions() {
    own_token!();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let dir = tempfile::tempdir().unwrap();
    let p = flow::ceremony_done(dir.path(), &[&alias]);
    // The commands are printed before the import starts; a KMS endpoint nobody listens on stops
    // keyrite's own import after that.
    let out = flow::import_cmd(&p.bundle)
        .args(["--endpoint-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let script: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("aws kms ") || l.starts_with("KEY_MATERIAL_ID="))
        .collect();
    assert_eq!(
        script.len(),
        2,
        "the primary's import, then the replica's:\n{stderr}"
    );
    assert_eq!(
        material_in(&client_in(home), &id),
        (None, "PendingImport".to_string()),
        "keyrite itself imported nothing"
    );
    let mut shell = std::process::Command::new("bash");
    super::kms_interop::aws_env(&mut shell);
    let run = shell.arg("-ec").arg(script.join("\n")).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (primary, state) = material_in(&client_in(home), &id);
    assert_eq!(state, "Enabled");
    assert!(primary.is_some());
    assert_eq!(
        material_in(&client_in(away), &id),
        (primary, "Enabled".to_string())
    );
}
