//! The AWS CLI commands equivalent to what `keyrite kms import` does for one key, so an operator
//! can fall back to them with the same bundle files.

use std::path::Path;

use jiff::Timestamp;

/// What the import does for one key: a first import, new material staged and rotated to, or the
/// escrowed material re-imported under the KeyMaterialId KMS gave it before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    First,
    Rotation,
    Reimport { key_material_id: String },
}

pub struct CliImport<'a> {
    pub key_arn: &'a str,
    pub region: &'a str,
    pub encrypted_key_material: &'a Path,
    pub import_token: &'a Path,
    /// `None`: KEY_MATERIAL_DOES_NOT_EXPIRE.
    pub valid_to: Option<Timestamp>,
    pub kind: ImportKind,
}

/// The shell commands, one per line.
pub fn import_commands(c: &CliImport<'_>) -> Vec<String> {
    let mut import = format!(
        "aws kms import-key-material --region {} --key-id {} --encrypted-key-material {} --import-token {}",
        quote(c.region),
        quote(c.key_arn),
        quote(&format!("fileb://{}", c.encrypted_key_material.display())),
        quote(&format!("fileb://{}", c.import_token.display())),
    );
    match c.valid_to {
        None => import.push_str(" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"),
        Some(t) => import.push_str(&format!(
            " --expiration-model KEY_MATERIAL_EXPIRES --valid-to {t}"
        )),
    }
    let mut out = Vec::new();
    match &c.kind {
        ImportKind::First => out.push(import),
        ImportKind::Reimport { key_material_id } => {
            import.push_str(&format!(
                " --import-type EXISTING_KEY_MATERIAL --key-material-id {}",
                quote(key_material_id)
            ));
            out.push(import);
        }
        ImportKind::Rotation => {
            import.push_str(" --import-type NEW_KEY_MATERIAL");
            out.push(import);
            out.push(format!(
                "aws kms rotate-key-on-demand --region {} --key-id {}",
                quote(c.region),
                quote(c.key_arn)
            ));
        }
    }
    out
}

/// The shell variable the multi-Region commands keep the primary's new KeyMaterialId in.
pub const KEY_MATERIAL_ID_VAR: &str = "KEY_MATERIAL_ID";

/// [`import_commands`] for a multi-Region primary and its replicas (`replicas`: each replica's
/// import, its `kind` ignored): the primary's import keeps the KeyMaterialId KMS answers in
/// `$KEY_MATERIAL_ID`, each replica is given the same material as EXISTING_KEY_MATERIAL under
/// that id, and only then, for a rotation, does the primary rotate.
pub fn multi_region_import_commands(
    primary: &CliImport<'_>,
    replicas: &[CliImport<'_>],
) -> Vec<String> {
    let mut cmds = import_commands(primary);
    let rotate = (cmds.len() > 1).then(|| cmds.remove(1));
    if let Some(first) = cmds.first_mut() {
        *first = format!("{KEY_MATERIAL_ID_VAR}=$({first} --query KeyMaterialId --output text)");
    }
    for r in replicas {
        let mut import = import_commands(&CliImport {
            kind: ImportKind::First,
            ..*r
        })
        .remove(0);
        import.push_str(&format!(
            " --import-type EXISTING_KEY_MATERIAL --key-material-id \"${KEY_MATERIAL_ID_VAR}\""
        ));
        cmds.push(import);
    }
    cmds.extend(rotate);
    cmds
}

/// POSIX shell quoting: bare when every character is safe, else single-quoted.
fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/:._-=+@,%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_import_and_rotation_commands() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/k1";
        let c = CliImport {
            key_arn: arn,
            region: "eu-west-1",
            encrypted_key_material: Path::new("/b/prod-s3/EncryptedKeyMaterial.bin"),
            import_token: Path::new("/b/prod s3/ImportToken.bin"),
            valid_to: None,
            kind: ImportKind::First,
        };
        assert_eq!(
            import_commands(&c),
            [format!(
                "aws kms import-key-material --region eu-west-1 --key-id {arn} --encrypted-key-material fileb:///b/prod-s3/EncryptedKeyMaterial.bin --import-token 'fileb:///b/prod s3/ImportToken.bin' --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"
            )]
        );
        let rotation = CliImport {
            valid_to: Some("2027-06-30T00:00:00Z".parse().unwrap()),
            kind: ImportKind::Rotation,
            ..c
        };
        let cmds = import_commands(&rotation);
        assert_eq!(cmds.len(), 2);
        assert!(cmds[0].ends_with(
            "--expiration-model KEY_MATERIAL_EXPIRES --valid-to 2027-06-30T00:00:00Z --import-type NEW_KEY_MATERIAL"
        ), "{}", cmds[0]);
        assert_eq!(
            cmds[1],
            format!("aws kms rotate-key-on-demand --region eu-west-1 --key-id {arn}")
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        let reimport = CliImport {
            key_arn: arn,
            region: "eu-west-1",
            encrypted_key_material: Path::new("/b/k/EncryptedKeyMaterial.bin"),
            import_token: Path::new("/b/k/ImportToken.bin"),
            valid_to: None,
            kind: ImportKind::Reimport {
                key_material_id: "ab12".into(),
            },
        };
        // A multi-Region rotation: the primary's new id kept, the replica given it, then the
        // primary rotates.
        let replica = CliImport {
            key_arn: "arn:aws:kms:us-west-2:111122223333:key/k1",
            region: "us-west-2",
            encrypted_key_material: Path::new("/b/prod-s3/us-west-2/EncryptedKeyMaterial.bin"),
            import_token: Path::new("/b/prod-s3/us-west-2/ImportToken.bin"),
            valid_to: None,
            kind: ImportKind::Rotation,
        };
        let cmds = multi_region_import_commands(&rotation, &[replica]);
        assert_eq!(cmds.len(), 3, "{cmds:#?}");
        assert!(
            cmds[0].starts_with("KEY_MATERIAL_ID=$(aws kms import-key-material --region eu-west-1"),
            "{}",
            cmds[0]
        );
        assert!(
            cmds[0]
                .ends_with("--import-type NEW_KEY_MATERIAL --query KeyMaterialId --output text)"),
            "{}",
            cmds[0]
        );
        assert!(cmds[1].starts_with("aws kms import-key-material --region us-west-2 --key-id arn:aws:kms:us-west-2:111122223333:key/k1"), "{}", cmds[1]);
        assert!(
            cmds[1].ends_with(
                "--import-type EXISTING_KEY_MATERIAL --key-material-id \"$KEY_MATERIAL_ID\""
            ),
            "{}",
            cmds[1]
        );
        assert!(!cmds[1].contains("NEW_KEY_MATERIAL"));
        assert_eq!(
            cmds[2],
            format!("aws kms rotate-key-on-demand --region eu-west-1 --key-id {arn}")
        );
        let cmds = import_commands(&reimport);
        assert_eq!(cmds.len(), 1);
        assert!(
            cmds[0].ends_with(
                "--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL --key-material-id ab12"
            ),
            "{}",
            cmds[0]
        );
    }
}
