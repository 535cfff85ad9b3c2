//! `keyrite rehearse` at a real terminal (tmux, the built binary): the rehearsal's five
//! custodians are each shown their share alone and type it back, then the operators run the
//! nine-key ceremony in its full-screen app, three custodians typing their shares, and the
//! rehearsal imports and proves every key.

use crate::common;

use std::time::Duration;

use common::tmux::{Tmux, quoted, share_on};
use keyrite::core::digest::{grouped, sha256_hex};

/// Types `text` and waits until the screen shows it (keys typed ahead of a step are dropped).
fn type_seen(t: &Tmux, seen: &mut Vec<String>, text: &str) {
    t.text(text);
    t.wait_for(seen, STEP, text, |s| s.contains(text));
}

const STEP: Duration = Duration::from_secs(60);
/// Starting the local KMS, creating nine keys and preparing their bundle.
const PREPARE: Duration = Duration::from_secs(300);

#[test]
fn at_a_terminal_the_rehearsal_hands_out_shares_and_the_operators_run_the_nine_key_ceremony() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rehearsal");
    let command = format!(
        "env -u SOFTHSM2_CONF -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_KMS {} rehearse --out {}; echo EXIT=$?",
        quoted(env!("CARGO_BIN_EXE_keyrite")),
        quoted(&out),
    );
    let t = Tmux::start("rehearse", &command, 110, true);
    let mut seen = Vec::new();

    // The custodians, one at a time: each sees their share alone and types it back.
    let names = ["Alice", "Bob", "Carol", "Dave", "Erin"];
    let mut shares = Vec::new();
    for name in names {
        let call = format!("Custodian {name}: come to the screen alone.");
        let screen = t.wait_for(&mut seen, STEP, &call, |s| s.contains(&call));
        assert!(
            !screen.contains("KR1-"),
            "a share on the call screen:\n{screen}"
        );
        t.text("a");
        let shown = format!("Custodian {name}, your share:");
        let screen = t.wait_for(&mut seen, STEP, &shown, |s| s.contains(&shown));
        let share = share_on(&screen);
        assert!(share.starts_with("KR1-"), "{share}");
        t.text("d");
        let back = format!("Custodian {name}: type your share back");
        t.wait_for(&mut seen, STEP, &back, |s| s.contains(&back));
        t.text(&share);
        t.keys(&["Enter"]);
        shares.push(share);
    }
    t.wait_for(&mut seen, STEP, "everyone has their share", |s| {
        s.contains("All 5 custodians have their shares")
    });
    t.keys(&["Enter"]);

    // The connected side's read-out on a screen of its own, before the ceremony opens (it is
    // not printed behind the app any more, where the first frame covered it).
    let readout = t.wait_for(&mut seen, PREPARE, "the read-out", |s| {
        s.contains("Connected side: read this out") && s.contains("open the ceremony")
    });
    let read_out = sha256_hex(&std::fs::read(out.join("bundle/manifest.json")).unwrap());
    let groups: Vec<String> = grouped(&read_out).split(' ').map(String::from).collect();
    assert!(readout.contains(&groups[..8].join(" ")), "{readout}");
    assert!(readout.contains(&groups[8..].join(" ")), "{readout}");
    t.keys(&["Enter"]);

    // The ceremony's first screen, then its keys: the nine of the rehearsal's default script.
    t.wait_for(&mut seen, PREPARE, "the ceremony's first screen", |s| {
        s.contains("who is present")
    });
    // The roster the custodians were shown shares of: 3 of 5, signed, for this token.
    let roster =
        keyrite::core::custody::RosterFile::parse(&std::fs::read(out.join("roster.json")).unwrap())
            .unwrap();
    assert_eq!(roster.roster.threshold, 3);
    assert_eq!(roster.roster.names(), names);
    let share_refs: Vec<&str> = shares.iter().map(String::as_str).collect();
    keyrite::core::custody::shares::combine(&roster.roster, &share_refs[2..]).unwrap();

    // The operators, the keys checked, the fingerprint as the connected side reads it out.
    type_seen(&t, &mut seen, "Olga Operator");
    t.keys(&["Enter"]);
    t.wait_for(&mut seen, STEP, "the witness field", |s| {
        s.contains("> Witness:")
    });
    type_seen(&t, &mut seen, "Wendy Witness");
    t.keys(&["Enter"]);
    t.wait_for(&mut seen, STEP, "the keys", |s| {
        s.contains("check the 9 keys")
    });
    let mut listed = std::collections::BTreeSet::new();
    for from in 1..=9 {
        let head = format!("Key {from} of 9:");
        let s = t.wait_for(&mut seen, STEP, &head, |s| s.contains(&head));
        for env in ["dev", "int", "prod"] {
            for service in ["s3", "rds", "dynamodb"] {
                let alias = format!("alias/{env}-{service}");
                if s.contains(&alias) {
                    listed.insert(alias);
                }
            }
        }
        t.keys(&["Down"]);
    }
    assert_eq!(listed.len(), 9, "{listed:?}");
    t.keys(&["Enter"]);
    t.wait_for(&mut seen, STEP, "the fingerprint step", |s| {
        s.contains("the bundle fingerprint")
    });
    let fingerprint = sha256_hex(&std::fs::read(out.join("bundle/manifest.json")).unwrap());
    type_seen(&t, &mut seen, &grouped(&fingerprint));
    t.keys(&["Enter"]);
    t.wait_for(&mut seen, STEP, "the custodians", |s| {
        s.contains("custodians (0 of 3)")
    });
    // Three custodians type their shares: Bob, Dave and Erin.
    for (i, (name, share)) in [
        ("Bob", &shares[1]),
        ("Dave", &shares[3]),
        ("Erin", &shares[4]),
    ]
    .into_iter()
    .enumerate()
    {
        type_seen(&t, &mut seen, name);
        t.keys(&["Enter"]);
        t.wait_for(&mut seen, STEP, "the share field", |s| {
            s.contains("> Share:")
        });
        t.text(share);
        t.wait_for(&mut seen, STEP, "the masked share", |s| {
            // A dot a character, the dashes kept.
            let dots: String = share
                .chars()
                .take(70)
                .map(|c| if c == '-' { '-' } else { '•' })
                .collect();
            s.contains(&dots)
        });
        t.keys(&["Enter"]);
        let after = format!("custodians ({} of 3)", i + 1);
        t.wait_for(&mut seen, STEP, &after, |s| s.contains(&after));
    }
    t.keys(&["Enter"]);
    t.wait_for(&mut seen, STEP, "the confirmation", |s| {
        s.contains("Generate and wrap 9 keys now? y: generate")
    });
    assert!(
        !out.join("bundle/ceremony.log").exists(),
        "nothing before y"
    );
    t.keys(&["y"]);
    t.wait_for(&mut seen, PREPARE, "the result", |s| {
        s.contains("ceremony complete")
    });
    t.keys(&["q"]);

    // Imported, and every key proved: KMS encrypts, the HSM decrypts.
    let end = t.wait_for(&mut seen, PREPARE, "the end", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    for env in ["dev", "int", "prod"] {
        for service in ["s3", "rds", "dynamodb"] {
            let proof = format!("[6/6] {env}-{service}: first import, Enabled; key material");
            assert!(end.contains(&proof), "{proof} not in:\n{end}");
        }
    }
    assert_eq!(
        end.matches("KMS Encrypt -> HSM AES-GCM decrypt: same plaintext")
            .count(),
        9,
        "{end}"
    );
    assert!(end.contains("rehearsal complete"), "{end}");
    // The ceremony's length, timed, for the production script's preflight.
    assert!(
        end.contains("the ceremony took ") && end.contains("with `rehearsed_minutes = "),
        "{end}"
    );
    // The log verifies, and says which three custodians opened the HSM.
    let trusted = keyrite::core::log::TrustedKey::from_pem(
        &std::fs::read_to_string(out.join("log-public-key.pem")).unwrap(),
    )
    .unwrap();
    let report = keyrite::core::log::verify(
        &std::fs::read(out.join("bundle/ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    assert_eq!(
        report.quorum.unwrap().authorised,
        [
            ("Bob".to_string(), 2),
            ("Dave".to_string(), 4),
            ("Erin".to_string(), 5)
        ]
    );
    assert!(
        report.records[0]
            .actors
            .contains(&"Olga Operator".to_string())
    );
    // No share is left on the terminal.
    for s in &shares {
        assert!(!end.contains(s.as_str()), "a share is left on the screen");
    }
    // What the room typed: every key of this run (the path a rehearsal takes, with a Down per
    // key in the review), of which share characters: five typed back at enrolment, three at the
    // ceremony.
    let share_keys: usize = shares.iter().map(|s| s.chars().count()).sum::<usize>()
        + [1, 3, 4]
            .iter()
            .map(|&i| shares[i].chars().count())
            .sum::<usize>();
    let pressed = t.pressed();
    assert!(
        pressed > share_keys,
        "{pressed} keys, {share_keys} of them share characters"
    );
    eprintln!(
        "keys pressed in the nine-key 3-of-5 rehearsal: {pressed}, {share_keys} of them share characters ({:.0} %)",
        100.0 * share_keys as f64 / pressed as f64
    );
}
