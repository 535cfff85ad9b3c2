//! The wrap of a ceremony key for KMS, done entirely inside a token: one C_WrapKey with the
//! mechanism the KMS wrapping algorithm names.
//!
//! - RSAES_OAEP_SHA_1/256: CKM_RSA_PKCS_OAEP with that hash and MGF1 hash, no label.
//! - RSA_AES_KEY_WRAP_SHA_1/256: the token's own CKM_RSA_AES_KEY_WRAP (PKCS#11 3.0, 0x1054) with
//!   a 256-bit ephemeral AES key and the same OAEP parameters. The token generates the ephemeral
//!   key, wraps it with RSA-OAEP, wraps the material with it (RFC 5649) and destroys it; keyrite
//!   never does either half on the host, which would put the material in host memory.
//!
//! cryptoki has no constant for CKM_RSA_AES_KEY_WRAP (and its `MechanismType` can only be made for
//! known or vendor-range values), so the mechanism is passed as cryptoki's vendor-defined
//! mechanism carrying a `CK_RSA_AES_KEY_WRAP_PARAMS` built here.

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki_sys::{
    CK_RSA_AES_KEY_WRAP_PARAMS, CK_RSA_PKCS_OAEP_PARAMS, CK_ULONG, CKG_MGF1_SHA1, CKG_MGF1_SHA256,
    CKM_RSA_AES_KEY_WRAP, CKM_SHA_1, CKM_SHA256, CKZ_DATA_SPECIFIED,
};

use super::HsmError;
use crate::core::algorithm::{OaepHash, WrappingAlgorithm};

/// Size of the ephemeral AES key the token generates for RSA_AES_KEY_WRAP_*: KMS expects 256.
pub const RSA_AES_EPHEMERAL_KEY_BITS: CK_ULONG = 256;

/// The step a C_WrapKey failure names.
pub const STEP: &str = "wrap the key material";

/// Something that can run C_WrapKey: the token session in a ceremony, and in test builds a mock
/// token that checks the exact mechanism parameters it receives.
pub trait KeyWrapper {
    /// How the wrapper names a key object.
    type Key: Copy;

    /// C_WrapKey of `key` under `wrapping_key` with exactly `mechanism`.
    fn wrap_key(
        &self,
        mechanism: &Mechanism<'_>,
        wrapping_key: Self::Key,
        key: Self::Key,
    ) -> Result<Vec<u8>, HsmError>;
}

/// CKM_RSA_AES_KEY_WRAP as a cryptoki mechanism type.
pub fn rsa_aes_key_wrap_type() -> MechanismType {
    // SAFETY: `MechanismType` is `#[repr(transparent)]` over `CK_MECHANISM_TYPE` (cryptoki
    // documents this so a slice of them has the C layout), and every CK_MECHANISM_TYPE value is a
    // valid mechanism type to the C API; cryptoki only lacks a named constant for this one.
    unsafe {
        std::mem::transmute::<cryptoki_sys::CK_MECHANISM_TYPE, MechanismType>(CKM_RSA_AES_KEY_WRAP)
    }
}

/// The OAEP parameters KMS uses: the algorithm's hash for both OAEP and MGF1, empty label.
fn oaep_params(hash: OaepHash) -> CK_RSA_PKCS_OAEP_PARAMS {
    let (hash_alg, mgf) = match hash {
        OaepHash::Sha1 => (CKM_SHA_1, CKG_MGF1_SHA1),
        OaepHash::Sha256 => (CKM_SHA256, CKG_MGF1_SHA256),
    };
    CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash_alg,
        mgf,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    }
}

/// Wraps `key` under `wrapping_key` for KMS with `algorithm`, in one C_WrapKey.
pub fn wrap_for_kms<W: KeyWrapper>(
    wrapper: &W,
    wrapping_key: W::Key,
    key: W::Key,
    algorithm: WrappingAlgorithm,
) -> Result<Vec<u8>, HsmError> {
    if algorithm.is_rsa_aes() {
        // Both structures live on this frame until C_WrapKey has returned.
        let mut oaep = oaep_params(algorithm.oaep_hash());
        let params = CK_RSA_AES_KEY_WRAP_PARAMS {
            ulAESKeyBits: RSA_AES_EPHEMERAL_KEY_BITS,
            pOAEPParams: &mut oaep,
        };
        let mechanism = Mechanism::VendorDefined(VendorDefinedMechanism::new(
            rsa_aes_key_wrap_type(),
            Some(&params),
        ));
        return wrapper.wrap_key(&mechanism, wrapping_key, key);
    }
    let (hash, mgf) = match algorithm.oaep_hash() {
        OaepHash::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        OaepHash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    };
    let mechanism = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
    wrapper.wrap_key(&mechanism, wrapping_key, key)
}

