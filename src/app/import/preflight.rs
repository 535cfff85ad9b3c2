//! What the import checks before it sends anything: the signed ceremony vouches for this very
//! bundle, every key was through the ceremony, the parameters are still valid, the expiration is
//! legal and the wrapped material has the size its wrapping key gives. No network.

use jiff::{SignedDuration, Timestamp};

use crate::app::error::{Error, Result};
use crate::core::import_rules;
use crate::core::manifest::{self, KeyEntry};
use crate::core::signed_ceremony::SignedCeremony;
use crate::core::wrapping_key::WrappingPublicKey;
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::Expiration;

/// How long the import parameters must still be valid when an import starts.
pub const VALIDITY_MARGIN: SignedDuration = SignedDuration::from_mins(5);

/// The signed ceremony vouches for this very bundle (the manifest as read and verified).
pub fn check_vouched(bundle: &VerifiedBundle, signed: &SignedCeremony) -> Result<()> {
    if signed.manifest_sha256() != bundle.fingerprint() {
        return Err(Error::NotVouched {
            dir: bundle.dir().to_path_buf(),
            signed: signed.manifest_sha256().to_string(),
            bundle: bundle.fingerprint().to_string(),
        });
    }
    Ok(())
}

/// Checks that need no network: every key was through the ceremony, the parameters are still valid,
/// the expiration is legal. Nothing is sent to KMS unless all keys pass.
pub fn preflight(bundle: &VerifiedBundle, expiration: Expiration, now: Timestamp) -> Result<()> {
    let m = bundle.manifest();
    if m.ceremony.is_none() {
        return Err(Error::NoCeremony {
            dir: bundle.dir().to_path_buf(),
        });
    }
    if let Expiration::ExpiresAt(t) = expiration
        && let Err(what) = import_rules::check_valid_to(t, now)
    {
        return Err(Error::ValidTo {
            detail: what.to_string(),
        });
    }
    for key in &m.keys {
        if key.generated.is_none() || bundle.file(key, manifest::ENCRYPTED_KEY_MATERIAL).is_none() {
            return Err(Error::NoWrappedMaterial {
                key: key.name.clone(),
            });
        }
        if key.parameters_valid_to < now + VALIDITY_MARGIN {
            return Err(Error::ParametersExpire {
                key: key.name.clone(),
                valid_to: key.parameters_valid_to,
                expired: key.parameters_valid_to < now,
            });
        }
        if let Err(message) =
            import_rules::check_key_arn(&key.key_arn, &key.region, &key.account, &key.key_id)
        {
            return Err(Error::KeyRefused {
                key: key.name.clone(),
                message: format!("{message}; its import token is bound to that key"),
                hint: "the manifest is inconsistent: prepare a new bundle for the key".into(),
            });
        }
        check_material_size(bundle, key)?;
    }
    Ok(())
}

/// EncryptedKeyMaterial.bin must be exactly as long as the algorithm gives with this bundle's
/// wrapping key: AWS rejects anything else, so a wrong size means a wrong wrap.
fn check_material_size(bundle: &VerifiedBundle, key: &KeyEntry) -> Result<()> {
    let m = bundle.manifest();
    let refused = |message: String| {
        Error::KeyRefused {
        key: key.name.clone(),
        message,
        hint: "the ceremony did not wrap with this bundle's wrapping key and algorithm; run it again with a freshly prepared bundle".into(),
    }
    };
    let der = bundle
        .file(key, manifest::WRAPPING_PUBLIC_KEY)
        .ok_or_else(|| refused("the bundle has no WrappingPublicKey.bin for it".into()))?;
    let public = WrappingPublicKey::from_der(der, m.wrapping_key_spec)
        .map_err(|e| refused(format!("WrappingPublicKey.bin: {e}")))?;
    let material = bundle
        .file(key, manifest::ENCRYPTED_KEY_MATERIAL)
        .unwrap_or_default();
    import_rules::check_encrypted_len(m.wrapping_algorithm, public.modulus.len(), material.len())
        .map_err(|e| refused(e.to_string()))?;
    Ok(())
}
