//! `keyrite quorum enroll` at a real terminal (tmux, the built binary): each custodian is called
//! alone, sees their share once, and types it back before the next is called; keys typed ahead
//! never show a share to the wrong custodian; leaving half way writes nothing that verifies.
//! Each test enrols a token of its own, in a token store of its own.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tmux::{Tmux, share_on};
use common::{mistype_group, unique};
use keyrite::core::custody::RosterFile;
use keyrite::hsm::softhsm;

/// A fresh token store for this test only: (variable, value), and the module.
fn own_store(dir: &Path) -> ((&'static str, PathBuf), PathBuf) {
    let module = std::env::var_os("KEYRITE_TEST_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(softhsm::DEFAULT_MODULE));
    let env = if module.to_string_lossy().contains("kryoptic") {
        std::fs::create_dir_all(dir).unwrap();
        ("KRYOPTIC_CONF", dir.join("token.sql"))
    } else {
        (
            "SOFTHSM2_CONF",
            softhsm::create_token_dir(&dir.join("softhsm")).unwrap(),
        )
    };
    (env, module)
}

fn start(dir: &Path, names: &[&str]) -> Tmux {
    let label = unique("tty");
    let mut script =
        format!("threshold = 2\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n");
    for n in names {
        script.push_str(&format!("\n[[custodian]]\nname = \"{n}\"\n"));
    }
    let path = dir.join("enroll.toml");
    std::fs::write(&path, script).unwrap();
    let ((var, value), module) = own_store(&dir.join("store"));
    let bin = assert_cmd::cargo::cargo_bin("keyrite");
    let command = format!(
        "env {var}={} KEYRITE_PKCS11_MODULE={} {} quorum enroll --script {}; echo \"exit status $?\"",
        value.display(),
        module.display(),
        bin.display(),
        path.display()
    );
    Tmux::start("enrol", &command, 100, true)
}

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn each_custodian_types_the_share_back_and_type_ahead_shows_no_share_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["Alice", "Bob", "Carol"];
    let t = start(dir.path(), &names);
    let mut seen = Vec::new();
    let mut shares = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let call = format!("Custodian {name}: come to the screen alone.");
        let screen = t.wait_for(&mut seen, WAIT, &call, |s| s.contains(&call));
        assert!(
            !screen.contains("KR1-"),
            "a share is on the call screen:\n{screen}"
        );
        // A reflex burst: "I am alone" with two "done" typed ahead. The gate drops the "d"s:
        // the share stays up until D is pressed again, on purpose.
        t.text("add");
        let shown = format!("Custodian {name}, your share:");
        let screen = t.wait_for(&mut seen, WAIT, &shown, |s| s.contains(&shown));
        let share = share_on(&screen);
        assert!(share.len() > 40, "{share}");
        // Nothing moved on by itself: still the share screen, not the type-back.
        let still = t.pane();
        assert!(
            still.contains(&shown) && !still.contains("type your share back"),
            "{still}"
        );
        t.text("d");
        let back = format!("Custodian {name}: type your share back");
        t.wait_for(&mut seen, WAIT, &back, |s| {
            s.contains(&back) && !s.contains(&shown)
        });
        if i == 1 {
            // Bob mistypes one group: the group is named, the entry stays, nothing moves on.
            let (wrong, _) = mistype_group(&share, 1);
            t.text(&wrong);
            t.keys(&["Enter"]);
            t.wait_for(&mut seen, WAIT, "the mistyped group named", |s| {
                s.contains("group 1 looks mistyped")
            });
            for _ in 0..wrong.chars().count() {
                t.keys(&["BSpace"]);
            }
        }
        t.text(&share);
        // Enter twice: the second is typed ahead of the next custodian's call and is dropped.
        t.keys(&["Enter", "Enter"]);
        shares.push(share);
    }
    let all = t.wait_for(&mut seen, WAIT, "everyone done", |s| {
        s.contains("All 3 custodians have their shares")
    });
    assert!(!all.contains("KR1-"), "{all}");
    assert!(
        !dir.path().join("enrolment").exists(),
        "the roster was written before everyone confirmed"
    );
    t.keys(&["Enter"]);
    let done = t.wait_for(&mut seen, WAIT, "the end", |s| s.contains("exit status"));
    assert!(done.contains("exit status 0"), "{done}");
    // No screen ever showed a share to anyone but its custodian: on each custodian's call
    // screen, no share at all; after the end, none in the scrollback either.
    for s in &shares {
        assert!(
            !done.contains(s.as_str()),
            "a share is left on the screen:\n{done}"
        );
    }
    let roster =
        RosterFile::parse(&std::fs::read(dir.path().join("enrolment/roster.json")).unwrap())
            .unwrap();
    let share_refs: Vec<&str> = shares.iter().map(String::as_str).collect();
    let a = keyrite::core::custody::shares::combine(&roster.roster, &share_refs[..2]).unwrap();
    let b = keyrite::core::custody::shares::combine(&roster.roster, &share_refs[1..]).unwrap();
    assert_eq!(a.as_slice(), b.as_slice());
}

#[test]
fn leaving_half_way_writes_nothing_and_clears_the_share() {
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path(), &["Alice", "Bob"]);
    let mut seen = Vec::new();
    t.wait_for(&mut seen, WAIT, "the first call", |s| {
        s.contains("Custodian Alice: come to the screen alone.")
    });
    t.text("a");
    let screen = t.wait_for(&mut seen, WAIT, "Alice's share", |s| {
        s.contains("Custodian Alice, your share:")
    });
    let share = share_on(&screen);
    // Esc asks first; anything but y stays.
    t.keys(&["Escape"]);
    t.wait_for(&mut seen, WAIT, "the question", |s| {
        s.contains("Leave the enrolment?")
    });
    t.text("n");
    t.wait_for(&mut seen, WAIT, "back at the share", |s| {
        !s.contains("Leave the enrolment?") && s.contains("Custodian Alice, your share:")
    });
    // Once a share was shown, Ctrl-C asks too, and says what becomes of the paper; a second
    // Ctrl-C leaves.
    t.keys(&["C-c"]);
    let asked = t.wait_for(&mut seen, WAIT, "the question", |s| {
        s.contains("Leave the enrolment?")
    });
    assert!(asked.contains("destroy the paper"), "{asked}");
    t.keys(&["C-c"]);
    let done = t.wait_for(&mut seen, WAIT, "the end", |s| s.contains("exit status"));
    assert!(done.contains("destroys that paper"), "{done}");
    assert!(done.contains("exit status 2"), "{done}");
    assert!(done.contains("nothing was written"), "{done}");
    assert!(done.contains("initialise the token again"), "{done}");
    assert!(
        !done.contains(&share),
        "the share is left on the screen:\n{done}"
    );
    assert!(!dir.path().join("enrolment").exists());
}
