//! The KMS wrapping public key, as saved in `WrappingPublicKey.bin` (DER SubjectPublicKeyInfo).

use pkcs1::RsaPublicKeyRef;
use spki::SubjectPublicKeyInfoRef;
use spki::der::Decode;

use super::algorithm::WrappingKeySpec;

/// An RSA public key parsed from DER SubjectPublicKeyInfo, with its size checked against the
/// wrapping key spec the bundle declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappingPublicKey {
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
    pub bits: usize,
}

/// Why a wrapping public key is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrappingKeyError {
    #[error("not a DER SubjectPublicKeyInfo ({0})")]
    NotSpki(String),
    #[error("not an RSA key (algorithm {0})")]
    NotRsa(String),
    #[error("the public key bit string has unused bits")]
    UnusedBits,
    #[error("not an RSA public key ({0})")]
    BadRsa(String),
    #[error("the key is {size} bits but the bundle says {expected} ({} bits)", expected.modulus_bits())]
    Size {
        size: usize,
        expected: WrappingKeySpec,
    },
}

impl WrappingPublicKey {
    pub fn from_der(
        der: &[u8],
        expected: WrappingKeySpec,
    ) -> Result<WrappingPublicKey, WrappingKeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| WrappingKeyError::NotSpki(e.to_string()))?;
        if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err(WrappingKeyError::NotRsa(spki.algorithm.oid.to_string()));
        }
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(WrappingKeyError::UnusedBits)?;
        let rsa =
            RsaPublicKeyRef::from_der(bits).map_err(|e| WrappingKeyError::BadRsa(e.to_string()))?;
        let modulus = strip_zeros(rsa.modulus.as_bytes()).to_vec();
        let public_exponent = strip_zeros(rsa.public_exponent.as_bytes()).to_vec();
        let size = match modulus.first() {
            Some(&b) => modulus.len() * 8 - b.leading_zeros() as usize,
            None => 0,
        };
        if size != expected.modulus_bits() {
            return Err(WrappingKeyError::Size { size, expected });
        }
        Ok(WrappingPublicKey {
            modulus,
            public_exponent,
            bits: size,
        })
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_wrong_sizes_are_refused() {
        let err = WrappingPublicKey::from_der(b"not der", WrappingKeySpec::Rsa4096)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SubjectPublicKeyInfo"), "{err}");
    }
}
