//! The local KMS used by rehearsals and tests: LocalStack's KMS on 127.0.0.1, started through
//! `scripts/localkms` (embedded here, so `keyrite rehearse` works from any directory), and the
//! proof that KMS holds exactly the HSM's material.

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kms::primitives::Blob;

use crate::app::error::{Error, Result};
use crate::hsm::HsmError;
use crate::hsm::token::UserSession;
use crate::kms::{Client, KmsError};

/// scripts/localkms with the cache's locked install (scripts/lib/cache.sh) it sources, prepended.
const SCRIPT: &str = concat!(
    include_str!("../../scripts/lib/cache.sh"),
    include_str!("../../scripts/localkms")
);

/// A running LocalStack KMS; stopped when dropped.
pub struct LocalKms {
    dir: PathBuf,
    pub endpoint: String,
}

impl LocalKms {
    /// Installs LocalStack into the cache if needed, then starts it with its state in `dir`.
    pub fn start(dir: &Path) -> Result<LocalKms> {
        let out = Command::new("bash")
            .arg("-c")
            .arg(SCRIPT)
            .arg("localkms")
            .arg("start")
            .arg(dir)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::NoBash {
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(Error::LocalKmsDown {
                dir: dir.to_path_buf(),
            });
        }
        let endpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(LocalKms {
            dir: dir.to_path_buf(),
            endpoint,
        })
    }
}

impl Drop for LocalKms {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg("-c")
            .arg(SCRIPT)
            .arg("localkms")
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// Proves that KMS holds exactly the key `key` in the HSM: KMS encrypts `plaintext` under
/// `key_arn` with an encryption context, and the HSM decrypts that ciphertext with AES-GCM.
///
/// This relies on LocalStack's ciphertext layout (36-byte key id | 16-byte IV | 16-byte tag |
/// AES-256-GCM ciphertext of the PKCS#7-padded plaintext; AAD = context keys and values, sorted,
/// concatenated). Real AWS KMS ciphertexts are opaque: this proof is for rehearsals and tests only.
pub async fn prove_material(
    client: &Client,
    key_arn: &str,
    session: &UserSession,
    key: cryptoki::object::ObjectHandle,
    plaintext: &[u8],
) -> Result<()> {
    let context = [("purpose", "keyrite-proof"), ("key", key_arn)];
    let mut req = client
        .encrypt()
        .key_id(key_arn)
        .plaintext(Blob::new(plaintext));
    for (k, v) in context {
        req = req.encryption_context(k, v);
    }
    let ct = req
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(key_arn, "Encrypt", e))?
        .ciphertext_blob()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let recovered = decrypt_localstack_ciphertext(session, key, &ct, &context)?;
    if recovered != plaintext {
        return Err(Error::MaterialNotHeld {
            key_arn: key_arn.to_string(),
        });
    }
    Ok(())
}

/// Proves two related multi-Region keys hold the same material: what KMS encrypts under
/// `from_arn` through `from` (one Region), KMS decrypts under the replica through `to` (the other
/// Region) to the same bytes.
pub async fn prove_across_regions(
    from: &Client,
    from_arn: &str,
    to: &Client,
    to_arn: &str,
    plaintext: &[u8],
) -> Result<()> {
    let ct = from
        .encrypt()
        .key_id(from_arn)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(from_arn, "Encrypt", e))?
        .ciphertext_blob()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let back = to
        .decrypt()
        .key_id(to_arn)
        .ciphertext_blob(Blob::new(ct))
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(to_arn, "Decrypt", e))?;
    if back.plaintext().map(|p| p.as_ref()) != Some(plaintext) {
        return Err(Error::MaterialNotHeld {
            key_arn: to_arn.to_string(),
        });
    }
    Ok(())
}

/// Decrypts a LocalStack KMS ciphertext inside the HSM (see [`prove_material`]).
pub fn decrypt_localstack_ciphertext(
    session: &UserSession,
    key: cryptoki::object::ObjectHandle,
    ciphertext: &[u8],
    context: &[(&str, &str)],
) -> Result<Vec<u8>> {
    const KEY_ID: usize = 36;
    if ciphertext.len() < KEY_ID + 32 + 16 {
        return Err(Error::CiphertextTooShort {
            len: ciphertext.len(),
        });
    }
    let iv = &ciphertext[KEY_ID..KEY_ID + 16];
    let tag = &ciphertext[KEY_ID + 16..KEY_ID + 32];
    let body = &ciphertext[KEY_ID + 32..];
    let mut sorted: Vec<_> = context.to_vec();
    sorted.sort();
    let aad: String = sorted.iter().map(|(k, v)| format!("{k}{v}")).collect();
    let mut input = body.to_vec();
    input.extend_from_slice(tag);
    let padded = session.decrypt_aes_gcm(key, iv, aad.as_bytes(), &input)?;
    let pad = padded.last().copied().unwrap_or(0) as usize;
    if pad == 0
        || pad > 16
        || pad > padded.len()
        || !padded[padded.len() - pad..]
            .iter()
            .all(|&b| b as usize == pad)
    {
        return Err(HsmError::Verification {
            step: "prove the material",
            message: "the decrypted block has no valid PKCS#7 padding".into(),
            hint: "KMS does not hold the HSM's material".into(),
        }
        .into());
    }
    Ok(padded[..padded.len() - pad].to_vec())
}
