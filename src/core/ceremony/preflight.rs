//! The checks that need neither the HSM nor a person, made before anyone types a secret: the
//! script against the bundle (keys, where each resolves to, algorithm, wrapping key spec) and the
//! import parameters' remaining validity against the script's margin.

use jiff::{SignedDuration, Timestamp};

use crate::core::manifest::Manifest;
use crate::core::script::Script;

/// Why the bundle is not the one the script is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Algorithm(String),
    Keys(String),
    Destination(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Algorithm(s) | Mismatch::Keys(s) | Mismatch::Destination(s) => f.write_str(s),
        }
    }
}

/// The script against the bundle's manifest: the same keys, each resolved to the ARN or the
/// account and region the script names, and the script's algorithm and wrapping key spec.
pub fn script_against_bundle(script: &Script, manifest: &Manifest) -> Result<(), Mismatch> {
    let want: std::collections::BTreeSet<String> = script
        .key_refs()
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let have: std::collections::BTreeSet<String> =
        manifest.keys.iter().map(|k| k.requested.clone()).collect();
    if want != have {
        return Err(Mismatch::Keys(format!(
            "the script names keys {:?}, the bundle holds {:?}",
            want.iter().collect::<Vec<_>>(),
            have.iter().collect::<Vec<_>>()
        )));
    }
    for entry in &manifest.keys {
        let named = script
            .keys
            .iter()
            .zip(script.key_refs())
            .find(|(_, r)| r.as_str() == entry.requested);
        let Some((k, _)) = named else { continue };
        let why = match &entry.takes_over {
            None => k.mismatch(&entry.key_arn, &entry.account, &entry.region),
            // Rotation by a new key: the new key's ARN is not known when the script is written.
            // The alias it takes over must be the script's alias for the key (the script pins
            // the alias move as it pins the key). A pinned ARN must be the key the alias is taken
            // from, and the new key must live in that ARN's account and region.
            Some(t) if t.alias != k.key => Some(if k.key.starts_with("alias/") {
                format!(
                    "the bundle's new key {} takes over {}, but the script names {} for this key; the alias a new key takes over must be the script's",
                    entry.key_arn, t.alias, k.key
                )
            } else {
                format!(
                    "the bundle's new key {} takes over {}, but the script names the key by {} and no alias: name it by the alias it takes over",
                    entry.key_arn, t.alias, k.key
                )
            }),
            Some(t) => k
                .mismatch(&t.previous_key_arn, &entry.account, &entry.region)
                .or_else(|| {
                    let pinned = k.arn.as_deref()?;
                    let mut parts = pinned.split(':').skip(3);
                    let (region, account) = (parts.next()?, parts.next()?);
                    (region != entry.region || account != entry.account).then(|| {
                        format!(
                            "the script pins {pinned}, but the bundle's new key {} is in account {} region {}",
                            entry.key_arn, entry.account, entry.region
                        )
                    })
                }),
        };
        if let Some(why) = why {
            return Err(Mismatch::Destination(format!("{}: {why}", k.key)));
        }
        // Every Region the material is wrapped for is one the script names.
        let mut bundle_regions: Vec<&str> =
            entry.replicas.iter().map(|r| r.region.as_str()).collect();
        let mut script_regions: Vec<&str> = k.replicas.iter().map(String::as_str).collect();
        bundle_regions.sort_unstable();
        script_regions.sort_unstable();
        if bundle_regions != script_regions {
            let list = |v: &[&str]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            return Err(Mismatch::Destination(format!(
                "{}: the bundle wraps the key's material for replicas in {}, the script names {} (`replicas` under the key); the material goes only to Regions the script names",
                k.key,
                list(&bundle_regions),
                list(&script_regions)
            )));
        }
    }
    let w = &script.wrapping;
    if w.algorithm != manifest.wrapping_algorithm || w.key_spec != manifest.wrapping_key_spec {
        return Err(Mismatch::Algorithm(format!(
            "the script asks for {} with {}, the bundle was prepared for {} with {}",
            w.algorithm, w.key_spec, manifest.wrapping_algorithm, manifest.wrapping_key_spec
        )));
    }
    Ok(())
}

/// When the bundle's first import parameters expire.
pub fn parameters_expire(manifest: &Manifest) -> Option<Timestamp> {
    manifest.keys.iter().map(|k| k.parameters_valid_to).min()
}

/// The import parameters expire sooner than the script's margin allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the import parameters of {key} {when} (valid to {valid_to}); the script asks for at least {margin_minutes} minute(s)"
)]
pub struct TooCloseToExpiry {
    pub key: String,
    /// "expired N minute(s) ago" or "expire in N minute(s)".
    pub when: String,
    pub valid_to: Timestamp,
    pub margin_minutes: i64,
}

