//! A witness key in the witness's own PKCS#11 token (`witness init --token`): generated there
//! (Ed25519, CKM_EC_EDWARDS_KEY_PAIR_GEN), never in a file, and used by `witness cosign` with
//! CKM_EDDSA only after the token's key is checked to be the one its descriptor names. The test
//! token stands in for the witness's own token (the witness key gets a label of its own there).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;

use common::flow::*;
use common::*;

/// `witness init --token` for `name`, writing the descriptor `dir/<file>`.
fn init_in_token(descriptor: &Path, name: &str) -> Output {
    keyrite()
        .args(["witness", "init", "--key"])
        .arg(descriptor)
        .args(["--name", name, "--module"])
        .arg(&hsm().module)
        .args(["--token", &hsm().token_uri()])
        .output()
        .unwrap()
}

/// A witness key in the token: (descriptor, verifier key).
fn token_witness(dir: &Path, name: &str) -> (PathBuf, String) {
    let descriptor = dir.join(format!("{}.witness", unique("descriptor")));
    let out = init_in_token(&descriptor, name);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    (descriptor, lossy(&out.stdout).trim().to_string())
}

fn cosign_with(bundle: &Path, key: &Path, state: &Path, token: &str) -> Output {
    let module = hsm().module.as_os_str();
    let extra = [
        "--module".as_ref(),
        module,
        "--token".as_ref(),
        token.as_ref(),
    ];
    witness_cosign(bundle, key, state, &extra)
}

fn cosign(bundle: &Path, key: &Path, state: &Path) -> Output {
    cosign_with(bundle, key, state, &hsm().token_uri())
}

/// A copy of the descriptor `from` at `to` with its key label replaced by `label`.
fn relabelled(from: &Path, to: &Path, label: &str) {
    let d = std::fs::read_to_string(from).unwrap();
    let mut lines: Vec<&str> = d.lines().collect();
    lines[3] = label;
    std::fs::write(to, lines.join("\n") + "\n").unwrap();
}

/// The attributes of the private key labelled `label`, read through cryptoki in a session of the
/// test's own (logged in as the token user), and whether CKA_VALUE can be read at all.
fn private_key_attributes(label: &str) -> (Vec<cryptoki::object::Attribute>, bool) {
    use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    with_raw_session(|session| {
        session.login(UserType::User, Some(&hsm().pin())).unwrap();
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(found.len(), 1, "one private key labelled {label}");
        let attrs = session
            .get_attributes(
                found[0],
                &[
                    AttributeType::KeyType,
                    AttributeType::Token,
                    AttributeType::Private,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Sign,
                ],
            )
            .unwrap();
        let value = session
            .get_attribute_info(found[0], &[AttributeType::Value])
            .unwrap();
        session.logout().unwrap();
        (
            attrs,
            matches!(value.first(), Some(AttributeInfo::Available(_))),
        )
    })
}

