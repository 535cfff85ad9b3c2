//! The capability probe, run before any ceremony key is generated: can this token wrap for KMS
//! with exactly the requested algorithm?
//!
//! "It returned OK" proves nothing: SoftHSM2 2.7.0's CKM_RSA_AES_KEY_WRAP silently uses SHA-1 when
//! asked for SHA-256. So the probe has the token wrap a throwaway, non-sensitive AES-256 session key
//! under a throwaway RSA key whose private half keyrite holds in software, then decrypts the result
//! in software with exactly the requested OAEP hash and MGF1 hash, and compares it with the AES
//! key's value. Neither throwaway key protects anything; both are destroyed afterwards.
//!
//! Security note: the software decryption uses the `rsa` crate, which carries RUSTSEC-2023-0071
//! (Marvin: private-key timing side channel) with no fixed release. That matters only for a
//! private key that protects something and is used as a decryption oracle. Here the RSA key is
//! generated for one probe, decrypts one wrap of a throwaway key inside this process, and is
//! dropped; ceremony keys are never decrypted on the host. The `rsa` crate must not be used for
//! anything else in keyrite.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, PrivateKey};
use zeroize::Zeroizing;

use super::HsmError;
use super::key_wrap::rsa_aes_key_wrap_type;
use super::token::UserSession;
use crate::core::algorithm::{OaepHash, WrappingAlgorithm};
use crate::core::import_rules::expected_encrypted_len;
use crate::core::wrapping_key::WrappingPublicKey;

const STEP: &str = "capability probe";

/// Size of the throwaway RSA key. The probe checks the hash and MGF the token applies, which do
/// not depend on the modulus size; the ceremony still checks the real wrap's length.
pub const PROBE_RSA_BITS: usize = 2048;

/// What the probe found, for the ceremony report and log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeReport {
    pub token: String,
    pub algorithm: WrappingAlgorithm,
    pub mechanism: String,
    /// What was verified, in words.
    pub result: String,
    /// Whether the token enforces CKA_WRAP_WITH_TRUSTED (a key so marked refuses to be wrapped
    /// under an untrusted key), in words.
    pub wrap_with_trusted: String,
}

/// Why one algorithm failed on this token.
struct Failure {
    mechanism: String,
    reason: String,
}

/// The throwaway RSA key pair; the private half never leaves this process.
struct ProbeKey {
    private: PrivateKey,
    public: WrappingPublicKey,
}

impl ProbeKey {
    fn generate() -> Result<ProbeKey, HsmError> {
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let private = PrivateKey::new(&mut rng, PROBE_RSA_BITS).map_err(|e| HsmError::Refused {
            step: STEP,
            message: format!("cannot generate the throwaway RSA key in software: {e}"),
            hint: "the system's random number generator is unavailable; fix that first".into(),
        })?;
        let public = WrappingPublicKey {
            modulus: private.n().as_ref().to_be_bytes().to_vec(),
            public_exponent: strip_zeros(&private.e().to_be_bytes()),
            bits: PROBE_RSA_BITS,
        };
        Ok(ProbeKey { private, public })
    }

    /// Decrypts in software with exactly this OAEP hash and MGF1 hash.
    fn decrypt(&self, hash: OaepHash, mgf: OaepHash, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        use sha1::Sha1;
        use sha2::Sha256;
        let r = match (hash, mgf) {
            (OaepHash::Sha1, OaepHash::Sha1) => self.private.decrypt(Oaep::<Sha1>::new(), wrapped),
            (OaepHash::Sha256, OaepHash::Sha256) => {
                self.private.decrypt(Oaep::<Sha256>::new(), wrapped)
            }
            (OaepHash::Sha1, OaepHash::Sha256) => self
                .private
                .decrypt(Oaep::<Sha1, Sha256>::new_with_mgf_hash(), wrapped),
            (OaepHash::Sha256, OaepHash::Sha1) => self
                .private
                .decrypt(Oaep::<Sha256, Sha1>::new_with_mgf_hash(), wrapped),
        };
        r.ok().map(Zeroizing::new)
    }

