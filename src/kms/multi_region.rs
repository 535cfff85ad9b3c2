//! Multi-Region keys: KMS never copies imported material between related multi-Region keys, so
//! the same material must be imported into the primary and into every replica, each wrapped for
//! its own Region's wrapping key with its own Region's import token, and a rotation imports into
//! the replicas (EXISTING_KEY_MATERIAL) before the primary rotates. `kms prepare` takes a primary
//! with its replicas (and makes replicas with `--replicate-to`); a replica on its own is refused:
//! new material can only come through its primary.

use std::time::Duration;

use aws_sdk_kms::types::{KeyMetadata, KeyState, MultiRegionKeyType};

use super::{Client, KmsError};
use crate::core::names::check_region;

type Result<T, E = KmsError> = std::result::Result<T, E>;

/// The client of `client`'s account and endpoint, in `region`.
pub fn client_in(client: &Client, region: &str) -> Client {
    Client::from_conf(
        client
            .config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    )
}

/// A region KMS named, shown only where it follows AWS's Region grammar.
fn shown(r: Option<&str>) -> String {
    match r {
        Some(r) if check_region(r).is_ok() => r.to_string(),
        Some(_) => "(a Region name KMS should not answer)".to_string(),
        None => "(not named)".to_string(),
    }
}

/// The replicas of `meta`'s key, as (Region, ARN): none for a single-Region key, each replica of
/// a multi-Region primary. A replica itself is refused, naming its primary: its material comes
/// through the primary's bundle.
pub fn replicas_of(name: &str, meta: &KeyMetadata) -> Result<Vec<(String, String)>> {
    if meta.multi_region() != Some(true) {
        return Ok(Vec::new());
    }
    let config = meta.multi_region_configuration();
    let primary = config.and_then(|c| c.primary_key());
    let replicas = config.map(|c| c.replica_keys()).unwrap_or_default();
    match config.and_then(|c| c.multi_region_key_type()) {
        Some(MultiRegionKeyType::Primary) => {}
        kind => {
            return Err(KmsError::MultiRegion {
                key: name.to_string(),
                role: if kind == Some(&MultiRegionKeyType::Replica) {
                    "replica"
                } else {
                    "related"
                },
                primary: shown(primary.and_then(|k| k.region())),
                replicas: replicas
                    .iter()
                    .map(|k| shown(k.region()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut out = Vec::new();
    for r in replicas {
        let (Some(region), Some(arn)) = (r.region(), r.arn()) else {
            return Err(misbehaves(name, "a replica without its Region or ARN"));
        };
        check_region(region)
            .and_then(|()| crate::core::names::check_key_arn(arn))
            .map_err(|e| misbehaves(name, &format!("a replica with {e}")))?;
        out.push((region.to_string(), arn.to_string()));
    }
    Ok(out)
}

fn misbehaves(name: &str, what: &str) -> KmsError {
    KmsError::Refused {
        key: name.into(),
        message: format!("DescribeKey answered with {what}"),
        hint: "check the endpoint keyrite talks to (AWS_ENDPOINT_URL, --endpoint-url): real KMS never answers this".into(),
    }
}

/// How long a new replica may stay Creating before `--replicate-to` gives up on it.
pub const CREATING_PATIENCE: Duration = Duration::from_secs(120);

/// Makes a replica of the EXTERNAL multi-Region primary `key_arn` in each of `regions` it has
/// none in, and waits for each to leave Creating (an EXTERNAL primary's replica then waits in
/// PendingImport for the material the ceremony wraps for it).
pub async fn replicate(
    client: &Client,
    name: &str,
    meta: &KeyMetadata,
    regions: &[String],
) -> Result<()> {
    let existing = replicas_of(name, meta)?;
    if meta.multi_region() != Some(true) {
        return Err(KmsError::Refused {
            key: name.into(),
            message: "--replicate-to names Regions, but this is a single-Region key; only a multi-Region key has replicas".into(),
            hint: "leave out --replicate-to, or name a multi-Region primary key (created with --multi-region)".into(),
        });
    }
    let arn = meta.arn().unwrap_or_default();
    let own = arn.split(':').nth(3).unwrap_or_default();
    for region in regions {
        if region == own || existing.iter().any(|(r, _)| r == region) {
            continue;
        }
        client
            .replicate_key()
            .key_id(arn)
            .replica_region(region)
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(name, "ReplicateKey", e))?;
        let there = client_in(client, region);
        let replica_arn = arn.replacen(&format!(":{own}:"), &format!(":{region}:"), 1);
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            let state = there
                .describe_key()
                .key_id(&replica_arn)
                .send()
                .await
                .map_err(|e| KmsError::from_sdk(name, "DescribeKey", e))?
                .key_metadata()
                .and_then(|m| m.key_state().cloned());
            match state {
                Some(KeyState::Creating) if started.elapsed() < CREATING_PATIENCE => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Some(KeyState::PendingImport) | Some(KeyState::Enabled) => break,
                other => {
                    return Err(KmsError::WrongState {
                        key: format!("{name} (replica in {region})"),
                        state: other.map_or("unknown".to_string(), |s| s.as_str().to_string()),
                        hint: "look at the replica with `aws kms describe-key --region` and run prepare again once it is PendingImport".into(),
                    });
                }
            }
        }
    }
    Ok(())
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
    fn a_single_region_key_has_no_replicas_a_primary_lists_them_and_a_replica_is_refused() {
        assert!(
            replicas_of("alias/a", &meta(None, None))
                .unwrap()
                .is_empty()
        );
        assert!(
            replicas_of("alias/a", &meta(Some(false), None))
                .unwrap()
                .is_empty()
        );

        let primary = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Primary)
            .primary_key(key("us-east-1"))
            .replica_keys(key("eu-west-1"))
            .replica_keys(key("ap-south-1"))
            .build();
        assert_eq!(
            replicas_of("alias/a", &meta(Some(true), Some(primary))).unwrap(),
            [
                (
                    "eu-west-1".to_string(),
                    "arn:aws:kms:eu-west-1:111122223333:key/mrk-1".to_string()
                ),
                (
                    "ap-south-1".to_string(),
                    "arn:aws:kms:ap-south-1:111122223333:key/mrk-1".to_string()
                )
            ]
        );

        let replica = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Replica)
            .primary_key(key("us-east-1"))
            .build();
        let err = replicas_of("alias/b", &meta(Some(true), Some(replica)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("multi-Region replica key (primary in us-east-1"),
            "{err}"
        );
        assert!(err.contains("prepare its primary"), "{err}");

        let hostile = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Primary)
            .primary_key(key("us-east-1"))
            .replica_keys(key("us-east-1\u{1b}[2J"))
            .build();
        let err = replicas_of("alias/c", &meta(Some(true), Some(hostile)))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert_eq!(
            crate::core::exit::Explained::exit_code(&KmsError::MultiRegion {
                key: String::new(),
                role: "replica",
                primary: String::new(),
                replicas: String::new()
            }),
            crate::core::exit::ExitCode::Refused
        );
    }
}
