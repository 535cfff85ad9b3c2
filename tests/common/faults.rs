//! Fault injection for the ceremony: a copy of one prepared bundle per run, the ceremony stopped
//! by a failure, then finished or aborted, and the outcome checked for consistency — the log
//! verifies, `audit verify` accepts the bundle, and the HSM holds exactly the keys the outcome
//! says.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::flow::*;
use super::*;
use keyrite::core::ceremony::leftovers::ceremony_key_id;
use keyrite::core::log::{TrustedKey, verify};

/// The trusted log key of the test token.
pub fn trusted() -> TrustedKey {
    TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap()
}

/// A copy of the prepared bundle `p` under `dir/name` (same fingerprint).
pub fn copy_bundle(p: &Prepared, dir: &Path, name: &str) -> Prepared {
    let to = dir.join(name);
    copy_tree(&p.bundle, &to);
    Prepared {
        bundle: to,
        fingerprint: p.fingerprint.clone(),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The bundle's key names (directories), from its manifest.
pub fn key_names(p: &Prepared) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    m["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect()
}

/// The token's secret keys that the ceremony for `p` generated (by the CKA_ID it derives from
/// the prepared fingerprint): (label, id hex), sorted.
pub fn ceremony_keys(p: &Prepared) -> Vec<(String, String)> {
    let ids: Vec<Vec<u8>> = key_names(p)
        .iter()
        .map(|n| ceremony_key_id(&p.fingerprint, n))
        .collect();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let mut out: Vec<(String, String)> = session
        .secret_keys_with_ids()
        .unwrap()
        .into_iter()
        .filter(|(_, _, id)| ids.contains(id))
        .map(|(_, l, id)| (l, data_encoding::HEXLOWER.encode(&id)))
        .collect();
    out.sort();
    out
}

/// Destroys the keys the ceremony for `p` generated, so that another copy of the same bundle can
/// run on the token.
pub fn destroy_ceremony_keys(p: &Prepared) {
    let ids: Vec<Vec<u8>> = key_names(p)
        .iter()
        .map(|n| ceremony_key_id(&p.fingerprint, n))
        .collect();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    for (h, _, id) in session.secret_keys_with_ids().unwrap() {
        if ids.contains(&id) {
            session.destroy_key(h).unwrap();
        }
    }
}

/// What a stopped ceremony came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The failure stopped nothing: the ceremony ended.
    Ended,
    /// It stopped before its log held anything, and left nothing.
    Untouched,
    /// Finished after the failure.
    Finished,
    /// Aborted after the failure.
    Aborted,
}

/// The headless ceremony's answers with `resume = "<choice>"`, as a plain process on the real
/// module.
pub fn resume_process(
    dir: &Path,
    p: &Prepared,
    keys: &[&str],
    choice: &str,
) -> std::process::Command {
    let script = write_script_with_replicas(
        dir,
        &with_replicas(p, keys),
        default_algorithm(),
        "RSA_4096",
    );
    let answers = write_answers(dir, &p.fingerprint);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&answers)
        .unwrap();
    std::io::Write::write_all(&mut f, format!("resume = \"{choice}\"\n").as_bytes()).unwrap();
    ceremony_process_with_answers(&script, p, &answers)
}

/// After a ceremony on `p` stopped with `failed` (its exit status), on the real module: finish
/// it or abort it (`prefer`; a log that already records the end can only be finished), then
/// check the outcome. `what` names the failure in assertion messages.
pub fn recover_and_check(
    dir: &Path,
    p: &Prepared,
    keys: &[&str],
    succeeded: bool,
    prefer: &str,
    what: &str,
) -> Outcome {
    let log_path = p.bundle.join("ceremony.log");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    if succeeded || manifest["ceremony"].is_object() {
        assert!(
            manifest["ceremony"].is_object(),
            "{what}: succeeded, manifest not finished"
        );
        check(p, keys.len(), false, what);
        return Outcome::Ended;
    }
    if !log_path.exists() {
        // Stopped before the log was created: nothing generated, nothing written.
        assert!(ceremony_keys(p).is_empty(), "{what}: keys without a log");
        for n in key_names(p) {
            assert!(
                !p.bundle.join(&n).join("EncryptedKeyMaterial.bin").exists(),
                "{what}: a wrapped file without a log"
            );
        }
        return Outcome::Untouched;
    }
    let bytes = std::fs::read(&log_path).unwrap();
    let ended = bytes.ends_with(b"\n")
        && verify(&bytes, &trusted())
            .map(|r| r.final_manifest_sha256.is_some())
            .unwrap_or(false);
    let choice = if ended { "finish" } else { prefer };
    let out = resume_process(dir, p, keys, choice).output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {choice} after the failure: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aborted = choice == "abort";
    check(p, keys.len(), aborted, what);
    if aborted {
        Outcome::Aborted
    } else {
        Outcome::Finished
    }
}