    /// Undoes the token's wrap in software with exactly this OAEP hash and MGF1 hash: for
    /// RSAES_OAEP_* the RSA decryption; for RSA_AES_KEY_WRAP_* the RSA decryption of the first
    /// modulus-length bytes, which must give an AES-256 key, then the RFC 5649 unwrap of the rest
    /// under it (what KMS does on import).
    fn recover(
        &self,
        algorithm: WrappingAlgorithm,
        hash: OaepHash,
        mgf: OaepHash,
        wrapped: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        if !algorithm.is_rsa_aes() {
            return self.decrypt(hash, mgf, wrapped);
        }
        let (rsa_part, kwp_part) = wrapped.split_at_checked(self.private.size())?;
        let ephemeral = self.decrypt(hash, mgf, rsa_part)?;
        if ephemeral.len() != 32 {
            return None;
        }
        aes_kw::KekAes256::new(ephemeral.as_slice().into())
            .unwrap_with_padding_vec(kwp_part)
            .ok()
            .map(Zeroizing::new)
    }
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

fn hash_name(h: OaepHash) -> &'static str {
    match h {
        OaepHash::Sha1 => "SHA-1",
        OaepHash::Sha256 => "SHA-256",
    }
}

fn mechanism_name(algorithm: WrappingAlgorithm) -> String {
    let h = hash_name(algorithm.oaep_hash());
    if algorithm.is_rsa_aes() {
        format!("CKM_RSA_AES_KEY_WRAP (OAEP {h}, MGF1-{h})")
    } else {
        format!("CKM_RSA_PKCS_OAEP ({h}, MGF1-{h})")
    }
}

/// Probes `algorithm` on the token behind `session`. A refusal names the token, the mechanism,
/// what went wrong and the algorithm that works on this token, if any.
pub fn probe(
    session: &UserSession,
    token_label: &str,
    algorithm: WrappingAlgorithm,
) -> Result<ProbeReport, HsmError> {
    let key = ProbeKey::generate()?;
    let failure = match try_algorithm(session, &key, algorithm)? {
        Ok(result) => {
            return Ok(ProbeReport {
                token: token_label.into(),
                algorithm,
                mechanism: mechanism_name(algorithm),
                result,
                wrap_with_trusted: wrap_with_trusted(session, &key, algorithm)?,
            });
        }
        Err(f) => f,
    };
    let mut working = None;
    for other in WrappingAlgorithm::ALL {
        if other != algorithm && try_algorithm(session, &key, other)?.is_ok() {
            working = Some(other);
            break;
        }
    }
    Err(HsmError::Refused {
        step: STEP,
        message: format!(
            "token {token_label:?} cannot wrap with {algorithm}: {} {}",
            failure.mechanism, failure.reason
        ),
        hint: match working {
            Some(w) => format!(
                "use {w}, which this token does correctly: prepare the bundle with `keyrite kms prepare --algorithm {w}` and set algorithm = \"{w}\" in the script"
            ),
            None => "no wrapping algorithm KMS accepts works on this token; use another HSM".into(),
        },
    })
}

/// Ok(Ok(what was verified)), Ok(Err(why the token cannot)), or Err for a probe that could not run.
fn try_algorithm(
    session: &UserSession,
    key: &ProbeKey,
    algorithm: WrappingAlgorithm,
) -> Result<Result<String, Failure>, HsmError> {
    let mechanism = mechanism_name(algorithm);
    let fail = |reason: String| {
        Ok(Err(Failure {
            mechanism: mechanism.clone(),
            reason,
        }))
    };
    if algorithm.is_rsa_aes() {
        // Only the token's own CKM_RSA_AES_KEY_WRAP may do this; keyrite never does half of it on
        // the host. cryptoki's mechanism list drops types it has no name for, so ask directly.
        match session.mechanism_info(rsa_aes_key_wrap_type()) {
            Ok(info) if info.wrap() => {}
            Ok(_) => return fail("is offered, but not for C_WrapKey (CKF_WRAP is not set)".into()),
            Err(HsmError::Pkcs11 { function, rv, .. }) => {
                return fail(format!("is not available: {function} failed with {rv}"));
            }
            Err(e) => return Err(e),
        }
    }
    let objects = ProbeObjects::create(session, key)?;
    let wrapped = match session.wrap(objects.rsa, objects.aes, algorithm) {
        Ok(w) => w,
        Err(HsmError::Pkcs11 { function, rv, .. }) => {
            return fail(format!("was refused: {function} failed with {rv}"));
        }
        Err(e) => return Err(e),
    };
    let token_block = objects.zero_block()?;
    let hash = algorithm.oaep_hash();
    let expected_len = expected_encrypted_len(algorithm, PROBE_RSA_BITS / 8);
    if wrapped.len() != expected_len {
        return fail(format!(
            "returned {} bytes under a {PROBE_RSA_BITS}-bit key, not {expected_len}",
            wrapped.len(),
        ));
    }
    if let Some(plain) = key.recover(algorithm, hash, hash, &wrapped) {
        if software_zero_block(&plain).is_some_and(|b| b == token_block) {
            return Ok(Ok(format!(
                "{mechanism} verified: a throwaway AES-256 key wrapped by the token decrypts in software with OAEP {h} and MGF1-{h}{kwp} to the same key",
                h = hash_name(hash),
                kwp = if algorithm.is_rsa_aes() {
                    ", then RFC 5649 under the ephemeral AES-256 key,"
                } else {
                    ""
                }
            )));
        }
        return fail("returned a wrap that decrypts to a different key".into());
    }
    for (h, m) in [
        (OaepHash::Sha1, OaepHash::Sha1),
        (OaepHash::Sha256, OaepHash::Sha256),
        (OaepHash::Sha1, OaepHash::Sha256),
        (OaepHash::Sha256, OaepHash::Sha1),
    ] {
        if (h, m) != (hash, hash) && key.recover(algorithm, h, m, &wrapped).is_some() {
            return fail(format!(
                "returned OK but silently used OAEP {} with MGF1-{} instead of the requested {}",
                hash_name(h),
                hash_name(m),
                hash_name(hash)
            ));
        }
    }
    fail(format!(
        "returned a wrap that does not decrypt with OAEP {h} and MGF1-{h}",
        h = hash_name(hash)
    ))
}

