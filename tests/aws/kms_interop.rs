//! Interoperability with the AWS CLI (v1, installed from PyPI by scripts/awscli into the cache),
//! against the local KMS and the test token, each direction proved by the HSM-side decrypt:
//! (a) parameters fetched with the AWS CLI go through a keyrite ceremony and import;
//! (b) a keyrite bundle is imported by the AWS CLI with the commands keyrite prints.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_sdk_kms::primitives::Blob;
use common::flow::*;
use common::*;
use keyrite::app::localkms::decrypt_localstack_ciphertext;

/// The `aws` executable that `scripts/test` installed (scripts/awscli) and names in
/// KEYRITE_TEST_AWS_CLI. Tests install nothing: without it the test fails and says how to get it.
fn aws_bin() -> &'static PathBuf {
    static AWS: OnceLock<PathBuf> = OnceLock::new();
    AWS.get_or_init(|| {
        let aws = std::env::var_os("KEYRITE_TEST_AWS_CLI").map(PathBuf::from).expect(
            "KEYRITE_TEST_AWS_CLI is not set: run the tests with ./scripts/test, which installs the AWS CLI \
             (scripts/awscli install prints the path to set)",
        );
        assert!(
            aws.is_file(),
            "KEYRITE_TEST_AWS_CLI names {}, which is not there: run scripts/awscli install",
            aws.display()
        );
        aws
    })
}

/// The environment the AWS CLI runs in: the local KMS, its region, dummy credentials in the
/// test's own account.
pub(crate) fn aws_env(cmd: &mut std::process::Command) {
    let bin_dir = aws_bin().parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path)
        .env("AWS_ENDPOINT_URL", kms_endpoint())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", account())
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE");
}

fn aws(args: &[&str]) -> Vec<u8> {
    let mut cmd = std::process::Command::new(aws_bin());
    aws_env(&mut cmd);
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// KMS encrypts under `alias`; the HSM key the ceremony made decrypts it.
fn prove_with_hsm(rt: &tokio::runtime::Runtime, alias: &str, bundle: &Path) {
    let client = rt.block_on(client());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let label = manifest["keys"][0]["generated"]["hsm_label"]
        .as_str()
        .unwrap();
    let session = hsm().token().login(&hsm().pin()).unwrap();
    let found = session.find_secret_keys(label).unwrap();
    assert_eq!(found.len(), 1, "exactly one HSM key labelled {label}");
    let plaintext = b"interoperable with the AWS CLI";
    let ct = rt
        .block_on(
            client
                .encrypt()
                .key_id(alias)
                .plaintext(Blob::new(&plaintext[..]))
                .send(),
        )
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    let recovered = decrypt_localstack_ciphertext(&session, found[0], &ct, &[]).unwrap();
    assert_eq!(recovered, plaintext);
    // The proof can fail: another context (AAD) is rejected.
    assert!(decrypt_localstack_ciphertext(&session, found[0], &ct, &[("x", "y")]).is_err());
}

fn prepare_from_cli(dir: &Path, alias: &str, from: &Path, extra: &[&str]) -> Prepared {
    let bundle = dir.join(unique("bundle"));
    let out = keyrite()
        .args(["kms", "prepare", "--json", "--key", alias, "--algorithm"])
        .arg(default_algorithm())
        .arg("--from-aws-cli")
        .arg(from)
        .args(extra)
        .arg("--out")
        .arg(&bundle)
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fingerprint = v["fingerprint"].as_str().unwrap().to_string();
    // The fingerprint is also printed as PGP words to read aloud: 32 words, the same on stderr
    // (four to a line) and in the JSON.
    let words: Vec<String> = serde_json::from_value(v["fingerprint_words"].clone()).unwrap();
    assert_eq!(words, keyrite::core::digest::words(&fingerprint));
    assert_eq!(words.len(), 32);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&words[..4].join(" ")), "{stderr}");
    Prepared {
        bundle,
        fingerprint,
    }
}

