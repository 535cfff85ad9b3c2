//! Quorum custody of the HSM user PIN: Shamir M-of-N over GF(256) (the `blahaj` crate), shares in a
//! form a person can copy and type back, and a roster of commitments that catches a wrong or
//! foreign share before any login attempt is spent.
//!
//! A share is written `KR1-<index>-<group>-<group>-…-<check>`: Crockford base32 in groups of four
//! characters, each followed by one check character (so a typo is located to its group), then a
//! four-character check over the whole share. Letters are case-insensitive; O reads as 0, I and L
//! as 1.

use std::collections::BTreeSet;

use blahaj::{Share, Sharks};
use data_encoding::{Encoding, Specification};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const PREFIX: &str = "KR1";
const SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUP: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("share {position}: {message}\n  what to do: {hint}")]
    Share {
        position: usize,
        message: String,
        hint: String,
    },
    #[error("only {have} valid distinct share(s); this roster needs {need}\n  what to do: bring {missing} more custodian(s) with their shares", missing = need - have)]
    TooFew { have: usize, need: usize },
    #[error("{0}\n  what to do: fix the enrolment script")]
    Policy(String),
    #[error("only {have} distinct custodian(s) authorised; this roster needs {need}\n  what to do: bring {missing} more custodian(s) to authorise at the HSM", missing = need - have)]
    TooFewNamed { have: usize, need: usize },
    #[error(
        "{0}\n  what to do: write the answers this roster's quorum mode needs (see README: Enrolment)"
    )]
    Mode(String),
    /// A custodian's name that looked like a share: nothing of it is kept or shown.
    #[error("{}", crate::core::person::LOOKED_LIKE_SHARE)]
    LooksLikeShare,
}

/// One custodian's share. Never `Debug`, never `Clone`; wiped on drop.
pub struct CustodianShare {
    index: u8,
    bytes: Zeroizing<Vec<u8>>,
}

impl CustodianShare {
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The share as the custodian writes it down. Shown once, to that custodian alone.
    pub fn encode(&self) -> Zeroizing<String> {
        let enc = encoding();
        let body = Zeroizing::new(enc.encode(&self.bytes));
        let check = whole_check(self.index, &self.bytes);
        // Sized once for the whole share: a growing String reallocates and leaves copies of the
        // share behind in freed memory.
        let groups = body.len().div_ceil(GROUP);
        // The index is public (the roster lists it); only the body is secret.
        let index = format!("{:02}", self.index);
        let size = PREFIX.len() + 1 + index.len() + body.len() + 2 * groups + 1 + check.len();
        let mut out = Zeroizing::new(String::with_capacity(size));
        out.push_str(PREFIX);
        out.push('-');
        out.push_str(&index);
        for (n, group) in body.as_bytes().chunks(GROUP).enumerate() {
            let group = std::str::from_utf8(group).unwrap_or_default();
            out.push('-');
            out.push_str(group);
            out.push(group_check(self.index, n, group));
        }
        out.push('-');
        out.push_str(&check);
        debug_assert_eq!(out.len(), size);
        out
    }

