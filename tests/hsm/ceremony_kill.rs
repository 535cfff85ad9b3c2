//! Killing a ceremony at any point leaves a log whose every complete record verifies: the log is
//! appended and fsynced one record at a time, so a kill can only cut it between records or inside
//! the last one. `keyrite ceremony` on the same bundle then finishes the ceremony or aborts it, and
//! either way `audit verify` accepts the log (exit 0 finished, 8 aborted; 9 while unfinished).

use crate::common;

use common::faults::{kill_after, lines};
use common::flow::*;
use common::*;
use keyrite::core::log::{LogError, TrustedKey, verify};

#[test]
fn a_ceremony_killed_at_any_record_leaves_a_log_whose_complete_records_verify() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..3)
        .map(|i| rt.block_on(create_key(&c, true, &format!("kill{i}"))).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let trusted =
        TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap();
    let mut cut_points = Vec::new();
    // A full log here has 9 records: start, probe, 3 x (generated, wrapped), end. Kill once the
    // log has reached each record count in turn.
    for kill_at in 1..=9 {
        let p = prepare(dir.path(), &refs, default_algorithm());
        let log_path = p.bundle.join("ceremony.log");
        kill_after(dir.path(), &p, &refs, kill_at);
        let log = std::fs::read(&log_path).unwrap();
        let complete = log.iter().filter(|&&b| b == b'\n').count();
        assert!(complete >= kill_at.min(9));
        cut_points.push(complete);
        // Everything up to the last newline verifies; what is missing is only the end.
        let whole = &log[..log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
        match verify(whole, &trusted) {
            Ok(report) => assert_eq!(
                report.records.len(),
                9,
                "only a finished log verifies whole"
            ),
            Err(LogError::Unfinished { last_seq }) => assert_eq!(last_seq as usize + 1, complete),
            Err(other) => panic!("killed after {complete} records: {other}"),
        }
        // A partial last line, if any, is reported as cut off, never as a bad earlier record.
        if whole.len() < log.len() {
            assert!(
                matches!(verify(&log, &trusted), Err(LogError::Truncated { line }) if line == complete + 1)
            );
        }
        if complete < 9 {
            // Finish or abort, alternating in pairs so each path meets a key generated and not
            // yet wrapped (kills after 3, 5, 7 records) as well as a clean cut.
            let choice = if (kill_at / 2) % 2 == 0 {
                "finish"
            } else {
                "abort"
            };
            resume_and_verify(dir.path(), &p, &refs, choice, &trusted);
        } else if !p.bundle.join("manifest.json.new").exists() {
            common::faults::check(&p, refs.len(), false, "killed after the end");
        } else {
            // Killed after the end record, before the manifest was renamed into place: the
            // bundle is not importable yet, and finishing puts the logged manifest in place.
            let import = keyrite()
                .args(["kms", "import", "--bundle"])
                .arg(&p.bundle)
                .output()
                .unwrap();
            assert!(
                !import.status.success(),
                "a bundle without its final manifest is imported"
            );
            let abort = common::faults::resume_process(dir.path(), &p, &refs, "abort")
                .output()
                .unwrap();
            assert_eq!(
                abort.status.code(),
                Some(5),
                "{}",
                String::from_utf8_lossy(&abort.stderr)
            );
            let out = common::faults::resume_process(dir.path(), &p, &refs, "finish")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            common::faults::check(&p, refs.len(), false, "finished after the end record");
        }
    }
    eprintln!("kills landed after {cut_points:?} complete records");
    // The kills landed at different points of the ceremony (not all after it finished).
    cut_points.dedup();
    assert!(cut_points.len() >= 3, "kills landed at {cut_points:?}");
}

/// A ceremony killed after its end record, while its ledger evidence was being written (its
/// replacement `ledger.jsonl.new` left in the bundle, as a kill in the middle of that write
/// leaves it): finishing is not refused for the leftover, writes the evidence again, and the
/// bundle verifies.
#[test]
fn a_kill_while_the_ledger_evidence_is_written_is_finished() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let (alias, _) = rt.block_on(create_key(&c, true, "kill-ledger"));
    let trusted =
        TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap();
    // The kill must land after the end record and before the manifest's rename: tried until it
    // does (the window is the ledger's fsynced writes).
    let p = (0..20)
        .find_map(|_| {
            let p = prepare(dir.path(), &[&alias], default_algorithm());
            kill_after(dir.path(), &p, &[&alias], 5);
            p.bundle.join("manifest.json.new").exists().then_some(p)
        })
        .expect("a kill landed between the end record and the manifest's rename");
    std::fs::write(p.bundle.join("ledger.jsonl.new"), b"half a ledger").unwrap();
    let out = common::faults::resume_process(dir.path(), &p, &[&alias], "finish")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = verify(
        &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    assert_eq!(
        report.records.last().map(|r| r.step.as_str()),
        Some("ceremony.end")
    );
    common::faults::check(&p, 1, false, "finished after a kill in the ledger's writes");
    assert!(!p.bundle.join("ledger.jsonl.new").exists());
    assert!(!p.bundle.join("manifest.json.new").exists());
}

/// Runs `keyrite ceremony` again on the killed ceremony's bundle with `choice`, then checks the
/// log verifies (whole: ended or aborted), `audit verify` accepts the bundle, and the HSM holds
/// exactly the keys the outcome says.
fn resume_and_verify(
    dir: &std::path::Path,
    p: &Prepared,
    keys: &[&str],
    choice: &str,
    trusted: &TrustedKey,
) {
    let out = common::faults::resume_process(dir, p, keys, choice)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{choice}: {err}");
    let log = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let report = verify(&log, trusted).unwrap_or_else(|e| panic!("{choice}: {e}"));
    let steps: Vec<&str> = report.records.iter().map(|r| r.step.as_str()).collect();
    assert!(steps.contains(&"ceremony.resumed"), "{steps:?}");
    common::faults::audit_verify(p, choice, choice == "abort");
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let labels: Vec<String> = session
        .secret_keys()
        .unwrap()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.ends_with(&format!("/{}", &p.fingerprint[..8])))
        .collect();
    match choice {
        "finish" => {
            assert_eq!(steps.last(), Some(&"ceremony.end"));
            assert_eq!(report.keys.len(), keys.len());
            assert!(report.keys.iter().all(|k| k.wrapped.is_some()));
            for k in &report.keys {
                assert!(labels.contains(&k.hsm_label), "{} kept", k.hsm_label);
            }
            assert_eq!(
                labels.len(),
                keys.len(),
                "one HSM key per bundle key: {labels:?}"
            );
        }
        _ => {
            assert_eq!(steps.last(), Some(&"ceremony.aborted"));
            let aborted = report.aborted.expect("an aborted record");
            let written: Vec<&str> = report
                .keys
                .iter()
                .filter(|k| k.wrapped.is_some())
                .map(|k| k.hsm_label.as_str())
                .collect();
            let mut left = labels.clone();
            left.sort();
            let mut want: Vec<String> = written.iter().map(|l| l.to_string()).collect();
            want.sort();
            assert_eq!(left, want, "only keys whose material was written remain");
            for l in &aborted.destroyed {
                assert!(!labels.contains(l), "{l} destroyed");
            }
        }
    }
}

