//! `keyrite ceremony --plain`, the line mode, through the real binary on a real token and the
//! local KMS: a whole quorum ceremony answered on standard input (a mistyped share group and a
//! wrong fingerprint group named and asked again), imported and audited; a refusal that leaves
//! everything as it was; and, in a real terminal (tmux), a share that is not echoed.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::flow::*;
use common::roster::*;
use common::tmux::{Tmux, quoted};
use common::*;
use keyrite::core::digest::{grouped, word_lines};

/// `share` with one character of its `group`-th group changed so that the group's own check
/// catches it (the error names that group).
fn mistyped(share: &str, group: usize) -> String {
    mistype_group(share, group).0
}

/// The fingerprint with its `group`-th group of four changed.
fn wrong_group(fingerprint: &str, group: usize) -> String {
    let mut groups: Vec<String> = grouped(fingerprint)
        .split(' ')
        .map(str::to_string)
        .collect();
    groups[group - 1] = if groups[group - 1] == "0000" {
        "1111".into()
    } else {
        "0000".into()
    };
    groups.join(" ")
}

/// Runs `cmd` with `input` on its standard input; (exit code, stdout, stderr).
fn run_with_input(mut cmd: assert_cmd::Command, input: &str) -> (Option<i32>, String, String) {
    let out = cmd.write_stdin(input.as_bytes().to_vec()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn plain_ceremony(
    mut cmd: assert_cmd::Command,
    script: &Path,
    bundle: &Path,
    token: &str,
) -> assert_cmd::Command {
    cmd.args(["ceremony", "--plain", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(bundle)
        .args(["--token", token]);
    cmd
}

/// Every file below `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

#[test]
fn a_quorum_ceremony_answered_line_by_line_names_each_mistake_asks_again_and_imports() {
    own_token!();
    let (_dir, e, p, script) = quorum_bundle("plain");
    let (a, c) = (e.share(0), e.share(2));
    let typo = mistyped(&a, 2);
    let fingerprint_typo = wrong_group(&p.fingerprint, 5);
    // In the app's order: people, the key review, the fingerprint, the custodians.
    let input = [
        "Olga Operator",
        "olga operator",
        "Wendy Witness",
        "",
        "y",
        &fingerprint_typo,
        &grouped(&p.fingerprint).to_uppercase(),
        "Mallory",
        "Alice",
        &typo,
        &a,
        "Carol",
        &c,
        "yes",
    ]
    .join("\n")
        + "\n";
    let mut cmd = plain_ceremony(
        e.store.keyrite(),
        &script,
        &p.bundle,
        &format!("pkcs11:token={}", e.label),
    );
    cmd.arg("--roster").arg(e.roster());
    let (code, stdout, err) = run_with_input(cmd, &input);
    assert_eq!(code, Some(0), "{err}");

    // Each mistake named, and only that entry asked again.
    assert!(
        err.contains("the witness (olga operator) is the operator"),
        "{err}"
    );
    assert!(
        err.contains("share 1: (Mallory) is not a custodian of this roster")
            && err.contains("the custodians are Alice, Bob, Carol"),
        "{err}"
    );
    assert!(
        err.contains("share 1: (Alice) group 2 looks mistyped")
            && err.contains("Alice: type the share again"),
        "{err}"
    );
    assert!(err.contains("share 1 (Alice): accepted"), "{err}");
    assert!(err.contains("share 2 (Carol): accepted"), "{err}");
    // The key review: each key's account, region, ARN and wrapping key digest; an empty answer
    // is asked again.
    assert!(err.contains("[2] the keys: the witness checks"), "{err}");
    assert!(err.contains(&format!("account {}", account())), "{err}");
    assert!(err.contains("wrapping key SHA-256 "), "{err}");
    assert!(
        err.contains("the witness checked all 1 key (y: yes, n: leave)"),
        "{err}"
    );
    // The same words as the full-screen app's.
    assert!(
        err.contains("MISMATCH in group 5: check it with the read-out"),
        "{err}"
    );
    // The questions in the app's order.
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    assert!(at("[1] who is present") < at("[2] the keys"));
    assert!(at("[2] the keys") < at("[3] the bundle fingerprint"));
    assert!(at("[3] the bundle fingerprint") < at("[4] the custodians"));
    assert!(at("[4] the custodians") < at("[5] confirm"));
    // The typed fingerprint's words, for reading back.
    for line in word_lines(&p.fingerprint) {
        assert!(err.contains(&line), "{line} not in {err}");
    }
    assert!(err.contains("Generate and wrap 1 key now? (y/n)"), "{err}");
    // The HSM's work, key by key, as it happens.
    for step in [
        "(step 1 of 6)",
        "check value",
        "wrapped for KMS (step 3 of 6)",
        "verified, sha256",
    ] {
        assert!(err.contains(step), "{step} not in {err}");
    }
    // keyrite never printed the fingerprint before it was typed and confirmed.
    let before_work = &err[..err.find("[6] the HSM work").expect("the HSM work began")];
    for form in [p.fingerprint.clone(), grouped(&p.fingerprint)] {
        assert!(!before_work.to_lowercase().contains(&form), "{before_work}");
    }
    // No share, right or mistyped, in any output.
    for s in [&a, &c, &typo, &e.share(1)] {
        for group in s.split('-').skip(2) {
            assert!(
                !err.contains(group) && !stdout.contains(group),
                "a share group is in the output"
            );
        }
        assert!(!err.contains(s.as_str()) && !stdout.contains(s.as_str()));
    }

    // The bundle imports, and the log verifies with the quorum that opened the HSM.
    import_cmd(&p.bundle)
        .arg("--trust")
        .arg(e.trust())
        .assert()
        .success();
    let report = e.audit_verifies(&p.bundle);
    assert_eq!(
        report.quorum.unwrap().authorised,
        [("Alice".to_string(), 1), ("Carol".to_string(), 3)]
    );
    assert!(
        report.records[0]
            .actors
            .contains(&"Olga Operator".to_string())
    );
}

#[test]
fn anything_but_yes_or_the_end_of_input_leaves_the_bundle_and_the_token_as_they_were() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, p) = prepare_for_new_key(dir.path(), "plainno");
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let before = contents(&p.bundle);
    let objects = hsm().object_count();
    let answers = format!("Olga Operator\nWendy Witness\ny\n{}\n", p.fingerprint);
    for (input, what) in [
        (format!("{answers}n\n"), "n"),
        (format!("{answers}yess\n"), "yess"),
        // A stray Enter is asked again, never taken for no.
        (format!("{answers}\n"), "an empty answer"),
        (answers.clone(), "the end of input at the confirmation"),
        (
            "Olga Operator\n".to_string(),
            "the end of input at the witness",
        ),
        (
            "Olga Operator\nWendy Witness\nn\n".to_string(),
            "n at the key review",
        ),
    ] {
        let cmd = plain_ceremony(keyrite(), &script, &p.bundle, &hsm().token_uri());
        let (code, _, err) = run_with_input(cmd, &input);
        assert_eq!(code, Some(2), "{what}: {err}");
        assert!(
            err.contains("the ceremony was left before it was confirmed; nothing was touched"),
            "{what}: {err}"
        );
        if matches!(what, "yess" | "an empty answer") {
            assert!(err.contains("type y or n"), "{what}: asked again\n{err}");
        }
        assert_eq!(contents(&p.bundle), before, "{what}: the bundle changed");
        assert_eq!(hsm().object_count(), objects, "{what}: an HSM object");
    }
}

#[test]
fn at_a_terminal_a_share_is_not_echoed() {
    own_token!();
    let (_dir, e, p, script) = quorum_bundle("plaintty");
    let command = format!(
        "env {}={} KEYRITE_PKCS11_MODULE={} {} ceremony --plain --script {} --bundle {} --roster {} --token {}; echo EXIT=$?",
        e.store.0,
        quoted(&e.store.1),
        quoted(&hsm().module),
        quoted(env!("CARGO_BIN_EXE_keyrite")),
        quoted(&script),
        quoted(&p.bundle),
        quoted(e.roster()),
        quoted(format!("pkcs11:token={}", e.label)),
    );
    let tmux = Tmux::start("plain", &command, 200, true);
    let mut seen = Vec::new();
    let within = Duration::from_secs(20);
    tmux.wait_for(&mut seen, within, "the operator question", |s| {
        s.contains("operator's name:")
    });
    tmux.text("Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, within, "the witness question", |s| {
        s.contains("witness's name:")
    });
    tmux.text("Wendy Witness");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, within, "the key review", |s| {
        s.contains("(y: yes, n: leave):")
    });
    tmux.text("y");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, within, "the fingerprint question", |s| {
        s.contains("spaces do not matter):")
    });
    tmux.text(&p.fingerprint);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, within, "the first custodian", |s| {
        s.contains("custodian 1 of 2, name:")
    });
    tmux.text("Alice");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, within, "the share question", |s| {
        s.contains("share of Alice (not shown):")
    });
    let share = e.share(0);
    tmux.text(&share);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(&mut seen, within, "the share accepted", |s| {
        s.contains("share 1 (Alice): accepted") && s.contains("custodian 2 of 2, name:")
    });
    // Leave: nothing touched.
    tmux.keys(&["C-d"]);
    let last = tmux.wait_for(&mut seen, within, "the exit", |s| s.contains("EXIT="));
    assert!(last.contains("EXIT=2"), "{last}");
    assert!(last.contains("nothing was touched"), "{last}");
    // Names are echoed as typed; not one group of the share was ever on the screen.
    assert!(screen.contains("Olga Operator"), "{screen}");
    for s in &seen {
        for group in share.split('-').skip(2) {
            assert!(!s.contains(group), "a share group is on the screen:\n{s}");
        }
    }
    assert!(!p.bundle.join("ceremony.log").exists());
}
