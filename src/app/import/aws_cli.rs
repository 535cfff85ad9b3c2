//! The AWS CLI commands that do by hand what the import does, printed before it starts as the
//! fallback should keyrite not be available.

use crate::core::aws_cli;
use crate::core::manifest;
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::Expiration;

use super::key::reimport_of;

/// The AWS CLI commands that do by hand what the import does, with this bundle's files.
pub fn aws_cli_equivalent(
    bundle: &VerifiedBundle,
    expiration: Expiration,
) -> Vec<(String, Vec<String>)> {
    let dir = std::path::absolute(bundle.dir()).unwrap_or_else(|_| bundle.dir().to_path_buf());
    bundle
        .manifest()
        .keys
        .iter()
        .map(|key| {
            let material = dir.join(manifest::Manifest::file_path(
                key,
                manifest::ENCRYPTED_KEY_MATERIAL,
            ));
            let token = dir.join(manifest::Manifest::file_path(key, manifest::IMPORT_TOKEN));
            let valid_to = match expiration {
                Expiration::DoesNotExpire => None,
                Expiration::ExpiresAt(t) => Some(t),
            };
            let replica_files: Vec<_> = key
                .replicas
                .iter()
                .map(|r| {
                    let at = |file| {
                        dir.join(manifest::Manifest::region_file_path(
                            key,
                            Some(&r.region),
                            file,
                        ))
                    };
                    (
                        r,
                        at(manifest::ENCRYPTED_KEY_MATERIAL),
                        at(manifest::IMPORT_TOKEN),
                    )
                })
                .collect();
            let replicas: Vec<_> = replica_files
                .iter()
                .map(|(r, material, token)| aws_cli::CliImport {
                    key_arn: &r.key_arn,
                    region: &r.region,
                    encrypted_key_material: material,
                    import_token: token,
                    valid_to,
                    kind: aws_cli::ImportKind::First,
                })
                .collect();
            let primary = aws_cli::CliImport {
                key_arn: &key.key_arn,
                region: &key.region,
                encrypted_key_material: &material,
                import_token: &token,
                valid_to,
                kind: match reimport_of(key) {
                    Some(id) => aws_cli::ImportKind::Reimport {
                        key_material_id: id.to_string(),
                    },
                    None if key.key_state == "PendingImport" => aws_cli::ImportKind::First,
                    None => aws_cli::ImportKind::Rotation,
                },
            };
            let mut commands = if replicas.is_empty() {
                aws_cli::import_commands(&primary)
            } else {
                aws_cli::multi_region_import_commands(&primary, &replicas)
            };
            // Rotation by a new key: the alias moves once the import is checked.
            if let Some(t) = &key.takes_over {
                commands.push(format!(
                    "aws kms update-alias --region {} --alias-name {} --target-key-id {}",
                    key.region, t.alias, key.key_arn
                ));
            }
            (key.name.clone(), commands)
        })
        .collect()
}
