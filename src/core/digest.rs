//! SHA-256 digests as keyrite shows and records them.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
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
    match data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_ref()) {
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

/// A fingerprint typed from the read-out, compared group by group (groups of four, as
/// [`grouped`] shows them) with the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerprintCheck {
    /// Every group typed and equal.
    Matches,
    /// Fewer groups than the fingerprint has; none typed so far is known to be wrong only when
    /// `wrong` is empty.
    Incomplete {
        typed_groups: usize,
        total_groups: usize,
        wrong: Vec<usize>,
    },
    /// Every group typed (or more), and these (1-based) differ; `extra` is true when more was
    /// typed than the fingerprint holds.
    Wrong { wrong: Vec<usize>, extra: bool },
}

/// Compares a typed fingerprint with the expected hex, group by group. Use it only once the
/// operator says the whole fingerprint is typed (showing a per-group verdict while typing would
/// let the fingerprint be found by trial).
pub fn check_fingerprint(expected: &str, typed: &str) -> FingerprintCheck {
    let expected = normalise_fingerprint(expected);
    let typed = normalise_fingerprint(typed);
    let groups = |s: &str| -> Vec<String> {
        s.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    };
    let (e, t) = (groups(&expected), groups(&typed));
    let wrong: Vec<usize> = e
        .iter()
        .zip(&t)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i + 1)
        .collect();
    if typed.len() < expected.len() {
        // The last typed group may be partly typed: it is not yet wrong.
        let full = typed.len() / 4;
        FingerprintCheck::Incomplete {
            typed_groups: full,
            total_groups: e.len(),
            wrong: wrong.into_iter().filter(|g| *g <= full).collect(),
        }
    } else if wrong.is_empty() && typed.len() == expected.len() {
        FingerprintCheck::Matches
    } else {
        FingerprintCheck::Wrong {
            wrong,
            extra: typed.len() > expected.len(),
        }
    }
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

    #[test]
    fn a_typed_fingerprint_names_the_groups_that_differ() {
        let fp = sha256_hex(b"abc");
        let g = grouped(&fp);
        assert_eq!(check_fingerprint(&fp, &g), FingerprintCheck::Matches);
        assert_eq!(
            check_fingerprint(&fp, &g.to_uppercase().replace(' ', ":")),
            FingerprintCheck::Matches
        );
        // Group 3 and group 16 mistyped.
        let mut typed: Vec<String> = g.split(' ').map(str::to_string).collect();
        typed[2] = "0000".into();
        typed[15] = "ffff".into();
        assert_eq!(
            check_fingerprint(&fp, &typed.join(" ")),
            FingerprintCheck::Wrong {
                wrong: vec![3, 16],
                extra: false
            }
        );
        // Half typed, a partial last group not yet wrong.
        let half = format!("{} 00", typed[..4].join(" "));
        assert_eq!(
            check_fingerprint(&fp, &half),
            FingerprintCheck::Incomplete {
                typed_groups: 4,
                total_groups: 16,
                wrong: vec![3]
            }
        );
        assert_eq!(
            check_fingerprint(&fp, &format!("{g} 1234")),
            FingerprintCheck::Wrong {
                wrong: vec![],
                extra: true
            }
        );
    }
}
