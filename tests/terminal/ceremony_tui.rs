//! The ceremony's terminal UI in a real terminal (tmux), driving the real binary on the test
//! token: the answers are typed with send-keys, as the operators type them.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::flow::*;
use common::tmux::Tmux;
use common::*;

fn quoted(s: impl AsRef<std::ffi::OsStr>) -> String {
    format!("'{}'", s.as_ref().to_string_lossy().replace('\'', "'\\''"))
}

/// `keyrite ceremony` without --headless, in the environment that points at the test token.
fn ceremony_command(script: &Path, bundle: &Path) -> String {
    ceremony_command_on(&hsm().env.1, script, bundle, &hsm().token_uri(), &[])
}

/// The same on the token store `store` (the test token's variable), with `extra` arguments.
fn ceremony_command_on(
    store: &Path,
    script: &Path,
    bundle: &Path,
    token: &str,
    extra: &[&str],
) -> String {
    let hsm = hsm();
    let extra: Vec<String> = extra.iter().map(quoted).collect();
    format!(
        "env {}={} KEYRITE_PKCS11_MODULE={} {} ceremony --script {} --bundle {} --token {} {}; echo EXIT=$?",
        hsm.env.0,
        quoted(store),
        quoted(&hsm.module),
        quoted(env!("CARGO_BIN_EXE_keyrite")),
        quoted(script),
        quoted(bundle),
        quoted(token),
        extra.join(" "),
    )
}

fn prepared_key(dir: &Path, name: &str) -> (String, Prepared, std::path::PathBuf) {
    let (alias, p) = prepare_for_new_key(dir, name);
    let script = write_script(dir, &[&alias], default_algorithm(), "RSA_4096");
    (alias, p, script)
}

const SHORT: Duration = Duration::from_secs(20);

/// Types `text` and waits until the screen shows it (so no key is typed ahead of a gate).
fn type_seen(tmux: &Tmux, seen: &mut Vec<String>, text: &str) {
    tmux.text(text);
    tmux.wait_for(seen, SHORT, text, |s| s.contains(text));
}

/// `n` Backspaces.
fn erase(tmux: &Tmux, n: usize) {
    let keys = vec!["BSpace"; n];
    tmux.keys(&keys);
}

/// The first two steps: who is present, then the keys checked.
fn people_and_keys(tmux: &Tmux, seen: &mut Vec<String>, keys: usize) -> String {
    // The whole first frame: its title (the interrupted ceremony's screen names this step in
    // its text) and the end of its footer.
    let first = tmux.wait_for(seen, SHORT, "who is present", |s| {
        s.contains("— who is present") && s.contains("Ctrl-C: leave")
    });
    type_seen(tmux, seen, "Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.wait_for(seen, SHORT, "the witness field", |s| {
        s.contains("> Witness:")
    });
    type_seen(tmux, seen, "Wendy Witness");
    tmux.keys(&["Enter"]);
    let want = if keys == 1 {
        "check the 1 key".to_string()
    } else {
        format!("check the {keys} keys")
    };
    tmux.wait_for(seen, SHORT, "the keys", |s| s.contains(&want));
    first
}