/// A witness whose key is in its token cosigns a bundle's checkpoint; `audit verify` accepts
/// that witness's cosignature and does not take it for another witness's.
#[test]
fn a_witness_key_in_a_token_cosigns_and_audit_verify_accepts_only_it() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (descriptor, vkey) = token_witness(dir.path(), "audit.example/hsm-w1");
    assert!(vkey.starts_with("audit.example/hsm-w1+"), "{vkey}");
    // Another witness (a key file): its vkey must not be satisfied by the token witness's line.
    let other_key = dir.path().join("other.key");
    let out = keyrite()
        .args(["witness", "init", "--key"])
        .arg(&other_key)
        .args(["--name", "security.example/w2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let other = lossy(&out.stdout).trim().to_string();

    let a = ledger_ceremony(dir.path(), "hsm-wit-a");
    let state = dir.path().join("state.json");
    let out = cosign(&a.bundle, &descriptor, &state);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("as audit.example/hsm-w1"),
        "{}",
        lossy(&out.stderr)
    );
    let out = ledger_audit(&a.bundle, &["--witness", &vkey, "--witnesses", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stdout).contains("cosigned by       witness audit.example/hsm-w1 at "),
        "{}",
        lossy(&out.stdout)
    );
    let out = ledger_audit(&a.bundle, &["--witness", &other, "--witnesses", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(lossy(&out.stderr).contains("no cosignature by security.example/w2"));
    // The descriptor holds no secret and no PIN: the format line, the name, the two labels, the
    // public key the vkey carries.
    let d = std::fs::read_to_string(&descriptor).unwrap();
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines.len(), 5, "{d}");
    assert_eq!(lines[0], "keyrite-witness-pkcs11/1");
    assert_eq!(lines[1], "audit.example/hsm-w1");
    assert_eq!(lines[2], TOKEN_LABEL);
    assert_eq!(lines[3], "keyrite-witness:audit.example/hsm-w1");
    let public = data_encoding::BASE64.decode(lines[4].as_bytes()).unwrap();
    let vkey_key = data_encoding::BASE64
        .decode(vkey.splitn(3, '+').nth(2).unwrap().as_bytes())
        .unwrap();
    assert_eq!(vkey_key[1..], public[..]);
    assert!(!d.contains(USER_PIN));
}

/// The private half lives only in the token: a token object, private, sensitive, never
/// extractable, able to sign; its value cannot be read, and no key file was written beside the
/// descriptor.
#[test]
fn a_witness_key_in_a_token_is_sensitive_never_extractable_and_written_nowhere() {
    own_token!();
    use cryptoki::object::{Attribute, KeyType};
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let (descriptor, _) = token_witness(&keys, "audit.example/hsm-w2");
    let (attrs, value_readable) = private_key_attributes("keyrite-witness:audit.example/hsm-w2");
    for want in [
        Attribute::KeyType(KeyType::EC_EDWARDS),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::NeverExtractable(true),
        Attribute::Sign(true),
    ] {
        assert!(attrs.contains(&want), "{want:?} missing from {attrs:?}");
    }
    assert!(!value_readable, "CKA_VALUE of the witness key is readable");
    // Only the descriptor was written, and it is not a key file: `witness cosign` without a
    // token refuses it as one that names its token.
    assert_eq!(
        tree(&keys),
        vec![
            descriptor
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        ]
    );
    let out = keyrite()
        .args(["witness", "cosign", "/nonexistent-bundle", "--key"])
        .arg(&descriptor)
        .args(["--state", "/nonexistent-state", "--trust"])
        .arg(hsm().log_public_key())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains(&format!("the witness key is in token \"{TOKEN_LABEL}\"")),
        "{}",
        lossy(&out.stderr)
    );
}

/// `witness init --token` never makes a second key under a label that exists, never overwrites a
/// descriptor, and refuses a name auditors could not use: exit 5 or 2, nothing generated.
#[test]
fn witness_init_in_a_token_refuses_an_existing_label_or_descriptor() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (descriptor, _) = token_witness(dir.path(), "audit.example/hsm-w3");
    let before = hsm().object_count();
    let out = init_in_token(&dir.path().join("again.witness"), "audit.example/hsm-w3");
    assert_eq!(out.status.code(), Some(5), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("labelled \"keyrite-witness:audit.example/hsm-w3\" already"),
        "{}",
        lossy(&out.stderr)
    );
    assert!(!dir.path().join("again.witness").exists());
    let kept = std::fs::read(&descriptor).unwrap();
    let out = init_in_token(&descriptor, "audit.example/hsm-w4");
    assert_eq!(out.status.code(), Some(5), "{}", lossy(&out.stderr));
    assert_eq!(std::fs::read(&descriptor).unwrap(), kept);
    let out = init_in_token(&dir.path().join("bad.witness"), "audit example");
    assert_eq!(out.status.code(), Some(2), "{}", lossy(&out.stderr));
    assert_eq!(hsm().object_count(), before, "init generated something");
    assert!(!lossy(&out.stderr).contains(USER_PIN));
}

/// A descriptor whose public key is not the token's key under its label (another witness's key
/// swapped in) is refused before anything is signed or stored: exit 3, the bundle's proof and the
/// witness's state untouched. A label the token does not hold is exit 5; a wrong PIN exit 6,
/// without the PIN in the message.
#[test]
fn witness_cosign_refuses_a_token_key_that_is_not_the_descriptors() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (w5, _) = token_witness(dir.path(), "audit.example/hsm-w5");
    let (_, _) = token_witness(dir.path(), "audit.example/hsm-w6");
    let a = ledger_ceremony(dir.path(), "hsm-wit-swap");
    let proof = a.bundle.join("ledger.tlog-proof");
    let proof_before = std::fs::read(&proof).unwrap();
    let state = dir.path().join("state.json");

    // w5's descriptor pointed at w6's key in the same token.
    let swapped = dir.path().join("swapped.witness");
    relabelled(&w5, &swapped, "keyrite-witness:audit.example/hsm-w6");
    let out = cosign(&a.bundle, &swapped, &state);
    assert_eq!(out.status.code(), Some(3), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("is not the witness key the descriptor names"),
        "{}",
        lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&proof).unwrap(), proof_before);
    assert!(!state.exists(), "the state was written for a refused key");

    // A label the token does not hold.
    let missing = dir.path().join("missing.witness");
    relabelled(&w5, &missing, "keyrite-witness:audit.example/nobody");
    let out = cosign(&a.bundle, &missing, &state);
    assert_eq!(out.status.code(), Some(5), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("holds no Ed25519 key pair labelled"),
        "{}",
        lossy(&out.stderr)
    );

    // The real descriptor cosigns.
    let out = cosign(&a.bundle, &w5, &state);
    assert!(out.status.success(), "{}", lossy(&out.stderr));

    // A wrong PIN is the token's refusal, and the PIN is not repeated (last: it counts).
    let wrong = dir.path().join("wrong.pin");
    write_secret(&wrong, "not-the-pin-4321\n");
    let uri = format!(
        "pkcs11:token={TOKEN_LABEL}?pin-source=file:{}",
        wrong.display()
    );
    let out = cosign_with(&a.bundle, &w5, &state, &uri);
    assert_eq!(out.status.code(), Some(6), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stderr).contains("CKR_PIN_INCORRECT"),
        "{}",
        lossy(&out.stderr)
    );
    assert!(!lossy(&out.stderr).contains("not-the-pin-4321"));
}

