//! Hostile inputs: files and answers crafted by someone who could write the bundle, an answers
//! file or a pin source, or answer in place of KMS. Each test reproduces one attack through the
//! real binary (or keyrite's own code against a stubbed KMS where LocalStack cannot answer) and
//! checks the refusal: a clear message, the documented exit code (README "Exit codes"), no HSM
//! object created and no file written outside the bundle.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::flow::{Prepared, ceremony_cmd, import_cmd, prepare};
use common::*;

const USAGE: i32 = 2;
const VERIFICATION_FAILED: i32 = 3;
const REFUSED: i32 = 5;

const ESC_ATTACK: &str = "\u{1b}[2J\u{1b}[Hceremony log: verified\u{202e}";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The process failed with `code`, its stderr says each of `want` and what to do; returns it.
fn assert_failed(out: &std::process::Output, code: i32, want: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for w in want {
        assert!(err.contains(w), "want {w:?} in: {err}");
    }
    assert!(err.contains("what to do:"), "{err}");
    err
}

/// No byte a terminal would obey: ESC, other C0 controls but newline and tab, C1, bidi overrides.
fn assert_no_terminal_controls(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what} holds raw control characters {bad:?}:\n{text}"
    );
}

fn setup(name: &str) -> (tempfile::TempDir, String, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let (alias, _) = rt.block_on(create_key(&c, true, name));
    let p = prepare(dir.path(), &[&alias], default_algorithm());
    (dir, alias, p)
}

fn bundle_name(alias: &str) -> &str {
    alias.trim_start_matches("alias/")
}

/// The HSM holds no ceremony key for this bundle.
fn assert_no_hsm_key(alias: &str, p: &Prepared) {
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let today = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
    let label = format!(
        "keyrite/{}/{today}/{}",
        bundle_name(alias),
        &p.fingerprint[..8]
    );
    assert!(
        session.find_secret_keys(&label).unwrap().is_empty(),
        "no HSM key was generated"
    );
}

/// A headless ceremony with these answers and this token URI.
fn ceremony_with(
    dir: &Path,
    p: &Prepared,
    alias: &str,
    answers: &Path,
    token: &str,
) -> assert_cmd::Command {
    let script = write_script(dir, &[alias], default_algorithm(), "RSA_4096");
    let mut cmd = keyrite();
    cmd.args(["ceremony", "--headless", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(answers)
        .args(["--token", token]);
    cmd
}

/// Runs a ceremony that must be refused: exit code, message, bundle untouched, no HSM key.
fn ceremony_refused(
    mut cmd: assert_cmd::Command,
    alias: &str,
    p: &Prepared,
    code: i32,
    want: &[&str],
) -> String {
    let before = tree(&p.bundle);
    let manifest_before = std::fs::read(p.bundle.join("manifest.json")).unwrap();
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for w in want {
        assert!(err.contains(w), "want {w:?} in: {err}");
    }
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(tree(&p.bundle), before, "no file added or removed");
    assert_eq!(
        std::fs::read(p.bundle.join("manifest.json")).unwrap(),
        manifest_before
    );
    assert_no_hsm_key(alias, p);
    err
}

/// A fresh bundle (named `name`) into which `plant` put what keyrite did not write (given the
/// bundle and the key's alias): the ceremony is refused with `code` and `want` before any HSM
/// object is created.
fn planted_refused(name: &str, plant: impl FnOnce(&Path, &str), code: i32, want: &[&str]) {
    let (dir, alias, p) = setup(name);
    plant(&p.bundle, &alias);
    let objects = hsm().object_count();
    let cmd = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm());
    ceremony_refused(cmd, &alias, &p, code, want);
    assert_eq!(hsm().object_count(), objects, "no HSM object was created");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn key_state(alias: &str) -> String {
    let rt = rt();
    let c = rt.block_on(client());
    let d = rt.block_on(c.describe_key().key_id(alias).send()).unwrap();
    d.key_metadata
        .unwrap()
        .key_state
        .unwrap()
        .as_str()
        .to_string()
}

fn sha256_file(path: &Path) -> String {
    keyrite::core::digest::sha256_hex(&std::fs::read(path).unwrap())
}

// ---- 4. Terminal escape injection ----

#[test]
fn an_escape_sequence_in_a_key_arn_is_refused_at_prepare() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{ESC_ATTACK}");
    let out = keyrite()
        .args(["kms", "prepare", "--out"])
        .arg(&bundle)
        .args(["--algorithm", default_algorithm(), "--key", &arn])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(USAGE), "stderr: {err}");
    assert!(err.contains("is not a KMS key ARN"), "{err}");
    assert!(err.contains("what to do:"), "{err}");
    assert_no_terminal_controls("stderr", &out.stderr);
    assert!(!bundle.exists(), "no bundle was created");
}

