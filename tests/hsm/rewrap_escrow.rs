//! A re-wrap trusts the earlier bundle (`--escrow-from`) no further than its signed log: the
//! insider who writes bundles on the connected side could otherwise hand the ceremony an escrow
//! bundle of their own making and have an escrowed key wrapped for a key of their choosing. Each
//! refusal is checked as in `tests/hsm/hostile.rs`: the message, the exit code (README "Exit codes"),
//! no HSM object created and nothing written (the fresh bundle and the escrow bundle unchanged).

use crate::common;

use std::path::Path;

use common::flow::*;
use common::*;

const VERIFICATION_FAILED: i32 = 3;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn manifest(bundle: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap()
}

/// An imported ceremony whose material was then deleted in KMS (as when it expires): the key is
/// back in PendingImport, the escrow copy in the HSM. (temp dir, alias, earlier bundle.)
fn escrowed(name: &str) -> (tempfile::TempDir, String, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let Ceremonied {
        alias,
        arn,
        prepared: first,
        ..
    } = ceremony_for_new_key(dir.path(), name);
    import_cmd(&first.bundle).assert().success();
    let rt = rt();
    let client = rt.block_on(client());
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();
    (dir, alias, first)
}

fn rewrap_cmd(dir: &Path, fresh: &Prepared, alias: &str, earlier: &Path) -> assert_cmd::Command {
    let mut cmd = ceremony_cmd(dir, fresh, &[alias], default_algorithm());
    cmd.arg("--rewrap").arg("--escrow-from").arg(earlier);
    cmd
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// The re-wrap must be refused: exit 3, the message, nothing written, no HSM object created.
fn rewrap_refused(dir: &Path, fresh: &Prepared, alias: &str, earlier: &Path, want: &[&str]) {
    let mut cmd = rewrap_cmd(dir, fresh, alias, earlier);
    let objects = hsm().object_count();
    let before = snapshot(dir);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "stderr: {err}"
    );
    for w in want {
        assert!(err.contains(w), "want {w:?} in: {err}");
    }
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(hsm().object_count(), objects, "no HSM object was created");
    assert_eq!(snapshot(dir), before, "nothing was written");
}

/// The attack: the escrow bundle without its ceremony.log (the rest, import-progress.json
/// included, as the connected side holds it). Before, the re-wrap went ahead on the manifest's
/// word alone.
#[test]
fn an_escrow_bundle_without_its_ceremony_log_is_refused() {
    own_token!();
    let (dir, alias, first) = escrowed("rewrap-nolog");
    std::fs::remove_file(first.bundle.join("ceremony.log")).unwrap();
    let fresh = prepare(dir.path(), &[&alias], default_algorithm());
    rewrap_refused(
        dir.path(),
        &fresh,
        &alias,
        &first.bundle,
        &["has no ceremony.log", "do not re-wrap from this bundle"],
    );
}

/// The attack: the insider writes the escrow bundle's log themselves, every record re-signed
/// with a key of their own (and the start record naming it). It verifies, but not with this
/// token's log key.
#[test]
fn an_escrow_log_signed_by_another_key_is_refused() {
    own_token!();
    use keyrite::core::log::{LogChain, TrustedKey, bodies};
    let (dir, alias, first) = escrowed("rewrap-otherkey");
    let log_path = first.bundle.join("ceremony.log");
    let genuine = std::fs::read(&log_path).unwrap();
    let theirs = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let their_sha = TrustedKey::from_key(*theirs.verifying_key())
        .unwrap()
        .fingerprint()
        .to_string();
    let mut chain = LogChain::new();
    let mut forged = Vec::new();
    for mut body in bodies(&genuine).unwrap() {
        if let Some(v) = body.data.get_mut("log_key_sha256") {
            *v = serde_json::json!(their_sha);
        }
        let line = chain
            .record(&theirs, body.time, &body.step, &body.actors, body.data)
            .unwrap();
        forged.extend_from_slice(&line);
    }
    std::fs::write(&log_path, &forged).unwrap();
    let fresh = prepare(dir.path(), &[&alias], default_algorithm());
    rewrap_refused(
        dir.path(),
        &fresh,
        &alias,
        &first.bundle,
        &["does not verify with this token's log key"],
    );
}

