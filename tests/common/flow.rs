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
    let script = write_script(dir, keys, algorithm, spec);
    let answers = write_answers(dir, &p.fingerprint);
    ceremony_cmd_with_answers(&script, p, &answers)
}

/// The headless ceremony with this script and answers file.
pub fn ceremony_cmd_with_answers(
    script: &Path,
    p: &Prepared,
    answers: &Path,
) -> assert_cmd::Command {
    let mut cmd = keyrite();
    cmd.args(["ceremony", "--headless", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(answers)
        .args(["--token", &hsm().token_uri()]);
    cmd
}

/// A fresh EXTERNAL key in the local KMS and a bundle prepared for it: (temp dir, alias, bundle).
pub fn one_key_bundle(name: &str) -> (tempfile::TempDir, String, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let (alias, _) = rt.block_on(create_key(&c, true, name));
    let p = prepare(dir.path(), &[&alias], default_algorithm());
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
    let alg = default_algorithm();
    let p = prepare(dir, keys, alg);
    ceremony_cmd(dir, &p, keys, alg).assert().success();
    import_cmd(&p.bundle).assert().success();
    let manifest =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    (p, manifest)
}
