//! The ceremony's terminal UI in a real terminal (tmux), driving the real binary on the test
//! token: the answers are typed with send-keys, as the operators type them.

mod common;

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

#[test]
fn a_whole_ceremony_typed_at_the_terminal_wraps_the_key_and_logs_it() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias, p, script) = prepared_key(dir.path(), "tui");
    let tmux = Tmux::start("tui", &ceremony_command(&script, &p.bundle), 100, true);
    let mut seen = Vec::new();

    let first = tmux.wait_for(&mut seen, SHORT, "screen 1", |s| {
        s.contains("1 the ceremony")
    });
    assert!(first.contains(&alias), "{first}");
    assert!(
        first.contains(&format!("Wrapping   {}", default_algorithm())),
        "{first}"
    );
    tmux.text("Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.text("Wendy Witness");
    tmux.keys(&["Enter"]);

    let second = tmux.wait_for(&mut seen, SHORT, "screen 2", |s| {
        s.contains("2 the bundle fingerprint")
    });
    assert!(
        second.contains(&keyrite::core::digest::grouped(&p.fingerprint)),
        "the fingerprint is shown grouped:\n{second}"
    );
    // A wrong fingerprint is shown as a mismatch and goes nowhere.
    tmux.text("0000 1111");
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for(&mut seen, SHORT, "the mismatch", |s| s.contains("MISMATCH"));
    assert!(refused.contains("2 the bundle fingerprint"), "{refused}");
    for _ in 0.."0000 1111".len() {
        tmux.keys(&["BSpace"]);
    }
    tmux.text(&keyrite::core::digest::grouped(
        &p.fingerprint.to_uppercase(),
    ));
    tmux.keys(&["Enter"]);

    let confirm = tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("Generate and wrap 1 keys now? (y/N)")
    });
    assert!(confirm.contains("Operator   Olga Operator"), "{confirm}");
    assert!(confirm.contains("Witness    Wendy Witness"), "{confirm}");
    let key_file = p
        .bundle
        .join(alias.trim_start_matches("alias/"))
        .join("EncryptedKeyMaterial.bin");
    assert!(!key_file.exists(), "nothing is generated before 'y'");
    tmux.keys(&["y"]);

    let result = tmux.wait_for(&mut seen, Duration::from_secs(120), "the result", |s| {
        s.contains("5 ceremony complete")
    });
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    let kcv = manifest["keys"][0]["generated"]["check_value"]
        .as_str()
        .unwrap();
    assert!(result.contains(&format!("check value  {kcv}")), "{result}");
    assert!(result.contains("Capability probe"), "{result}");
    let wrapped = std::fs::read(&key_file).expect("the wrapped material is in the bundle");
    assert!(
        result.contains(&keyrite::core::digest::sha256_hex(&wrapped)),
        "{result}"
    );
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
fn esc_before_the_confirmation_exits_2_and_touches_nothing() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (_, p, script) = prepared_key(dir.path(), "tui-esc");
    let before = tree(&p.bundle);
    let manifest = std::fs::read(p.bundle.join("manifest.json")).unwrap();
    let tmux = Tmux::start("tui", &ceremony_command(&script, &p.bundle), 100, true);
    let mut seen = Vec::new();
    tmux.wait_for(&mut seen, SHORT, "screen 1", |s| {
        s.contains("1 the ceremony")
    });
    tmux.text("Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.text("Wendy Witness");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "screen 2", |s| {
        s.contains("2 the bundle fingerprint")
    });
    tmux.text(&p.fingerprint);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("(y/N)")
    });
    tmux.keys(&["Escape"]);
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
fn with_a_roster_the_custodians_type_their_shares_masked_and_their_quorum_opens_the_hsm() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    // Enrolment initialises a new token in an empty slot: SoftHSM2 always has one; kryoptic has
    // a single slot, so it gets a token database of its own.
    let store = if hsm().is_softhsm() {
        hsm().env.1.clone()
    } else {
        dir.path().join("store/token.sql")
    };
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    std::fs::create_dir_all(dir.path().join("shares")).unwrap();
    let label = unique("tui");
    let mut enroll =
        format!("threshold = 2\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n");
    for n in ["Alice", "Bob", "Carol"] {
        enroll.push_str(&format!(
            "\n[[custodian]]\nname = \"{n}\"\nshare_file = \"shares/{n}.share\"\n"
        ));
    }
    std::fs::write(dir.path().join("enroll.toml"), enroll).unwrap();
    keyrite()
        .env(hsm().env.0, &store)
        .args(["quorum", "enroll", "--headless", "--script"])
        .arg(dir.path().join("enroll.toml"))
        .assert()
        .success();
    let share = |n: &str| {
        std::fs::read_to_string(dir.path().join(format!("shares/{n}.share")))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("KR1-"))
            .expect("a share line")
            .to_string()
    };
    let (alice, carol) = (share("Alice"), share("Carol"));

    let (_, p, script) = prepared_key(dir.path(), "tui-quorum");
    let roster = dir.path().join("enrolment/roster.json");
    let tmux = Tmux::start(
        "tui",
        &ceremony_command_on(
            &store,
            &script,
            &p.bundle,
            &format!("pkcs11:token={label}"),
            &["--roster", roster.to_str().unwrap()],
        ),
        100,
        true,
    );
    let mut seen = Vec::new();
    tmux.wait_for(&mut seen, SHORT, "screen 1", |s| {
        s.contains("1 the ceremony")
    });
    tmux.text("Olga Operator");
    tmux.keys(&["Enter"]);
    tmux.text("Wendy Witness");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "screen 2", |s| {
        s.contains("2 the bundle fingerprint")
    });
    tmux.text(&p.fingerprint);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&mut seen, SHORT, "screen 3", |s| {
        s.contains("3 custodians (0 of 2)")
    });
    for (name, share, after) in [("Alice", &alice, "(1 of 2)"), ("Carol", &carol, "(2 of 2)")] {
        tmux.text(name);
        tmux.keys(&["Enter"]);
        tmux.text(share);
        tmux.wait_for(&mut seen, SHORT, "the masked share", |s| {
            s.contains(&"•".repeat(share.len()))
        });
        tmux.keys(&["Enter"]);
        tmux.wait_for(&mut seen, SHORT, after, |s| s.contains(after));
    }
    tmux.keys(&["Enter"]);
    let confirm = tmux.wait_for(&mut seen, SHORT, "the confirmation", |s| {
        s.contains("(y/N)")
    });
    assert!(confirm.contains("Custodians Alice, Carol"), "{confirm}");
    tmux.keys(&["y"]);
    tmux.wait_for(&mut seen, Duration::from_secs(120), "the result", |s| {
        s.contains("5 ceremony complete")
    });
    tmux.keys(&["Enter"]);
    let end = tmux.wait_for(&mut seen, SHORT, "the exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");

    let trusted = keyrite::core::log::TrustedKey::from_pem(
        &std::fs::read_to_string(dir.path().join("enrolment/log-public-key.pem")).unwrap(),
    )
    .unwrap();
    let report = keyrite::core::log::verify(
        &std::fs::read(p.bundle.join("ceremony.log")).unwrap(),
        &trusted,
    )
    .unwrap();
    let authorised: Vec<String> = report
        .quorum
        .expect("the log binds the roster")
        .authorised
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(authorised, ["Alice", "Carol"]);

    // No screen ever showed a share, nor any 6 characters of one in a row.
    for s in &seen {
        for share in [&alice, &carol] {
            for w in share.as_bytes().windows(6) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!s.contains(w), "{w:?} of a share on screen:\n{s}");
            }
        }
    }
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
