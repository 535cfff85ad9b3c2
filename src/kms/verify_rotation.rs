//! `keyrite kms verify-rotation`: after an import, proof the rotation took, per key of the
//! bundle: KMS reports the material the import receipt recorded as current, the key is Enabled, an
//! Encrypt through the alias and a Decrypt of the result succeed under this key, and ciphertexts
//! made before the rotation still decrypt.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyState;
use serde::Serialize;

use super::{Client, KmsError};
type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::digest::sha256_hex;
use crate::core::manifest::{self, KeyEntry};
use crate::io::bundle::VerifiedBundle;
use crate::io::fs as fsio;

/// The encryption context of keyrite's own probe, so the CloudTrail events say what it was.
pub const CONTEXT: (&str, &str) = ("keyrite", "verify-rotation");

/// The encryption context of the ciphertext `kms import` saves before a rotation.
pub const PRE_ROTATION_CONTEXT: (&str, &str) = ("keyrite", "pre-rotation");

/// The key a ciphertext made before the rotation is under: the key itself, or for a rotation by
/// a new key the key the alias named before.
pub fn pre_rotation_key(key: &KeyEntry) -> &str {
    key.takes_over
        .as_ref()
        .map_or(key.key_arn.as_str(), |t| t.previous_key_arn.as_str())
}

/// What the ciphertext saved before the rotation holds: not secret, and known to whoever checks
/// it, so a decryption that gives anything else fails.
pub fn pre_rotation_plaintext(bundle_fingerprint: &str, key: &KeyEntry) -> Vec<u8> {
    format!(
        "keyrite pre-rotation probe of {} in bundle {bundle_fingerprint}",
        key.name
    )
    .into_bytes()
}

/// Where the ciphertext saved before the rotation is kept.
pub fn pre_rotation_path(bundle: &VerifiedBundle, key: &KeyEntry) -> std::path::PathBuf {
    bundle
        .dir()
        .join(&key.name)
        .join(manifest::PRE_ROTATION_CIPHERTEXT)
}

/// Before a rotation: when the key whose data the rotation must keep readable
/// ([`pre_rotation_key`]) is Enabled (it has material), encrypts a known probe under it with
/// [`PRE_ROTATION_CONTEXT`] and saves the ciphertext in the key's directory (created new and
/// fsynced; one left by a run stopped before it sent anything is replaced).
/// `key_enabled`: what DescribeKey said of the entry's own key just before.
pub async fn save_pre_rotation(
    client: &Client,
    bundle: &VerifiedBundle,
    key: &KeyEntry,
    key_enabled: bool,
) -> Result<()> {
    let under = pre_rotation_key(key);
    let enabled = if key.takes_over.is_some() {
        super::materials::key_metadata(client, &key.name, under)
            .await?
            .and_then(|m| m.key_state)
            == Some(KeyState::Enabled)
    } else {
        key_enabled
    };
    if !enabled {
        return Ok(());
    }
    let out = client
        .encrypt()
        .key_id(under)
        .plaintext(Blob::new(pre_rotation_plaintext(bundle.fingerprint(), key)))
        .encryption_context(PRE_ROTATION_CONTEXT.0, PRE_ROTATION_CONTEXT.1)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "Encrypt", e))?;
    let blob = out.ciphertext_blob.ok_or_else(|| KmsError::Check {
        key: key.name.clone(),
        operation: "Encrypt",
        message: "the response has no CiphertextBlob".into(),
        hint: "the KMS endpoint misbehaves; try again".into(),
    })?;
    let path = pre_rotation_path(bundle, key);
    if fsio::exists_nofollow(&path) {
        fsio::refuse_symlink(&path)?;
        fsio::replace(&path, blob.as_ref())?;
    } else {
        fsio::write_new(&path, blob.as_ref())?;
    }
    Ok(())
}

/// SHA-256 of the saved pre-rotation ciphertext, if there is one.
pub fn pre_rotation_sha256(bundle: &VerifiedBundle, key: &KeyEntry) -> Result<Option<String>> {
    let path = pre_rotation_path(bundle, key);
    if !fsio::exists_nofollow(&path) {
        return Ok(None);
    }
    Ok(Some(sha256_hex(&fsio::read_nofollow(&path)?)))
}