    /// Parses what a custodian typed. Errors say which group is mistyped, never echo the share.
    pub fn decode(typed: &str, position: usize) -> Result<CustodianShare, QuorumError> {
        let err = |message: String, hint: &str| QuorumError::Share {
            position,
            message,
            hint: hint.into(),
        };
        // Buffers sized once (never grown, so never leaving a copy behind): the normalised text
        // is at most as long as what was typed.
        let mut norm = Zeroizing::new(String::with_capacity(typed.len()));
        // Spaces separate groups as dashes do (a share copied with spaces, or across lines).
        for c in typed.trim().chars() {
            norm.push(match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_whitespace() => '-',
                c => c,
            });
        }
        if !norm.is_ascii() {
            return Err(err(
                "it holds characters that never appear in a share (only letters, digits and dashes do)".into(),
                "copy the share exactly as it was written down at enrolment",
            ));
        }
        let parts = split_groups(&norm);
        if parts.len() < 4 || parts[0] != PREFIX {
            return Err(err(
                format!(
                    "is not a keyrite share (it should start with {PREFIX}- and have dash-separated groups)"
                ),
                "copy the share exactly as it was written down at enrolment",
            ));
        }
        let index: u8 = parts[1].parse().ok().filter(|i| *i > 0).ok_or_else(|| {
            err(
                format!("the index {:?} is not a number from 1 to 255", parts[1]),
                "re-read the share's index",
            )
        })?;
        let groups = &parts[2..parts.len() - 1];
        let mut body = Zeroizing::new(String::with_capacity(norm.len()));
        for (n, g) in groups.iter().enumerate() {
            let (data, check) = g.split_at(g.len().saturating_sub(1));
            let bad = data.is_empty()
                || data.len() > GROUP
                || !data.chars().all(|c| SYMBOLS.contains(c))
                || !check.starts_with(group_check(index, n, data));
            if bad {
                return Err(err(
                    format!(
                        "group {} looks mistyped (its check character does not match)",
                        n + 1
                    ),
                    "re-read that group of the share carefully and type it again",
                ));
            }
            body.push_str(data);
        }
        let bytes = Zeroizing::new(encoding().decode(body.as_bytes()).map_err(|_| {
            err(
                "the groups do not form a share (a group is missing or extra)".into(),
                "type every group of the share",
            )
        })?);
        if whole_check(index, &bytes) != parts[parts.len() - 1] {
            return Err(err(
                "the final check does not match (a group may be missing, repeated or swapped)"
                    .into(),
                "type the share again, group by group",
            ));
        }
        Ok(CustodianShare { index, bytes })
    }

    /// Whether `other` is this very share (index and bytes), compared without an early exit.
    pub fn is_same(&self, other: &CustodianShare) -> bool {
        self.index == other.index
            && self.bytes.len() == other.bytes.len()
            && self
                .bytes
                .iter()
                .zip(other.bytes.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The roster commitment: binds the share to the roster without revealing it.
    pub fn commitment(&self, roster_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"keyrite share commitment v1\0");
        h.update(roster_id.as_bytes());
        h.update([0, self.index]);
        h.update(self.bytes.as_slice());
        data_encoding::HEXLOWER.encode(&h.finalize())
    }
}

/// Who holds which share, and what each share commits to. Public: it goes into the signed log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Random, from the HSM at enrolment: makes commitments unique to this roster.
    pub id: String,
    pub threshold: u8,
    pub custodians: Vec<RosterEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    pub name: String,
    pub index: u8,
    pub commitment: String,
}

impl Roster {
    /// The custodians' names, in the roster's order.
    pub fn names(&self) -> Vec<String> {
        self.custodians.iter().map(|c| c.name.clone()).collect()
    }
}

/// Splits `secret` among `names`, any `threshold` of whom can rebuild it.
pub fn split(
    secret: &[u8],
    threshold: u8,
    names: &[String],
    roster_id: &str,
) -> Result<(Roster, Vec<CustodianShare>), QuorumError> {
    let n = names.len();
    if threshold < 2 || usize::from(threshold) > n || n > 254 {
        return Err(QuorumError::Policy(format!(
            "a quorum of {threshold} out of {n} custodians is not allowed: need 2 <= M <= N <= 254"
        )));
    }
    if names.iter().collect::<BTreeSet<_>>().len() != n || names.iter().any(|s| s.trim().is_empty())
    {
        return Err(QuorumError::Policy(
            "custodian names must be distinct and not empty".into(),
        ));
    }
    let shares: Vec<CustodianShare> = Sharks(threshold)
        .dealer(secret)
        .take(n)
        .map(|s| {
            let raw = Zeroizing::new(Vec::<u8>::from(&s));
            CustodianShare {
                index: raw[0],
                bytes: Zeroizing::new(raw[1..].to_vec()),
            }
        })
        .collect();
    let custodians = names
        .iter()
        .zip(&shares)
        .map(|(name, s)| RosterEntry {
            name: name.clone(),
            index: s.index,
            commitment: s.commitment(roster_id),
        })
        .collect();
    Ok((
        Roster {
            id: roster_id.into(),
            threshold,
            custodians,
        },
        shares,
    ))
}

