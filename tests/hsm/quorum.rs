//! Quorum custody through the binary, on a real SoftHSM2 token and the local KMS:
//! `keyrite quorum enroll` (shares to 0600 files of their own, a roster signed by the in-token log
//! key), the quorum gate of the ceremony (wrong, duplicate, foreign and too few shares refused
//! before any login, by the share's position and custodian), the log's quorum.met record that
//! `audit verify` requires, the HSM-enforced mode, and a search of every output for the secrets.
//!
//! Enrolment initialises a new token in an empty slot: SoftHSM2 always offers one, so there the
//! test's own store (see `common`) is used; kryoptic has a single slot, so there each enrolment's
//! keyrite processes get a fresh token database of their own (see [`Store`]).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::flow::*;
use common::roster::*;
use common::*;
use keyrite::core::custody::RosterFile;
use keyrite::core::digest::sha256_hex;
use keyrite::core::log::{TrustedKey, verify};

/// A custodian present at the ceremony, and the share they type (if any).
type Present<'a> = (&'a str, Option<&'a str>);

/// Answers for a quorum ceremony: the custodians present and the shares they type.
fn quorum_answers(dir: &Path, fingerprint: &str, custodians: &[(&str, Option<&str>)]) -> PathBuf {
    let mut s = format!(
        "operator = \"Alice Admin\"\nwitness = \"Walter Witness\"\nbundle_fingerprint = \"{fingerprint}\"\n"
    );
    for (name, share) in custodians {
        s.push_str(&format!("\n[[custodian]]\nname = \"{name}\"\n"));
        if let Some(share) = share {
            s.push_str(&format!("share = \"{share}\"\n"));
        }
    }
    let p = dir.join(format!("{}.toml", unique("answers")));
    write_secret(&p, s);
    p
}

fn quorum_ceremony(
    store: &Store,
    dir: &Path,
    p: &Prepared,
    key: &str,
    token: &str,
    roster: &Path,
    custodians: &[(&str, Option<&str>)],
) -> assert_cmd::Command {
    let script = write_script(dir, &[key], default_algorithm(), "RSA_4096");
    let answers = quorum_answers(dir, &p.fingerprint, custodians);
    let mut cmd = store.keyrite();
    cmd.args(["ceremony", "--headless", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(answers)
        .arg("--roster")
        .arg(roster)
        .args(["--token", token]);
    cmd
}

/// The token's flags as a separate process (pkcs11-tool) sees them now.
fn token_flags(store: &Store, label: &str) -> String {
    let out = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&hsm().module)
        .arg("--list-token-slots")
        .env(store.0, &store.1)
        .output()
        .expect("pkcs11-tool (OpenSC) is installed by scripts/setup");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines().skip_while(|l| {
        !(l.contains("token label") && l.trim_end().ends_with(&format!(": {label}")))
    });
    assert!(lines.next().is_some(), "token {label} not listed:\n{text}");
    lines
        .find(|l| l.contains("token flags"))
        .unwrap_or_default()
        .to_string()
}

fn new_bundle(dir: &Path) -> (String, Prepared) {
    prepare_for_new_key(dir, "quorum")
}

#[test]
fn enrolment_gives_each_custodian_their_share_alone_and_signs_the_roster() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let e = enrol(dir.path(), 2, &["Alice", "Bob", "Carol"]);
    let shares: Vec<String> = (0..3).map(|i| e.share(i)).collect();
    for (i, f) in e.share_files.iter().enumerate() {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.contains(&e.names[i]), "{text}");
        for (j, s) in shares.iter().enumerate() {
            assert_eq!(
                text.contains(s.as_str()),
                i == j,
                "share file {i} and share {j}"
            );
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(v["threshold"], 2);
    let roster_bytes = std::fs::read(e.roster()).unwrap();
    let roster = RosterFile::parse(&roster_bytes).unwrap();
    assert_eq!(roster.token_label, e.label);
    assert_eq!(roster.roster.threshold, 2);
    assert_eq!(v["log_key_sha256"].as_str().unwrap(), roster.log_key_sha256);
    let names: Vec<_> = roster
        .roster
        .custodians
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["Alice", "Bob", "Carol"]);

    // The roster verifies with the published key; an edited copy does not.
    keyrite()
        .args(["quorum", "verify"])
        .arg(e.roster())
        .arg("--trust")
        .arg(e.trust())
        .assert()
        .success();
    let forged_dir = dir.path().join("forged");
    std::fs::create_dir(&forged_dir).unwrap();
    let forged = String::from_utf8(roster_bytes)
        .unwrap()
        .replace("\"threshold\": 2", "\"threshold\": 3");
    std::fs::write(forged_dir.join("roster.json"), forged).unwrap();
    std::fs::copy(e.out.join("roster.log"), forged_dir.join("roster.log")).unwrap();
    let out = keyrite()
        .args(["quorum", "verify"])
        .arg(forged_dir.join("roster.json"))
        .arg("--trust")
        .arg(e.trust())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the log key signed"));

    // Enrolling the same label again is refused before anything is written.
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    let script = enrol_script(&again, &e.label, 2, &["Alice", "Bob", "Carol"]);
    let out = e
        .store
        .keyrite()
        .args(["quorum", "enroll", "--headless", "--script"])
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert!(!again.join("shares/alice.share").exists());
}