/// Why a ciphertext made before the rotation must exist for `key`, if it must: the receipt's latest
/// import record (`receipt_kind`) calls it a rotation, or the signed manifest says the key had
/// material (Enabled) when the bundle was prepared and the import was neither a rotation by a new
/// key nor a re-import. The import saves that ciphertext for every Enabled key before it sends
/// anything, and RotateKeyOnDemand needs an Enabled key; the manifest is signed, the receipt is
/// only chained, so removing the file and its hash from the receipt does not pass.
pub fn pre_rotation_expected(key: &KeyEntry, receipt_kind: Option<&str>) -> Option<String> {
    let reimport = key
        .generated
        .as_ref()
        .is_some_and(|g| g.reimport_of_key_material_id.is_some());
    if receipt_kind == Some("rotation") {
        Some("the import receipt records a rotation of existing material".into())
    } else if key.key_state == "Enabled" && key.takes_over.is_none() && !reimport {
        Some(
            "the signed manifest says the key had material (Enabled) when the bundle was prepared"
                .into(),
        )
    } else {
        None
    }
}

/// After the rotation: the saved pre-rotation ciphertext is the one the import receipt recorded
/// (`recorded`), and it still decrypts, under the key it was made with, to the known probe.
/// Nothing recorded and no file: nothing to check for a first import; for a rotation of existing
/// material (`expected` says why one must exist), a failure naming the missing file.
pub async fn check_pre_rotation(
    client: &Client,
    bundle: &VerifiedBundle,
    key: &KeyEntry,
    recorded: Option<&str>,
    expected: Option<&str>,
    checks: &mut Vec<String>,
) -> Result<()> {
    let path = pre_rotation_path(bundle, key);
    let bytes = if fsio::exists_nofollow(&path) {
        Some(fsio::read_nofollow(&path)?)
    } else {
        None
    };
    let bytes = match (bytes, recorded) {
        (None, None) => {
            if let Some(why) = expected {
                failed(
                    checks,
                    format!(
                        "{why}, but the ciphertext made before the rotation is missing: {} is gone and the receipt records no hash of it, so nothing shows that data encrypted before the rotation still decrypts",
                        path.display()
                    ),
                );
            }
            return Ok(());
        }
        (None, Some(_)) => {
            failed(
                checks,
                format!(
                    "the import recorded a ciphertext made before the rotation, but {} is gone",
                    path.display()
                ),
            );
            return Ok(());
        }
        (Some(b), None) => {
            failed(
                checks,
                format!(
                    "{} is not one the import recorded in the receipt",
                    path.display()
                ),
            );
            b
        }
        (Some(b), Some(sha)) if sha256_hex(&b) != sha => {
            failed(
                checks,
                format!(
                    "{} hashes to {}, the import recorded {sha}: it was altered",
                    path.display(),
                    sha256_hex(&b)
                ),
            );
            b
        }
        (Some(b), Some(_)) => b,
    };
    let under = pre_rotation_key(key);
    let decrypted = client
        .decrypt()
        .key_id(under)
        .ciphertext_blob(Blob::new(bytes))
        .encryption_context(PRE_ROTATION_CONTEXT.0, PRE_ROTATION_CONTEXT.1)
        .send()
        .await;
    match decrypted {
        Ok(d)
            if d.key_id() == Some(under)
                && d.plaintext().map(|p| p.as_ref())
                    == Some(&pre_rotation_plaintext(bundle.fingerprint(), key)[..]) =>
        {
            ok(
                checks,
                format!("the ciphertext made before the rotation still decrypts under {under}"),
            )
        }
        Ok(d) => failed(
            checks,
            format!(
                "the ciphertext made before the rotation decrypted under {} to other bytes than the probe",
                d.key_id().unwrap_or("?")
            ),
        ),
        Err(e) => failed(
            checks,
            format!(
                "the ciphertext made before the rotation no longer decrypts: {}",
                KmsError::from_sdk(&key.name, "Decrypt", e)
            ),
        ),
    }
    Ok(())
}