/// The quorum gate: checks every share against the roster (which custodian, untampered, distinct)
/// and rebuilds the secret only from `threshold` valid shares. Nothing here touches the HSM, so a
/// wrong share costs no login attempt.
pub fn combine(roster: &Roster, typed: &[&str]) -> Result<Zeroizing<Vec<u8>>, QuorumError> {
    let mut seen = BTreeSet::new();
    let mut valid = Vec::new();
    for (i, text) in typed.iter().enumerate() {
        let position = i + 1;
        let share = CustodianShare::decode(text, position)?;
        let entry = roster
            .custodians
            .iter()
            .find(|c| c.index == share.index)
            .ok_or_else(|| QuorumError::Share {
                position,
                message: format!(
                    "its index {} belongs to no custodian of this roster",
                    share.index
                ),
                hint: "this share is from another enrolment; use the share issued for this HSM"
                    .into(),
            })?;
        if share.commitment(&roster.id) != entry.commitment {
            return Err(QuorumError::Share {
                position,
                message: format!("it is not the share enrolled for {} (index {})", entry.name, entry.index),
                hint: "this share is from another enrolment or was altered; use the share issued for this HSM".into(),
            });
        }
        if !seen.insert(share.index) {
            return Err(QuorumError::Share {
                position,
                message: format!("{}'s share was given twice", entry.name),
                hint: "each custodian enters their own share once".into(),
            });
        }
        valid.push(share);
    }
    let need = usize::from(roster.threshold);
    if valid.len() < need {
        return Err(QuorumError::TooFew {
            have: valid.len(),
            need,
        });
    }
    let shares: Vec<Share> = valid
        .iter()
        .take(need)
        .filter_map(|s| {
            let mut raw = Zeroizing::new(Vec::with_capacity(s.bytes.len() + 1));
            raw.push(s.index);
            raw.extend_from_slice(&s.bytes);
            Share::try_from(raw.as_slice()).ok()
        })
        .collect();
    Sharks(roster.threshold)
        .recover(&shares)
        .map(Zeroizing::new)
        .map_err(|e| QuorumError::Policy(format!("the shares do not combine: {e}")))
}

/// The parts of a normalised share: prefix, index, the groups, the whole-share check. Runs of
/// separators count as one; a dash left out between two groups (a share wrapped after a dash on
/// paper) is put back: a part longer than a group is cut into groups, and the last part's final
/// four characters are the whole-share check.
fn split_groups(norm: &str) -> Vec<&str> {
    let parts: Vec<&str> = norm.split('-').filter(|p| !p.is_empty()).collect();
    if parts.len() < 3 {
        return parts;
    }
    let mut out: Vec<&str> = parts[..2].to_vec();
    let (body, last) = parts[2..].split_at(parts.len() - 3);
    let mut groups: Vec<&str> = body.to_vec();
    let last = last[0];
    let check = if last.len() > 4 {
        let (rest, check) = last.split_at(last.len() - 4);
        groups.push(rest);
        check
    } else {
        last
    };
    for g in groups {
        let mut g = g;
        while g.len() > GROUP + 1 && g.is_char_boundary(GROUP + 1) {
            let (head, tail) = g.split_at(GROUP + 1);
            out.push(head);
            g = tail;
        }
        out.push(g);
    }
    out.push(check);
    out
}

/// Whether text typed into a name field looks like a share (or the start of one), so that it is
/// refused without being shown or kept: the `KR1` prefix followed by a separator, two groups of
/// five share symbols joined by a dash with a digit among them, or three groups of five. Read as
/// a share is read: any case, O as 0, I and L as 1, spaces or dashes between groups. A name of
/// people ("Maria-Elena", "Anna Smith") has none of these shapes.
pub fn looks_like_share(typed: &str) -> bool {
    // As a share is read: O as 0, I and L as 1. ASCII to ASCII, so byte offsets stay the same
    // in `typed` and in `read`; digits are counted in what was typed (a name's I is no digit).
    let read: String = typed
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if read.contains(&format!("{PREFIX}-")) || read.contains(&format!("{PREFIX} ")) {
        return true;
    }
    let group = |t: &str| t.len() == GROUP + 1 && t.chars().all(|c| SYMBOLS.contains(c));
    // Runs of five-symbol groups: (start, end) in bytes, and the separator after each.
    let mut run: Vec<(usize, usize, char)> = Vec::new();
    let mut start = 0;
    let ends = read
        .char_indices()
        .filter(|(_, c)| *c == '-' || c.is_whitespace())
        .chain(std::iter::once((read.len(), ' ')));
    for (end, sep) in ends {
        let token = &read[start..end];
        if group(token) {
            run.push((start, end, sep));
            if run.len() >= 3 {
                return true;
            }
            if let [.., (a0, _, '-'), (_, b1, _)] = run.as_slice()
                && typed
                    .get(*a0..*b1)
                    .is_some_and(|t| t.chars().any(|c| c.is_ascii_digit()))
            {
                return true;
            }
        } else if !token.is_empty() {
            run.clear();
        }
        start = end + sep.len_utf8();
    }
    false
}

