//! Multi-Region keys are refused, by prepare and by import, until keyrite imports into every Region.
//!
//! KMS never copies imported material between related multi-Region keys: the same material must
//! be imported into the primary and into every replica, each wrapped for its own Region's wrapping
//! key, and a rotation imports into the replicas before the primary rotates. A bundle holds one
//! wrapping key per key, in one Region, so importing it would leave the other Regions behind (on
//! AWS, RotateKeyOnDemand on the primary then fails with the new material in one Region only).

use aws_sdk_kms::types::{KeyMetadata, MultiRegionKeyType};

use super::KmsError;
use crate::core::names::check_region;

/// Refuses a multi-Region key (primary or replica), naming its Regions; a single-Region key
/// passes. What KMS answers is shown only where it follows AWS's Region grammar.
pub fn refuse_multi_region(name: &str, meta: &KeyMetadata) -> Result<(), KmsError> {
    if meta.multi_region() != Some(true) {
        return Ok(());
    }
    let config = meta.multi_region_configuration();
    let role = match config.and_then(|c| c.multi_region_key_type()) {
        Some(MultiRegionKeyType::Primary) => "primary",
        Some(MultiRegionKeyType::Replica) => "replica",
        _ => "related",
    };
    let region = |r: Option<&str>| match r {
        Some(r) if check_region(r).is_ok() => r.to_string(),
        Some(_) => "(a Region name KMS should not answer)".to_string(),
        None => "(not named)".to_string(),
    };
    let primary = region(
        config
            .and_then(|c| c.primary_key())
            .and_then(|k| k.region()),
    );
    let replicas: Vec<String> = config
        .map(|c| c.replica_keys())
        .unwrap_or_default()
        .iter()
        .map(|k| region(k.region()))
        .collect();
    Err(KmsError::MultiRegion {
        key: name.to_string(),
        role,
        primary,
        replicas: if replicas.is_empty() {
            "none yet".to_string()
        } else {
            replicas.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::types::{MultiRegionConfiguration, MultiRegionKey};

    fn key(region: &str) -> MultiRegionKey {
        MultiRegionKey::builder()
            .arn(format!("arn:aws:kms:{region}:111122223333:key/mrk-1"))
            .region(region)
            .build()
    }

    fn meta(multi: Option<bool>, config: Option<MultiRegionConfiguration>) -> KeyMetadata {
        KeyMetadata::builder()
            .key_id("mrk-1")
            .set_multi_region(multi)
            .set_multi_region_configuration(config)
            .build()
            .unwrap()
    }

    #[test]
    fn single_region_keys_pass_and_every_multi_region_key_is_refused_with_its_regions() {
        assert!(refuse_multi_region("alias/a", &meta(None, None)).is_ok());
        assert!(refuse_multi_region("alias/a", &meta(Some(false), None)).is_ok());

        let primary = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Primary)
            .primary_key(key("us-east-1"))
            .replica_keys(key("eu-west-1"))
            .replica_keys(key("ap-south-1"))
            .build();
        let err = refuse_multi_region("alias/a", &meta(Some(true), Some(primary)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "multi-Region primary key (primary in us-east-1; replicas in eu-west-1, ap-south-1)"
            ),
            "{err}"
        );
        assert!(err.contains("what to do:"), "{err}");

        let replica = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Replica)
            .primary_key(key("us-east-1"))
            .build();
        let err = refuse_multi_region("alias/b", &meta(Some(true), Some(replica)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("multi-Region replica key (primary in us-east-1; replicas in none yet)"),
            "{err}"
        );

        let hostile = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Primary)
            .primary_key(key("us-east-1\u{1b}[2J"))
            .build();
        let err = refuse_multi_region("alias/c", &meta(Some(true), Some(hostile)))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert_eq!(
            crate::core::exit::Explained::exit_code(&KmsError::MultiRegion {
                key: String::new(),
                role: "primary",
                primary: String::new(),
                replicas: String::new()
            }),
            crate::core::exit::ExitCode::Refused
        );
    }
}
