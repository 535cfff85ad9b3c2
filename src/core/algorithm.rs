//! KMS wrapping algorithms and wrapping key specs, by their AWS names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the AES-256 key material is wrapped for KMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WrappingAlgorithm {
    #[serde(rename = "RSAES_OAEP_SHA_1")]
    RsaesOaepSha1,
    #[serde(rename = "RSAES_OAEP_SHA_256")]
    RsaesOaepSha256,
    #[serde(rename = "RSA_AES_KEY_WRAP_SHA_1")]
    RsaAesKeyWrapSha1,
    #[serde(rename = "RSA_AES_KEY_WRAP_SHA_256")]
    RsaAesKeyWrapSha256,
}

/// The hash an algorithm uses for OAEP (and MGF1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

impl WrappingAlgorithm {
    pub const ALL: [WrappingAlgorithm; 4] = [
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingAlgorithm::RsaesOaepSha1,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            WrappingAlgorithm::RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
            WrappingAlgorithm::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    pub fn oaep_hash(self) -> OaepHash {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                OaepHash::Sha1
            }
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                OaepHash::Sha256
            }
        }
    }

    /// True for the two-stage RSA-AES key wrap (RFC 5649 under an ephemeral AES key).
    pub fn is_rsa_aes(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }
}

impl fmt::Display for WrappingAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The size of the KMS wrapping (RSA) public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WrappingKeySpec {
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    #[serde(rename = "RSA_4096")]
    Rsa4096,
}

impl WrappingKeySpec {
    pub const ALL: [WrappingKeySpec; 3] = [
        WrappingKeySpec::Rsa2048,
        WrappingKeySpec::Rsa3072,
        WrappingKeySpec::Rsa4096,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WrappingKeySpec::Rsa2048 => "RSA_2048",
            WrappingKeySpec::Rsa3072 => "RSA_3072",
            WrappingKeySpec::Rsa4096 => "RSA_4096",
        }
    }

    pub fn modulus_bits(self) -> usize {
        match self {
            WrappingKeySpec::Rsa2048 => 2048,
            WrappingKeySpec::Rsa3072 => 3072,
            WrappingKeySpec::Rsa4096 => 4096,
        }
    }
}

impl fmt::Display for WrappingKeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_files_hold() {
        for a in WrappingAlgorithm::ALL {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("{:?}", a.as_str()));
            assert_eq!(serde_json::from_str::<WrappingAlgorithm>(&json).unwrap(), a);
        }
        for s in WrappingKeySpec::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("{:?}", s.as_str()));
            assert_eq!(serde_json::from_str::<WrappingKeySpec>(&json).unwrap(), s);
        }
        assert!(serde_json::from_str::<WrappingAlgorithm>("\"RSAES_PKCS1_V1_5\"").is_err());
    }

    #[test]
    fn hashes_follow_the_name() {
        assert_eq!(WrappingAlgorithm::RsaesOaepSha1.oaep_hash(), OaepHash::Sha1);
        assert_eq!(
            WrappingAlgorithm::RsaAesKeyWrapSha256.oaep_hash(),
            OaepHash::Sha256
        );
        assert!(WrappingAlgorithm::RsaAesKeyWrapSha1.is_rsa_aes());
        assert!(!WrappingAlgorithm::RsaesOaepSha256.is_rsa_aes());
    }
}
