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
    assert!(String::from_utf8_lossy(&out.stderr).contains("verified: 5 records"));

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
fn replay_in_a_terminal_pages_one_screen_per_step() {
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
    let tmux = Tmux::start("replay", &command, 120, false);
    let mut seen = Vec::new();

    let first = tmux.wait_for(&mut seen, Duration::from_secs(20), "step 1", |s| {
        s.contains("step 1 of 5")
    });
    assert!(first.contains("The ceremony begins"), "{first}");
    assert!(
        !first.contains("step 2 of 5"),
        "one step per screen:\n{first}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, Duration::from_secs(20), "step 2", |s| {
        s.contains("step 2 of 5") && !s.contains("step 1 of 5")
    });
    tmux.keys(&["Enter"]);
    let third = tmux.wait_for(&mut seen, Duration::from_secs(20), "step 3", |s| {
        s.contains("step 3 of 5")
    });
    assert!(third.contains(&format!("check value  {kcv}")), "{third}");
    tmux.keys(&["q", "Enter"]);
    let end = tmux.wait_for(&mut seen, Duration::from_secs(20), "exit", |s| {
        s.contains("EXIT=")
    });
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(!end.contains("step 4 of 5"), "q stops the replay:\n{end}");
}
