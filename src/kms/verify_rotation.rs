//! `keyrite kms verify-rotation`: after an import, proof the rotation took, per key of the
//! bundle: KMS reports the material the import receipt recorded as current, the key is Enabled, an
//! Encrypt through the alias and a Decrypt of the result succeed under this key, and ciphertexts
//! made before the rotation still decrypt.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyState;
use serde::Serialize;

use super::{Client, KmsError};
type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::manifest::KeyEntry;

/// The encryption context of keyrite's own probe, so the CloudTrail events say what it was.
pub const CONTEXT: (&str, &str) = ("keyrite", "verify-rotation");

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
    let meta = client
        .describe_key()
        .key_id(&key.key_arn)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(&key.name, "DescribeKey", e))?
        .key_metadata
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
    match encrypted {
        Ok(out) if out.key_id() == Some(key.key_arn.as_str()) => {
            ok(&mut checks, format!("Encrypt through {through}"));
            let decrypted = client
                .decrypt()
                .key_id(&key.key_arn)
                .ciphertext_blob(out.ciphertext_blob.unwrap_or_else(|| Blob::new(Vec::new())))
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
    let passed = checks.iter().all(|c| c.starts_with("ok:"));
    Ok(KeyVerification {
        name: key.name.clone(),
        key_arn: key.key_arn.clone(),
        key_material_id: current,
        expected_key_material_id: expected.map(str::to_string),
        passed,
        checks,
    })
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