#[test]
fn a_whole_ceremony_typed_at_the_terminal_wraps_the_key_and_logs_it() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, p, script) = prepared_key(dir.path(), "tui");
    let tmux = Tmux::start("tui", &ceremony_command(&script, &p.bundle), 100, true);
    let mut seen = Vec::new();

    let first = people_and_keys(&tmux, &mut seen, 1);
    assert!(first.contains("step 1 of 6 — who is present"), "{first}");
    assert!(
        first.contains("import parameters:"),
        "the countdown:\n{first}"
    );
    assert!(first.contains("F1: help"), "{first}");
    let keys = tmux.pane();
    assert!(keys.contains(&alias), "{keys}");
    // One line a key: its alias and account on the line.
    assert!(
        keys.lines()
            .any(|l| l.contains(&alias) && l.contains(account())),
        "{keys}"
    );
    // F1 (and ? outside a field) opens the help; any key closes it, and does nothing else.
    for open in ["F1", "?"] {
        tmux.keys(&[open]);
        tmux.wait_for(&mut seen, SHORT, "the help", |s| {
            s.contains("Shift-Tab  back to the previous step")
        });
        tmux.keys(&["Enter"]);
        tmux.wait_for(&mut seen, SHORT, "the keys again", |s| {
            s.contains(&alias) && !s.contains("Shift-Tab  back to")
        });
    }
    tmux.keys(&["Enter"]);

    let second = tmux.wait_for(&mut seen, SHORT, "step 3", |s| {
        s.contains("the bundle fingerprint")
    });
    let fp = keyrite::core::digest::grouped(&p.fingerprint);
    assert!(
        !second.contains(&fp[..14]),
        "the expected fingerprint is not on screen:\n{second}"
    );
    // A fingerprint with its second group wrong: the group is named, nothing goes on.
    let mut wrong = fp.clone();
    let c = if &wrong[5..6] == "0" { "1" } else { "0" };
    wrong.replace_range(5..6, c);
    type_seen(&tmux, &mut seen, &wrong);
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for(&mut seen, SHORT, "the mismatch", |s| {
        s.contains("MISMATCH in group 2:")
    });
    assert!(refused.contains("the bundle fingerprint"), "{refused}");
    erase(&tmux, wrong.len());
    type_seen(&tmux, &mut seen, &fp.to_uppercase());
    tmux.keys(&["Enter"]);

    let confirm = tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("Generate and wrap 1 key now? y: generate")
    });
    assert!(confirm.contains("Operator    Olga Operator"), "{confirm}");
    assert!(confirm.contains("Witness     Wendy Witness"), "{confirm}");
    let key_file = p
        .bundle
        .join(alias.trim_start_matches("alias/"))
        .join("EncryptedKeyMaterial.bin");
    // Enter neither confirms nor leaves.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the refusal of Enter", |s| {
        s.contains("only y generates")
    });
    assert!(!key_file.exists(), "nothing is generated before 'y'");
    tmux.keys(&["y"]);

    // The whole result frame: its title is drawn before its lines, and the HSM step's footer
    // stays until the frame is complete.
    let result = tmux.wait_for(&mut seen, Duration::from_secs(120), "the result", |s| {
        s.contains("ceremony complete")
            && s.contains("check value")
            && !s.contains("HSM is working")
    });
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    let kcv = manifest["keys"][0]["generated"]["check_value"]
        .as_str()
        .unwrap();
    assert!(result.contains(&format!("check value {kcv}")), "{result}");
    assert!(result.contains("keyrite kms import --bundle"), "{result}");
    // `kms import` refuses without the log public key: the command shown says which.
    assert!(result.contains("--trust log-public-key.pem"), "{result}");
    // The next step points at the command where it is: above.
    assert!(result.contains("run the import command above"), "{result}");
    let wrapped = std::fs::read(&key_file).expect("the wrapped material is in the bundle");
    let sha = keyrite::core::digest::sha256_hex(&wrapped);
    assert!(result.contains(&sha[..16]), "{result}");
    // What the room copies into its paper log, written into the bundle.
    let paper = std::fs::read_to_string(p.bundle.join("ceremony-report.txt")).unwrap();
    for want in [
        kcv,
        sha.as_str(),
        "Olga Operator",
        "Wendy Witness",
        "keyrite kms import --bundle <its directory> --trust log-public-key.pem",
    ] {
        assert!(paper.contains(want), "{want} not in the report:\n{paper}");
    }
    tmux.keys(&["q"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(
        end.contains("ceremony complete; bundle fingerprint confirmed"),
        "{end}"
    );

    // The log verifies against the token's log key and records who was there.
    let trusted = keyrite::core::log::TrustedKey::from_pem(
        &std::fs::read_to_string(hsm().log_public_key()).unwrap(),
    )
    .unwrap();
    let log = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let report = keyrite::core::log::verify(&log, &trusted).unwrap();
    assert_eq!(report.keys.len(), 1);
    assert_eq!(report.keys[0].check_value, kcv);
    let log = String::from_utf8(log).unwrap();
    assert!(log.contains("Olga Operator") && log.contains("Wendy Witness"));

    // The PIN never reached the screen.
    assert!(seen.len() > 5);
    for s in &seen {
        assert!(!s.contains(USER_PIN), "the PIN on screen:\n{s}");
    }
}

#[test]
fn esc_asks_in_its_own_box_where_y_is_no_answer_and_only_l_leaves_exit_2_touching_nothing() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, p, script) = prepared_key(dir.path(), "tui-esc");
    let before = tree(&p.bundle);
    let manifest = std::fs::read(p.bundle.join("manifest.json")).unwrap();
    let tmux = Tmux::start("tui", &ceremony_command(&script, &p.bundle), 100, true);
    let mut seen = Vec::new();
    people_and_keys(&tmux, &mut seen, 1);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "step 3", |s| {
        s.contains("the bundle fingerprint")
    });
    type_seen(&tmux, &mut seen, &p.fingerprint);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("y: generate")
    });
    tmux.keys(&["Escape"]);
    // Its own box, which hides the confirmation's question: y means one thing on a screen.
    let asked = tmux.wait_for(&mut seen, SHORT, "the question", |s| {
        s.contains("Leave the ceremony?") && s.contains("L: leave now")
    });
    assert!(asked.contains("L: leave now"), "{asked}");
    assert!(!asked.contains("Generate and wrap"), "{asked}");
    // Any other key stays, y too: it is no answer to the leave box.
    tmux.keys(&["y"]);
    tmux.wait_for(&mut seen, SHORT, "the question gone", |s| {
        !s.contains("Leave the ceremony?") && s.contains("Generate and wrap")
    });
    // Ctrl-C, once anything was typed, asks as Esc does.
    tmux.keys(&["C-c"]);
    tmux.wait_for(&mut seen, SHORT, "the question", |s| {
        s.contains("Leave the ceremony?")
    });
    tmux.keys(&["l"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=2"), "{end}");
    assert!(end.contains("nothing was touched"), "{end}");
    assert_eq!(tree(&p.bundle), before);
    assert_eq!(
        std::fs::read(p.bundle.join("manifest.json")).unwrap(),
        manifest
    );
}

#[test]
fn an_expired_bundle_is_refused_on_the_first_screen_before_any_typing_and_the_hsm_is_untouched() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, p, script) = prepared_key(dir.path(), "tui-expired");
    let path = p.bundle.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["keys"][0]["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let before = tree(&p.bundle);
    let objects = hsm().object_count();
    // The shell waits on a read after the exit, so the pane outlives it.
    let command = format!("{}; read _", ceremony_command(&script, &p.bundle));
    let tmux = Tmux::start_sized("tui", &command, 80, 24, true);
    let mut seen = Vec::new();
    // The checks before it are ticked off on the first screen; the failed one stays there.
    let failed = tmux.wait_for(&mut seen, SHORT, "the failed check", |s| {
        s.contains("✗ ") && s.contains("Enter/Esc: leave")
    });
    assert!(
        failed.contains("preflight — before anyone types"),
        "{failed}"
    );
    assert!(
        failed.contains("✓ the bundle is for the script's 1 key"),
        "{failed}"
    );
    assert!(failed.contains("✓ every file's SHA-256"), "{failed}");
    assert!(failed.contains("expired"), "{failed}");
    assert!(!failed.contains("EXIT="), "it waits for a key:\n{failed}");
    tmux.keys(&["Enter"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=5"), "{end}");
    assert!(end.contains("expired"), "{end}");
    assert!(end.contains("what to do:"), "{end}");
    for s in &seen {
        assert!(!s.contains("who is present"), "no step was shown:\n{s}");
    }
    assert_eq!(tree(&p.bundle), before);
    assert_eq!(hsm().object_count(), objects, "no HSM object created");
}

#[test]
fn the_first_frame_comes_before_the_preflight_and_ticks_off_each_check_until_one_fails() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, p, script) = prepared_key(dir.path(), "tui-notoken");
    let before = tree(&p.bundle);
    // A token no one plugged in: the checks of the bundle pass before the token's fails, so
    // they can only have been seen if the frame came first.
    let command = format!(
        "{}; read _",
        ceremony_command_on(
            &hsm().env.1,
            &script,
            &p.bundle,
            "pkcs11:token=not-plugged-in",
            &[]
        )
    );
    for (cols, rows) in [(80, 24), (60, 20)] {
        let tmux = Tmux::start_sized("tui", &command, cols, rows, true);
        let mut seen = Vec::new();
        let failed = tmux.wait_for(&mut seen, SHORT, "the failed check", |s| {
            s.contains("✗ ") && s.contains("Enter/Esc: leave")
        });
        for check in [
            "✓ the bundle is for the script's 1 key and algorithm",
            "✓ every file's SHA-256 is the manifest's",
            "✓ the KMS wrapping key is RSA_4096",
            "✓ the import parameters: ",
        ] {
            assert!(failed.contains(check), "{cols}x{rows}: {check}:\n{failed}");
        }
        assert!(failed.contains(" left, margin 30 min"), "{failed}");
        assert!(
            failed.contains("✗ no token labelled \"not-plugged-in\""),
            "{failed}"
        );
        assert!(
            failed.contains("preflight: 5 passed, one failed"),
            "{failed}"
        );
        assert!(
            failed.contains("Next: the ceremony cannot start"),
            "{failed}"
        );
        // Keys other than Enter, Esc, q and Ctrl-C do nothing here.
        tmux.keys(&["y"]);
        tmux.keys(&["Escape"]);
        let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
        assert!(end.contains("not-plugged-in"), "{end}");
        assert!(!end.contains("EXIT=0"), "{end}");
    }
    assert_eq!(tree(&p.bundle), before);
}

