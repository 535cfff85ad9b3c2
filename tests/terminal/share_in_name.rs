//! A share typed into a name field (the operator's, the witness's, a custodian's), in both apps
//! at 80x24 in a real terminal (tmux) and in a headless answers file: refused without being
//! shown or kept. No six characters of it are on the screen, in the scrollback, in the log or
//! in any file of the bundle.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::roster::*;
use common::tmux::{Tmux, quoted};
use common::*;
use keyrite::core::digest::grouped;

const LOOKED: &str = "that looked like a share: it was not shown or kept";
const WITHIN: Duration = Duration::from_secs(30);

fn command(e: &Enrolment, script: &Path, bundle: &Path, plain: bool) -> String {
    format!(
        "env {}={} KEYRITE_PKCS11_MODULE={} {} ceremony {} --script {} --bundle {} --roster {} --token {}; echo EXIT=$?",
        e.store.0,
        quoted(&e.store.1),
        quoted(&hsm().module),
        quoted(env!("CARGO_BIN_EXE_keyrite")),
        if plain { "--plain" } else { "" },
        quoted(script),
        quoted(bundle),
        quoted(e.roster()),
        quoted(format!("pkcs11:token={}", e.label)),
    )
}

/// No six consecutive characters of `share` in `text` (nor of its lower-case form).
fn assert_none_of(share: &str, text: &str, where_: &str) {
    let share = share.to_uppercase();
    let text = text.to_uppercase();
    for i in 0..=share.len() - 6 {
        let piece = &share[i..i + 6];
        assert!(
            !text.contains(piece),
            "{where_}: {piece:?} of the share:\n{text}"
        );
    }
}

/// Every file of the bundle, and nothing of the share in any.
fn assert_bundle_clean(bundle: &Path, share: &str) {
    for f in tree(bundle) {
        let bytes = std::fs::read(bundle.join(&f)).unwrap();
        assert_none_of(share, &String::from_utf8_lossy(&bytes), &f);
    }
}

