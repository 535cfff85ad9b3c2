//! `keyrite audit verify` through the binary, on logs a real ceremony wrote (SoftHSM2 signing with
//! its in-token log key, local KMS), and on tampered copies.

use crate::common;

use std::path::Path;

use common::flow::*;
use common::*;
use keyrite::core::log::{TrustedKey, verify};

fn audit(target: &Path, trust: &Path) -> assert_cmd::Command {
    let mut cmd = keyrite();
    cmd.args(["audit", "verify"])
        .arg(target)
        .arg("--trust")
        .arg(trust);
    cmd
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_ceremony_log_verifies_and_every_tampered_copy_fails_with_exit_3() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = external_key("audit");
    let (p, manifest) = full_rotation(dir.path(), &[&alias]);
    let trust = hsm().log_public_key();

    // The log itself, in the library: start, probe, generated, wrapped, end; signed by the token's key.
    let log = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let trusted = TrustedKey::from_pem(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    let report = verify(&log, &trusted).unwrap();
    let steps: Vec<_> = report.records.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "ceremony.start",
            "hsm.probe",
            "key.generated",
            "key.wrapped",
            "ceremony.end"
        ]
    );
    assert_eq!(
        report.keys[0].check_value,
        manifest["keys"][0]["generated"]["check_value"]
            .as_str()
            .unwrap()
    );
    assert_eq!(report.binding.manifest_sha256, p.fingerprint);
    assert_eq!(report.binding.tool_version, env!("CARGO_PKG_VERSION"));
    // This test runs the full build (both features); the air-gap build records "airgap".
    assert_eq!(
        report.binding.tool_features.as_deref(),
        Some("airgap,connected")
    );
    assert_eq!(report.records[0].actors, ["Alice Admin", "Walter Witness"]);

    // Through the binary: the bundle verifies, and --json says so.
    let out = audit(&p.bundle, &trust)
        .arg("--json")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["outcome"], "complete");
    assert_eq!(v["report"]["records"].as_array().unwrap().len(), 5);
    assert_eq!(v["report"]["bundle_files"].as_array().unwrap().len(), 2);
    assert_eq!(v["report"]["participants"][0]["role"], "operator");
    assert_eq!(v["report"]["participants"][1]["name"], "Walter Witness");
    assert_eq!(
        v["report"]["key_table"][0]["key_arn"],
        manifest["keys"][0]["key_arn"]
    );
    assert_eq!(
        v["report"]["key_table"][0]["key_material_id"],
        v["report"]["receipt"]["keys"][0]["key_material_id"]
    );
    assert!(v["report"]["key_table"][0]["key_material_id"].is_string());
    // The report for people is on stdout: `> report.txt` files it.
    let out = audit(&p.bundle, &trust)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ceremony log "), "{text}");
    assert!(text.contains(": verified: ceremony complete;"), "{text}");
    assert!(text.contains("bundle files match the log"), "{text}");
    assert!(text.contains("outcome           complete"), "{text}");

    // The log file alone verifies too, without the bundle check.
    let out = audit(&p.bundle.join("ceremony.log"), &trust)
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stdout).contains("bundle files: not checked"));

    // Another key is not trusted: said as such, before any signature is checked.
    let corpus_key =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/log-tamper/log-public-key.pem");
    let corpus_fp = TrustedKey::from_pem(&std::fs::read_to_string(&corpus_key).unwrap()).unwrap();
    let out = audit(&p.bundle, &corpus_key)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the log says it is signed by key {}; you trusted {}",
            trusted.fingerprint(),
            corpus_fp.fingerprint()
        )),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no report from a log that does not verify"
    );

    // A flipped byte in the third record (the key.generated check value).
    let flipped = dir.path().join("flipped");
    copy_dir(&p.bundle, &flipped);
    let mut bytes = log.clone();
    let kcv = report.keys[0].check_value.as_bytes();
    let pos = bytes.windows(kcv.len()).position(|w| w == kcv).unwrap();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    std::fs::write(flipped.join("ceremony.log"), &bytes).unwrap();
    let out = audit(&flipped, &trust)
        .arg("--json")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3 (claims seq 2): the signature does not verify"),
        "{v}"
    );

    // The log intact, the wrapped material swapped: the bundle no longer matches what was logged.
    let swapped = dir.path().join("swapped");
    copy_dir(&p.bundle, &swapped);
    let key_dir = report.keys[0].wrapped.as_ref().unwrap().0.clone();
    let ekm = swapped.join(&key_dir);
    let mut material = std::fs::read(&ekm).unwrap();
    material[0] ^= 0xff;
    std::fs::write(&ekm, &material).unwrap();
    let out = audit(&swapped, &trust)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EncryptedKeyMaterial.bin"), "{stderr}");

    // The last record cut off: truncated, exit 3.
    let cut = dir.path().join("cut");
    copy_dir(&p.bundle, &cut);
    std::fs::write(cut.join("ceremony.log"), &log[..log.len() - 20]).unwrap();
    let out = audit(&cut, &trust).assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 5: the last record is cut off"),
        "{stderr}"
    );
}