/// Has the token wrap a throwaway key marked CKA_WRAP_WITH_TRUSTED under the untrusted throwaway
/// RSA key (with `algorithm`, which the token does): a token that enforces the attribute refuses.
fn wrap_with_trusted(
    session: &UserSession,
    key: &ProbeKey,
    algorithm: WrappingAlgorithm,
) -> Result<String, HsmError> {
    let objects = match ProbeObjects::create_with(session, key, true) {
        Ok(o) => o,
        Err(HsmError::Pkcs11 { function, rv, .. }) => {
            return Ok(format!(
                "not supported: a key with CKA_WRAP_WITH_TRUSTED was refused ({function} failed with {rv})"
            ));
        }
        Err(e) => return Err(e),
    };
    Ok(match session.wrap(objects.rsa, objects.aes, algorithm) {
        Ok(_) => {
            "not enforced: a key marked CKA_WRAP_WITH_TRUSTED was wrapped under an untrusted key"
                .into()
        }
        Err(HsmError::Pkcs11 { function, rv, .. }) => format!(
            "enforced: wrapping a key marked CKA_WRAP_WITH_TRUSTED under an untrusted key failed ({function} with {rv})"
        ),
        Err(e) => return Err(e),
    })
}

/// AES-ECB(key, zero block) in software; None if `key` is not 32 bytes.
fn software_zero_block(key: &[u8]) -> Option<[u8; 16]> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let cipher = aes::Aes256::new_from_slice(key).ok()?;
    let mut block = aes::Block::default();
    cipher.encrypt_block(&mut block);
    Some(block.into())
}

/// The two throwaway session objects in the token, destroyed when dropped.
struct ProbeObjects<'a> {
    session: &'a UserSession,
    aes: ObjectHandle,
    rsa: ObjectHandle,
}

impl<'a> ProbeObjects<'a> {
    fn create(session: &'a UserSession, key: &ProbeKey) -> Result<ProbeObjects<'a>, HsmError> {
        Self::create_with(session, key, false)
    }

    fn create_with(
        session: &'a UserSession,
        key: &ProbeKey,
        wrap_with_trusted: bool,
    ) -> Result<ProbeObjects<'a>, HsmError> {
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Label(b"keyrite-probe/throwaway-aes".to_vec()),
        ];
        if wrap_with_trusted {
            template.push(Attribute::WrapWithTrusted(true));
        }
        let aes = session
            .session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(HsmError::at(
                "capability probe: generate a throwaway AES-256 session key",
            ))?;
        let rsa = match session.import_wrapping_key(&key.public, "keyrite-probe/throwaway-rsa") {
            Ok(h) => h,
            Err(e) => {
                let _ = session.session.destroy_object(aes);
                return Err(e);
            }
        };
        Ok(ProbeObjects { session, aes, rsa })
    }

    /// AES-ECB(throwaway key, zero block), computed by the token.
    fn zero_block(&self) -> Result<[u8; 16], HsmError> {
        let block = self
            .session
            .session
            .encrypt(&Mechanism::AesEcb, self.aes, &[0u8; 16])
            .map_err(HsmError::at(
                "capability probe: encrypt a zero block with the throwaway AES key",
            ))?;
        block
            .try_into()
            .map_err(|b: Vec<u8>| HsmError::Verification {
                step: STEP,
                message: format!("AES-ECB of one block returned {} bytes, not 16", b.len()),
                hint: "the token misbehaves; do not use it for this ceremony".into(),
            })
    }
}

