//! `keyrite kms prepare` fetches import parameters several keys at a time
//! (kms::prepare::CONCURRENCY) against the local KMS: the bundle still lists the keys in the
//! order asked, each with its own parameters; a key named twice is refused before anything is
//! created.

use crate::common;

use common::*;

#[test]
fn a_dozen_keys_keep_their_order_and_their_own_parameters() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let aliases: Vec<String> = (0..12)
        .map(|i| {
            rt.block_on(create_key(&client, true, &format!("conc{i:02}")))
                .0
        })
        .collect();
    let bundle = dir.path().join("bundle");
    let mut cmd = keyrite();
    cmd.args([
        "kms",
        "prepare",
        "--algorithm",
        default_algorithm(),
        "--out",
    ])
    .arg(&bundle);
    for a in &aliases {
        cmd.args(["--key", a]);
    }
    cmd.assert().success();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = m["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alias"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        aliases.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let mut public_keys: Vec<Vec<u8>> = m["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            std::fs::read(
                bundle
                    .join(k["name"].as_str().unwrap())
                    .join("WrappingPublicKey.bin"),
            )
            .unwrap()
        })
        .collect();
    public_keys.sort();
    public_keys.dedup();
    assert_eq!(public_keys.len(), 12, "each key has its own wrapping key");

    let twice = dir.path().join("twice");
    keyrite()
        .args([
            "kms",
            "prepare",
            "--algorithm",
            default_algorithm(),
            "--out",
        ])
        .arg(&twice)
        .args([
            "--key",
            &aliases[0],
            "--key",
            &aliases[1],
            "--key",
            &aliases[0],
        ])
        .assert()
        .code(2);
    assert!(!twice.exists(), "nothing is created for a usage error");
}
