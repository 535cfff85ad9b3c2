//! The AWS KMS import rules that keyrite checks itself before calling KMS, because a local KMS
//! does not enforce them and a failed call on AWS costs a ceremony: the expiration range, the size
//! of the wrapped material, and that a bundle's key ARN names the account, region and key it says.

use jiff::{SignedDuration, Timestamp};

use super::algorithm::WrappingAlgorithm;

/// The furthest ahead KMS accepts a ValidTo.
pub const MAX_VALID_TO: SignedDuration = SignedDuration::from_hours(365 * 24);

/// AES-256 key material, the only kind keyrite imports.
pub const KEY_MATERIAL_LEN: usize = 32;

/// RFC 5649 wrapping of 32 bytes: the input plus one 8-byte integrity block.
const KWP_OF_KEY_MATERIAL: usize = KEY_MATERIAL_LEN + 8;

/// Why an import would be refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRuleError {
    #[error("ValidTo {valid_to} is not in the future")]
    ValidToPast { valid_to: Timestamp },
    #[error("ValidTo {valid_to} is more than 365 days from now ({now})")]
    ValidToTooFar { valid_to: Timestamp, now: Timestamp },
    #[error(
        "EncryptedKeyMaterial.bin is {actual} bytes; {algorithm} with a {bits}-bit wrapping key gives exactly {want}"
    )]
    EncryptedLen {
        actual: usize,
        algorithm: WrappingAlgorithm,
        bits: usize,
        want: usize,
    },
    #[error("key ARN {arn} does not name key {key_id} in account {account}, region {region}")]
    KeyArn {
        arn: String,
        key_id: String,
        account: String,
        region: String,
    },
}

/// A ValidTo must be in the future and at most 365 days away.
pub fn check_valid_to(valid_to: Timestamp, now: Timestamp) -> Result<(), ImportRuleError> {
    if valid_to <= now {
        return Err(ImportRuleError::ValidToPast { valid_to });
    }
    if valid_to > now + MAX_VALID_TO {
        return Err(ImportRuleError::ValidToTooFar { valid_to, now });
    }
    Ok(())
}

/// The length EncryptedKeyMaterial must have: for RSAES_OAEP_* exactly the wrapping key's
/// modulus length; for RSA_AES_KEY_WRAP_* the modulus length (the wrapped ephemeral AES key)
/// plus the RFC 5649 wrapping of the 32-byte material.
pub fn expected_encrypted_len(algorithm: WrappingAlgorithm, modulus_len: usize) -> usize {
    if algorithm.is_rsa_aes() {
        modulus_len + KWP_OF_KEY_MATERIAL
    } else {
        modulus_len
    }
}

pub fn check_encrypted_len(
    algorithm: WrappingAlgorithm,
    modulus_len: usize,
    actual: usize,
) -> Result<(), ImportRuleError> {
    let want = expected_encrypted_len(algorithm, modulus_len);
    if actual != want {
        return Err(ImportRuleError::EncryptedLen {
            actual,
            algorithm,
            bits: modulus_len * 8,
            want,
        });
    }
    Ok(())
}

/// A key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID`) must name exactly this region,
/// account and key id: an import token is bound to the key it was issued for.
pub fn check_key_arn(
    arn: &str,
    region: &str,
    account: &str,
    key_id: &str,
) -> Result<(), ImportRuleError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = matches!(
        parts.as_slice(),
        ["arn", partition, "kms", r, a, resource]
            if !partition.is_empty() && *r == region && *a == account
                && resource.strip_prefix("key/") == Some(key_id)
    );
    if !ok {
        return Err(ImportRuleError::KeyArn {
            arn: arn.into(),
            key_id: key_id.into(),
            account: account.into(),
            region: region.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn valid_to_must_be_future_and_within_365_days() {
        let now = t("2026-11-24T12:00:00Z");
        let cases = [
            ("2026-11-24T11:59:59Z", false),
            ("2026-11-24T12:00:00Z", false),
            ("2026-11-24T12:00:01Z", true),
            ("2027-06-30T00:00:00Z", true),
            ("2027-11-24T12:00:00Z", true),
            ("2027-11-24T12:00:01Z", false),
            ("2030-01-01T00:00:00Z", false),
        ];
        for (valid_to, ok) in cases {
            assert_eq!(check_valid_to(t(valid_to), now).is_ok(), ok, "{valid_to}");
        }
    }

    #[test]
    fn encrypted_material_size_follows_algorithm_and_modulus() {
        use WrappingAlgorithm::*;
        let cases = [
            (RsaesOaepSha1, 512, 512, true),
            (RsaesOaepSha256, 512, 512, true),
            (RsaesOaepSha256, 512, 511, false),
            (RsaesOaepSha256, 512, 256, false),
            (RsaesOaepSha256, 384, 384, true),
            (RsaesOaepSha256, 256, 32, false),
            (RsaAesKeyWrapSha256, 512, 552, true),
            (RsaAesKeyWrapSha1, 256, 296, true),
            (RsaAesKeyWrapSha256, 512, 512, false),
        ];
        for (alg, modulus, actual, ok) in cases {
            let got = check_encrypted_len(alg, modulus, actual);
            assert_eq!(got.is_ok(), ok, "{alg} {modulus} {actual}: {got:?}");
        }
        let msg = check_encrypted_len(RsaesOaepSha256, 512, 511)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("511") && msg.contains("512"), "{msg}");
    }

    #[test]
    fn key_arn_must_name_region_account_and_key() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/k1";
        let cases = [
            (arn, "eu-west-1", "111122223333", "k1", true),
            (
                "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k1",
                "us-gov-west-1",
                "111122223333",
                "k1",
                true,
            ),
            (arn, "eu-west-2", "111122223333", "k1", false),
            (arn, "eu-west-1", "444455556666", "k1", false),
            (arn, "eu-west-1", "111122223333", "k2", false),
            (
                "arn:aws:kms:eu-west-1:111122223333:alias/k1",
                "eu-west-1",
                "111122223333",
                "k1",
                false,
            ),
            (
                "arn:aws:s3:eu-west-1:111122223333:key/k1",
                "eu-west-1",
                "111122223333",
                "k1",
                false,
            ),
            ("k1", "eu-west-1", "111122223333", "k1", false),
        ];
        for (arn, region, account, key_id, ok) in cases {
            assert_eq!(
                check_key_arn(arn, region, account, key_id).is_ok(),
                ok,
                "{arn} {region} {account} {key_id}"
            );
        }
    }
}
