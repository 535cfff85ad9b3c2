//! SHA-256 digests as keyrite shows and records them.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A digest grouped in fours for reading aloud across the air gap: `1a2b 3c4d …`.
pub fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalises a fingerprint typed by a person: spaces, colons and case do not matter.
pub fn normalise_fingerprint(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn typed_fingerprints_ignore_layout() {
        assert_eq!(
            normalise_fingerprint("BA78 16bf:8F01-cfea"),
            "ba7816bf8f01cfea"
        );
        assert_eq!(grouped("ba7816bf8f"), "ba78 16bf 8f");
    }
}