/// A mock token behind [`KeyWrapper`], compiled into test builds only. It reads the raw
/// CK_MECHANISM keyrite would hand to C_WrapKey, refuses anything but the exact parameters of the
/// algorithm it expects, and answers in the layout KMS expects for RSA_AES_KEY_WRAP_*:
/// RSA-OAEP(ephemeral AES-256 key) || RFC 5649 AES-KWP(material).
#[cfg(test)]
pub mod mock {
    use cryptoki::context::Function;
    use cryptoki::error::{Error as CkError, RvError};
    use cryptoki::mechanism::Mechanism;
    use cryptoki_sys::{
        CK_MECHANISM, CK_RSA_AES_KEY_WRAP_PARAMS, CK_RSA_PKCS_OAEP_PARAMS, CKG_MGF1_SHA1,
        CKG_MGF1_SHA256, CKM_RSA_AES_KEY_WRAP, CKM_SHA_1, CKM_SHA256, CKZ_DATA_SPECIFIED,
    };
    use rsa::{Oaep, PublicKey};
    use zeroize::Zeroizing;

    use super::*;

    /// The two objects of the mock token.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum MockKey {
        KmsWrappingKey,
        CeremonyKey,
    }

    pub struct MockToken {
        pub kms_public: PublicKey,
        pub material: Zeroizing<[u8; 32]>,
        pub expect: WrappingAlgorithm,
    }

    fn refuse(rv: RvError) -> HsmError {
        HsmError::at(STEP)(CkError::Pkcs11(rv, Function::WrapKey))
    }

    impl KeyWrapper for MockToken {
        type Key = MockKey;

        fn wrap_key(
            &self,
            mechanism: &Mechanism<'_>,
            wrapping_key: MockKey,
            key: MockKey,
        ) -> Result<Vec<u8>, HsmError> {
            if (wrapping_key, key) != (MockKey::KmsWrappingKey, MockKey::CeremonyKey) {
                return Err(refuse(RvError::KeyHandleInvalid));
            }
            let raw = CK_MECHANISM::from(mechanism);
            if raw.mechanism != CKM_RSA_AES_KEY_WRAP || !self.expect.is_rsa_aes() {
                return Err(refuse(RvError::MechanismInvalid));
            }
            if raw.pParameter.is_null()
                || raw.ulParameterLen as usize != size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>()
            {
                return Err(refuse(RvError::MechanismParamInvalid));
            }
            // SAFETY: length checked above; the caller keeps the parameters alive for the call,
            // exactly as a PKCS#11 module relies on.
            let params = unsafe { &*(raw.pParameter as *const CK_RSA_AES_KEY_WRAP_PARAMS) };
            if params.ulAESKeyBits != 256 || params.pOAEPParams.is_null() {
                return Err(refuse(RvError::MechanismParamInvalid));
            }
            // SAFETY: non-null, and owned by the caller for the duration of the call.
            let oaep: &CK_RSA_PKCS_OAEP_PARAMS = unsafe { &*params.pOAEPParams };
            let (hash, mgf) = match self.expect.oaep_hash() {
                OaepHash::Sha1 => (CKM_SHA_1, CKG_MGF1_SHA1),
                OaepHash::Sha256 => (CKM_SHA256, CKG_MGF1_SHA256),
            };
            if oaep.hashAlg != hash
                || oaep.mgf != mgf
                || oaep.source != CKZ_DATA_SPECIFIED
                || !oaep.pSourceData.is_null()
                || oaep.ulSourceDataLen != 0
            {
                return Err(refuse(RvError::MechanismParamInvalid));
            }
            let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
            let mut ephemeral = Zeroizing::new([0u8; 32]);
            getrandom::fill(ephemeral.as_mut_slice()).map_err(|_| refuse(RvError::GeneralError))?;
            let wrapped_key = match self.expect.oaep_hash() {
                OaepHash::Sha1 => self.kms_public.encrypt(
                    &mut rng,
                    Oaep::<sha1::Sha1>::new(),
                    ephemeral.as_slice(),
                ),
                OaepHash::Sha256 => self.kms_public.encrypt(
                    &mut rng,
                    Oaep::<sha2::Sha256>::new(),
                    ephemeral.as_slice(),
                ),
            }
            .map_err(|_| refuse(RvError::GeneralError))?;
            let kek = aes_kw::KekAes256::new(ephemeral.as_ref().into());
            let wrapped_material = kek
                .wrap_with_padding_vec(self.material.as_slice())
                .map_err(|_| refuse(RvError::GeneralError))?;
            Ok([wrapped_key, wrapped_material].concat())
        }
    }
}