#[test]
fn a_share_typed_into_every_name_field_of_the_full_screen_app_is_never_shown_or_kept() {
    own_token!();
    let (_dir, e, p, script) = quorum_bundle("nametui");
    let share = e.share(1);
    let tmux = Tmux::start_sized(
        "nametui",
        &command(&e, &script, &p.bundle, false),
        80,
        24,
        true,
    );
    let mut seen = Vec::new();
    tmux.wait_for(&mut seen, WITHIN, "step 1", |s| {
        s.contains("who is present")
    });
    // The operator's field: the custodian's reflex, a name and the share.
    tmux.text(&format!("bob{share}"));
    tmux.wait_for(&mut seen, WITHIN, "the refusal", |s| s.contains(LOOKED));
    tmux.keys(&["Enter"]);
    // Enter ends the refusal, a gate: what is typed ahead of it is dropped.
    tmux.wait_for(&mut seen, WITHIN, "the refusal closed", |s| {
        !s.contains(LOOKED)
    });
    tmux.text("Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, WITHIN, "the witness", |s| {
        s.contains("> Witness")
    });
    tmux.text(&share);
    tmux.wait_for(&mut seen, WITHIN, "the refusal", |s| s.contains(LOOKED));
    tmux.keys(&["Enter"]);
    // Enter ends the refusal, a gate: what is typed ahead of it is dropped.
    tmux.wait_for(&mut seen, WITHIN, "the refusal closed", |s| {
        !s.contains(LOOKED)
    });
    tmux.text("Wendy Witness");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, WITHIN, "the keys", |s| {
        s.contains("check the 1 key")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, WITHIN, "the fingerprint", |s| {
        s.contains("the bundle fingerprint")
    });
    tmux.text(&grouped(&p.fingerprint));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, WITHIN, "the custodians", |s| {
        s.contains("> Custodian:")
    });
    // A custodian's name field, the share without its prefix.
    tmux.text(&share[7..]);
    let refused = tmux.wait_for(&mut seen, WITHIN, "the refusal", |s| s.contains(LOOKED));
    assert!(refused.contains("custodians (0 of 2)"), "{refused}");
    tmux.keys(&["Enter"]);
    // Enter ends the refusal (a gate: keys typed ahead of it are dropped), then Esc.
    tmux.wait_for(&mut seen, WITHIN, "the refusal closed", |s| {
        !s.contains(LOOKED)
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for(&mut seen, WITHIN, "the leave box", |s| {
        s.contains("L: leave now")
    });
    tmux.keys(&["l"]);
    let last = tmux.wait_for(&mut seen, WITHIN, "the exit", |s| s.contains("EXIT="));
    assert!(last.contains("EXIT=2"), "{last}");
    // What is on the screen and in the scrollback after it all (the screens in between were
    // looked at by polling: none may hold it either, once a key after the share was drawn).
    assert_none_of(&share, &tmux.pane(), "the terminal and its scrollback");
    assert_bundle_clean(&p.bundle, &share);
    assert!(!p.bundle.join("ceremony.log").exists());
}

#[test]
fn a_share_typed_at_a_name_question_of_the_line_mode_is_erased_and_asked_again() {
    own_token!();
    let (_dir, e, p, script) = quorum_bundle("nameplain");
    let share = e.share(0);
    let tmux = Tmux::start_sized(
        "nameplain",
        &command(&e, &script, &p.bundle, true),
        80,
        24,
        true,
    );
    let mut seen = Vec::new();
    let share_in_name = |seen: &mut Vec<String>, question: &str, answer: &str| {
        tmux.wait_for(seen, WITHIN, question, |s| s.trim_end().ends_with(question));
        tmux.text(&format!("alice{share}"));
        tmux.keys(&["Enter"]);
        tmux.wait_for(seen, WITHIN, "the refusal, asked again", |s| {
            s.contains(LOOKED) && s.trim_end().ends_with(question)
        });
        assert_none_of(&share, &tmux.pane(), question);
        tmux.text(answer);
        tmux.keys(&["Enter"]);
    };
    share_in_name(&mut seen, "operator's name:", "Olga Operator");
    share_in_name(&mut seen, "witness's name:", "Wendy Witness");
    // The key review and the fingerprint come before the custodians.
    tmux.wait_for(&mut seen, WITHIN, "the key review", |s| {
        s.trim_end().ends_with("(y: yes, n: leave):")
    });
    tmux.text("y");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, WITHIN, "the fingerprint", |s| {
        s.trim_end().ends_with("spaces do not matter):")
    });
    tmux.text(&p.fingerprint);
    tmux.keys(&["Enter"]);
    share_in_name(&mut seen, "custodian 1 of 2, name:", "alice");
    // A custodian's name in any case: the share question names her as enrolled.
    tmux.wait_for(&mut seen, WITHIN, "the share question", |s| {
        s.contains("share of Alice (not shown):")
    });
    tmux.keys(&["C-d"]);
    let last = tmux.wait_for(&mut seen, WITHIN, "the exit", |s| s.contains("EXIT="));
    assert!(last.contains("EXIT=2"), "{last}");
    assert_none_of(&share, &tmux.pane(), "the terminal and its scrollback");
    assert_bundle_clean(&p.bundle, &share);
}

#[test]
fn a_share_in_a_headless_answers_name_is_refused_and_not_echoed_or_logged() {
    own_token!();
    let (dir, e, p, script) = quorum_bundle("namehead");
    let share = e.share(2);
    let shares = [e.share(0), e.share(1)];
    for (what, operator, witness, custodian) in [
        ("operator", share.as_str(), "Wendy", "Alice"),
        ("witness", "Olga", share.as_str(), "Alice"),
        ("custodian", "Olga", "Wendy", share.as_str()),
    ] {
        let answers = dir.path().join(format!("answers-{what}.toml"));
        write_secret(
            &answers,
            format!(
                "operator = {operator:?}\nwitness = {witness:?}\nbundle_fingerprint = {:?}\n\n\
                 [[custodian]]\nname = {custodian:?}\nshare = {:?}\n\n\
                 [[custodian]]\nname = \"Bob\"\nshare = {:?}\n",
                p.fingerprint, shares[0], shares[1]
            ),
        );
        let out = e
            .store
            .keyrite()
            .args(["ceremony", "--headless", "--script"])
            .arg(&script)
            .arg("--bundle")
            .arg(&p.bundle)
            .arg("--roster")
            .arg(e.roster())
            .args(["--token", &format!("pkcs11:token={}", e.label)])
            .arg("--answers")
            .arg(&answers)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{what}: {stderr}");
        assert!(stderr.contains(LOOKED), "{what}: {stderr}");
        assert_none_of(&share, &stderr, what);
        assert_none_of(&share, &stdout, what);
        assert_bundle_clean(&p.bundle, &share);
    }
}