impl Drop for ProbeObjects<'_> {
    fn drop(&mut self) {
        let _ = self.session.session.destroy_object(self.aes);
        let _ = self.session.session.destroy_object(self.rsa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_zero_block_is_aes_256_ecb() {
        // AES-256 with the all-zero key on the all-zero block (a published known answer).
        assert_eq!(
            data_encoding::HEXLOWER.encode(&software_zero_block(&[0u8; 32]).unwrap()),
            "dc95c078a2408989ad48a21492842087"
        );
        assert!(software_zero_block(&[0u8; 16]).is_none());
    }

    /// The software side is strict: a wrap made with one hash does not decrypt under another,
    /// so a token that silently swaps the hash cannot pass.
    #[test]
    fn software_decryption_accepts_only_the_exact_hash_and_mgf() {
        use sha1::Sha1;
        use sha2::Sha256;
        let key = ProbeKey::generate().unwrap();
        assert_eq!(key.public.bits, PROBE_RSA_BITS);
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let public = key.private.to_public_key();
        let material = [7u8; 32];
        let sha1_wrap = public
            .encrypt(&mut rng, Oaep::<Sha1>::new(), &material)
            .unwrap();
        let mixed_wrap = public
            .encrypt(
                &mut rng,
                Oaep::<Sha256, Sha1>::new_with_mgf_hash(),
                &material,
            )
            .unwrap();
        assert_eq!(
            key.decrypt(OaepHash::Sha1, OaepHash::Sha1, &sha1_wrap)
                .unwrap()
                .as_slice(),
            material
        );
        assert!(
            key.decrypt(OaepHash::Sha256, OaepHash::Sha256, &sha1_wrap)
                .is_none()
        );
        assert!(
            key.decrypt(OaepHash::Sha256, OaepHash::Sha256, &mixed_wrap)
                .is_none()
        );
        assert!(
            key.decrypt(OaepHash::Sha256, OaepHash::Sha1, &mixed_wrap)
                .is_some()
        );
    }

    /// The RSA-AES check undoes exactly the layout KMS expects (RSA-OAEP of an ephemeral AES-256
    /// key, then RFC 5649), made here by the mock token, and only with the requested hash: a token
    /// that honours CKM_RSA_AES_KEY_WRAP passes, one that swaps the hash does not.
    #[test]
    fn rsa_aes_recovery_accepts_only_the_kms_layout_with_the_exact_hash() {
        use super::super::key_wrap::mock::{MockKey, MockToken};
        use super::super::key_wrap::wrap_for_kms;
        let key = ProbeKey::generate().unwrap();
        let material = [9u8; 32];
        for algorithm in [
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            let token = MockToken {
                kms_public: key.private.to_public_key(),
                material: Zeroizing::new(material),
                expect: algorithm,
            };
            let wrapped = wrap_for_kms(
                &token,
                MockKey::KmsWrappingKey,
                MockKey::CeremonyKey,
                algorithm,
            )
            .unwrap();
            let h = algorithm.oaep_hash();
            let other = match h {
                OaepHash::Sha1 => OaepHash::Sha256,
                OaepHash::Sha256 => OaepHash::Sha1,
            };
            assert_eq!(
                key.recover(algorithm, h, h, &wrapped).unwrap().as_slice(),
                material
            );
            assert!(key.recover(algorithm, other, other, &wrapped).is_none());
            let mut tampered = wrapped.clone();
            if let Some(last) = tampered.last_mut() {
                *last ^= 1;
            }
            assert!(key.recover(algorithm, h, h, &tampered).is_none());
            assert!(key.recover(algorithm, h, h, &wrapped[..256]).is_none());
        }
    }
}