/// In line mode (`--plain`) the interrupted ceremony is offered, not refused: the operators type
/// `abort` (or `finish`) before any other question, the choice is logged, and the log verifies.
#[test]
fn line_mode_offers_finish_or_abort_for_an_interrupted_ceremony() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..2)
        .map(|i| {
            rt.block_on(create_key(&c, true, &format!("plainkill{i}")))
                .0
        })
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let trusted =
        TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap();
    for choice in ["abort", "finish"] {
        let p = prepare(dir.path(), &refs, default_algorithm());
        let log_path = p.bundle.join("ceremony.log");
        // Killed once the first key is generated (start, probe, key.generated).
        kill_after(dir.path(), &p, &refs, 3);
        if verify(&std::fs::read(&log_path).unwrap(), &trusted).is_ok() {
            // The kill came after the end: nothing is interrupted; try again on a new bundle.
            continue;
        }
        let script = write_script(dir.path(), &refs, default_algorithm(), "RSA_4096");
        // Anything but finish or abort leaves, with the log as it was.
        let before = std::fs::read(&log_path).unwrap();
        let out = keyrite()
            .args(["ceremony", "--plain", "--script"])
            .arg(&script)
            .arg("--bundle")
            .arg(&p.bundle)
            .args(["--token", &hsm().token_uri()])
            .write_stdin("later\n")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("interrupted ceremony"), "{said}");
        assert_eq!(std::fs::read(&log_path).unwrap(), before);
        let input = format!(
            "{choice}\nAlice Admin\nWalter Witness\ny\n{}\ny\n",
            p.fingerprint
        );
        let out = keyrite()
            .args(["ceremony", "--plain", "--script"])
            .arg(&script)
            .arg("--bundle")
            .arg(&p.bundle)
            .args(["--token", &hsm().token_uri()])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{choice}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = verify(&std::fs::read(&log_path).unwrap(), &trusted)
            .unwrap_or_else(|e| panic!("{choice}: {e}"));
        let steps: Vec<&str> = report.records.iter().map(|r| r.step.as_str()).collect();
        assert!(steps.contains(&"ceremony.resumed"), "{steps:?}");
        let last = if choice == "abort" {
            "ceremony.aborted"
        } else {
            "ceremony.end"
        };
        assert_eq!(steps.last(), Some(&last), "{steps:?}");
    }
}