/// A headless answers file is checked in the order of the ceremony's questions: a wrong
/// fingerprint is named before any share is looked at, as the app and line mode ask for the
/// fingerprint before the custodians.
#[test]
fn headless_answers_are_checked_in_the_order_of_the_questions_the_fingerprint_before_any_share() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let e = enrol(&dir.path().join("a"), 2, &["Alice", "Bob", "Carol"]);
    let (alias, p) = new_bundle(dir.path());
    let token = format!("pkcs11:token={}", e.label);
    let a = e.share(0);
    let mut wrong = p.fingerprint.clone();
    let c = if wrong.starts_with('0') { "1" } else { "0" };
    wrong.replace_range(0..1, c);
    let wrong = Prepared {
        bundle: p.bundle.clone(),
        fingerprint: wrong,
    };
    // Alice's share given for Bob too: refused as such when the fingerprint is right.
    let custodians: Vec<Present<'_>> = vec![("Alice", Some(&a)), ("Bob", Some(&a))];
    for (prepared, want, code) in [
        (
            &wrong,
            "but the fingerprint read out from the connected side is",
            3,
        ),
        (&p, "share 2: (Bob) entered a share that is Alice's", 5),
    ] {
        let out = quorum_ceremony(
            &e.store,
            dir.path(),
            prepared,
            &alias,
            &token,
            &e.roster(),
            &custodians,
        )
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{want}: {err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!err.contains("C_Login"), "a login was attempted: {err}");
        assert!(!p.bundle.join("ceremony.log").exists(), "{want}");
    }
}

