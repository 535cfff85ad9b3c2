//! The three steps through the real binary, as an operator runs them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::*;

pub struct Prepared {
    pub bundle: PathBuf,
    pub fingerprint: String,
}

pub fn prepare(dir: &Path, keys: &[&str], algorithm: &str) -> Prepared {
    prepare_with_spec(dir, keys, algorithm, "RSA_4096")
}

/// `keyrite kms prepare` with a wrapping key spec (RSA_2048, RSA_3072, RSA_4096).
pub fn prepare_with_spec(dir: &Path, keys: &[&str], algorithm: &str, spec: &str) -> Prepared {
    let bundle = dir.join(unique("bundle"));
    let mut cmd = keyrite();
    cmd.args(["kms", "prepare", "--out"]).arg(&bundle).args([
        "--algorithm",
        algorithm,
        "--wrapping-spec",
        spec,
        "--json",
    ]);
    for k in keys {
        cmd.args(["--key", k]);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("prepare --json prints JSON");
    Prepared {
        bundle,
        fingerprint: v["fingerprint"].as_str().unwrap().to_string(),
    }
}

pub fn ceremony_cmd(
    dir: &Path,
    p: &Prepared,
    keys: &[&str],
    algorithm: &str,
) -> assert_cmd::Command {
    ceremony_cmd_with_spec(dir, p, keys, algorithm, "RSA_4096")
}

/// The headless ceremony for a bundle prepared with this algorithm and wrapping key spec.
pub fn ceremony_cmd_with_spec(
    dir: &Path,
    p: &Prepared,
    keys: &[&str],
    algorithm: &str,
    spec: &str,
) -> assert_cmd::Command {
    assert_cmd::Command::from_std(ceremony_process_with_spec(dir, p, keys, algorithm, spec))
}

/// [`ceremony_cmd`] as a plain process, for a test that spawns it (and may kill it).
pub fn ceremony_process(dir: &Path, p: &Prepared, keys: &[&str]) -> std::process::Command {
    ceremony_process_with_spec(dir, p, keys, default_algorithm(), "RSA_4096")
}

fn ceremony_process_with_spec(
    dir: &Path,
    p: &Prepared,
    keys: &[&str],
    algorithm: &str,
    spec: &str,
) -> std::process::Command {
    let script = write_script_with_replicas(dir, &with_replicas(p, keys), algorithm, spec);
    let answers = write_answers(dir, &p.fingerprint);
    ceremony_process_with_answers(&script, p, &answers)
}

/// The keys, each with the Regions of the replicas the bundle `p` holds for it: the script names
/// the Regions the connected side prepared (a multi-Region key's), as its author would.
pub fn with_replicas<'k>(p: &Prepared, keys: &[&'k str]) -> Vec<(&'k str, Vec<String>)> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    keys.iter()
        .map(|k| {
            let entry = manifest["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["requested"] == *k);
            let regions = entry
                .and_then(|e| e["replicas"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|r| r["region"].as_str().map(str::to_string))
                .collect();
            (*k, regions)
        })
        .collect()
}

/// The headless ceremony with this script and answers file.
pub fn ceremony_cmd_with_answers(
    script: &Path,
    p: &Prepared,
    answers: &Path,
) -> assert_cmd::Command {
    assert_cmd::Command::from_std(ceremony_process_with_answers(script, p, answers))
}

/// [`ceremony_cmd_with_answers`] as a plain process.
pub fn ceremony_process_with_answers(
    script: &Path,
    p: &Prepared,
    answers: &Path,
) -> std::process::Command {
    let mut cmd = keyrite_process();
    cmd.args(["ceremony", "--headless", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(answers)
        .args(["--token", &hsm().token_uri()])
        .arg("--ledger")
        .arg(ledger_dir(p));
    cmd
}

/// The token's ledger directory the headless test ceremonies append to: `ledger/` beside the
/// bundle (one per test directory, shared by the ceremonies of a test).
pub fn ledger_dir(p: &Prepared) -> PathBuf {
    p.bundle
        .parent()
        .map_or_else(|| PathBuf::from("ledger"), |d| d.join("ledger"))
}

/// A fresh EXTERNAL key in the local KMS and a bundle prepared for it: (temp dir, alias, bundle).
pub fn one_key_bundle(name: &str) -> (tempfile::TempDir, String, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let (alias, p) = prepare_for_new_key(dir.path(), name);
    (dir, alias, p)
}

pub fn import_cmd(bundle: &Path) -> assert_cmd::Command {
    let mut cmd = keyrite();
    cmd.args(["kms", "import", "--json", "--bundle"])
        .arg(bundle);
    cmd
}

/// prepare + ceremony + import for these keys; returns the bundle's manifest after import.
pub fn full_rotation(dir: &Path, keys: &[&str]) -> (Prepared, serde_json::Value) {
    let p = ceremony_done(dir, keys);
    import_cmd(&p.bundle).assert().success();
    let manifest =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    (p, manifest)
}

/// A key with EXTERNAL origin (ready for imported material) made in the local KMS for this test
/// alone, under an alias made from `name`: (alias, ARN).
pub fn external_key(name: &str) -> (String, String) {
    rt().block_on(async { create_key(&client().await, true, name).await })
}

/// A bundle prepared in `dir` for these keys with the token's algorithm ([`default_algorithm`]),
/// and the headless ceremony run on it, which must succeed. Not imported.
pub fn ceremony_done(dir: &Path, keys: &[&str]) -> Prepared {
    let prepared = prepare(dir, keys, default_algorithm());
    ceremony_cmd(dir, &prepared, keys, default_algorithm())
        .assert()
        .success();
    prepared
}

/// A fresh EXTERNAL key (see [`external_key`]) and a bundle prepared for it in `dir` with the
/// token's algorithm ([`default_algorithm`]): (alias, bundle).
pub fn prepare_for_new_key(dir: &Path, name: &str) -> (String, Prepared) {
    let (alias, _) = external_key(name);
    let prepared = prepare(dir, &[&alias], default_algorithm());
    (alias, prepared)
}

/// A key that went through the headless ceremony: what most tests start from.
pub struct Ceremonied {
    pub alias: String,
    pub arn: String,
    /// The wrapping algorithm the bundle was prepared with ([`default_algorithm`]).
    pub algorithm: &'static str,
    pub prepared: Prepared,
}

/// A fresh EXTERNAL key (see [`external_key`]), a bundle prepared for it in `dir` with the
/// token's algorithm, and the headless ceremony run on it, which must succeed. Not imported.
pub fn ceremony_for_new_key(dir: &Path, name: &str) -> Ceremonied {
    let (alias, arn) = external_key(name);
    let prepared = ceremony_done(dir, &[&alias]);
    Ceremonied {
        alias,
        arn,
        algorithm: default_algorithm(),
        prepared,
    }
}

/// Every key of the bundle is Enabled in the local KMS (after an import).
pub fn all_enabled(rt: &tokio::runtime::Runtime, bundle: &Path) {
    let client = rt.block_on(client());
    let verified = keyrite::io::bundle::Bundle::verify(bundle).unwrap();
    for k in &verified.manifest().keys {
        let state = rt
            .block_on(client.describe_key().key_id(&k.key_arn).send())
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state
            .unwrap();
        assert_eq!(state.as_str(), "Enabled", "{}", k.key_arn);
    }
}

/// Rewrites `bundle`'s import receipt with `edit` applied to its record bodies, the chain rebuilt
/// from the ceremony log so it still verifies: what anyone who can write the bundle can do
/// (receipt records are chained, not signed).
pub fn rewrite_receipt(bundle: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let path = bundle.join("import-receipt.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut bodies: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["body"].clone())
        .collect();
    edit(&mut bodies);
    let log = std::fs::read(bundle.join("ceremony.log")).unwrap();
    let mut chain = keyrite::core::receipt::ReceiptChain::after_ceremony_log(&log).unwrap();
    let mut out = Vec::new();
    for b in bodies {
        let actors: Vec<String> = serde_json::from_value(b["actors"].clone()).unwrap();
        out.extend(chain.record(
            b["time"].as_str().unwrap().parse().unwrap(),
            b["step"].as_str().unwrap(),
            &actors,
            b["data"].as_object().unwrap().clone(),
        ));
    }
    std::fs::write(&path, out).unwrap();
}

/// Output bytes as text, for assertions and their messages.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A ceremony on a fresh EXTERNAL key named from `name`, entered in the token's ledger (which
/// must succeed).
pub fn ledger_ceremony(dir: &Path, name: &str) -> Prepared {
    let (alias, _) = external_key(name);
    ceremony_done(dir, &[&alias])
}

/// `keyrite audit verify BUNDLE --trust <the test token's log key> EXTRA…`.
pub fn ledger_audit(bundle: &Path, extra: &[&str]) -> std::process::Output {
    keyrite()
        .args(["audit", "verify"])
        .arg(bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .args(extra)
        .output()
        .unwrap()
}

/// `keyrite witness cosign BUNDLE --key KEY --state STATE --trust <the test token's log key>
/// EXTRA…`.
pub fn witness_cosign(
    bundle: &Path,
    key: &Path,
    state: &Path,
    extra: &[&std::ffi::OsStr],
) -> std::process::Output {
    keyrite()
        .args(["witness", "cosign"])
        .arg(bundle)
        .arg("--key")
        .arg(key)
        .arg("--state")
        .arg(state)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .args(extra)
        .output()
        .unwrap()
}
