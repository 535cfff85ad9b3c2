//! `keyrite rehearse` as a newcomer runs it: a fresh SoftHSM2 token, its own local KMS, the whole
//! flow, the proof, and everything left where it says.

use std::net::TcpStream;

#[test]
fn a_rehearsal_runs_the_whole_flow_and_cleans_up_its_local_kms() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("rehearsal");
    let out = assert_cmd::Command::cargo_bin("keyrite")
        .unwrap()
        .args(["rehearse", "--headless", "--quick", "--out"])
        .arg(&out_dir)
        .env_remove("SOFTHSM2_CONF")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rehearse failed:\n{err}");
    assert!(
        err.contains("KMS Encrypt -> HSM AES-GCM decrypt: same plaintext"),
        "{err}"
    );
    assert!(err.contains("first import, Enabled"), "{err}");
    // The HSM was opened by a 2-of-3 quorum (Alice and Carol), and the log says so.
    assert!(err.contains("quorum met: Alice, Carol (2 of 3)"), "{err}");
    let roster = keyrite::core::custody::RosterFile::parse(
        &std::fs::read(out_dir.join("roster.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(roster.roster.threshold, 2);
    assert_eq!(roster.roster.custodians.len(), 3);
    let trusted = keyrite::core::log::TrustedKey::from_pem(
        &std::fs::read_to_string(out_dir.join("log-public-key.pem")).unwrap(),
    )
    .unwrap();
    let report = keyrite::core::log::verify(
        &std::fs::read(out_dir.join("bundle/ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    let q = report.quorum.expect("the rehearsal's log binds its roster");
    assert_eq!(
        q.authorised,
        [("Alice".to_string(), 1), ("Carol".to_string(), 3)]
    );

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("bundle/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["keys"][0]["alias"], "alias/dev-s3");
    assert!(
        manifest["ceremony"]["prepared_manifest_sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    for f in [
        "WrappingPublicKey.bin",
        "ImportToken.bin",
        "EncryptedKeyMaterial.bin",
    ] {
        assert!(out_dir.join("bundle/dev-s3").join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read(out_dir.join("bundle/dev-s3/EncryptedKeyMaterial.bin"))
            .unwrap()
            .len(),
        512
    );

    // The local KMS it started is gone.
    let port: u16 = std::fs::read_to_string(out_dir.join("localkms/port"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!out_dir.join("localkms/pid").exists());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "LocalStack still listens on {port}"
    );

    // The replay shows the operators' screens, the quorum's among them.
    let replay = assert_cmd::Command::cargo_bin("keyrite")
        .unwrap()
        .args(["audit", "replay", "--text", "--trust"])
        .arg(out_dir.join("log-public-key.pem"))
        .arg(out_dir.join("bundle"))
        .output()
        .unwrap();
    assert!(replay.status.success());
    let screens = String::from_utf8_lossy(&replay.stdout);
    assert!(
        screens.contains("Quorum met (shamir): 2 of the roster's threshold 2 authorised"),
        "{screens}"
    );
    assert!(
        screens.contains("── step 6 of 6 · ceremony.end"),
        "{screens}"
    );

    // A second rehearsal into the same directory is refused, and changes nothing.
    let again = assert_cmd::Command::cargo_bin("keyrite")
        .unwrap()
        .args(["rehearse", "--headless", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