#[test]
fn replay_shows_an_escape_sequence_signed_into_the_log_escaped() {
    own_token!();
    use keyrite::core::log::{LogChain, data};
    let dir = tempfile::tempdir().unwrap();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let signer = session.log_signer(keyrite::hsm::LOG_KEY_LABEL).unwrap();
    // A record the HSM signed with a key ARN taken from a hostile manifest.
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{ESC_ATTACK}");
    let line = LogChain::new()
        .record(
            &signer,
            jiff::Timestamp::now(),
            "key.generated",
            &["Alice Admin".to_string()],
            data(&[
                ("key", "dev-s3"),
                ("key_arn", &arn),
                ("check_value", "a1b2c3"),
            ]),
        )
        .unwrap();
    let log = dir.path().join("ceremony.log");
    std::fs::write(&log, line).unwrap();
    let out = keyrite()
        .args(["audit", "replay", "--text"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_no_terminal_controls("stdout", &out.stdout);
    assert_no_terminal_controls("stderr", &out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("key/\\x1b[2J\\x1b[Hceremony log: verified\\u{202e}"),
        "the ARN is shown escaped: {text}"
    );
}

#[test]
fn an_error_quoting_a_manifest_shows_its_escape_sequences_escaped() {
    own_token!();
    let (dir, alias, p) = setup("hostile-esc-err");
    let _ = dir;
    let path = p.bundle.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // A key name that carries an escape sequence: errors quote key names and paths.
    let name = bundle_name(&alias);
    let hostile = text.replace(
        &format!("\"name\": \"{name}\""),
        &format!(
            "\"name\": \"{name}{}\"",
            ESC_ATTACK.replace('\u{1b}', "\\u001b")
        ),
    );
    assert_ne!(hostile, text);
    std::fs::write(&path, hostile).unwrap();
    let out = import_cmd(&p.bundle).output().unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "stderr: {err}"
    );
    assert!(err.contains("control character"), "{err}");
    assert_no_terminal_controls("stderr", &out.stderr);
    assert_eq!(key_state(&alias), "PendingImport");
}

// ---- 5. Parse errors never echo secrets ----

#[test]
fn a_typo_in_an_answers_file_never_echoes_the_share() {
    own_token!();
    let (dir, alias, p) = setup("hostile-answers-typo");
    let share = "KR1-SECRETSHAREDONOTECHO-0123456789ABCDEFGHIJ";
    let answers = dir.path().join("answers.toml");
    write_secret(
        &answers,
        format!(
            "operator = \"Alice Admin\"\nbundle_fingerprint = \"{}\"\n\n[[custodian]]\nname = \"Alice\"\nshares = \"{share}\"\n",
            p.fingerprint
        ),
    );
    let cmd = ceremony_with(dir.path(), &p, &alias, &answers, &hsm().token_uri());
    let err = ceremony_refused(
        cmd,
        &alias,
        &p,
        USAGE,
        &["line 6", "key `shares`", "unknown key"],
    );
    for part in [share, "SECRETSHARE", "0123456789"] {
        assert!(!err.contains(part), "the share leaked: {err}");
    }
}

// ---- 6. The import side follows no links and trusts no journal ----

#[test]
fn a_symlinked_import_receipt_in_a_returned_bundle_is_refused() {
    own_token!();
    let (dir, alias, p) = setup("hostile-receipt-link");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victim = outside.join("victim.log");
    std::os::unix::fs::symlink(&victim, p.bundle.join("import-receipt.log")).unwrap();
    let out = import_cmd(&p.bundle).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(REFUSED), "stderr: {err}");
    assert!(
        err.contains("import-receipt.log is a symbolic link"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
    assert!(!victim.exists(), "nothing was written outside the bundle");
    assert!(tree(&outside).is_empty());
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");
}

#[test]
fn a_symlinked_key_directory_is_refused_before_the_hsm_is_touched() {
    own_token!();
    let (dir, alias, p) = setup("hostile-dir-link");
    let name = bundle_name(&alias);
    let outside = dir.path().join("outside");
    std::fs::rename(p.bundle.join(name), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, p.bundle.join(name)).unwrap();
    let outside_before = tree(&outside);
    let cmd = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm());
    ceremony_refused(cmd, &alias, &p, REFUSED, &["is a symbolic link"]);
    assert_eq!(
        tree(&outside),
        outside_before,
        "nothing was written outside the bundle"
    );
}

/// A multi-Region key's replica Region directory swapped for a link to outside the bundle: the
/// ceremony is refused before the HSM is touched, and nothing is written through the link.
#[test]
fn a_symlinked_replica_region_directory_is_refused_before_the_hsm_is_touched() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let (alias, _) = rt.block_on(create_multi_region_key(
        &c,
        "hostile-region-link",
        "eu-west-1",
    ));
    let p = prepare(dir.path(), &[&alias], default_algorithm());
    let region_dir = p.bundle.join(bundle_name(&alias)).join("eu-west-1");
    let outside = dir.path().join("outside");
    std::fs::rename(&region_dir, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &region_dir).unwrap();
    let outside_before = tree(&outside);
    let objects = hsm().object_count();
    let cmd = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm());
    ceremony_refused(cmd, &alias, &p, REFUSED, &["is a symbolic link"]);
    assert_eq!(hsm().object_count(), objects, "no HSM object was created");
    assert_eq!(
        tree(&outside),
        outside_before,
        "nothing was written outside the bundle"
    );
}