/// How many objects (public or private) carry `label` in the test token.
fn objects_labelled(label: &str) -> usize {
    use cryptoki::object::Attribute;
    use cryptoki::session::UserType;
    with_raw_session(|session| {
        session.login(UserType::User, Some(&hsm().pin())).unwrap();
        let n = session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .unwrap()
            .len();
        session.logout().unwrap();
        n
    })
}

/// `witness init --token` through tokens/faulty, failing PKCS#11 call `fail_at` (0: none) with
/// CKR_MECHANISM_INVALID, as a token without the mechanism asked for answers.
fn faulty_init(descriptor: &Path, name: &str, fail_at: usize, count_file: &Path) -> Output {
    keyrite()
        .args(["witness", "init", "--key"])
        .arg(descriptor)
        .args(["--name", name, "--module"])
        .arg(common::faults::faulty_module())
        .args(["--token", &hsm().token_uri()])
        .env("FAULTY_TOKEN_MODULE", &hsm().module)
        .env("FAULTY_TOKEN_FAIL_AT", fail_at.to_string())
        .env("FAULTY_TOKEN_ERROR", "CKR_MECHANISM_INVALID")
        .env("FAULTY_TOKEN_COUNT_FILE", count_file)
        .output()
        .unwrap()
}

/// A token that answers CKR_MECHANISM_INVALID where Ed25519 is asked for is named as a token
/// without Ed25519, with what to do (exit 5, nothing generated); and `witness init` failing at
/// any one of its PKCS#11 calls leaves either a descriptor and its key pair, or neither (a pair
/// whose check fails is destroyed).
#[test]
fn witness_init_names_a_token_without_ed25519_and_fails_at_any_call_cleanly() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let count_file = dir.path().join("calls");
    let out = faulty_init(
        &dir.path().join("count.witness"),
        "audit.example/count",
        0,
        &count_file,
    );
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let calls: usize = std::fs::read_to_string(&count_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(calls > 5, "{calls} PKCS#11 calls");
    let mut named = 0;
    for fail_at in 1..=calls {
        let name = format!("audit.example/f{fail_at}");
        let descriptor = dir.path().join(format!("f{fail_at}.witness"));
        let out = faulty_init(&descriptor, &name, fail_at, &count_file);
        let err = lossy(&out.stderr);
        let objects = objects_labelled(&format!("keyrite-witness:{name}"));
        if out.status.success() {
            assert!(descriptor.exists() && objects == 2, "call {fail_at}: {err}");
            continue;
        }
        assert!(
            !descriptor.exists(),
            "call {fail_at}: a descriptor after a failure: {err}"
        );
        assert_eq!(
            objects, 0,
            "call {fail_at}: objects left after a failure: {err}"
        );
        assert!(!err.contains(USER_PIN), "call {fail_at}: {err}");
        if err.contains("does not offer Ed25519") {
            assert_eq!(out.status.code(), Some(5), "call {fail_at}: {err}");
            assert!(
                err.contains("nothing was kept in the token")
                    && err.contains("witness init --key FILE"),
                "{err}"
            );
            named += 1;
        }
    }
    eprintln!(
        "witness init: {calls} PKCS#11 calls, {named} failures named a token without Ed25519"
    );
    // C_GetMechanismInfo for the key generation and for CKM_EDDSA, and C_GenerateKeyPair.
    assert!(
        named >= 3,
        "{named} runs named the token as one without Ed25519"
    );
}