/// The bundle is consistent: `audit verify` accepts it; its log verifies whole; ended: the
/// manifest is the one the end record names, lists every key's wrapped file, and the token
/// holds exactly the logged keys (label and id); aborted: the token holds exactly the keys whose
/// material was written, and no file the log does not record as wrapped is left.
pub fn check(p: &Prepared, keys: usize, aborted: bool, what: &str) {
    audit_verify(p, what, aborted);
    // The closed log is a leaf of the token's ledger, and the bundle proves it.
    let log = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let ledger = keyrite::app::ledger::check_bundle(
        &p.bundle,
        &log,
        &trusted(),
        &keyrite::app::ledger::LedgerPolicy::default(),
    )
    .unwrap_or_else(|e| panic!("{what}: the ledger evidence: {e}"));
    assert!(ledger.is_some(), "{what}: the closing is not in the ledger");
    let report = verify(
        &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        &trusted(),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let held = ceremony_keys(p);
    let logged = |wrapped_only: bool| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = report
            .keys
            .iter()
            .filter(|k| !wrapped_only || k.wrapped.is_some())
            .map(|k| {
                (
                    k.hsm_label.clone(),
                    k.hsm_id.clone().expect("the log records the id"),
                )
            })
            .collect();
        v.sort();
        v
    };
    if aborted {
        assert!(report.aborted.is_some(), "{what}: not aborted");
        assert_eq!(
            held,
            logged(true),
            "{what}: only keys whose material was written remain"
        );
        for k in &report.keys {
            let file = p.bundle.join(&k.key).join("EncryptedKeyMaterial.bin");
            assert_eq!(
                file.exists(),
                k.wrapped.is_some(),
                "{what}: {}",
                file.display()
            );
        }
    } else {
        let manifest = std::fs::read(p.bundle.join("manifest.json")).unwrap();
        assert_eq!(
            report.final_manifest_sha256.as_deref(),
            Some(keyrite::core::digest::sha256_hex(&manifest).as_str()),
            "{what}: the manifest is the one the end record names"
        );
        assert!(!p.bundle.join("manifest.json.new").exists(), "{what}");
        assert_eq!(report.keys.len(), keys, "{what}");
        assert_eq!(
            held,
            logged(false),
            "{what}: the token holds the logged keys"
        );
        keyrite::io::bundle::Bundle::verify(&p.bundle)
            .unwrap_or_else(|e| panic!("{what}: the finished bundle verifies: {e}"));
    }
    // A multi-Region key's replica Regions: material is there exactly where the log records a
    // wrap for that Region.
    for k in &report.keys {
        let Ok(entries) = std::fs::read_dir(p.bundle.join(&k.key)) else {
            continue;
        };
        for region in entries.flatten().filter(|e| e.path().is_dir()) {
            let region = region.file_name().to_string_lossy().into_owned();
            let file = p
                .bundle
                .join(&k.key)
                .join(&region)
                .join("EncryptedKeyMaterial.bin");
            let recorded = k.replica_wraps.iter().any(|(r, _, _)| *r == region);
            assert_eq!(file.exists(), recorded, "{what}: {}", file.display());
        }
    }
}

/// The fault-injecting module that `scripts/test` built (scripts/faulty-token) and names in
/// KEYRITE_TEST_FAULTY_MODULE. Tests build nothing: without it the test fails and says how.
pub fn faulty_module() -> PathBuf {
    let module = std::env::var_os("KEYRITE_TEST_FAULTY_MODULE")
        .map(PathBuf::from)
        .expect(
            "KEYRITE_TEST_FAULTY_MODULE is not set: run the tests with ./scripts/test, which builds \
             the fault-injecting module (scripts/faulty-token prints the path to set)",
        );
    assert!(
        module.is_file(),
        "KEYRITE_TEST_FAULTY_MODULE names {}, which is not there: run scripts/faulty-token",
        module.display()
    );
    module
}

/// `keyrite audit verify` accepts the bundle.
pub fn audit_verify(p: &Prepared, what: &str, aborted: bool) {
    let audit = keyrite()
        .args(["audit", "verify"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .output()
        .unwrap();
    // Every record verifies either way; an aborted ceremony has its own exit code (8).
    assert_eq!(
        audit.status.code(),
        Some(if aborted { 8 } else { 0 }),
        "{what}: audit verify: {}",
        String::from_utf8_lossy(&audit.stderr)
    );
}

/// How many lines (records, the last maybe cut) the file holds; 0 if it is missing.
pub fn lines(path: &std::path::Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Runs the headless ceremony for `p` and kills it once its log holds `records` records (or when
/// it ended by itself first).
pub fn kill_after(dir: &std::path::Path, p: &Prepared, keys: &[&str], records: usize) {
    let log_path = p.bundle.join("ceremony.log");
    let mut child = ceremony_process(dir, p, keys)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while lines(&log_path) < records && child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ceremony never wrote {records} records"
        );
        std::thread::yield_now();
    }
    let _ = child.kill();
    child.wait().unwrap();
}
