//! The ceremony's preflight: before anyone is asked for anything, the script against the bundle
//! (where each key resolves to), the parameters' remaining validity and the people named. Each
//! refusal leaves the bundle as it was and creates nothing in the HSM.

use crate::common;

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
        &format!("the script wants account {}", account()),
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

#[test]
fn the_progress_sink_gets_every_step_of_every_key_in_order_as_the_report_and_files_say() {
    use keyrite::app::ceremony::preflight::preflight;
    use keyrite::app::ceremony::progress::{KeyStep, Progress, ProgressSink};
    use keyrite::app::ceremony::start::{CeremonyInputs, CeremonyPaths, perform};
    use keyrite::core::script::Answers;
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = common::flow::external_key("progress-a");
    let (b, _) = common::flow::external_key("progress-b");
    let p = common::flow::prepare(dir.path(), &[&a, &b], default_algorithm());
    let script = write_script(dir.path(), &[&a, &b], default_algorithm(), "RSA_4096");
    let token = hsm().token_uri();
    let inputs = CeremonyInputs::load(&CeremonyPaths {
        script: &script,
        bundle: &p.bundle,
        token: &token,
        module: &hsm().module,
        roster: None,
        so_pin_source: None,
        escrow_from: None,
        ledger: None,
    })
    .unwrap();
    let checked = preflight(&inputs).unwrap();
    let answers = Answers {
        operator: "Alice Admin".into(),
        witness: Some("Walter Witness".into()),
        bundle_fingerprint: p.fingerprint.clone(),
        custodians: Vec::new(),
        resume: None,
    };
    let got = std::sync::Mutex::new(Vec::new());
    let sink = |p: Progress| got.lock().unwrap().push(p);
    let report = perform(&inputs, &checked, &answers, ProgressSink::to(&sink)).unwrap();
    let got = got.into_inner().unwrap();

    assert!(matches!(&got[0], Progress::Probed { .. }), "{got:?}");
    assert_eq!(got.last(), Some(&Progress::Finished { keys: 2 }));
    let steps: Vec<(usize, usize)> = got
        .iter()
        .filter_map(|p| match p {
            Progress::Key { index, step, .. } => Some((*index, step.position())),
            _ => None,
        })
        .collect();
    let want: Vec<(usize, usize)> = (0..2)
        .flat_map(|i| (1..=KeyStep::COUNT).map(move |s| (i, s)))
        .collect();
    assert_eq!(
        steps, want,
        "each key's six steps, in order, one key after the other"
    );
    // What the steps say is what the report and the files say.
    for (i, k) in report.keys.iter().enumerate() {
        let said = |f: &dyn Fn(&KeyStep) -> Option<String>| {
            got.iter()
                .find_map(|p| match p {
                    Progress::Key { index, key, step } if *index == i => {
                        assert_eq!(key, &k.name);
                        f(step)
                    }
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(
            said(&|s| match s {
                KeyStep::Generated { hsm_label } => Some(hsm_label.clone()),
                _ => None,
            }),
            k.hsm_label
        );
        assert_eq!(
            said(&|s| match s {
                KeyStep::CheckValue { check_value } => Some(check_value.clone()),
                _ => None,
            }),
            k.check_value
        );
        let written =
            std::fs::read(p.bundle.join(&k.name).join("EncryptedKeyMaterial.bin")).unwrap();
        assert_eq!(
            said(&|s| match s {
                KeyStep::Verified { sha256 } => Some(sha256.clone()),
                _ => None,
            }),
            keyrite::core::digest::sha256_hex(&written)
        );
    }
}
