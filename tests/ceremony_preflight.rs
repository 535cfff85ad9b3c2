//! The ceremony's preflight: before anyone is asked for anything, the script against the bundle
//! (where each key resolves to), the parameters' remaining validity and the people named. Each
//! refusal leaves the bundle as it was and creates nothing in the HSM.

mod common;

use std::path::Path;

use common::flow::{Prepared, ceremony_cmd, ceremony_cmd_with_answers, one_key_bundle};
use common::*;

const VERIFICATION_FAILED: i32 = 3;
const REFUSED: i32 = 5;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Secret keys in the test token (every ceremony key is one).
fn secret_keys() -> usize {
    let session = hsm().token().login(&hsm().pin()).unwrap();
    session.count_secret_keys().unwrap()
}

fn edit_manifest(p: &Prepared, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = p.bundle.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Runs the command, expects `code` and `want` in stderr, and checks nothing changed.
fn refused(p: &Prepared, mut cmd: assert_cmd::Command, code: i32, want: &str) {
    let before = tree(&p.bundle);
    let keys_before = secret_keys();
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(want), "want {want:?} in: {err}");
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(tree(&p.bundle), before, "no file added or removed");
    assert_eq!(secret_keys(), keys_before, "no HSM object created");
}

#[test]
fn parameters_expiring_within_the_margin_are_refused_before_anything_is_generated() {
    own_token!();
    let (dir, alias, p) = one_key_bundle("expiring");
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    edit_manifest(&p, |v| {
        v["keys"][0]["parameters_valid_to"] = soon.to_string().into();
    });
    refused(
        &p,
        ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm()),
        REFUSED,
        "the script asks for at least 30 minute(s)",
    );
    edit_manifest(&p, |v| {
        v["keys"][0]["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
    });
    refused(
        &p,
        ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm()),
        REFUSED,
        "expired",
    );
}

#[test]
fn a_bundle_for_a_key_in_another_account_is_refused_before_the_hashes_and_the_fingerprint() {
    own_token!();
    let (dir, alias, p) = one_key_bundle("other-account");
    edit_manifest(&p, |v| {
        v["keys"][0]["account"] = "111122223333".into();
    });
    refused(
        &p,
        ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm()),
        VERIFICATION_FAILED,
        "the script wants account 000000000000",
    );
}

fn ceremony_with_people(
    dir: &Path,
    p: &Prepared,
    alias: &str,
    people: &str,
) -> assert_cmd::Command {
    let script = write_script(dir, &[alias], default_algorithm(), "RSA_4096");
    let answers = dir.join(unique("answers"));
    write_secret(
        &answers,
        format!("{people}bundle_fingerprint = \"{}\"\n", p.fingerprint),
    );
    ceremony_cmd_with_answers(&script, p, &answers)
}

#[test]
fn a_headless_ceremony_needs_a_witness_who_is_not_the_operator() {
    own_token!();
    let (dir, alias, p) = one_key_bundle("witness");
    refused(
        &p,
        ceremony_with_people(dir.path(), &p, &alias, "operator = \"Alice Admin\"\n"),
        REFUSED,
        "the script requires a witness",
    );
    refused(
        &p,
        ceremony_with_people(
            dir.path(),
            &p,
            &alias,
            "operator = \"Alice Admin\"\nwitness = \" alice  ADMIN \"\n",
        ),
        REFUSED,
        "is the operator",
    );
}
