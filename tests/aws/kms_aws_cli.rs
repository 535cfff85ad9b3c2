//! `keyrite kms import` prints, for each key, the AWS CLI commands that do the same by hand with
//! the bundle's own files (the local KMS and the test token, through the real binary).

use crate::common;

use common::flow::*;
use common::*;

#[test]
fn import_prints_aws_cli_commands_naming_each_key_and_existing_files() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (alias_a, arn_a) = external_key("cli-a");
    let (alias_b, arn_b) = external_key("cli-b");
    let p = ceremony_done(dir.path(), &[&alias_a, &alias_b]);

    let out = import_cmd(&p.bundle)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();

    let commands: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("aws kms import-key-material "))
        .collect();
    assert_eq!(commands.len(), 2, "one command per key:\n{stderr}");
    for (cmd, arn) in commands.iter().zip([&arn_a, &arn_b]) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let arg = |flag: &str| {
            let i = words
                .iter()
                .position(|w| *w == flag)
                .unwrap_or_else(|| panic!("{flag} in {cmd}"));
            words[i + 1]
        };
        assert_eq!(arg("--key-id"), arn.as_str(), "{cmd}");
        assert_eq!(arg("--region"), "us-east-1", "{cmd}");
        assert_eq!(arg("--expiration-model"), "KEY_MATERIAL_DOES_NOT_EXPIRE");
        for (flag, file) in [
            ("--encrypted-key-material", "EncryptedKeyMaterial.bin"),
            ("--import-token", "ImportToken.bin"),
        ] {
            let path = arg(flag)
                .strip_prefix("fileb://")
                .unwrap_or_else(|| panic!("{flag}: {cmd}"));
            let path = std::path::Path::new(path);
            assert!(path.is_absolute() && path.is_file(), "{path:?} must exist");
            assert!(path.starts_with(std::path::absolute(&p.bundle).unwrap()));
            assert_eq!(path.file_name().unwrap(), file);
        }
    }
}

#[test]
fn running_the_same_import_again_sends_nothing() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let client = rt.block_on(client());
    let Ceremonied {
        arn, prepared: p, ..
    } = ceremony_for_new_key(dir.path(), "again");
    import_cmd(&p.bundle).assert().success();
    let material = || {
        rt.block_on(client.describe_key().key_id(&arn).send())
            .unwrap()
            .key_metadata
            .unwrap()
            .current_key_material_id
    };
    let first = material();
    assert!(first.is_some());

    let out = import_cmd(&p.bundle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();

    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["kind"], "already imported");
    assert_eq!(material(), first, "the second run changed nothing in KMS");
    let progress = std::fs::read_to_string(p.bundle.join("import-progress.json")).unwrap();
    assert!(progress.contains("\"stage\": \"done\""), "{progress}");
}