#[test]
fn an_error_after_the_confirmation_is_shown_with_what_to_do_then_exits_with_its_code() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, p, script) = prepared_key(dir.path(), "tui-fails");
    // A wrong security officer's PIN: read before the UI, refused by the token after y.
    let so_pin = dir.path().join("so.pin");
    write_secret(&so_pin, "not-the-so-pin\n");
    // The same refusal headless gives the exit code to expect.
    let headless = keyrite_process()
        .args(["ceremony", "--headless", "--script"])
        .arg(&script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(write_answers(dir.path(), &p.fingerprint))
        .args(["--token", &hsm().token_uri(), "--so-pin-source"])
        .arg(&so_pin)
        .output()
        .unwrap();
    let code = headless.status.code().unwrap();
    assert_ne!(code, 0);
    let before = tree(&p.bundle);
    let tmux = Tmux::start(
        "tui",
        &ceremony_command_on(
            &hsm().env.1,
            &script,
            &p.bundle,
            &hsm().token_uri(),
            &["--so-pin-source", so_pin.to_str().unwrap()],
        ),
        100,
        true,
    );
    let mut seen = Vec::new();
    people_and_keys(&tmux, &mut seen, 1);
    assert!(tmux.pane().contains(&alias));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "step 3", |s| {
        s.contains("the bundle fingerprint")
    });
    type_seen(&tmux, &mut seen, &p.fingerprint);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("y: generate")
    });
    tmux.keys(&["y"]);
    let stopped = tmux.wait_for(&mut seen, Duration::from_secs(60), "the error", |s| {
        s.contains("The ceremony stopped.")
    });
    assert!(stopped.contains("what to do:"), "{stopped}");
    assert!(stopped.contains("PIN"), "{stopped}");
    assert!(
        !stopped.contains("EXIT="),
        "the UI waits for a key:\n{stopped}"
    );
    tmux.keys(&["Enter"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains(&format!("EXIT={code}")), "want {code}:\n{end}");
    assert_eq!(tree(&p.bundle), before, "nothing was left in the bundle");
}

