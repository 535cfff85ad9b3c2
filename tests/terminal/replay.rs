//! `keyrite audit replay`: as text, and screen by screen in a real terminal (tmux).

use crate::common;

use std::time::Duration;

use common::flow::*;
use common::tmux::Tmux;
use common::*;

fn rotated_bundle(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let (alias, _) = external_key("replay");
    let (p, manifest) = full_rotation(dir, &[&alias]);
    let kcv = manifest["keys"][0]["generated"]["check_value"]
        .as_str()
        .unwrap()
        .to_string();
    (p.bundle, kcv)
}

#[test]
fn replay_as_text_shows_every_step_and_refuses_a_tampered_log_when_trust_is_given() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (bundle, kcv) = rotated_bundle(dir.path());
    let trust = hsm().log_public_key();
    let out = keyrite()
        .args(["audit", "replay", "--text", "--trust"])
        .arg(&trust)
        .arg(&bundle)
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    for n in 1..=5 {
        assert!(
            text.contains(&format!("── step {n} of 5 ·")),
            "step {n} missing:\n{text}"
        );
    }
    assert!(
        text.contains("present: Alice Admin, Walter Witness"),
        "{text}"
    );
    assert!(text.contains(&format!("check value  {kcv}")), "{text}");
    // The verification line is part of the printout, first.
    assert!(
        text.starts_with("verified: 5 records signed by the trusted log key; ceremony complete"),
        "{text}"
    );

    // A tampered log: with --trust, nothing is replayed and the exit code says verification failed.
    let log = bundle.join("ceremony.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let pos = bytes
        .windows(kcv.len())
        .position(|w| w == kcv.as_bytes())
        .unwrap();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    std::fs::write(&log, &bytes).unwrap();
    let out = keyrite()
        .args(["audit", "replay", "--text", "--trust"])
        .arg(&trust)
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        out.stdout.is_empty(),
        "a log that does not verify is not replayed"
    );
    // Without --trust it replays, and says loudly that it is not verified.
    let out = keyrite()
        .args(["audit", "replay", "--text"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT VERIFIED"));
}

#[test]
fn replay_in_an_80x24_terminal_pages_forward_and_back_with_help_and_quits_with_one_key() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (bundle, kcv) = rotated_bundle(dir.path());
    let trust = hsm().log_public_key();
    let command = format!(
        "{} audit replay --trust {} {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_keyrite"),
        trust.display(),
        bundle.display()
    );
    let tmux = Tmux::start_sized("replay", &command, 80, 24, false);
    let mut seen = Vec::new();
    let within = Duration::from_secs(20);
    let status = "verified (5 records, ceremony complete) | lines ";

    let first = tmux.wait_for(&mut seen, within, "the first page", |s| {
        s.contains("step 1 of 5") && s.contains("lines 1-23 of")
    });
    assert!(first.contains("The ceremony begins"), "{first}");
    // The verification result stays in the status line, on the last row.
    let last_row = |s: &str| s.lines().nth(23).unwrap_or_default().to_string();
    assert!(last_row(&first).starts_with(status), "{first}");
    assert!(
        !first.contains("step 5 of 5"),
        "one page at a time:\n{first}"
    );
    // Every row fits 80 columns: long lines are wrapped, not cut off by the terminal.
    assert!(first.lines().all(|l| l.chars().count() <= 80));

    // Space: the next page, without Enter.
    tmux.keys(&["Space"]);
    let second = tmux.wait_for(&mut seen, within, "the second page", |s| {
        (s.contains("lines 24-") || s.contains("(end)")) && !s.contains("lines 1-23")
    });
    assert!(
        !second.contains("step 1 of 5"),
        "the first page scrolled away: {second}"
    );
    assert!(
        second.contains(&format!("check value  {kcv}"))
            || first.contains(&format!("check value  {kcv}"))
    );
    assert!(last_row(&second).starts_with(status), "{second}");

    // b: back to the first page.
    tmux.keys(&["b"]);
    tmux.wait_for(&mut seen, within, "the first page again", |s| {
        s.contains("lines 1-23 of") && s.contains("The ceremony begins")
    });

    // ?: help, and any key back.
    tmux.keys(&["?"]);
    let help = tmux.wait_for(&mut seen, within, "help", |s| {
        s.contains("keyrite audit replay: keys")
    });
    assert!(
        help.contains("b, PgUp") && help.contains("q, Ctrl-C"),
        "{help}"
    );
    tmux.keys(&["Space"]);
    tmux.wait_for(&mut seen, within, "help closed", |s| {
        !s.contains("keyrite audit replay: keys") && s.contains("lines 1-23 of")
    });

    // q, one key, no Enter: the pager leaves; the shell's screen shows the verification line.
    tmux.keys(&["q"]);
    let end = tmux.wait_for(&mut seen, within, "exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    // With what scrolled off the screen: the line printed before the pager is still there.
    let all = tmux
        .cmd()
        .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "replay"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    assert!(
        all.contains("verified: 5 records signed by the trusted log key; ceremony complete"),
        "the verification line stays: {all}"
    );
}