#[cfg(test)]
mod tests {
    use rsa::traits::PublicKeyParts;
    use rsa::{Oaep, PrivateKey};
    use zeroize::Zeroizing;

    use super::mock::{MockKey, MockToken};
    use super::*;
    use crate::core::import_rules::expected_encrypted_len;

    fn kms_key() -> PrivateKey {
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        PrivateKey::new(&mut rng, 2048).unwrap()
    }

    /// What KMS does on import: RSA-OAEP-decrypt the first modulus-length bytes with the
    /// algorithm's hash, then RFC 5649-unwrap the rest with the AES key found there.
    fn kms_unwrap(private: &PrivateKey, hash: OaepHash, wrapped: &[u8]) -> Vec<u8> {
        let n = private.size();
        let (rsa_part, kwp_part) = wrapped.split_at(n);
        let ephemeral = Zeroizing::new(match hash {
            OaepHash::Sha1 => private
                .decrypt(Oaep::<sha1::Sha1>::new(), rsa_part)
                .unwrap(),
            OaepHash::Sha256 => private
                .decrypt(Oaep::<sha2::Sha256>::new(), rsa_part)
                .unwrap(),
        });
        assert_eq!(ephemeral.len(), 32, "the ephemeral key must be AES-256");
        aes_kw::KekAes256::new(ephemeral.as_slice().into())
            .unwrap_with_padding_vec(kwp_part)
            .unwrap()
    }

    #[test]
    fn the_mechanism_type_is_ckm_rsa_aes_key_wrap() {
        assert_eq!(
            cryptoki_sys::CK_MECHANISM_TYPE::from(rsa_aes_key_wrap_type()),
            0x1054
        );
    }

    /// keyrite passes the exact CKM_RSA_AES_KEY_WRAP parameters of each RSA-AES algorithm, and
    /// the output of a token that honours them is what KMS unwraps: RSA-OAEP || RFC 5649.
    #[test]
    fn rsa_aes_wraps_with_the_exact_parameters_in_the_kms_layout() {
        let private = kms_key();
        let material = [0x5au8; 32];
        for algorithm in [
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            let token = MockToken {
                kms_public: private.to_public_key(),
                material: Zeroizing::new(material),
                expect: algorithm,
            };
            let wrapped = wrap_for_kms(
                &token,
                MockKey::KmsWrappingKey,
                MockKey::CeremonyKey,
                algorithm,
            )
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            assert_eq!(wrapped.len(), expected_encrypted_len(algorithm, 256));
            assert_eq!(
                kms_unwrap(&private, algorithm.oaep_hash(), &wrapped),
                material,
                "{algorithm}"
            );
        }
    }

    /// The mock is strict: parameters of another algorithm (wrong hash, or plain OAEP) are refused,
    /// so the test above could fail.
    #[test]
    fn the_mock_refuses_any_other_parameters() {
        let private = kms_key();
        let token = MockToken {
            kms_public: private.to_public_key(),
            material: Zeroizing::new([1u8; 32]),
            expect: WrappingAlgorithm::RsaAesKeyWrapSha256,
        };
        for other in [
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaesOaepSha1,
        ] {
            let e = wrap_for_kms(&token, MockKey::KmsWrappingKey, MockKey::CeremonyKey, other)
                .expect_err("must refuse");
            assert!(
                e.to_string()
                    .contains("C_WrapKey failed with CKR_MECHANISM"),
                "{e}"
            );
        }
    }
}