#[test]
fn bad_shares_are_refused_before_any_login_and_the_quorum_then_opens_the_hsm() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let e = enrol(&dir.path().join("a"), 2, &["Alice", "Bob", "Carol"]);
    let foreign = enrol(&dir.path().join("b"), 2, &["Alice", "Bob", "Carol"]);
    let (alias, p) = new_bundle(dir.path());
    let token = format!("pkcs11:token={}", e.label);
    let (a, b, c) = (e.share(0), e.share(1), e.share(2));
    let fb = foreign.share(1);
    let mut typo = c.clone().into_bytes();
    // One character of Carol's first group, changed: caught by its group check or the whole check.
    typo[7] = if typo[7] == b'7' { b'8' } else { b'7' };
    let typo = String::from_utf8(typo).unwrap();
    let flags_before = token_flags(&e.store, &e.label);
    assert!(!flags_before.contains("count low"), "{flags_before}");
    let cases: Vec<(Vec<Present<'_>>, &str)> = vec![
        (
            vec![("Alice", Some(&a))],
            "only 1 valid distinct share(s); this roster needs 2",
        ),
        (
            vec![("Alice", Some(&a)), ("Bob", Some(&a))],
            "share 2: (Bob) entered a share that is Alice's (index 1) not Bob's",
        ),
        (
            vec![("Alice", Some(&a)), ("Alice", Some(&a))],
            "share 2: (Alice) is named twice",
        ),
        (
            vec![("Alice", Some(&a)), ("Bob", Some(&fb))],
            "share 2: (Bob) it is not the share enrolled for Bob",
        ),
        (
            vec![("Carol", Some(&typo)), ("Bob", Some(&b))],
            "share 1: (Carol)",
        ),
        (
            vec![("Mallory", Some(&a)), ("Bob", Some(&b))],
            "share 1: (Mallory) is not a custodian",
        ),
        (
            vec![("Alice", Some(&a)), ("Bob", None)],
            "share 2: (Bob) gave no share",
        ),
    ];
    // Twice over: 14 refusals, more than the failed logins that lock a kryoptic token (10).
    for (custodians, want) in cases.iter().chain(&cases) {
        let out = quorum_ceremony(
            &e.store,
            dir.path(),
            &p,
            &alias,
            &token,
            &e.roster(),
            custodians,
        )
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{want}: {err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!err.contains("C_Login"), "a login was attempted: {err}");
        for s in [&a, &b, &c, &fb, &typo] {
            assert!(
                !err.contains(s.as_str()),
                "the error repeats a share: {err}"
            );
        }
        assert!(!p.bundle.join("ceremony.log").exists(), "{want}");
    }
    // No login was spent: a failed C_Login sets CKF_USER_PIN_COUNT_LOW on SoftHSM2, and ten lock a
    // kryoptic token (both shown below); neither happened, and the quorum still opens the HSM.
    assert_eq!(token_flags(&e.store, &e.label), flags_before);

    // The quorum (Carol and Alice) opens the HSM; the log says who, and verifies.
    quorum_ceremony(
        &e.store,
        dir.path(),
        &p,
        &alias,
        &token,
        &e.roster(),
        &[("Carol", Some(&c)), ("Alice", Some(&a.to_lowercase()))],
    )
    .assert()
    .success();
    let report = e.audit_verifies(&p.bundle);
    let steps: Vec<_> = report.records.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "ceremony.start",
            "quorum.met",
            "hsm.probe",
            "key.generated",
            "key.wrapped",
            "ceremony.end"
        ]
    );
    let q = report.quorum.unwrap();
    assert_eq!(
        q.roster_sha256,
        sha256_hex(&std::fs::read(e.roster()).unwrap())
    );
    assert_eq!(q.mode, "shamir");
    assert_eq!(
        q.authorised,
        [("Carol".to_string(), 3), ("Alice".to_string(), 1)]
    );
    assert!(report.records[1].actors.contains(&"Carol".to_string()));
    // The roster's ledger (ledger/ beside roster.json, begun by the enrolment) counts the
    // enrolment and this ceremony; shown the roster log, the auditor is shown every closing.
    let out = keyrite()
        .args(["audit", "verify"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(e.trust())
        .arg("--known")
        .arg(e.out.join("roster.log"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("leaf 1 of 2"), "{text}");
    assert!(text.contains("leaf 0   enrolment"), "{text}");
    assert!(e.out.join("ledger").join("checkpoint").exists());

    // The contrast that makes the flag check meaningful: a wrong PIN does spend a login.
    let wrong_pin = dir.path().join("wrong.pin");
    write_secret(&wrong_pin, "00000000000000000000000000000000\n");
    let (alias2, p2) = new_bundle(dir.path());
    let script = write_script(dir.path(), &[&alias2], default_algorithm(), "RSA_4096");
    let answers = write_answers(dir.path(), &p2.fingerprint);
    let token = format!(
        "pkcs11:token={}?pin-source=file:{}",
        e.label,
        wrong_pin.display()
    );
    let mut attempts = 0;
    let spent = |f: &str| f.contains("count low") || f.contains("locked");
    while !spent(&token_flags(&e.store, &e.label)) {
        attempts += 1;
        assert!(
            attempts <= 12,
            "12 wrong PINs left no trace in the token's flags"
        );
        let out = e
            .store
            .keyrite()
            .args(["ceremony", "--headless", "--script"])
            .arg(&script)
            .arg("--bundle")
            .arg(&p2.bundle)
            .arg("--answers")
            .arg(&answers)
            .args(["--token", &token])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("C_Login"));
    }
    eprintln!(
        "{} wrong PIN(s) changed the token's flags to: {}",
        attempts,
        token_flags(&e.store, &e.label)
    );
}

/// Every way a secret could be written down: as typed, without dashes, in either case, and the raw
/// bytes in hex, base64 and base32.
fn renderings(raw: &[u8], typed: &[String]) -> Vec<String> {
    use data_encoding::{BASE32_NOPAD, BASE64, BASE64_NOPAD, HEXLOWER, HEXUPPER};
    let mut out = vec![
        HEXLOWER.encode(raw),
        HEXUPPER.encode(raw),
        BASE64.encode(raw),
        BASE64_NOPAD.encode(raw),
        BASE32_NOPAD.encode(raw),
    ];
    for t in typed {
        out.push(t.clone());
        out.push(t.to_lowercase());
        out.push(t.replace('-', ""));
    }
    out
}

/// The raw bytes of a typed share: its groups without their check characters, Crockford base32.
fn share_bytes(typed: &str) -> Vec<u8> {
    let parts: Vec<&str> = typed.split('-').collect();
    let body: String = parts[2..parts.len() - 1]
        .iter()
        .map(|g| &g[..g.len() - 1])
        .collect();
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.encoding().unwrap().decode(body.as_bytes()).unwrap()
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    tree(dir).into_iter().map(|f| dir.join(f)).collect()
}

#[test]
fn no_output_of_an_enrolment_and_a_ceremony_holds_the_pin_or_a_share() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let e = enrol(&dir.path().join("enrol"), 2, &["Alice", "Bob", "Carol"]);
    let shares: Vec<String> = (0..3).map(|i| e.share(i)).collect();
    // The PIN, rebuilt here only to look for it.
    let roster = RosterFile::parse(&std::fs::read(e.roster()).unwrap()).unwrap();
    let typed: Vec<&str> = shares.iter().map(String::as_str).collect();
    let pin_raw = keyrite::core::custody::shares::combine(&roster.roster, &typed[..2]).unwrap();
    let pin_text = keyrite::core::custody::pin_text(&pin_raw);
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for r in renderings(&pin_raw, &[pin_text.to_string()]) {
        needles.push(("the PIN".into(), r.into_bytes()));
    }
    needles.push(("the PIN (raw)".into(), pin_raw.to_vec()));
    let mut share_needles: Vec<Vec<Vec<u8>>> = Vec::new();
    for s in &shares {
        let raw = share_bytes(s);
        let mut mine: Vec<Vec<u8>> = renderings(&raw, std::slice::from_ref(s))
            .into_iter()
            .map(String::into_bytes)
            .collect();
        mine.push(raw);
        share_needles.push(mine);
    }

    let (alias, p) = new_bundle(dir.path());
    let token = format!("pkcs11:token={}", e.label);
    let ceremony = quorum_ceremony(
        &e.store,
        dir.path(),
        &p,
        &alias,
        &token,
        &e.roster(),
        &[("Bob", Some(&shares[1])), ("Carol", Some(&shares[2]))],
    )
    .arg("--json")
    .output()
    .unwrap();
    assert!(
        ceremony.status.success(),
        "{}",
        String::from_utf8_lossy(&ceremony.stderr)
    );
    let audit = keyrite()
        .args(["audit", "verify", "--json"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(e.trust())
        .output()
        .unwrap();
    assert!(audit.status.success());
    let verify_roster = keyrite()
        .args(["quorum", "verify"])
        .arg(e.roster())
        .arg("--trust")
        .arg(e.trust())
        .output()
        .unwrap();
    assert!(verify_roster.status.success());

    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("enroll stdout".into(), e.stdout.clone()),
        ("enroll stderr".into(), e.stderr.clone()),
        ("ceremony stdout".into(), ceremony.stdout),
        ("ceremony stderr".into(), ceremony.stderr),
        ("audit stdout".into(), audit.stdout),
        ("audit stderr".into(), audit.stderr),
        ("quorum verify stderr".into(), verify_roster.stderr),
    ];
    let written: Vec<PathBuf> = files_below(&e.out)
        .into_iter()
        .chain(files_below(&p.bundle))
        .collect();
    assert!(written.iter().any(|f| f.ends_with("ceremony.log")));
    assert!(written.iter().any(|f| f.ends_with("roster.log")));
    assert!(written.iter().any(|f| f.ends_with("manifest.json")));
    for f in &written {
        outputs.push((f.display().to_string(), std::fs::read(f).unwrap()));
    }
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for (what, bytes) in &outputs {
        for (secret, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} holds {secret}");
        }
        for (i, mine) in share_needles.iter().enumerate() {
            for needle in mine {
                assert!(!contains(bytes, needle), "{what} holds share {i}");
            }
        }
    }
    // Each share file holds its own share (as typed) and nothing of the others or the PIN.
    for (i, f) in e.share_files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        assert!(contains(&bytes, shares[i].as_bytes()));
        for (secret, needle) in &needles {
            assert!(!contains(&bytes, needle), "share file {i} holds {secret}");
        }
        for (j, theirs) in share_needles.iter().enumerate().filter(|(j, _)| *j != i) {
            for needle in theirs {
                assert!(!contains(&bytes, needle), "share file {i} holds share {j}");
            }
        }
    }
}