/// The attack: key A's escrow copy restored into key B. The insider rewrites the escrow
/// bundle's manifest to name B's ARN (and its import record to match), then prepares a fresh
/// bundle for B. The signed log recorded A's ARN for that escrowed key.
#[test]
fn an_escrow_bundle_naming_another_key_arn_is_refused() {
    own_token!();
    let (dir, alias, first) = escrowed("rewrap-arn");
    let (other_alias, other_arn) = external_key("rewrap-arn-other");
    let m = manifest(&first.bundle);
    let arn = m["keys"][0]["key_arn"].as_str().unwrap().to_string();
    let key_id = m["keys"][0]["key_id"].as_str().unwrap().to_string();
    let other_id = other_arn.rsplit('/').next().unwrap().to_string();
    let manifest_path = first.bundle.join("manifest.json");
    let old_fp = keyrite::core::digest::sha256_hex(&std::fs::read(&manifest_path).unwrap());
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace(&arn, &other_arn)
        .replace(&key_id, &other_id)
        .replace(&alias, &other_alias);
    std::fs::write(&manifest_path, &text).unwrap();
    let new_fp = keyrite::core::digest::sha256_hex(text.as_bytes());
    let progress_path = first.bundle.join("import-progress.json");
    let progress = std::fs::read_to_string(&progress_path)
        .unwrap()
        .replace(&old_fp, &new_fp);
    std::fs::write(&progress_path, progress).unwrap();
    let fresh = prepare(dir.path(), &[&other_alias], default_algorithm());
    let _ = alias;
    rewrap_refused(
        dir.path(),
        &fresh,
        &other_alias,
        &first.bundle,
        &[&format!("records no key {other_arn}")],
    );
}

/// The genuine re-wrap goes through; its log names the escrow bundle's log by hash and the HSM
/// label, and `audit verify` passes and shows the re-wrap.
#[test]
fn a_genuine_rewrap_passes_and_the_audit_shows_it() {
    own_token!();
    let (dir, alias, first) = escrowed("rewrap-good");
    let escrow_log_sha = keyrite::core::digest::sha256_hex(
        &std::fs::read(first.bundle.join("ceremony.log")).unwrap(),
    );
    let label = manifest(&first.bundle)["keys"][0]["generated"]["hsm_label"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = prepare(dir.path(), &[&alias], default_algorithm());
    rewrap_cmd(dir.path(), &fresh, &alias, &first.bundle)
        .assert()
        .success();
    let log = std::fs::read_to_string(fresh.bundle.join("ceremony.log")).unwrap();
    assert!(log.contains(&format!("\"hsm_label\":\"{label}\"")), "{log}");
    assert!(
        log.contains(&format!("\"escrow_log_sha256\":\"{escrow_log_sha}\"")),
        "{log}"
    );
    let out = keyrite()
        .args(["audit", "verify"])
        .arg(&fresh.bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // The report is on stdout.
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("HSM label      {label}")),
        "{report}"
    );
    assert!(
        report.contains("re-wrap of the escrowed key of bundle"),
        "{report}"
    );
    assert!(
        report.contains(&format!("(its log sha256 {escrow_log_sha})")),
        "{report}"
    );
    import_cmd(&fresh.bundle).assert().success();
}