/// `audit verify` of a killed ceremony's bundle: every record verifies, the report (on stdout)
/// says unfinished, exit 9; aborted on the same bundle: exit 8, the interruption and the abort
/// in the report; `--require-complete` makes either a verification failure (exit 3).
#[test]
fn audit_reports_an_unfinished_then_aborted_ceremony_with_their_exit_codes() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..3)
        .map(|i| rt.block_on(create_key(&c, true, &format!("outcome{i}"))).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let audit = |bundle: &std::path::Path| {
        let mut cmd = keyrite();
        cmd.args(["audit", "verify"])
            .arg(bundle)
            .arg("--trust")
            .arg(hsm().log_public_key());
        cmd
    };
    // Killed after its start record: the probe's RSA key generation comes next, so the kill
    // lands before the end (should the ceremony outrun it, a fresh bundle is tried).
    let p = (0..5)
        .find_map(|_| {
            let p = prepare(dir.path(), &refs, default_algorithm());
            kill_after(dir.path(), &p, &refs, 1);
            (lines(&p.bundle.join("ceremony.log")) < 9).then_some(p)
        })
        .expect("a kill landed before the ceremony's end");
    let out = audit(&p.bundle).assert().code(9).get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ceremony UNFINISHED"), "{text}");
    assert!(text.contains("bundle files match the log"), "{text}");
    audit(&p.bundle).arg("--require-complete").assert().code(3);

    let out = common::faults::resume_process(dir.path(), &p, &refs, "abort")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(&p.bundle).assert().code(8).get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("verified: ceremony ABORTED"), "{text}");
    assert!(text.contains("outcome           aborted"), "{text}");
    assert!(
        text.contains("to abort"),
        "the interruption and its outcome: {text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the ceremony was aborted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(&p.bundle)
        .arg("--json")
        .assert()
        .code(8)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "aborted");
    assert_eq!(v["report"]["interruptions"][0]["choice"], "abort");
    audit(&p.bundle).arg("--require-complete").assert().code(3);
}
