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
        if let Some((k, _)) = named
            && let Some(why) = k.mismatch(&entry.key_arn, &entry.account, &entry.region)
        {
            return Err(Mismatch::Destination(format!("{}: {why}", k.key)));
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