/// A share as its hidden field shows it: a dot a character, its dashes kept.
fn dots(share: &str) -> String {
    share
        .chars()
        .map(|c| if c == '-' { '-' } else { '•' })
        .collect()
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The ceremony on the enrolled token `label`, its roster (from [`enrol_five`] in `dir`) opening
/// the HSM.
fn roster_command(dir: &Path, store: &Path, label: &str, script: &Path, bundle: &Path) -> String {
    let roster = dir.join("enrolment/roster.json");
    ceremony_command_on(
        store,
        script,
        bundle,
        &format!("pkcs11:token={label}"),
        &["--roster", roster.to_str().unwrap()],
    )
}

/// No screen seen, nor the scrollback, held six characters of a share in a row.
fn no_share_on(seen: &[String], shares: &[(String, String)]) {
    for s in seen {
        for (_, share) in shares {
            for w in share.as_bytes()[4..].windows(6) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!s.contains(w), "{w:?} of a share on screen:\n{s}");
            }
        }
    }
}

/// `audit verify` accepts the bundle, trusting the enrolment's published log key (in `dir`).
fn audit_with_enrolment_key(dir: &Path, bundle: &Path) {
    let audit = keyrite()
        .args(["audit", "verify"])
        .arg(bundle)
        .arg("--trust")
        .arg(dir.join("enrolment/log-public-key.pem"))
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&audit.stderr)
    );
}

/// A roster of five custodians (any three open the HSM) enrolled headless on a token of its own:
/// (token store, label, the shares by name).
fn enrol_five(dir: &Path) -> (std::path::PathBuf, String, Vec<(String, String)>) {
    // Enrolment initialises a new token in an empty slot: SoftHSM2 always has one; kryoptic has
    // a single slot, so it gets a token database of its own.
    let store = if hsm().is_softhsm() {
        hsm().env.1.clone()
    } else {
        dir.join("store/token.sql")
    };
    std::fs::create_dir_all(dir.join("store")).unwrap();
    std::fs::create_dir_all(dir.join("shares")).unwrap();
    let label = unique("tui");
    let names = ["Alice", "Bob", "Carol", "Dave", "Erin"];
    let mut enroll =
        format!("threshold = 3\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n");
    for n in names {
        enroll.push_str(&format!(
            "\n[[custodian]]\nname = \"{n}\"\nshare_file = \"shares/{n}.share\"\n"
        ));
    }
    std::fs::write(dir.join("enroll.toml"), enroll).unwrap();
    keyrite()
        .env(hsm().env.0, &store)
        .args(["quorum", "enroll", "--headless", "--script"])
        .arg(dir.join("enroll.toml"))
        .assert()
        .success();
    let shares = names
        .iter()
        .map(|n| {
            let share = std::fs::read_to_string(dir.join(format!("shares/{n}.share")))
                .unwrap()
                .lines()
                .find(|l| l.starts_with("KR1-"))
                .expect("a share line")
                .to_string();
            (n.to_string(), share)
        })
        .collect();
    (store, label, shares)
}