#[test]
fn parameters_fetched_with_the_aws_cli_go_through_a_keyrite_ceremony_and_import() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let alg = default_algorithm();

    // As JSON: the CLI's own output of get-parameters-for-import.
    let (alias, arn) = rt.block_on(create_key(&client, true, "cli-json"));
    let json = dir.path().join("params.json");
    let fetched = aws(&[
        "kms",
        "get-parameters-for-import",
        "--key-id",
        &alias,
        "--wrapping-algorithm",
        alg,
        "--wrapping-key-spec",
        "RSA_4096",
    ]);
    std::fs::write(&json, &fetched).unwrap();
    let p = prepare_from_cli(dir.path(), &alias, &json, &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["keys"][0]["key_arn"], arn.as_str());
    let v: serde_json::Value = serde_json::from_slice(&fetched).unwrap();
    let token = std::fs::read(
        p.bundle
            .join(manifest["keys"][0]["name"].as_str().unwrap())
            .join("ImportToken.bin"),
    )
    .unwrap();
    assert_eq!(
        data_encoding::BASE64.encode(&token),
        v["ImportToken"].as_str().unwrap(),
        "the bundle holds the token the AWS CLI fetched"
    );
    ceremony_cmd(dir.path(), &p, &[&alias], alg)
        .assert()
        .success();
    import_cmd(&p.bundle).assert().success();
    prove_with_hsm(&rt, &alias, &p.bundle);

    // As files, the AWS documentation's way: base64 text from `--output text`, the token decoded
    // to raw binary with base64 -d; the validity given on the command line.
    let (alias2, _) = rt.block_on(create_key(&client, true, "cli-files"));
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let fetched = aws(&[
        "kms",
        "get-parameters-for-import",
        "--key-id",
        &alias2,
        "--wrapping-algorithm",
        alg,
        "--wrapping-key-spec",
        "RSA_4096",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&fetched).unwrap();
    std::fs::write(
        files.join("PublicKey.b64"),
        v["PublicKey"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        files.join("ImportToken.b64"),
        v["ImportToken"].as_str().unwrap(),
    )
    .unwrap();
    let decoded = std::process::Command::new("base64")
        .arg("-d")
        .arg(files.join("ImportToken.b64"))
        .output()
        .unwrap();
    assert!(decoded.status.success());
    std::fs::remove_file(files.join("ImportToken.b64")).unwrap();
    std::fs::write(files.join("ImportToken.bin"), &decoded.stdout).unwrap();
    let valid_to = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(23);
    let p2 = prepare_from_cli(
        dir.path(),
        &alias2,
        &files,
        &["--parameters-valid-to", &valid_to.to_string()],
    );
    ceremony_cmd(dir.path(), &p2, &[&alias2], alg)
        .assert()
        .success();
    import_cmd(&p2.bundle).assert().success();
    prove_with_hsm(&rt, &alias2, &p2.bundle);

    // Parameters of one key are refused for another: the token is bound to its key.
    let (alias3, _) = rt.block_on(create_key(&client, true, "cli-other"));
    let out = keyrite()
        .args([
            "kms",
            "prepare",
            "--key",
            &alias3,
            "--algorithm",
            alg,
            "--from-aws-cli",
        ])
        .arg(&json)
        .arg("--out")
        .arg(dir.path().join("refused"))
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("were fetched for"), "{stderr}");
    assert!(!dir.path().join("refused").exists());
}

#[test]
fn a_keyrite_bundle_is_imported_by_the_aws_cli_with_the_printed_commands() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let Ceremonied {
        alias,
        arn,
        prepared: p,
        ..
    } = ceremony_for_new_key(dir.path(), "cli-import");

    // The commands keyrite prints for this bundle, run verbatim by a shell with the AWS CLI.
    let verified = keyrite::io::bundle::Bundle::verify(&p.bundle).unwrap();
    let commands = keyrite::app::import::aws_cli_equivalent(
        &verified,
        keyrite::app::import::Expiration::DoesNotExpire,
    );
    assert_eq!(commands.len(), 1);
    for command in &commands[0].1 {
        let mut sh = std::process::Command::new("sh");
        aws_env(&mut sh);
        let out = sh.arg("-c").arg(command).output().unwrap();
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta = rt
        .block_on(client.describe_key().key_id(&arn).send())
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state.unwrap().as_str(), "Enabled");
    prove_with_hsm(&rt, &alias, &p.bundle);
}