/// A token whose ceremonies a roster's quorum opens (here HSM-enforced, with a PIN file standing
/// in for the PED, so that a run without the quorum can log in at all): a re-wrap of its escrow
/// without that quorum is refused once the escrow log shows the roster, and goes through with it.
#[test]
fn a_rewrap_of_a_quorum_ceremony_needs_the_quorum() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let store_env = if hsm().is_softhsm() {
        (hsm().env.0, hsm().env.1.clone())
    } else {
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        ("KRYOPTIC_CONF", dir.path().join("store/token.sql"))
    };
    let run = |args: &[&str]| {
        let mut cmd = keyrite();
        cmd.env(store_env.0, &store_env.1).args(args);
        cmd
    };
    let label = unique("rwq");
    let pin_file = dir.path().join("ped.pin");
    write_secret(&pin_file, "ped-stand-in-0001\n");
    if hsm().is_softhsm() {
        keyrite::hsm::Token::initialise(
            &hsm().module,
            &label,
            &cryptoki::types::AuthPin::new("so-0001".into()),
            &cryptoki::types::AuthPin::new("ped-stand-in-0001".into()),
        )
        .unwrap();
    } else {
        let tool = |args: &[&str]| {
            let out = std::process::Command::new("pkcs11-tool")
                .arg("--module")
                .arg(&hsm().module)
                .args(args)
                .env(store_env.0, &store_env.1)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        };
        tool(&["--init-token", "--label", &label, "--so-pin", "so-0001"]);
        tool(&[
            "--init-pin",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            "so-0001",
            "--new-pin",
            "ped-stand-in-0001",
        ]);
    }
    let enrol = dir.path().join("enroll.toml");
    std::fs::write(
        &enrol,
        format!(
            "quorum = \"hsm-enforced\"\nthreshold = 2\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n\n[[custodian]]\nname = \"Alice\"\n\n[[custodian]]\nname = \"Bob\"\n\n[[custodian]]\nname = \"Carol\"\n"
        ),
    )
    .unwrap();
    run(&["quorum", "enroll", "--headless", "--script"])
        .arg(&enrol)
        .arg("--pin-source")
        .arg(&pin_file)
        .assert()
        .success();
    let roster = dir.path().join("enrolment/roster.json");
    let token = format!(
        "pkcs11:token={label}?pin-source=file:{}",
        pin_file.display()
    );
    let answers = |p: &Prepared, quorum: bool| {
        let mut s = format!(
            "operator = \"Alice Admin\"\nwitness = \"Walter Witness\"\nbundle_fingerprint = \"{}\"\n",
            p.fingerprint
        );
        if quorum {
            s.push_str("\n[[custodian]]\nname = \"Bob\"\n\n[[custodian]]\nname = \"Carol\"\n");
        }
        let path = dir.path().join(format!("{}.toml", unique("answers")));
        write_secret(&path, s);
        path
    };
    let ceremony = |p: &Prepared, alias: &str, quorum: bool| {
        let script = write_script(dir.path(), &[alias], default_algorithm(), "RSA_4096");
        let mut cmd = run(&["ceremony", "--headless", "--token", &token, "--script"]);
        cmd.arg(script)
            .arg("--bundle")
            .arg(&p.bundle)
            .arg("--answers")
            .arg(answers(p, quorum));
        if quorum {
            cmd.arg("--roster").arg(&roster);
        }
        cmd
    };

    let (alias, arn) = external_key("rewrap-quorum");
    let first = prepare(dir.path(), &[&alias], default_algorithm());
    ceremony(&first, &alias, true).assert().success();
    // This token's log key is the enrolment's, not the test token's.
    import_cmd(&first.bundle)
        .arg("--trust")
        .arg(dir.path().join("enrolment/log-public-key.pem"))
        .assert()
        .success();
    let rt = rt();
    let client = rt.block_on(client());
    rt.block_on(client.delete_imported_key_material().key_id(&arn).send())
        .unwrap();

    let fresh = prepare(dir.path(), &[&alias], default_algorithm());
    let mut cmd = ceremony(&fresh, &alias, false);
    cmd.arg("--rewrap").arg("--escrow-from").arg(&first.bundle);
    let before = snapshot(dir.path());
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("opened by the quorum of roster") && err.contains("needs that quorum too"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
    assert!(snapshot(dir.path()) == before, "nothing was written");
    ceremony(&fresh, &alias, true)
        .arg("--rewrap")
        .arg("--escrow-from")
        .arg(&first.bundle)
        .assert()
        .success();
}