#[test]
fn nine_keys_with_a_three_of_five_roster_corrected_in_place_then_imported_and_audited() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (store, label, shares) = enrol_five(dir.path());
    let aliases: Vec<String> = (1..=9)
        .map(|i| external_key(&format!("tui9-{i}")).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let p = prepare(dir.path(), &refs, default_algorithm());
    let script = write_script(dir.path(), &refs, default_algorithm(), "RSA_4096");
    let tmux = Tmux::start(
        "tui9",
        &roster_command(dir.path(), &store, &label, &script, &p.bundle),
        100,
        true,
    );
    let mut seen = Vec::new();
    people_and_keys(&tmux, &mut seen, 9);
    // The witness selects each key in turn (its details under the table): every one is reachable.
    let mut listed = std::collections::BTreeSet::new();
    for from in 1..=9 {
        // The page, drawn down to the selected key's details at least.
        let head = format!("Key {from} of 9:");
        let top = &aliases[from - 1];
        let s = tmux.wait_for(&mut seen, SHORT, &head, |s| {
            s.contains(&head) && s.contains(top.as_str())
        });
        for a in &aliases {
            if s.contains(a.as_str()) {
                listed.insert(a.clone());
            }
        }
        tmux.keys(&["Down"]);
    }
    assert_eq!(listed.len(), 9, "{listed:?}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "step 3", |s| {
        s.contains("the bundle fingerprint")
    });

    // The fingerprint with its fifth group wrong: named, then corrected.
    let fp = keyrite::core::digest::grouped(&p.fingerprint);
    let mut wrong = fp.clone();
    let c = if &wrong[20..21] == "0" { "1" } else { "0" };
    wrong.replace_range(20..21, c);
    type_seen(&tmux, &mut seen, &wrong);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the mismatch", |s| {
        s.contains("MISMATCH in group 5:")
    });
    erase(&tmux, wrong.len() - 20);
    type_seen(&tmux, &mut seen, &fp[20..]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the custodians", |s| {
        s.contains("custodians (0 of 3)")
    });

    // Back once: the fingerprint is still typed, and goes on again.
    tmux.keys(&["BTab"]);
    let back = tmux.wait_for(&mut seen, SHORT, "back at the fingerprint", |s| {
        s.contains("the bundle fingerprint")
    });
    assert!(back.contains(&fp[..39]), "the entry is kept:\n{back}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the custodians", |s| {
        s.contains("custodians (0 of 3)")
    });

    for (i, (name, share)) in [&shares[0], &shares[2], &shares[4]].into_iter().enumerate() {
        type_seen(&tmux, &mut seen, name);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&mut seen, SHORT, "the share field", |s| {
            s.contains("> Share:")
        });
        if i == 0 {
            // One character of the second group mistyped: the group is named, and the entry
            // stays to be corrected from there.
            let (bad, pos) = mistype_group(share, 2);
            tmux.text(&bad);
            tmux.keys(&["Enter"]);
            let named = tmux.wait_for(&mut seen, SHORT, "the wrong group", |s| {
                s.contains("group 2 looks mistyped") && s.contains(&format!("({name})"))
            });
            assert!(named.contains(&head(&dots(&bad), 60)), "{named}");
            erase(&tmux, bad.len() - pos);
            tmux.text(&share[pos..]);
        } else {
            tmux.text(share);
        }
        tmux.wait_for(&mut seen, SHORT, "the masked share", |s| {
            s.contains(&head(&dots(share), 70))
        });
        tmux.keys(&["Enter"]);
        let after = format!("custodians ({} of 3)", i + 1);
        tmux.wait_for(&mut seen, SHORT, &after, |s| s.contains(&after));
    }
    tmux.keys(&["Enter"]);
    let confirm = tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("Generate and wrap 9 keys now? y: generate")
    });
    assert!(
        confirm.contains("Custodians  Alice, Carol, Erin"),
        "{confirm}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for(&mut seen, Duration::from_secs(300), "the result", |s| {
        s.contains("ceremony complete")
    });

    // The result lists all nine keys, with their check values.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    let keys = manifest["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 9);
    // One line a key: all nine on one page.
    let s = tmux.wait_for(&mut seen, SHORT, "keys 1–9", |s| {
        s.contains("Keys 1–9 of 9")
    });
    for k in keys {
        let name = k["name"].as_str().unwrap();
        let kcv = format!(
            "check value {}",
            k["generated"]["check_value"].as_str().unwrap()
        );
        assert!(
            s.lines().any(|l| l.contains(name) && l.contains(&kcv)),
            "{name} {kcv} not on one line:\n{s}"
        );
    }
    tmux.keys(&["q"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");

    // No screen, nor the scrollback, ever held six characters of a share in a row; and nothing
    // was printed behind the UI (the quorum line is shown inside it).
    seen.push(tmux.pane());
    for s in &seen {
        assert!(
            !s.lines().any(|l| l.starts_with("quorum met")),
            "a line printed behind the UI:\n{s}"
        );
    }
    no_share_on(&seen, &shares);

    // The bundle imports into the local KMS (trusting the enrolment's published log key), and
    // its log verifies.
    import_cmd(&p.bundle)
        .arg("--trust")
        .arg(dir.path().join("enrolment/log-public-key.pem"))
        .assert()
        .success();
    audit_with_enrolment_key(dir.path(), &p.bundle);
}

#[test]
fn a_mistyped_share_group_is_fixed_in_place_with_home_left_and_ctrl_w_and_the_ceremony_accepts_it()
{
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (store, label, shares) = enrol_five(dir.path());
    let (alias, p) = prepare_for_new_key(dir.path(), "tuiedit");
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let tmux = Tmux::start(
        "tuiedit",
        &roster_command(dir.path(), &store, &label, &script, &p.bundle),
        100,
        true,
    );
    let mut seen = Vec::new();
    people_and_keys(&tmux, &mut seen, 1);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "step 3", |s| {
        s.contains("the bundle fingerprint")
    });
    // The fingerprint typed with its second group wrong, fixed from Home with Delete.
    let fp = keyrite::core::digest::grouped(&p.fingerprint);
    let mut wrong = fp.clone();
    wrong.replace_range(5..9, "");
    type_seen(&tmux, &mut seen, &wrong);
    tmux.keys(&["Home"]);
    tmux.keys(&["Right"; 5]);
    tmux.wait_for(&mut seen, SHORT, "the cursor in group 2", |s| {
        s.contains("the cursor is in group 2 of 16")
    });
    tmux.text(&format!("{} ", &fp[5..9]));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the custodians", |s| {
        s.contains("custodians (0 of 3)")
    });

    for (i, (name, share)) in shares.iter().take(3).enumerate() {
        type_seen(&tmux, &mut seen, name);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&mut seen, SHORT, "the share field", |s| {
            s.contains("> Share:")
        });
        if i == 1 {
            // Group 3 mistyped: named; the cursor is taken back to the end of group 3 (End,
            // then Left over what follows it), Ctrl-W deletes the group, and it is typed again.
            let (bad, start) = mistype_group(share, 3);
            let end = start + share[start..].find('-').unwrap();
            tmux.text(&bad);
            tmux.keys(&["Enter"]);
            tmux.wait_for(&mut seen, SHORT, "the wrong group", |s| {
                s.contains("group 3 looks mistyped")
            });
            tmux.keys(&["Home", "End"]);
            tmux.keys(&vec!["Left"; share.len() - end]);
            tmux.wait_for(&mut seen, SHORT, "the cursor in group 3", |s| {
                s.contains("the cursor is in group 3")
            });
            tmux.keys(&["C-w"]);
            // The group is gone: the dots say so, the rest of the share stays after the cursor.
            let mut emptied = dots(share);
            emptied.replace_range(dots(&share[..start]).len()..dots(&share[..end]).len(), "▏");
            tmux.wait_for(&mut seen, SHORT, "group 3 emptied", |s| {
                s.contains(&emptied)
            });
            tmux.text(&share[start..end]);
            // The whole share, the cursor after the group typed again.
            let fixed = format!("{}▏{}", dots(&share[..end]), dots(&share[end..]));
            tmux.wait_for(&mut seen, SHORT, "the share fixed", |s| s.contains(&fixed));
        } else {
            tmux.text(share);
            tmux.wait_for(&mut seen, SHORT, "the whole share", |s| {
                s.contains(&format!("{}▏", dots(share)))
            });
        }
        tmux.keys(&["Enter"]);
        let after = format!("custodians ({} of 3)", i + 1);
        tmux.wait_for(&mut seen, SHORT, &after, |s| s.contains(&after));
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("Custodians  Alice, Bob, Carol")
    });
    tmux.keys(&["y"]);
    tmux.wait_for(&mut seen, Duration::from_secs(120), "the result", |s| {
        s.contains("ceremony complete")
    });
    tmux.keys(&["q"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    seen.push(tmux.pane());
    no_share_on(&seen, &shares);
    audit_with_enrolment_key(dir.path(), &p.bundle);
}

/// A bundle of two keys whose headless ceremony was killed once the first key was generated and
/// before it was wrapped: its log holds exactly three complete records (start, probe, the first
/// key generated). A kill that lands later (after the first key's wrap record, or after the end)
/// is tried again on a new bundle.
fn interrupted_bundle(dir: &Path, refs: &[&str]) -> Prepared {
    let mut landed = Vec::new();
    for _ in 0..10 {
        let p = prepare(dir, refs, default_algorithm());
        common::faults::kill_after(dir, &p, refs, 3);
        let records = common::faults::lines(&p.bundle.join("ceremony.log"));
        if records == 3 {
            return p;
        }
        landed.push(records);
    }
    panic!("ten kills all landed after the first key's wrap record: after {landed:?} records");
}

#[test]
fn an_interrupted_bundle_is_finished_or_aborted_in_the_full_screen_app_and_its_log_verifies() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..2)
        .map(|i| rt.block_on(create_key(&c, true, &format!("tuikill{i}"))).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    for choice in ["finish", "abort"] {
        let p = interrupted_bundle(dir.path(), &refs);
        let script = write_script(dir.path(), &refs, default_algorithm(), "RSA_4096");
        let tmux = Tmux::start(
            &format!("tui{choice}"),
            &ceremony_command(&script, &p.bundle),
            100,
            true,
        );
        let mut seen = Vec::new();
        let first = tmux.wait_for(&mut seen, SHORT, "the interrupted ceremony", |s| {
            s.contains("an interrupted ceremony") && s.contains("f: finish · a: abort")
        });
        assert!(first.contains("step 1 of 7"), "{first}");
        // y is no answer here.
        tmux.keys(&["y"]);
        tmux.wait_for(&mut seen, SHORT, "the refusal", |s| {
            s.contains("f finishes the interrupted ceremony, a aborts it")
        });
        tmux.keys(&[&choice[..1]]);
        people_and_keys(&tmux, &mut seen, 2);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&mut seen, SHORT, "step 4", |s| {
            s.contains("the bundle fingerprint")
        });
        type_seen(&tmux, &mut seen, &p.fingerprint);
        tmux.keys(&["Enter"]);
        let question = if choice == "finish" {
            "and close the log? y: finish"
        } else {
            "and close the log? y: abort"
        };
        let confirm = tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
            s.contains(question)
        });
        if choice == "abort" {
            assert!(
                confirm.contains("Abort: destroy 1 generated key and"),
                "{confirm}"
            );
        } else {
            assert!(
                confirm.contains("Finish: generate and wrap the 2 keys left"),
                "{confirm}"
            );
        }
        tmux.keys(&["y"]);
        let done = if choice == "finish" {
            "ceremony complete"
        } else {
            "ceremony aborted"
        };
        tmux.wait_for(&mut seen, Duration::from_secs(120), done, |s| {
            s.contains(done)
        });
        tmux.keys(&["q"]);
        let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
        assert!(end.contains("EXIT=0"), "{end}");
        let report = keyrite::core::log::verify(
            &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
            &common::faults::trusted(),
        )
        .unwrap_or_else(|e| panic!("{choice}: {e}"));
        let steps: Vec<&str> = report.records.iter().map(|r| r.step.as_str()).collect();
        assert!(steps.contains(&"ceremony.resumed"), "{steps:?}");
        let last = if choice == "finish" {
            "ceremony.end"
        } else {
            "ceremony.aborted"
        };
        assert_eq!(steps.last(), Some(&last), "{steps:?}");
        common::faults::audit_verify(&p, choice, choice == "abort");
    }
}