fn encoding() -> Encoding {
    let mut spec = Specification::new();
    spec.symbols.push_str(SYMBOLS);
    spec.encoding()
        .unwrap_or_else(|_| data_encoding::BASE32_NOPAD.clone())
}

fn group_check(index: u8, n: usize, group: &str) -> char {
    let mut h = Sha256::new();
    h.update(b"keyrite share group\0");
    h.update([index]);
    h.update((n as u32).to_be_bytes());
    h.update(group.as_bytes());
    let d = h.finalize();
    SYMBOLS.as_bytes()[usize::from(d[0] & 31)] as char
}

fn whole_check(index: u8, bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"keyrite share\0");
    h.update([index]);
    h.update(bytes);
    let d = h.finalize();
    encoding().encode(&d[..3])[..4].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<String> {
        ["Alice", "Bob", "Carol", "Dave", "Erin"]
            .iter()
            .take(n)
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn spaces_separate_groups_and_a_dash_left_out_at_a_line_break_is_put_back() {
        let (_, shares) = enrol(2, 3);
        for s in &shares {
            let s = s.as_str();
            let spaced = s.replace('-', " ");
            // Each dash in turn left out (as when a share wraps after a dash on paper).
            let dashes: Vec<usize> = s.match_indices('-').map(|(i, _)| i).skip(2).collect();
            for d in dashes {
                let joined = format!("{}{}", &s[..d], &s[d + 1..]);
                CustodianShare::decode(&joined, 1).unwrap_or_else(|e| panic!("{e}"));
            }
            CustodianShare::decode(&spaced, 1).unwrap_or_else(|e| panic!("{e}"));
            // Copied across two lines, the break after a dash.
            let wrap = s.match_indices('-').nth(3).map_or(0, |(i, _)| i + 1);
            CustodianShare::decode(&format!("{}\n  {}", &s[..wrap], &s[wrap..]), 1)
                .unwrap_or_else(|e| panic!("{e}"));
            // Decoded the same as the share itself.
            let a = CustodianShare::decode(s, 1).unwrap();
            let b = CustodianShare::decode(&spaced, 1).unwrap();
            assert!(a.is_same(&b));
        }
    }

    #[test]
    fn a_share_or_its_start_looks_like_a_share_and_names_do_not() {
        let (_, shares) = enrol(3, 5);
        for s in &shares {
            let s = s.as_str();
            assert!(looks_like_share(s), "{s}");
            assert!(looks_like_share(&format!("alice{s}")), "{s}");
            assert!(looks_like_share(&s.to_lowercase()), "{s}");
            assert!(looks_like_share(&s.replace('-', " ")), "{s}");
            // Its start, as it is typed, and its body without the prefix.
            assert!(looks_like_share(&s[..4]), "{s}");
            assert!(looks_like_share(&s[7..]), "{s}");
        }
        for name in [
            "Alice",
            "alice",
            "Maria-Elena",
            "Anna Smith",
            "Jean-Pierre Dupont",
            "Olga Operator",
            "Wendy Witness",
            "Erin",
            "KR1",
        ] {
            assert!(!looks_like_share(name), "{name}");
        }
    }

    #[test]
    fn an_encoded_share_is_built_in_one_allocation_of_its_final_size() {
        for (m, n) in [(2, 2), (2, 3), (3, 5)] {
            let (_, shares) = enrol(m, n);
            for s in &shares {
                // Had the buffer grown, its capacity would exceed its length.
                assert_eq!(s.len(), s.capacity(), "{m} of {n}");
            }
        }
    }

    fn enrol(m: u8, n: usize) -> (Roster, Vec<Zeroizing<String>>) {
        let (roster, shares) =
            split(b"0123456789abcdef01234567", m, &names(n), "roster-1").unwrap();
        (roster, shares.iter().map(|s| s.encode()).collect())
    }

    #[test]
    fn any_m_distinct_shares_rebuild_the_secret() {
        let (roster, shares) = enrol(3, 5);
        for pick in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let typed: Vec<&str> = pick.iter().map(|&i| shares[i].as_str()).collect();
            assert_eq!(
                combine(&roster, &typed).unwrap().as_slice(),
                b"0123456789abcdef01234567"
            );
        }
        let lower = shares[0].to_lowercase().replace('0', "o");
        let typed = [lower.as_str(), shares[1].as_str(), shares[2].as_str()];
        assert_eq!(
            combine(&roster, &typed).unwrap().as_slice(),
            b"0123456789abcdef01234567"
        );
    }

    #[test]
    fn wrong_duplicate_foreign_and_too_few_shares_are_named() {
        let (roster, shares) = enrol(2, 3);
        let (_, foreign) = enrol(2, 3);
        let s = |i: usize| shares[i].as_str();
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec![s(0)],
                "only 1 valid distinct share(s); this roster needs 2",
            ),
            (vec![s(0), s(0)], "share 2: Alice's share was given twice"),
            (
                vec![s(0), foreign[1].as_str()],
                "share 2: it is not the share enrolled for Bob",
            ),
            (vec!["hello", s(1)], "share 1: is not a keyrite share"),
        ];
        for (typed, want) in cases {
            let e = combine(&roster, &typed).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?} in {e}");
        }
    }

    #[test]
    fn errors_never_repeat_the_share() {
        let (roster, shares) = enrol(2, 2);
        // A 5-bit group check misses one typo in 32 (the whole-share check then catches it):
        // choose a substitution the group check catches, to test that the group is named.
        let original = shares[0].to_string();
        let index: u8 = original[4..6].parse().unwrap();
        let group = &original[7..11];
        let check = original[11..12].chars().next().unwrap();
        let typo = SYMBOLS
            .chars()
            .map(|c| format!("{}{c}{}", &original[..8], &original[9..]))
            .find(|t| t != &original && group_check(index, 0, &t[7..11]) != check)
            .unwrap();
        assert_ne!(&typo[7..11], group);
        let e = combine(&roster, &[typo.as_str(), shares[1].as_str()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("share 1: group 1 looks mistyped"), "{e}");
        for g in shares[0].split('-').skip(2) {
            assert!(!e.contains(g), "the error repeats part of a share: {e}");
        }
    }

    #[test]
    fn characters_outside_a_share_are_refused_not_a_panic() {
        // Found by the share_decoder fuzz target: a non-ASCII character inside a group.
        let typed = "KR1-02-1HFH3-PTZGT-T46KQ-6CD1A-1FDPT-V4Y2N-B71\u{166}-D13RQ-2X7R4-RFRP-XNVB";
        let e = CustodianShare::decode(typed, 2).err().unwrap().to_string();
        assert!(
            e.starts_with("share 2: it holds characters that never appear in a share"),
            "{e}"
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        for (m, n) in [(1, 3), (4, 3), (0, 0)] {
            assert!(split(b"pin", m, &names(n), "r").is_err(), "{m} of {n}");
        }
        let twice = vec!["Alice".to_string(), "Alice".to_string()];
        assert!(split(b"pin", 2, &twice, "r").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Any single-character substitution in the data is caught before combining.
        #[test]
        fn any_single_typo_is_caught(pos in 0usize..200, sym in 0usize..32) {
            let (roster, shares) = enrol(2, 2);
            let mut chars: Vec<char> = shares[0].chars().collect();
            let editable: Vec<usize> = (7..chars.len()).filter(|&i| chars[i] != '-').collect();
            let i = editable[pos % editable.len()];
            let new = SYMBOLS.as_bytes()[sym] as char;
            prop_assume!(chars[i] != new);
            chars[i] = new;
            let typo: String = chars.into_iter().collect();
            prop_assert!(combine(&roster, &[typo.as_str(), shares[1].as_str()]).is_err());
        }
    }
}