/// The parameters must stay valid for at least `margin` after `now`. Ok: how long remains.
pub fn expiry(
    manifest: &Manifest,
    now: Timestamp,
    margin: SignedDuration,
) -> Result<SignedDuration, TooCloseToExpiry> {
    let Some(valid_to) = parameters_expire(manifest) else {
        return Ok(SignedDuration::MAX);
    };
    let left = valid_to.duration_since(now);
    if left < margin {
        let key = manifest
            .keys
            .iter()
            .find(|k| k.parameters_valid_to == valid_to)
            .map_or("?", |k| k.name.as_str());
        let when = if left.is_negative() {
            format!("expired {} minute(s) ago", (-left).as_secs() / 60)
        } else {
            format!("expire in {} minute(s)", left.as_secs() / 60)
        };
        return Err(TooCloseToExpiry {
            key: key.to_string(),
            when,
            valid_to,
            margin_minutes: margin.as_secs() / 60,
        });
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
    use crate::core::manifest::{FORMAT, KeyEntry, TakeOver};

    const OLD: &str = "arn:aws:kms:eu-west-1:111122223333:key/old";
    const NEW: &str = "arn:aws:kms:eu-west-1:111122223333:key/new";

    fn bundle(takes_over: bool) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            created: Timestamp::UNIX_EPOCH,
            tool_version: "0".into(),
            wrapping_key_spec: WrappingKeySpec::Rsa4096,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            keys: vec![KeyEntry {
                name: "prod-s3".into(),
                requested: "alias/prod-s3".into(),
                alias: Some("alias/prod-s3".into()),
                key_id: "new".into(),
                key_arn: NEW.into(),
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                key_state: "PendingImport".into(),
                current_key_material_id: None,
                parameters_valid_to: Timestamp::UNIX_EPOCH,
                generated: None,
                replicas: Vec::new(),
                takes_over: takes_over.then(|| TakeOver {
                    alias: "alias/prod-s3".into(),
                    previous_key_arn: OLD.into(),
                }),
            }],
            files: Default::default(),
            ceremony: None,
        }
    }

    fn script(pin: &str) -> Script {
        Script::parse(
            "s.toml",
            &format!(
                "[ceremony]\nname = \"n\"\n[wrapping]\nalgorithm = \"RSAES_OAEP_SHA_256\"\nkey_spec = \"RSA_4096\"\n[[key]]\nkey = \"alias/prod-s3\"\n{pin}\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn a_new_key_bundle_is_checked_by_the_key_it_replaces_and_its_account_and_region() {
        let by_account = "account = \"111122223333\"\nregion = \"eu-west-1\"";
        let cases = [
            // (script pin, new-key bundle, passes)
            (format!("arn = \"{OLD}\""), true, true),
            (format!("arn = \"{NEW}\""), true, false),
            (
                "arn = \"arn:aws:kms:eu-west-1:111122223333:key/other\"".to_string(),
                true,
                false,
            ),
            (by_account.to_string(), true, true),
            (
                "account = \"444455556666\"\nregion = \"eu-west-1\"".to_string(),
                true,
                false,
            ),
            (
                "account = \"111122223333\"\nregion = \"us-east-1\"".into(),
                true,
                false,
            ),
            (format!("arn = \"{NEW}\""), false, true),
            (format!("arn = \"{OLD}\""), false, false),
        ];
        for (pin, new_key, passes) in cases {
            let r = script_against_bundle(&script(&pin), &bundle(new_key));
            assert_eq!(r.is_ok(), passes, "{pin} new_key={new_key}: {r:?}");
        }
        // A pinned ARN of the replaced key in another region than the new key's.
        let mut moved = bundle(true);
        moved.keys[0].takes_over.as_mut().unwrap().previous_key_arn =
            "arn:aws:kms:us-east-1:111122223333:key/old".into();
        let r = script_against_bundle(
            &script("arn = \"arn:aws:kms:us-east-1:111122223333:key/old\""),
            &moved,
        );
        assert!(r.unwrap_err().to_string().contains("region eu-west-1"));
    }

    #[test]
    fn the_alias_a_new_key_takes_over_must_be_the_scripts_alias_for_it() {
        let pin = format!("arn = \"{OLD}\"");
        let mut other = bundle(true);
        other.keys[0].takes_over.as_mut().unwrap().alias = "alias/dev-s3".into();
        let r = script_against_bundle(&script(&pin), &other);
        let why = r.unwrap_err().to_string();
        assert!(why.contains("takes over alias/dev-s3"), "{why}");
        assert!(why.contains("the script names alias/prod-s3"), "{why}");
        assert!(script_against_bundle(&script(&pin), &bundle(true)).is_ok());
    }
}