/// The screen's text as one line: the box's sides dropped, runs of spaces as one (so a text the
/// app wrapped over two rows is found whole).
fn flat(screen: &str) -> String {
    screen
        .replace(['│', '┌', '┐', '└', '┘', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits until the screen holds each of `want` whole (and the countdown), so nothing a step
/// needs is cut.
fn usable(tmux: &Tmux, seen: &mut Vec<String>, step: &str, want: &[&str]) -> String {
    tmux.wait_for(seen, SHORT, step, |s| {
        let all = flat(s);
        all.contains("import parameters:")
            && all.contains("margin 30 min)")
            && want.iter().all(|w| all.contains(&flat(w)))
    })
}

#[test]
fn every_step_is_usable_at_60x20_next_countdown_and_keys_whole() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (store, label, shares) = enrol_five(dir.path());
    let (alias, p) = prepare_for_new_key(dir.path(), "tui60");
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let tmux = Tmux::start_sized(
        "tui60",
        &roster_command(dir.path(), &store, &label, &script, &p.bundle),
        60,
        20,
        true,
    );
    let mut seen = Vec::new();
    let form = "Enter: next · Tab: other field · Shift-Tab: back · F1: help · Esc/Ctrl-C: leave";
    usable(
        &tmux,
        &mut seen,
        "step 1",
        &["Next: the operator types their name, then Enter", form],
    );
    type_seen(&tmux, &mut seen, "Olga Operator");
    tmux.keys(&["Enter"]);
    usable(
        &tmux,
        &mut seen,
        "the witness",
        &["Next: the witness types their name, then Enter", form],
    );
    type_seen(&tmux, &mut seen, "Wendy Witness");
    tmux.keys(&["Enter"]);
    let keys = usable(
        &tmux,
        &mut seen,
        "the keys",
        &[
            "Next: the witness checks each key's account, region, alias; then Enter",
            "Enter: the keys are right · ↑/↓: select · Shift-Tab: back · Esc/Ctrl-C: leave",
            "Key 1 of 1:",
        ],
    );
    assert!(keys.contains(&alias), "{keys}");
    tmux.keys(&["Enter"]);
    let fp_keys = "Enter: check · Shift-Tab: back · F1: help · Esc/Ctrl-C: leave";
    let fp_next = "Next: type the fingerprint as it is read out, then Enter";
    usable(&tmux, &mut seen, "the fingerprint", &[fp_next, fp_keys]);
    let fp = keyrite::core::digest::grouped(&p.fingerprint);
    tmux.text(&fp);
    // The PGP words, every line of them, under the typed fingerprint.
    let words = keyrite::core::digest::word_lines(&p.fingerprint);
    let mut want: Vec<&str> = vec![fp_next, fp_keys];
    want.extend(words.iter().map(String::as_str));
    usable(&tmux, &mut seen, "the words", &want);
    tmux.keys(&["Enter"]);
    let cust_keys = "Enter: check / next · Tab: other field · Shift-Tab: back · Esc/Ctrl-C: leave";
    for (i, (name, share)) in shares.iter().take(3).enumerate() {
        usable(
            &tmux,
            &mut seen,
            "the custodian's name",
            &[
                "Next: the next custodian types their name, then Enter",
                cust_keys,
            ],
        );
        type_seen(&tmux, &mut seen, name);
        tmux.keys(&["Enter"]);
        let next = format!("Next: {name} types their share (shown as dots), then Enter");
        usable(
            &tmux,
            &mut seen,
            "the share",
            &[&next, cust_keys, "> Share:"],
        );
        tmux.text(share);
        tmux.keys(&["Enter"]);
        let after = format!("custodians ({} of 3)", i + 1);
        tmux.wait_for(&mut seen, SHORT, &after, |s| s.contains(&after));
    }
    tmux.keys(&["Enter"]);
    usable(
        &tmux,
        &mut seen,
        "the confirmation",
        &[
            "Generate and wrap 1 key now? y: generate · n or Esc: leave",
            "Next: press y to generate and wrap 1 key in the HSM",
            "y: generate now · Shift-Tab: back · F1/?: help · Esc/n/Ctrl-C: leave",
        ],
    );
    tmux.keys(&["y"]);
    tmux.wait_for(&mut seen, Duration::from_secs(120), "the result", |s| {
        s.contains("ceremony complete")
    });
    usable(
        &tmux,
        &mut seen,
        "the result",
        &[
            "ceremony complete",
            "Next: copy the report to the paper log, then run the import command above",
            "↑/↓: scroll · Enter or q: leave (the report is printed again) · F1/?: help",
        ],
    );
    tmux.keys(&["q"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    seen.push(tmux.pane());
    no_share_on(&seen, &shares);
}

#[test]
fn without_a_terminal_or_with_answers_but_not_headless_nothing_is_touched() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, p, script) = prepared_key(dir.path(), "tui-noterm");
    let before = tree(&p.bundle);
    let answers = write_answers(dir.path(), &p.fingerprint);
    let base = |cmd: &mut assert_cmd::Command| {
        cmd.args(["ceremony", "--script"])
            .arg(&script)
            .arg("--bundle")
            .arg(&p.bundle)
            .args(["--token", &hsm().token_uri()]);
    };
    // assert_cmd gives the process no terminal.
    let mut cmd = keyrite();
    base(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    assert!(stderr.contains("--headless --answers"), "{stderr}");

    let mut cmd = keyrite();
    base(&mut cmd);
    let out = cmd.arg("--answers").arg(&answers).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--answers is read only by a headless run"),
        "{stderr}"
    );
    assert_eq!(tree(&p.bundle), before);
}
