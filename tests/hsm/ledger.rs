//! The token's ledger against the attacks it exists for: a ceremony hidden from the auditors, a
//! ledger forked to show two histories, a bundle whose proof was swapped. Every ceremony here
//! runs headless on the test token with `--ledger <test dir>/ledger` (tests/common/flow.rs).

use std::path::{Path, PathBuf};

use crate::common;

use common::flow::*;
use common::*;

/// A witness key in `dir`: (key file, verifier key).
fn witness(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{}.key", unique("witness")));
    let out = keyrite()
        .args(["witness", "init", "--key"])
        .arg(&key)
        .args(["--name", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    (key, lossy(&out.stdout).trim().to_string())
}

fn cosign(bundle: &Path, key: &Path, state: &Path) -> std::process::Output {
    witness_cosign(bundle, key, state, &[])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Two ceremonies shown, one between them hidden: the checkpoint of the last counts three
/// closings of the log key, and `audit verify --known` names the one nobody showed.
#[test]
fn a_hidden_ceremony_is_given_away_by_the_next_checkpoints_size() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let a = ledger_ceremony(dir.path(), "ledger-a");
    let hidden = ledger_ceremony(dir.path(), "ledger-hidden");
    let c = ledger_ceremony(dir.path(), "ledger-c");

    // Shown A, auditing C: the ledger up to C holds a closing that is neither.
    let known_a = ["--known", a.bundle.to_str().unwrap()];
    let out = ledger_audit(&c.bundle, &known_a);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    let err = lossy(&out.stderr);
    assert!(
        err.contains("counts 3 closings of the log key")
            && err.contains("1 of them you were not shown"),
        "{err}"
    );
    assert!(
        err.contains(&hidden.fingerprint),
        "the hidden ceremony is named: {err}"
    );
    assert!(!err.contains(&a.fingerprint), "{err}");

    // Without --known the report still says it: C is leaf 2 of 3, after a checkpoint of 2.
    let out = ledger_audit(&c.bundle, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    let report = lossy(&out.stdout);
    assert!(
        report.contains("leaf 2 of 3")
            && report.contains("the checkpoint before counted 2")
            && report.contains("<- this ceremony"),
        "{report}"
    );
    // Shown all three, nothing is missing.
    let all = [
        "--known",
        a.bundle.to_str().unwrap(),
        "--known",
        hidden.bundle.to_str().unwrap(),
    ];
    let out = ledger_audit(&c.bundle, &all);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
}

/// An insider keeps two ledgers: after A, one with ceremony B, another with B'. Both
/// checkpoints have size 2 and are signed by the log key; the witness that cosigned the first
/// refuses the second as a split view, printing both heads.
#[test]
fn a_forked_ledger_is_refused_by_the_witness_as_a_split_view() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = witness(dir.path(), "audit.example/w1");
    let state = dir.path().join("witness-state.json");
    let ledger = dir.path().join("ledger");
    let a = ledger_ceremony(dir.path(), "fork-a");
    let out = cosign(&a.bundle, &key, &state);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let after_a = dir.path().join("ledger-after-a");
    copy_dir(&ledger, &after_a);

    let b = ledger_ceremony(dir.path(), "fork-b");
    let out = cosign(&b.bundle, &key, &state);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let state_after_b = std::fs::read(&state).unwrap();

    // The fork: the ledger as it was after A, and another ceremony on it.
    std::fs::remove_dir_all(&ledger).unwrap();
    copy_dir(&after_a, &ledger);
    let forked = ledger_ceremony(dir.path(), "fork-b2");
    let proof_before = std::fs::read(forked.bundle.join("ledger.tlog-proof")).unwrap();
    let out = cosign(&forked.bundle, &key, &state);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    let err = lossy(&out.stderr);
    assert!(err.contains("split view"), "{err}");
    let root = |bundle: &Path| {
        lossy(&std::fs::read(bundle.join("ledger.tlog-proof")).unwrap())
            .split("\n\n")
            .nth(1)
            .unwrap()
            .lines()
            .nth(2)
            .unwrap()
            .to_string()
    };
    assert!(
        err.contains("size 2, root")
            && err.contains(&root(&b.bundle))
            && err.contains(&root(&forked.bundle)),
        "both heads are printed: {err}"
    );
    assert_ne!(root(&b.bundle), root(&forked.bundle));
    // Nothing was cosigned or remembered.
    assert_eq!(
        std::fs::read(forked.bundle.join("ledger.tlog-proof")).unwrap(),
        proof_before
    );
    assert_eq!(std::fs::read(&state).unwrap(), state_after_b);
}

/// A bundle whose ledger proof was swapped for another ceremony's, or whose inclusion path was
/// changed, does not verify: exit 3, naming the ledger evidence.
#[test]
fn a_bundle_whose_inclusion_proof_does_not_match_its_checkpoint_is_refused() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let a = ledger_ceremony(dir.path(), "incl-a");
    let b = ledger_ceremony(dir.path(), "incl-b");
    let proof = b.bundle.join("ledger.tlog-proof");
    let genuine = std::fs::read(&proof).unwrap();

    // A's proof (a genuine checkpoint, signed by the log key) in B's bundle.
    std::fs::copy(a.bundle.join("ledger.tlog-proof"), &proof).unwrap();
    let out = ledger_audit(&b.bundle, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("inclusion proof"),
        "{}",
        lossy(&out.stderr)
    );

    // B's checkpoint with one hash of its inclusion path changed.
    let t = lossy(&genuine);
    let path_line = t.lines().nth(2).unwrap().to_string();
    assert!(path_line.ends_with('='), "{t}");
    let changed = if path_line.starts_with('A') {
        path_line.replacen('A', "B", 1)
    } else {
        format!("A{}", &path_line[1..])
    };
    std::fs::write(&proof, t.replacen(&path_line, &changed, 1)).unwrap();
    let out = ledger_audit(&b.bundle, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("inclusion proof"),
        "{}",
        lossy(&out.stderr)
    );

    // The genuine proof verifies.
    std::fs::write(&proof, &genuine).unwrap();
    let out = ledger_audit(&b.bundle, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
}

/// `witness init` makes a key only its owner may read and never overwrites one; `audit verify
/// --witness` requires the named witnesses' cosignatures over the checkpoint that includes the
/// ceremony, and shows them.
#[test]
fn audit_verify_requires_the_named_witnesses_cosignatures() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = witness(dir.path(), "audit.example/w1");
    let (_, other) = witness(dir.path(), "security.example/w2");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = keyrite()
        .args(["witness", "init", "--key"])
        .arg(&key)
        .args(["--name", "audit.example/w1"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(5), "{}", lossy(&again.stderr));

    let a = ledger_ceremony(dir.path(), "wit-a");
    let one = ["--witness", vkey.as_str()];
    let out = ledger_audit(&a.bundle, &one);
    assert_eq!(
        out.status.code(),
        Some(3),
        "not yet cosigned: {}",
        lossy(&out.stderr)
    );
    assert!(lossy(&out.stderr).contains("no cosignature by audit.example/w1"));

    let state = dir.path().join("state.json");
    let out = cosign(&a.bundle, &key, &state);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let out = ledger_audit(&a.bundle, &one);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stdout).contains("cosigned by       witness audit.example/w1 at "),
        "{}",
        lossy(&out.stdout)
    );
    // Two named, both required: the second has not cosigned.
    let both = ["--witness", vkey.as_str(), "--witness", other.as_str()];
    let out = ledger_audit(&a.bundle, &both);
    assert_eq!(out.status.code(), Some(3));
    assert!(lossy(&out.stderr).contains("no cosignature by security.example/w2"));
    // One of the two is enough when --witnesses 1 says so.
    let mut either = both.to_vec();
    either.extend(["--witnesses", "1"]);
    assert_eq!(ledger_audit(&a.bundle, &either).status.code(), Some(0));
    // The auditor's page shows the ledger and the witness.
    let html = dir.path().join("report.html");
    let out = keyrite()
        .args(["audit", "report"])
        .arg(&a.bundle)
        .arg("--trust")
        .arg(hsm().log_public_key())
        .arg("--html")
        .arg(&html)
        .args(one)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Token ledger and witnesses")
            && page.contains("audit.example/w1")
            && page.contains("(this ceremony)"),
        "{page}"
    );
    // A bundle without ledger evidence cannot meet a witness requirement.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for e in std::fs::read_dir(&a.bundle).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &bare.join(&name));
        } else if !name.starts_with("ledger.") {
            std::fs::copy(e.path(), bare.join(&name)).unwrap();
        }
    }
    let out = ledger_audit(&bare, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    assert!(lossy(&out.stdout).contains("ledger            none"));
    let out = ledger_audit(&bare, &one);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        lossy(&out.stderr).contains("has no ledger proof"),
        "{}",
        lossy(&out.stderr)
    );
    // A cosignature line whose bytes were changed is refused, not ignored.
    let proof = a.bundle.join("ledger.tlog-proof");
    let t = lossy(&std::fs::read(&proof).unwrap());
    let line = t.lines().last().unwrap().to_string();
    assert!(line.starts_with("— audit.example/w1 "), "{t}");
    let sig = line.rsplit(' ').next().unwrap();
    let flipped = format!(
        "{}{}",
        &sig[..20],
        if &sig[20..21] == "A" { "B" } else { "A" }
    );
    let tampered = t.replace(sig, &format!("{flipped}{}", &sig[21..]));
    std::fs::write(&proof, tampered).unwrap();
    let out = ledger_audit(&a.bundle, &one);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("does not verify"),
        "{}",
        lossy(&out.stderr)
    );
}