#[test]
fn a_forged_done_in_the_import_progress_is_refused() {
    own_token!();
    let (dir, alias, p) = setup("hostile-forged-done");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let fingerprint = sha256_file(&p.bundle.join("manifest.json"));
    let forged = serde_json::json!({
        "format": "keyrite-import-progress/1",
        "bundle_fingerprint": fingerprint,
        "keys": { bundle_name(&alias): { "stage": "done", "key_material_id": null } }
    });
    std::fs::write(
        p.bundle.join("import-progress.json"),
        serde_json::to_vec_pretty(&forged).unwrap(),
    )
    .unwrap();
    let out = import_cmd(&p.bundle).output().unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "stderr: {err}"
    );
    assert!(err.contains("records the key"), "{err}");
    assert!(err.contains("KMS reports the key PendingImport"), "{err}");
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");
}

// ---- 7. Rollback deletes only what KMS reports pending (STUB of AWS behaviour) ----

/// STUB of AWS behaviour: LocalStack answers ListKeyRotations with HTTP 501, so KMS's answers
/// here come from aws-smithy-mocks; the bundle (prepared and ceremonied for real) and the
/// rollback are keyrite's real code. A forged progress entry names the key's previous material,
/// which KMS lists as NON_CURRENT (it still decrypts older ciphertext): nothing is deleted.
#[test]
fn stub_rollback_refuses_to_delete_material_kms_does_not_list_as_pending() {
    own_token!();
    use aws_sdk_kms::Client;
    use aws_sdk_kms::operation::delete_imported_key_material::DeleteImportedKeyMaterialOutput;
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
    use aws_sdk_kms::types::{
        KeyMaterialState, KeyMetadata, KeyState, OriginType, RotationsListEntry,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let (dir, alias, p) = setup("hostile-rollback");
    let _ = dir;
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let bundle = keyrite::io::bundle::Bundle::verify(&p.bundle).unwrap();
    let key = bundle.manifest().keys[0].clone();
    let forged = serde_json::json!({
        "format": "keyrite-import-progress/1",
        "bundle_fingerprint": bundle.fingerprint(),
        "keys": { key.name.clone(): { "stage": "imported", "first": false, "key_material_id": "material-1" } }
    });
    std::fs::write(
        p.bundle.join("import-progress.json"),
        serde_json::to_vec_pretty(&forged).unwrap(),
    )
    .unwrap();

    let arn = key.key_arn.clone();
    let describe = mock!(Client::describe_key).then_output({
        let arn = arn.clone();
        move || {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id(&key.key_id)
                        .arn(&arn)
                        .origin(OriginType::External)
                        .key_state(KeyState::Enabled)
                        .current_key_material_id("material-2")
                        .build()
                        .unwrap(),
                )
                .build()
        }
    });
    let listed = mock!(Client::list_key_rotations).then_output({
        let arn = arn.clone();
        move || {
            ListKeyRotationsOutput::builder()
                .rotations(
                    RotationsListEntry::builder()
                        .key_id(&arn)
                        .key_material_id("material-1")
                        .key_material_state(KeyMaterialState::NonCurrent)
                        .build(),
                )
                .rotations(
                    RotationsListEntry::builder()
                        .key_id(&arn)
                        .key_material_id("material-2")
                        .key_material_state(KeyMaterialState::Current)
                        .build(),
                )
                .build()
        }
    });
    let delete = mock!(Client::delete_imported_key_material)
        .then_output(|| DeleteImportedKeyMaterialOutput::builder().build());
    let client = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        &[&describe, &listed, &delete]
    );
    let err = rt()
        .block_on(keyrite::app::rollback::rollback(
            |_| Some(&client),
            &bundle,
            &keyrite::app::audit::signed_ceremony(&bundle, Some(hsm().log_public_key().as_path()))
                .unwrap(),
        ))
        .unwrap_err();
    assert_eq!(delete.num_calls(), 0, "no material was deleted");
    assert_eq!(err.exit_code() as i32, REFUSED, "{err}");
    let text = err.to_string();
    assert!(text.contains("KMS lists it as NON_CURRENT"), "{text}");
    assert!(text.contains("PENDING_ROTATION"), "{text}");
    assert!(text.contains("what to do:"), "{text}");
}

// ---- 8. ECDSA malleability ----

fn is_low_s(sig: &[u8]) -> bool {
    let s = p256::ecdsa::Signature::from_slice(sig).unwrap();
    s.normalize_s() == s
}