#[test]
fn a_rehearsal_leaves_a_log_that_its_published_key_verifies() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("rehearsal");
    keyrite()
        .args(["rehearse", "--headless", "--out"])
        .arg(&out_dir)
        .args(["--endpoint-url", &kms_endpoint()])
        .assert()
        .success();
    let trust = out_dir.join("log-public-key.pem");
    assert!(
        std::fs::read_to_string(&trust)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let bundle = out_dir.join("bundle");
    audit(&bundle, &trust).assert().code(0);

    // The rehearsal's log does not verify with the test token's (different) log key.
    audit(&bundle, &hsm().log_public_key()).assert().code(3);

    // A tampered copy: records reordered.
    let tampered = dir.path().join("tampered");
    copy_dir(&bundle, &tampered);
    let log = std::fs::read_to_string(bundle.join("ceremony.log")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.swap(1, 2);
    std::fs::write(tampered.join("ceremony.log"), lines.join("\n") + "\n").unwrap();
    let out = audit(&tampered, &trust)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2 (seq 2): expected seq 1"),
        "{stderr}"
    );
}

fn receipt_lines(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("import-receipt.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_import_receipt_continues_the_log_and_a_tampered_receipt_fails_with_exit_3() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = external_key("receipt");
    let trust = hsm().log_public_key();

    // First import, then a rotation of the same key with a second bundle.
    std::fs::create_dir(dir.path().join("one")).unwrap();
    std::fs::create_dir(dir.path().join("two")).unwrap();
    let (first, _) = full_rotation(&dir.path().join("one"), &[&alias]);
    let (second, manifest) = full_rotation(&dir.path().join("two"), &[&alias]);

    let log = std::fs::read(second.bundle.join("ceremony.log")).unwrap();
    let trusted = TrustedKey::from_pem(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    let report = verify(&log, &trusted).unwrap();
    let lines = receipt_lines(&second.bundle);
    let steps: Vec<_> = lines
        .iter()
        .map(|l| l["body"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["import.start", "key.imported", "import.end"]);
    // The chain goes on from the ceremony log's last line.
    assert_eq!(lines[0]["body"]["seq"], 5);
    assert_eq!(lines[0]["body"]["prev"], report.head_sha256.as_str());
    assert_eq!(lines[0]["body"]["data"]["manifest_sha256"], {
        let m = std::fs::read(second.bundle.join("manifest.json")).unwrap();
        keyrite::core::digest::sha256_hex(&m)
    });
    let key = &lines[1]["body"]["data"];
    assert_eq!(key["kind"], "rotation");
    assert_eq!(key["state"], "Enabled");
    assert_eq!(key["key_arn"], manifest["keys"][0]["key_arn"]);
    assert!(!key["import_request_id"].as_str().unwrap().is_empty());
    assert!(!key["rotate_request_id"].as_str().unwrap().is_empty());
    assert_eq!(
        key["encrypted_key_material_sha256"],
        report.keys[0].wrapped.as_ref().unwrap().1.as_str()
    );
    assert_eq!(
        receipt_lines(&first.bundle)[1]["body"]["data"]["kind"],
        "first import"
    );
    assert!(receipt_lines(&first.bundle)[1]["body"]["data"]["rotate_request_id"].is_null());

    // audit verify checks the receipt with the bundle.
    let out = audit(&second.bundle, &trust)
        .arg("--json")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["receipt"]["records"], 3);
    assert_eq!(v["report"]["receipt"]["finished"], true);
    assert_eq!(
        v["report"]["receipt"]["keys"][0]["key_material_id"],
        key["key_material_id"]
    );
    let text = audit(&second.bundle, &trust)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("continuing the log's chain"), "{text}");
    assert!(
        text.contains(&format!(
            "KeyMaterialId  {}",
            key["key_material_id"].as_str().unwrap()
        )),
        "{text}"
    );

    // A second import run sends nothing and appends a run of its own, still on the chain.
    import_cmd(&second.bundle).assert().success();
    let out = audit(&second.bundle, &trust)
        .arg("--json")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["receipt"]["runs"], 2);
    assert_eq!(v["report"]["receipt"]["keys"].as_array().unwrap().len(), 1);

    let receipt = std::fs::read_to_string(second.bundle.join("import-receipt.log")).unwrap();
    let tampered = |name: &str, text: &str| {
        let d = dir.path().join(name);
        copy_dir(&second.bundle, &d);
        std::fs::write(d.join("import-receipt.log"), text).unwrap();
        let out = audit(&d, &trust).assert().code(3).get_output().clone();
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // The key material id edited: the next record's prev no longer matches.
    let id = key["key_material_id"].as_str().unwrap();
    let edited = receipt.replacen(id, &"0".repeat(id.len()), 1);
    let stderr = tampered("edited", &edited);
    assert!(
        stderr.contains("import-receipt.log: line 3 (seq 7): prev is"),
        "{stderr}"
    );
    // A line removed.
    let lines: Vec<&str> = receipt.lines().collect();
    let removed = [lines[0], lines[2]].join("\n") + "\n";
    let stderr = tampered("removed", &removed);
    assert!(
        stderr.contains("import-receipt.log: line 2: expected seq 6, found 7"),
        "{stderr}"
    );
    // The receipt of another ceremony (the first bundle's).
    let other = std::fs::read_to_string(first.bundle.join("import-receipt.log")).unwrap();
    let stderr = tampered("other", &other);
    assert!(
        stderr.contains("but the ceremony log's last line hashes to"),
        "{stderr}"
    );
    // Consistently rewritten but naming other material than the ceremony wrapped: the content
    // check catches what the chain alone cannot.
    let d = dir.path().join("rewritten");
    copy_dir(&second.bundle, &d);
    let sha = key["encrypted_key_material_sha256"].as_str().unwrap();
    let mut chain = keyrite::core::receipt::ReceiptChain::after_ceremony_log(&log).unwrap();
    let mut text = Vec::new();
    for l in receipt.lines() {
        let v: serde_json::Value = serde_json::from_str(&l.replace(sha, &"1".repeat(64))).unwrap();
        let b = &v["body"];
        text.extend(chain.record(
            b["time"].as_str().unwrap().parse().unwrap(),
            b["step"].as_str().unwrap(),
            &[],
            b["data"].as_object().unwrap().clone(),
        ));
    }
    std::fs::write(d.join("import-receipt.log"), text).unwrap();
    let out = audit(&d, &trust).assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the material sent hashes to 1111"),
        "{stderr}"
    );
}