/// Rotation by a new key: the key the alias named before is still Enabled, so what was
/// encrypted under it still decrypts.
pub async fn check_previous_key(
    client: &Client,
    key: &KeyEntry,
    checks: &mut Vec<String>,
) -> Result<()> {
    let Some(take) = &key.takes_over else {
        return Ok(());
    };
    let state = super::materials::key_metadata(client, &key.name, &take.previous_key_arn)
        .await?
        .and_then(|m| m.key_state);
    match state {
        Some(KeyState::Enabled) => ok(
            checks,
            format!(
                "the previous key of {}, {}, is Enabled and decrypts older data",
                take.alias, take.previous_key_arn
            ),
        ),
        other => failed(
            checks,
            format!(
                "the previous key of {}, {}, is {}: data encrypted under it does not decrypt",
                take.alias,
                take.previous_key_arn,
                other.as_ref().map_or("unknown", |s| s.as_str())
            ),
        ),
    }
    Ok(())
}

/// What was found for one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyVerification {
    pub name: String,
    pub key_arn: String,
    /// The current key material id KMS reports.
    pub key_material_id: Option<String>,
    /// What the receipt says was imported.
    pub expected_key_material_id: Option<String>,
    pub passed: bool,
    /// Each check, "ok: …" or "FAILED: …".
    pub checks: Vec<String>,
}

fn ok(checks: &mut Vec<String>, what: impl Into<String>) {
    checks.push(format!("ok: {}", what.into()));
}

fn failed(checks: &mut Vec<String>, what: impl Into<String>) {
    checks.push(format!("FAILED: {}", what.into()));
}

/// Checks one key against the material the receipt recorded for it (`expected`).
pub async fn verify_key(
    client: &Client,
    key: &KeyEntry,
    expected: Option<&str>,
) -> Result<KeyVerification> {
    let mut checks = Vec::new();
    let meta = super::materials::key_metadata(client, &key.name, &key.key_arn)
        .await?
        .ok_or_else(|| KmsError::Check {
            key: key.name.clone(),
            operation: "DescribeKey",
            message: "KMS returned no key metadata".into(),
            hint:
                "run the command again; if it persists, check the key with `aws kms describe-key`"
                    .into(),
        })?;
    let current = meta.current_key_material_id().map(str::to_string);
    match (expected, current.as_deref()) {
        (None, _) => failed(
            &mut checks,
            "the import receipt records no key material id for this key: import the bundle first",
        ),
        (Some(e), Some(c)) if e == c => ok(
            &mut checks,
            format!("current key material is {c}, the one imported"),
        ),
        (Some(e), c) => failed(
            &mut checks,
            format!(
                "current key material is {}, the import recorded {e}",
                c.unwrap_or("none")
            ),
        ),
    }
    match meta.key_state() {
        Some(KeyState::Enabled) => ok(&mut checks, "key is Enabled"),
        other => failed(
            &mut checks,
            format!("key state is {}", other.map_or("unknown", |s| s.as_str())),
        ),
    }
    // Encrypt through the alias (what applications use), then decrypt.
    let through = key.alias.clone().unwrap_or_else(|| key.key_arn.clone());
    let mut probe = [0u8; 32];
    getrandom::fill(&mut probe).map_err(|e| KmsError::Runtime(format!("random probe: {e}")))?;
    let encrypted = client
        .encrypt()
        .key_id(&through)
        .plaintext(Blob::new(probe.to_vec()))
        .encryption_context(CONTEXT.0, CONTEXT.1)
        .send()
        .await;
    let mut made = None;
    match encrypted {
        Ok(out) if out.key_id() == Some(key.key_arn.as_str()) => {
            ok(&mut checks, format!("Encrypt through {through}"));
            let blob = out.ciphertext_blob.unwrap_or_else(|| Blob::new(Vec::new()));
            made = Some(blob.clone());
            let decrypted = client
                .decrypt()
                .key_id(&key.key_arn)
                .ciphertext_blob(blob)
                .encryption_context(CONTEXT.0, CONTEXT.1)
                .send()
                .await;
            match decrypted {
                Ok(d) if d.plaintext().map(|p| p.as_ref()) == Some(&probe[..]) => {
                    ok(&mut checks, "Decrypt gives the probe back")
                }
                Ok(_) => failed(&mut checks, "Decrypt gave other bytes than were encrypted"),
                Err(e) => failed(
                    &mut checks,
                    format!("Decrypt: {}", KmsError::from_sdk(&key.name, "Decrypt", e)),
                ),
            }
        }
        Ok(out) => failed(
            &mut checks,
            format!(
                "Encrypt through {through} used key {}, not {}",
                out.key_id().unwrap_or("?"),
                key.key_arn
            ),
        ),
        Err(e) => failed(
            &mut checks,
            format!("Encrypt: {}", KmsError::from_sdk(&key.name, "Encrypt", e)),
        ),
    }
    for r in &key.replicas {
        verify_replica(client, key, r, expected, made.as_ref(), &probe, &mut checks).await?;
    }
    let passed = !checks.iter().any(|c| c.starts_with("FAILED"));
    Ok(KeyVerification {
        name: key.name.clone(),
        key_arn: key.key_arn.clone(),
        key_material_id: current,
        expected_key_material_id: expected.map(str::to_string),
        passed,
        checks,
    })
}

