//! How a failed run ends, through the real binary: with `--json`, the error on stdout as
//! `{"ok":false,"error":{"message","hint","exit_code"}}` besides the text on stderr; a panic as an
//! internal error (exit 1) that names its place and nothing of its message.

fn keyrite() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("keyrite").unwrap();
    cmd.env_remove("KEYRITE_DEBUG_PANIC");
    cmd
}

#[test]
fn a_json_failure_gives_message_hint_and_exit_code_apart_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = keyrite()
        .args(["kms", "prepare", "--key", "bad key", "--json", "--out"])
        .arg(dir.path().join("bundle"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["error"]["message"],
        "\"bad key\" names no key: give an alias (alias/prod-s3), a key ARN, or a key id",
        "{v}"
    );
    assert_eq!(
        v["error"]["hint"], "see `keyrite kms prepare --help`",
        "{v}"
    );
    assert_eq!(v["error"]["exit_code"], 2, "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("names no key")
            && stderr.contains("what to do: see `keyrite kms prepare --help`"),
        "{stderr}"
    );
    assert!(!dir.path().join("bundle").exists());
}

#[test]
fn without_json_a_failure_leaves_stdout_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = keyrite()
        .args(["kms", "prepare", "--key", "bad key", "--out"])
        .arg(dir.path().join("bundle"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
}

/// `KEYRITE_DEBUG_PANIC` is read by debug builds only (the tests' build).
#[test]
fn a_panic_exits_1_as_an_internal_error_naming_its_place_only() {
    let out = keyrite()
        .env("KEYRITE_DEBUG_PANIC", "1")
        .args(["kms", "prepare", "--key", "alias/x", "--json", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("bundle"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("keyrite: internal error: please report"),
        "{stderr}"
    );
    assert!(stderr.contains("panicked at src/main.rs:"), "{stderr}");
    assert!(
        !stderr.contains("must not be printed"),
        "the panic's message stays out: {stderr}"
    );
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}