#[test]
fn the_token_writes_only_low_s_signatures() {
    own_token!();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let signer = session.log_signer(keyrite::hsm::LOG_KEY_LABEL).unwrap();
    // Half of all ECDSA signatures come out high-S: 64 in a row low-S means normalisation.
    for i in 0..64u32 {
        let sig = keyrite::core::log::LogSigner::sign(&signer, &i.to_be_bytes()).unwrap();
        assert!(is_low_s(&sig), "signature {i} is high-S");
    }
}

#[test]
fn the_high_s_twin_of_a_signed_record_is_refused() {
    own_token!();
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/log-tamper");
    let good = std::fs::read(corpus.join("good.log")).unwrap();
    let mut lines: Vec<Vec<u8>> = good
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    // The last line's signature as (r, n - s): the other valid form of the same signature. On
    // the last line no later `prev` binds it, so only the low-S rule can tell the twin apart.
    let last = lines.len() - 1;
    let end = lines[last].len() - 3;
    let range = end - 128..end;
    let sig = p256::ecdsa::Signature::from_slice(
        &data_encoding::HEXLOWER_PERMISSIVE
            .decode(lines[last][range.clone()].as_ref())
            .unwrap(),
    )
    .unwrap();
    let flipped = -*sig.s();
    let twin =
        p256::ecdsa::Signature::from_scalars(sig.r().to_bytes(), flipped.to_bytes()).unwrap();
    lines[last][range].copy_from_slice(data_encoding::HEXLOWER.encode(&twin.to_bytes()).as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ceremony.log");
    std::fs::write(&log, lines.concat()).unwrap();
    let out = keyrite()
        .args(["audit", "verify"])
        .arg(&log)
        .arg("--trust")
        .arg(corpus.join("log-public-key.pem"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(VERIFICATION_FAILED),
        "stderr: {err}"
    );
    assert!(
        err.contains("line 7 (claims seq 6): the signature has a high S value"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
}

// ---- 11. Secret hygiene ----

#[test]
fn a_group_readable_pin_file_is_refused() {
    own_token!();
    let (dir, alias, p) = setup("hostile-pin-mode");
    let pin = dir.path().join("user.pin");
    write_secret(&pin, std::fs::read(&hsm().pin_file).unwrap());
    chmod(&pin, 0o640);
    let answers = write_answers(dir.path(), &p.fingerprint);
    let token = format!(
        "pkcs11:token={TOKEN_LABEL}?pin-source=file:{}",
        pin.display()
    );
    let cmd = ceremony_with(dir.path(), &p, &alias, &answers, &token);
    ceremony_refused(
        cmd,
        &alias,
        &p,
        USAGE,
        &[&pin.display().to_string(), "mode is 0640", "chmod 600"],
    );
}

#[test]
fn a_world_readable_answers_file_is_refused() {
    own_token!();
    let (dir, alias, p) = setup("hostile-answers-mode");
    let answers = write_answers(dir.path(), &p.fingerprint);
    chmod(&answers, 0o644);
    let cmd = ceremony_with(dir.path(), &p, &alias, &answers, &hsm().token_uri());
    ceremony_refused(
        cmd,
        &alias,
        &p,
        USAGE,
        &[&answers.display().to_string(), "mode is 0644", "chmod 600"],
    );
}

#[test]
fn a_group_readable_so_pin_file_is_refused() {
    own_token!();
    let (dir, alias, p) = setup("hostile-so-pin-mode");
    let so_pin = dir.path().join("so.pin");
    write_secret(&so_pin, format!("{SO_PIN}\n"));
    chmod(&so_pin, 0o660);
    let mut cmd = ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm());
    cmd.arg("--so-pin-source").arg(&so_pin);
    ceremony_refused(
        cmd,
        &alias,
        &p,
        USAGE,
        &[&so_pin.display().to_string(), "mode is 0660", "chmod 600"],
    );
}

// ---- 12. A forged roster or a token near lock-out costs no PIN try ----

/// The token store a quorum enrolment's keyrite processes use: the test's own SoftHSM2 store
/// (it always offers an empty slot), or a fresh kryoptic database (one slot only).
fn enrolment_store(dir: &Path) -> (&'static str, PathBuf) {
    if hsm().is_softhsm() {
        (hsm().env.0, hsm().env.1.clone())
    } else {
        std::fs::create_dir_all(dir).unwrap();
        ("KRYOPTIC_CONF", dir.join("token.sql"))
    }
}

struct Enrolled {
    store: (&'static str, PathBuf),
    label: String,
    out: PathBuf,
    shares: Vec<String>,
}

/// `keyrite quorum enroll --headless`: a new token, M of the named custodians.
fn enrol_quorum(dir: &Path, m: u8, names: &[&str]) -> Enrolled {
    let store = enrolment_store(&dir.join("store"));
    let label = unique("h");
    let mut script =
        format!("threshold = {m}\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n");
    for n in names {
        script.push_str(&format!(
            "\n[[custodian]]\nname = \"{n}\"\nshare_file = \"shares/{}.share\"\n",
            n.to_lowercase()
        ));
    }
    std::fs::create_dir_all(dir.join("shares")).unwrap();
    std::fs::write(dir.join("enroll.toml"), script).unwrap();
    let out = keyrite()
        .env(store.0, &store.1)
        .args(["quorum", "enroll", "--headless", "--script"])
        .arg(dir.join("enroll.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "enrol: {}", stderr(&out));
    let shares = names
        .iter()
        .map(|n| {
            let text =
                std::fs::read_to_string(dir.join(format!("shares/{}.share", n.to_lowercase())))
                    .unwrap();
            text.lines()
                .find(|l| l.starts_with("KR1-"))
                .unwrap()
                .to_string()
        })
        .collect();
    Enrolled {
        store,
        label,
        out: dir.join("enrolment"),
        shares,
    }
}

/// What another process (pkcs11-tool, no login) sees of a token: its flags line and how many
/// public objects it lists.
fn token_seen_from_outside(store: &(&'static str, PathBuf), label: &str) -> (String, usize) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&hsm().module)
            .args(args)
            .env(store.0, &store.1)
            .output()
            .expect("pkcs11-tool (OpenSC) is installed by scripts/setup");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let slots = run(&["--list-token-slots"]);
    let flags = slots
        .lines()
        .skip_while(|l| !(l.contains("token label") && l.trim_end().ends_with(label)))
        .find(|l| l.contains("token flags"))
        .unwrap_or_else(|| panic!("token {label} not listed:\n{slots}"))
        .to_string();
    let objects = run(&["--token-label", label, "--list-objects"])
        .lines()
        .filter(|l| l.contains(" Object;"))
        .count();
    (flags, objects)
}

/// The roster's threshold lowered from 3 to 2 and signed again with a key the attacker made, the
/// published log key next to it replaced to match. Before the check, preflight accepted it (the
/// roster, its log and the published key agree), both genuine shares passed their commitments,
/// rebuilt a wrong PIN, and C_Login failed with CKR_PIN_INCORRECT: one try spent per attempt.
#[test]
fn a_forged_roster_with_a_lowered_threshold_costs_no_pin_try() {
    own_token!();
    use keyrite::core::custody::RosterFile;
    use keyrite::core::log::{LogChain, TrustedKey, public_key_pem};
    let (dir, alias, p) = setup("hostile-roster-forged");
    let e = enrol_quorum(&dir.path().join("q"), 3, &["Alice", "Bob", "Carol"]);
    let roster_path = e.out.join("roster.json");
    let mut roster = RosterFile::parse(&std::fs::read(&roster_path).unwrap()).unwrap();
    let attacker = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let (pem, fingerprint) = public_key_pem(attacker.verifying_key()).unwrap();
    assert_eq!(
        TrustedKey::from_key(*attacker.verifying_key())
            .unwrap()
            .fingerprint(),
        fingerprint
    );
    roster.roster.threshold = 2;
    roster.log_key_sha256 = fingerprint;
    let json = roster.to_json();
    let line = LogChain::new()
        .record(
            &attacker,
            jiff::Timestamp::now(),
            "quorum.enrolled",
            &["Alice".to_string(), "Bob".to_string(), "Carol".to_string()],
            roster.enrolled_data(&keyrite::core::digest::sha256_hex(&json)),
        )
        .unwrap();
    std::fs::write(&roster_path, json).unwrap();
    std::fs::write(e.out.join("roster.log"), line).unwrap();
    std::fs::write(e.out.join("log-public-key.pem"), pem).unwrap();

    let seen_before = token_seen_from_outside(&e.store, &e.label);
    assert!(!seen_before.0.contains("count low"), "{}", seen_before.0);
    let answers = dir.path().join("answers.toml");
    write_secret(
        &answers,
        format!(
            "operator = \"Alice Admin\"\nwitness = \"Walter Witness\"\nbundle_fingerprint = \"{}\"\n\n[[custodian]]\nname = \"Alice\"\nshare = \"{}\"\n\n[[custodian]]\nname = \"Bob\"\nshare = \"{}\"\n",
            p.fingerprint, e.shares[0], e.shares[1]
        ),
    );
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    let before = tree(&p.bundle);
    let out = keyrite()
        .env(e.store.0, &e.store.1)
        .args(["ceremony", "--headless", "--script"])
        .arg(script)
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--answers")
        .arg(&answers)
        .arg("--roster")
        .arg(&roster_path)
        .args(["--token", &format!("pkcs11:token={}", e.label)])
        .output()
        .unwrap();
    let err = assert_failed(
        &out,
        VERIFICATION_FAILED,
        &["the roster is not the one this token's log key signed"],
    );
    assert!(!err.contains("C_Login"), "a login was attempted: {err}");
    for share in &e.shares {
        assert!(!err.contains(share.as_str()), "a share leaked: {err}");
    }
    // No try spent (a failed C_Login sets CKF_USER_PIN_COUNT_LOW on SoftHSM2), nothing created,
    // nothing written.
    assert_eq!(token_seen_from_outside(&e.store, &e.label), seen_before);
    assert_eq!(tree(&p.bundle), before, "the bundle is untouched");
}

/// A token one wrong PIN from locking (CKF_USER_PIN_FINAL_TRY) is not tried: keyrite refuses
/// before C_Login. Kryoptic sets the flag after nine wrong PINs (and locks at ten); SoftHSM2 2.6.1
/// never sets it (nor locks), so there the test shows what it does set, and the decision on every
/// flag value is `core::pin_counter`'s unit test.
#[test]
fn a_token_one_wrong_pin_from_locking_is_not_tried() {
    own_token!();
    let (dir, alias, p) = setup("hostile-final-try");
    let token = hsm().token();
    let objects_before = token_seen_from_outside(&hsm().env, TOKEN_LABEL).1;
    let wrong = cryptoki::types::AuthPin::new("not-the-pin".into());
    let mut tries = 0;
    while tries < 12 && !token.user_pin_counter().unwrap().final_try {
        assert!(token.login(&wrong).is_err(), "a wrong PIN logged in");
        tries += 1;
    }
    let counter = token.user_pin_counter().unwrap();
    if !counter.final_try {
        assert!(hsm().is_softhsm(), "{counter:?} after {tries} wrong PINs");
        assert!(counter.count_low && !counter.locked, "{counter:?}");
        return;
    }
    // keyrite's own login path now refuses too, without a try.
    let refused = token.login(&hsm().pin()).err().unwrap().to_string();
    assert!(refused.contains("one PIN try left"), "{refused}");
    let answers = write_answers(dir.path(), &p.fingerprint);
    let mut cmd = ceremony_with(dir.path(), &p, &alias, &answers, &hsm().token_uri());
    let before = tree(&p.bundle);
    let out = cmd.output().unwrap();
    assert_failed(
        &out,
        REFUSED,
        &["CKF_USER_PIN_FINAL_TRY", "keyrite did not try"],
    );
    assert_eq!(tree(&p.bundle), before, "the bundle is untouched");
    let after = token.user_pin_counter().unwrap();
    assert!(after.final_try && !after.locked, "{after:?}");
    assert_eq!(
        token_seen_from_outside(&hsm().env, TOKEN_LABEL).1,
        objects_before
    );
}

// ---- 13. Nothing planted in a bundle before a ceremony ----

/// `manifest.json.new` planted by whoever carried the bundle: the ceremony replaces the manifest
/// through that name at its very end, so it used to generate and wrap every key and then fail on
/// the existing file, leaving keys in the HSM and a bundle with no final manifest.
#[test]
fn a_planted_manifest_replacement_is_refused_before_anything_is_generated() {
    own_token!();
    planted_refused(
        "hostile-manifest-new",
        |bundle, _| {
            std::fs::write(bundle.join("manifest.json.new"), b"{}").unwrap();
        },
        REFUSED,
        &["manifest.json.new: a file keyrite did not write is not part of this bundle"],
    );
}

#[test]
fn an_unknown_file_in_a_bundle_is_refused_before_anything_is_generated() {
    own_token!();
    planted_refused(
        "hostile-unknown-file",
        |bundle, _| {
            std::fs::write(bundle.join("README.txt"), b"nothing to see").unwrap();
        },
        REFUSED,
        &["README.txt: a file keyrite did not write"],
    );
}

#[test]
fn a_directory_the_manifest_does_not_list_is_refused_before_anything_is_generated() {
    own_token!();
    planted_refused(
        "hostile-unknown-dir",
        |bundle, _| {
            std::fs::create_dir(bundle.join("prod-s3")).unwrap();
        },
        REFUSED,
        &["prod-s3: a directory the manifest does not list"],
    );
}

/// A key directory holding an entry the manifest does not list (here a directory where the
/// wrapped material will go) is refused by the bundle's hash check (exit 3). Refused on main
/// 69d8003 already; kept as the case of the planted-files family.
#[test]
fn a_key_directory_with_an_unexpected_entry_is_refused_before_anything_is_generated() {
    own_token!();
    planted_refused(
        "hostile-key-dir-entry",
        |bundle, alias| {
            std::fs::create_dir(
                bundle
                    .join(bundle_name(alias))
                    .join("EncryptedKeyMaterial.bin"),
            )
            .unwrap();
        },
        VERIFICATION_FAILED,
        &["EncryptedKeyMaterial.bin is in the bundle but not in its manifest"],
    );
}

// ---- 14. `audit verify` proves what it prints ----

fn audit_verify(target: &Path, trust: &Path, extra: &[&str]) -> std::process::Output {
    keyrite()
        .args(["audit", "verify"])
        .arg(target)
        .arg("--trust")
        .arg(trust)
        .args(extra)
        .output()
        .unwrap()
}

/// A ceremony opened with a PIN file verified like one opened by a quorum, and the report did not
/// say who had opened the HSM. Now the report says, and `--require-quorum` fails such a log.
#[test]
fn audit_verify_require_quorum_fails_for_a_ceremony_opened_with_a_pin_file() {
    own_token!();
    let (dir, alias, p) = setup("hostile-require-quorum");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let plain = audit_verify(&p.bundle, &hsm().log_public_key(), &[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    // The report is on stdout.
    let report = String::from_utf8_lossy(&plain.stdout);
    assert!(
        report.contains("authorised by     a PIN file (pin-source=file:): no quorum"),
        "{report}"
    );
    let out = audit_verify(&p.bundle, &hsm().log_public_key(), &["--require-quorum"]);
    assert_failed(
        &out,
        VERIFICATION_FAILED,
        &["the ceremony was opened with a PIN file, not by a quorum of custodians"],
    );
    // A log the quorum opened passes, and the report names who and how many.
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/log-tamper");
    let quorum = audit_verify(
        &corpus.join("good-quorum.log"),
        &corpus.join("log-public-key.pem"),
        &["--require-quorum"],
    );
    assert!(quorum.status.success(), "{}", stderr(&quorum));
    let text = String::from_utf8_lossy(&quorum.stdout);
    assert!(
        text.contains("quorum of custodians: their shares rebuilt the PIN; Alice (#1), Carol (#3): 2 authorised, 2 needed, 3 enrolled"),
        "{text}"
    );
}

/// A bundle through ceremony and import; its receipt rebuilt by `edit` with a consistent chain,
/// as anyone who can write the bundle can (receipt records are chained, not signed).
fn imported_bundle_with_receipt(
    name: &str,
    edit: impl FnOnce(&mut Vec<serde_json::Value>),
) -> (tempfile::TempDir, Prepared) {
    let (dir, alias, p) = setup(name);
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    import_cmd(&p.bundle).assert().success();
    common::flow::rewrite_receipt(&p.bundle, edit);
    (dir, p)
}

fn audit_refuses_receipt(p: &Prepared, want: &str) {
    let out = audit_verify(&p.bundle, &hsm().log_public_key(), &[]);
    assert_failed(
        &out,
        VERIFICATION_FAILED,
        &["import-receipt.log: line", want],
    );
}

/// Every record dated the day before: the receipt then claims an import of material the
/// ceremony had not made yet. `audit verify` passed it on main 69d8003.
#[test]
fn a_receipt_dated_before_the_ceremony_ended_is_refused() {
    own_token!();
    let (_dir, p) = imported_bundle_with_receipt("hostile-receipt-early", |bodies| {
        for b in bodies.iter_mut() {
            let t: jiff::Timestamp = b["time"].as_str().unwrap().parse().unwrap();
            let earlier = t - jiff::SignedDuration::from_hours(24);
            b["time"] = serde_json::Value::String(earlier.to_string());
        }
    });
    audit_refuses_receipt(&p, "before the ceremony's last record");
}

/// A rollback run appended for a key of another ceremony. `audit verify` passed it on main
/// 69d8003.
#[test]
fn a_receipt_rolling_back_a_key_the_ceremony_did_not_produce_is_refused() {
    own_token!();
    let (_dir, p) = imported_bundle_with_receipt("hostile-receipt-foreign", |bodies| {
        let mut start = bodies[0].clone();
        start["data"]["run"] = "rollback".into();
        let mut rolled = bodies[1].clone();
        rolled["step"] = "key.rolled_back".into();
        rolled["data"] = serde_json::json!({
            "key": "prod-payments",
            "key_arn": "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555",
            "key_material_id": "material-of-another-ceremony",
            "request_id": null
        });
        let end = bodies.last().unwrap().clone();
        bodies.extend([start, rolled, end]);
    });
    audit_refuses_receipt(
        &p,
        "a rollback of key \"prod-payments\", which this ceremony did not produce",
    );
}

/// The key's import record removed, the run still ended: the receipt hides what was done with
/// a key the ceremony wrapped. `audit verify` passed it on main 69d8003.
#[test]
fn a_receipt_that_accounts_for_no_record_of_a_ceremony_key_is_refused() {
    own_token!();
    let (_dir, p) = imported_bundle_with_receipt("hostile-receipt-hidden", |bodies| {
        bodies.retain(|b| b["step"] != "key.imported");
    });
    audit_refuses_receipt(&p, "accounts for no record of key");
}

/// A receipt edited without re-chaining: `kms status --receipts` uses nothing from it and stops,
/// naming it. (On main 69d8003 it stopped too, exit 3, without saying which receipt.)
#[test]
fn kms_status_uses_no_receipt_whose_chain_does_not_verify() {
    own_token!();
    let (dir, alias, p) = setup("hostile-status-receipt");
    let _ = dir;
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    import_cmd(&p.bundle).assert().success();
    let path = p.bundle.join("import-receipt.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"state\":\"Enabled\"", "\"state\":\"Enabled \"", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let out = keyrite()
        .args(["kms", "status", "--receipts"])
        .arg(&p.bundle)
        .output()
        .unwrap();
    let named = format!("--receipts {}", path.display());
    assert_failed(
        &out,
        VERIFICATION_FAILED,
        &[&named, "kms status uses nothing from it"],
    );
    assert!(out.stdout.is_empty(), "no report was printed");
}

// ---- 7. Bundle files that are not regular files, or that have a second name ----

/// Each command is given this long to answer; a read that blocks on a FIFO or never ends on a
/// device is killed at the deadline, and the exit code assertion then fails (no exit code).
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// `cmd` run to its end or killed at [`ANSWER_WITHIN`]: refused with exit 5, naming `file` and
/// what it is instead of a regular file.
fn refused_within_deadline(mut cmd: assert_cmd::Command, file: &str, what: &str) {
    let out = cmd.timeout(ANSWER_WITHIN).output().unwrap();
    assert!(
        out.status.code().is_some(),
        "no answer within {ANSWER_WITHIN:?}: killed ({:?}); stderr: {}",
        out.status,
        stderr(&out)
    );
    assert_failed(&out, REFUSED, &[file, what]);
}

/// A `ceremony.log` swapped for a FIFO or a link to /dev/zero in a returned bundle: `kms import`,
/// `audit verify`, `kms status --receipts` and `kms verify-rotation` each refuse it by name
/// (exit 5) instead of waiting for a writer for ever or reading until memory runs out.
#[test]
fn a_ceremony_log_that_is_a_fifo_or_a_link_to_dev_zero_is_refused_without_hanging() {
    own_token!();
    let (dir, alias, p) = setup("hostile-log-fifo");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let log = p.bundle.join("ceremony.log");
    let kept = dir.path().join("ceremony.log.kept");
    std::fs::rename(&log, &kept).unwrap();

    let audit = |bundle: &Path| {
        let mut cmd = keyrite();
        cmd.args(["audit", "verify"])
            .arg(bundle)
            .arg("--trust")
            .arg(hsm().log_public_key());
        cmd
    };
    mkfifo(&log);
    refused_within_deadline(import_cmd(&p.bundle), "ceremony.log", "");
    refused_within_deadline(audit(&p.bundle), "ceremony.log", "a FIFO");
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");

    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &log).unwrap();
    refused_within_deadline(import_cmd(&p.bundle), "ceremony.log", "");
    refused_within_deadline(audit(&p.bundle), "ceremony.log", "symbolic link");
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");

    // Imported with the real log, then the log replaced again: the commands that read a bundle
    // after the import refuse it too.
    std::fs::remove_file(&log).unwrap();
    std::fs::rename(&kept, &log).unwrap();
    import_cmd(&p.bundle).assert().success();
    std::fs::rename(&log, &kept).unwrap();
    for (make, what) in [
        (mkfifo as fn(&Path), "a FIFO"),
        (
            |l: &Path| std::os::unix::fs::symlink("/dev/zero", l).unwrap(),
            "symbolic link",
        ),
    ] {
        make(&log);
        let mut status = keyrite();
        status.args(["kms", "status", "--receipts"]).arg(&p.bundle);
        refused_within_deadline(status, "ceremony.log", what);
        let mut verify = keyrite();
        verify
            .args(["kms", "verify-rotation", "--bundle"])
            .arg(&p.bundle);
        refused_within_deadline(verify, "ceremony.log", "");
        refused_within_deadline(audit(&p.bundle), "ceremony.log", what);
        std::fs::remove_file(&log).unwrap();
    }
}

/// An `import-receipt.log` hard-linked to a file outside the bundle: `kms import` and
/// `kms verify-rotation` refuse it (exit 5) before writing a byte, so the outside file does not
/// grow, and nothing is imported.
#[test]
fn a_hard_linked_import_receipt_is_refused_before_anything_is_written() {
    own_token!();
    let (dir, alias, p) = setup("hostile-receipt-hardlink");
    ceremony_cmd(dir.path(), &p, &[&alias], default_algorithm())
        .assert()
        .success();
    let receipt = p.bundle.join("import-receipt.log");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victim = outside.join("victim.log");
    std::fs::write(&victim, b"").unwrap();
    std::fs::hard_link(&victim, &receipt).unwrap();

    let out = import_cmd(&p.bundle).output().unwrap();
    assert_failed(&out, REFUSED, &["import-receipt.log", "2 hard links"]);
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"",
        "the outside file grew"
    );
    assert_eq!(key_state(&alias), "PendingImport", "nothing was imported");

    // Imported with a receipt of its own, then linked out again: verify-rotation, which appends
    // its result to the receipt, refuses it too.
    std::fs::remove_file(&receipt).unwrap();
    import_cmd(&p.bundle).assert().success();
    std::fs::remove_file(&victim).unwrap();
    std::fs::hard_link(&receipt, &victim).unwrap();
    let before = std::fs::read(&victim).unwrap();
    let out = keyrite()
        .args(["kms", "verify-rotation", "--bundle"])
        .arg(&p.bundle)
        .output()
        .unwrap();
    assert_failed(&out, REFUSED, &["import-receipt.log", "hard links"]);
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        before,
        "the outside file grew"
    );
}