/// A multi-Region key's replica, in its own Region: Enabled, holding the material the primary was
/// given (a replica left behind is named), and the probe the primary's Region encrypted
/// (`ciphertext`) decrypts there.
async fn verify_replica(
    client: &Client,
    key: &KeyEntry,
    r: &crate::core::manifest::ReplicaEntry,
    expected: Option<&str>,
    ciphertext: Option<&Blob>,
    probe: &[u8],
    checks: &mut Vec<String>,
) -> Result<()> {
    let name = crate::core::manifest::Manifest::region_dir(key, Some(&r.region));
    let there = super::multi_region::client_in(client, &r.region);
    let meta = super::materials::key_metadata(&there, &name, &r.key_arn)
        .await?
        .ok_or_else(|| KmsError::Check {
            key: name.clone(),
            operation: "DescribeKey",
            message: "KMS returned no key metadata".into(),
            hint: "run the command again; if it persists, check the replica with `aws kms describe-key --region`".into(),
        })?;
    let current = meta.current_key_material_id();
    let state = meta.key_state().map_or("unknown", |s| s.as_str());
    match (expected, current) {
        (Some(e), Some(c)) if e == c && state == "Enabled" => ok(
            checks,
            format!(
                "replica in {}: Enabled, current key material {c}, the primary's",
                r.region
            ),
        ),
        _ => failed(
            checks,
            format!(
                "replica in {} left behind: {state}, current key material {}, the primary was given {}",
                r.region,
                current.unwrap_or("none"),
                expected.unwrap_or("none")
            ),
        ),
    }
    if let Some(ct) = ciphertext {
        let decrypted = there
            .decrypt()
            .key_id(&r.key_arn)
            .ciphertext_blob(ct.clone())
            .encryption_context(CONTEXT.0, CONTEXT.1)
            .send()
            .await;
        match decrypted {
            Ok(d) if d.plaintext().map(|p| p.as_ref()) == Some(probe) => ok(
                checks,
                format!("the primary Region's ciphertext decrypts in {}", r.region),
            ),
            Ok(_) => failed(
                checks,
                format!(
                    "Decrypt in {} gave other bytes than were encrypted",
                    r.region
                ),
            ),
            Err(e) => failed(
                checks,
                format!(
                    "the primary Region's ciphertext does not decrypt in {}: {}",
                    r.region,
                    KmsError::from_sdk(&name, "Decrypt", e)
                ),
            ),
        }
    }
    Ok(())
}

/// Decrypts a ciphertext made before the rotation; Ok(key ARN it decrypted under).
pub async fn decrypt_old(
    client: &Client,
    ciphertext: &[u8],
) -> std::result::Result<String, String> {
    match client
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext.to_vec()))
        .send()
        .await
    {
        Ok(d) => Ok(d.key_id().unwrap_or_default().to_string()),
        Err(e) => Err(KmsError::from_sdk("ciphertext", "Decrypt", e).to_string()),
    }
}