#[test]
fn an_hsm_that_enforces_the_quorum_itself_gets_the_names_of_who_authorised() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::for_test(&dir.path().join("store"));
    // The token as the HSM vendor's tooling would leave it: initialised, a user PIN (the stand-in
    // for the PED keys; soft tokens have no protected authentication path), no keyrite log key.
    let label = unique("hsmq");
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
        // kryoptic: the test's own database, initialised by OpenSC in a process of its own.
        let tool = |args: &[&str]| {
            let out = std::process::Command::new("pkcs11-tool")
                .arg("--module")
                .arg(&hsm().module)
                .args(args)
                .env(store.0, &store.1)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
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
    let script = dir.path().join("enroll.toml");
    std::fs::write(
        &script,
        format!(
            "quorum = \"hsm-enforced\"\nthreshold = 2\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n\n[[custodian]]\nname = \"Alice\"\n\n[[custodian]]\nname = \"Bob\"\n\n[[custodian]]\nname = \"Carol\"\n"
        ),
    )
    .unwrap();
    let out = store
        .keyrite()
        .args(["quorum", "enroll", "--headless", "--script"])
        .arg(&script)
        .arg("--pin-source")
        .arg(&pin_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let roster_path = dir.path().join("enrolment/roster.json");
    let roster = RosterFile::parse(&std::fs::read(&roster_path).unwrap()).unwrap();
    assert_eq!(roster.mode, keyrite::core::custody::QuorumMode::HsmEnforced);
    assert!(
        roster
            .roster
            .custodians
            .iter()
            .all(|c| c.commitment.is_empty())
    );

    let (alias, p) = new_bundle(dir.path());
    let token = format!(
        "pkcs11:token={label}?pin-source=file:{}",
        pin_file.display()
    );
    for (custodians, want) in [
        (
            vec![("Alice", None)],
            "only 1 distinct custodian(s) authorised; this roster needs 2",
        ),
        (
            vec![("Alice", None), ("Mallory", None)],
            "share 2: (Mallory) is not a custodian",
        ),
        (
            vec![("Bob", None), ("Bob", None)],
            "share 2: (Bob) is named twice",
        ),
        (
            vec![("Alice", None), ("Bob", Some("KR1-02-AAAAB-CCCC"))],
            "share 2: (Bob) gave a share, but this HSM enforces the quorum itself",
        ),
    ] {
        let out = quorum_ceremony(
            &store,
            dir.path(),
            &p,
            &alias,
            &token,
            &roster_path,
            &custodians,
        )
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{want}: {err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!p.bundle.join("ceremony.log").exists());
    }
    quorum_ceremony(
        &store,
        dir.path(),
        &p,
        &alias,
        &token,
        &roster_path,
        &[("Bob", None), ("Carol", None)],
    )
    .assert()
    .success();
    let trust = dir.path().join("enrolment/log-public-key.pem");
    keyrite()
        .args(["audit", "verify"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(&trust)
        .assert()
        .success();
    let trusted = TrustedKey::from_pem(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    let report = verify(
        &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    let q = report.quorum.unwrap();
    assert_eq!(q.mode, "hsm-enforced");
    assert_eq!(
        q.authorised,
        [("Bob".to_string(), 2), ("Carol".to_string(), 3)]
    );
    // This token has no PIN pad: the login came from the URI's PIN file, the log says so, and
    // --require-quorum does not take the names alone for a quorum.
    assert_eq!(q.login.as_deref(), Some("pin-file"));
    let out = keyrite()
        .args(["audit", "verify", "--require-quorum"])
        .arg(&p.bundle)
        .arg("--trust")
        .arg(&trust)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("logged in from a PIN file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_ceremony_without_a_roster_still_opens_with_a_pin_file_and_names_no_custodians() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, p) = new_bundle(dir.path());
    // Custodians in the answers without a roster are refused.
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let answers = quorum_answers(dir.path(), &p.fingerprint, &[("Alice", None)]);
    let out = keyrite()
        .args(["ceremony", "--headless", "--script"])
        .arg(&script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(answers)
        .args(["--token", &hsm().token_uri()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --roster"));
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let trusted =
        TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap();
    let report = verify(
        &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    assert!(report.quorum.is_none());
}

#[test]
fn without_a_terminal_or_headless_the_enrolment_is_refused_before_the_token_is_touched() {
    own_token!();
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::for_test(&dir.path().join("store"));
    let label = unique("notty");
    let script = enrol_script(dir.path(), &label, 2, &["Alice", "Bob"]);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyrite"));
    cmd.args(["quorum", "enroll", "--script"])
        .arg(&script)
        .env(store.0, &store.1)
        .env("KEYRITE_PKCS11_MODULE", &hsm().module)
        .stdin(std::process::Stdio::null());
    // SAFETY: setsid in the child before exec: no controlling terminal, so /dev/tty cannot open.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot use the terminal (/dev/tty)"), "{err}");
    assert!(!dir.path().join("enrolment").exists());
    let slots = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&hsm().module)
        .arg("--list-token-slots")
        .env(store.0, &store.1)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&slots.stdout).contains(&label),
        "the token was initialised although its shares could not be shown"
    );
}
