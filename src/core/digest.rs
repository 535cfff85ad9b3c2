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

/// A digest as PGP words (the PGP biometric word list: one word per byte, two-syllable words at
/// even positions and three-syllable words at odd ones, so a swapped or dropped word is heard),
/// four to a line, for reading aloud across the air gap. Both sides print it from the same hex.
/// Anything that is not hex gives an empty list.
pub fn words(hex: &str) -> Vec<String> {
    match hex::decode(hex) {
        Ok(bytes) => pgp_words::to_words(&bytes)
            .into_iter()
            .map(str::to_lowercase)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// [`words`] in lines of four.
pub fn word_lines(hex: &str) -> Vec<String> {
    words(hex).chunks(4).map(|c| c.join(" ")).collect()
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

    #[test]
    fn words_follow_the_pgp_word_list() {
        // The published example: even positions two-syllable, odd three-syllable words.
        assert_eq!(
            words("d1c225e4"),
            ["stairway", "repellent", "bombast", "tradition"]
        );
        assert_eq!(
            word_lines("d1c225e426c633dd94"),
            [
                "stairway repellent bombast tradition",
                "bookshelf responsive chisel tambourine",
                "pluto"
            ]
        );
        // A byte reads differently at an even and an odd position.
        assert_ne!(words("9e9e")[0], words("9e9e")[1]);
        assert!(words("not hex").is_empty());
        // A SHA-256 is 32 words.
        assert_eq!(words(&sha256_hex(b"abc")).len(), 32);
    }
}