/// Someone removes an entry from the ledger on the workstation: the next ceremony stops once
/// the HSM is open and before its log is begun or any key generated, naming the ledger (exit 3).
#[test]
fn a_ledger_cut_short_stops_the_next_ceremony_before_any_key_is_generated() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let _a = ledger_ceremony(dir.path(), "cut-a");
    let _b = ledger_ceremony(dir.path(), "cut-b");
    let file = dir.path().join("ledger").join("ledger.jsonl");
    let whole = lossy(&std::fs::read(&file).unwrap());
    let mut lines: Vec<&str> = whole.lines().collect();
    lines.remove(1);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let (alias, _) = external_key("cut-c");
    let p = prepare(dir.path(), &[&alias], default_algorithm());
    let objects = hsm().object_count();
    let out = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("cut or changed"),
        "{}",
        lossy(&out.stderr)
    );
    assert!(!p.bundle.join("ceremony.log").exists(), "no log was begun");
    assert_eq!(hsm().object_count(), objects, "no key was generated");
}

/// An abort stopped between its aborted record and the ledger's write leaves the ceremony out of
/// the ledger; `resume = "abort"` again enters it, and nothing else (exit 0; audit verify 8).
#[test]
fn an_abort_stopped_before_the_ledger_took_it_is_entered_by_aborting_again() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, _) = external_key("abort-gap");
    let keys = [alias.as_str()];
    let p = prepare(dir.path(), &keys, default_algorithm());
    let ledger = ledger_dir(&p);
    common::faults::kill_after(dir.path(), &p, &keys, 2);
    let before = dir.path().join("ledger-before-abort");
    if ledger.exists() {
        copy_dir(&ledger, &before);
    }
    let out = common::faults::resume_process(dir.path(), &p, &keys, "abort")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    // The state a stop right after the aborted record leaves: no leaf, no evidence.
    std::fs::remove_dir_all(&ledger).unwrap();
    if before.exists() {
        copy_dir(&before, &ledger);
    }
    for f in ["ledger.tlog-proof", "ledger.consistency", "ledger.jsonl"] {
        std::fs::remove_file(p.bundle.join(f)).unwrap();
    }
    let log_before = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let out = common::faults::resume_process(dir.path(), &p, &keys, "abort")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert_eq!(
        std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        log_before,
        "nothing is added to the closed log"
    );
    let out = ledger_audit(&p.bundle, &["--known", p.bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stdout).contains("leaf 0 of 1"),
        "{}",
        lossy(&out.stdout)
    );
    // Finishing an aborted ceremony is still refused.
    let out = common::faults::resume_process(dir.path(), &p, &keys, "finish")
        .output()
        .unwrap();
    assert!(!out.status.success());
}