#[test]
fn audit_with_the_script_checks_it_is_the_one_the_log_bound() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let a = external_key("order-a").0;
    let b = external_key("order-b").0;
    let (p, _) = full_rotation(dir.path(), &[&a, &b]);
    let trust = hsm().log_public_key();
    // The same script text the ceremony ran (write_script is deterministic for the same keys).
    let same = write_script(dir.path(), &[&a, &b], default_algorithm(), "RSA_4096");
    audit(&p.bundle, &trust)
        .arg("--script")
        .arg(&same)
        .assert()
        .code(0);
    // The keys in another order: another script, refused.
    let other = write_script(dir.path(), &[&b, &a], default_algorithm(), "RSA_4096");
    let out = audit(&p.bundle, &trust)
        .arg("--script")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("record bound script") && err.contains("what to do:"),
        "{err}"
    );
}

/// The report names who stood in which role and which binary ran; --expect-binary compares
/// that binary with the auditor's own build; --out files the report; an unfinished log has its
/// own exit code.
#[test]
fn the_report_names_roles_and_the_binary_and_an_unfinished_log_exits_9() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, arn) = external_key("roles");
    let (p, manifest) = full_rotation(dir.path(), &[&alias]);
    let trust = hsm().log_public_key();

    // The start record holds the roles, from the ceremony's answers and script.
    let log = std::fs::read_to_string(p.bundle.join("ceremony.log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let data = &first["body"]["data"];
    assert_eq!(data["ceremony"], "test ceremony");
    assert_eq!(data["operator"], "Alice Admin");
    assert_eq!(data["witness"], "Walter Witness");

    let binary =
        keyrite::core::digest::sha256_hex(&std::fs::read(env!("CARGO_BIN_EXE_keyrite")).unwrap());
    assert_eq!(data["tool_sha256"], binary.as_str());
    let out = audit(&p.bundle, &trust)
        .args(["--expect-binary", &binary])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "ceremony          test ceremony".to_string(),
        "operator          Alice Admin".to_string(),
        "witness           Walter Witness".to_string(),
        format!(
            "default build (features airgap,connected: holds network code) (binary sha256 {binary})"
        ),
        format!("expected binary   sha256 {binary}: the binary that ran is this build"),
        format!("ARN            {arn}"),
        format!("account        {}  region us-east-1", account()),
        format!(
            "check value    {}",
            manifest["keys"][0]["generated"]["check_value"]
                .as_str()
                .unwrap()
        ),
        "bundle signed by  nobody: bundle unsigned".to_string(),
        "interruptions     none".to_string(),
    ] {
        assert!(text.contains(&want), "{want:?} missing:\n{text}");
    }
    // Another binary than the auditor's rebuild: refused, naming both.
    let other = "ab".repeat(32);
    let out = audit(&p.bundle, &trust)
        .args(["--expect-binary", &other])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "the log says keyrite binary sha256 {binary} ran, you expected {other}"
        )),
        "{err}"
    );
    audit(&p.bundle, &trust)
        .args(["--expect-binary", "not-a-hash"])
        .assert()
        .code(2);

    // --out: the same report, in a file created new; never over an existing one.
    let report = dir.path().join("report.txt");
    let out = audit(&p.bundle, &trust)
        .arg("--out")
        .arg(&report)
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("operator          Alice Admin")
    );
    audit(&p.bundle, &trust)
        .arg("--out")
        .arg(&report)
        .assert()
        .code(5);

    // The log's first three records alone: they verify, the ceremony is unfinished: exit 9.
    let cut = dir.path().join("cut.log");
    let three: String = log.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cut, three).unwrap();
    let out = audit(&cut, &trust).assert().code(9).get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ceremony UNFINISHED"), "{text}");
    assert!(text.contains("outcome           unfinished"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the ceremony is unfinished"));
    let out = audit(&cut, &trust)
        .arg("--json")
        .assert()
        .code(9)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(
        (v["ok"].clone(), v["outcome"].clone()),
        (false.into(), "unfinished".into())
    );
    assert_eq!(v["error"]["exit_code"], 9);
    audit(&cut, &trust)
        .arg("--require-complete")
        .assert()
        .code(3);
}
