//! What a witness decides: it cosigns a checkpoint only if it extends, by a consistency proof,
//! the last checkpoint it cosigned for that origin. Two different heads of one size, a smaller
//! size, or a proof that does not hold are a split view: refused with both heads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::note::Head;
use super::tree::{NodeHash, verify_consistency};

/// The witness's state file: the last head it cosigned, per origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessState {
    pub format: String,
    pub origins: BTreeMap<String, SeenHead>,
}

pub const STATE_FORMAT: &str = "keyrite-witness-state/1";

/// One origin's last cosigned head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenHead {
    pub size: u64,
    /// Base64, as the checkpoint writes it.
    pub root: String,
}

/// Why the witness refuses to cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    #[error(
        "split view: this checkpoint is not consistent with the last one this witness cosigned for {origin}.\n  cosigned before: size {old_size}, root {old_root}\n  presented now:   size {new_size}, root {new_root}\n  {why}"
    )]
    SplitView {
        origin: String,
        old_size: u64,
        old_root: String,
        new_size: u64,
        new_root: String,
        why: String,
    },
    #[error("the witness state is unreadable: {0}")]
    State(String),
}

impl WitnessState {
    pub fn new() -> WitnessState {
        WitnessState {
            format: STATE_FORMAT.to_string(),
            origins: BTreeMap::new(),
        }
    }

    pub fn parse(text: &str) -> Result<WitnessState, WitnessRefusal> {
        let s: WitnessState =
            serde_json::from_str(text).map_err(|e| WitnessRefusal::State(e.to_string()))?;
        if s.format != STATE_FORMAT {
            return Err(WitnessRefusal::State(format!(
                "format {:?}, expected {STATE_FORMAT:?}",
                s.format
            )));
        }
        Ok(s)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The size the consistency proof must start from: the last cosigned size (0 if none).
    pub fn last_size(&self, origin: &str) -> u64 {
        self.origins.get(origin).map_or(0, |h| h.size)
    }

    /// Decides on `head`, given the consistency proof from the last cosigned size: the new state
    /// to store before the cosignature is released, or a refusal naming both heads.
    /// A first checkpoint for an origin is taken as it is (trust on first sight: the state has
    /// nothing to hold it to).
    pub fn accept(
        &self,
        head: &Head,
        proof_from: u64,
        proof: &[NodeHash],
    ) -> Result<WitnessState, WitnessRefusal> {
        let mut next = self.clone();
        let new = SeenHead {
            size: head.size,
            root: head.root_base64(),
        };
        if let Some(old) = self.origins.get(&head.origin) {
            let split = |why: String| WitnessRefusal::SplitView {
                origin: head.origin.clone(),
                old_size: old.size,
                old_root: old.root.clone(),
                new_size: head.size,
                new_root: new.root.clone(),
                why,
            };
            if proof_from != old.size {
                return Err(split(format!(
                    "the consistency proof starts at size {proof_from}, not at the {} cosigned",
                    old.size
                )));
            }
            let old_root = data_encoding::BASE64
                .decode(old.root.as_bytes())
                .ok()
                .and_then(|r| <NodeHash>::try_from(r).ok())
                .ok_or_else(|| {
                    WitnessRefusal::State(format!("root of {} is not a hash", head.origin))
                })?;
            if head.size < old.size {
                return Err(split("the log went back: it is smaller than before".into()));
            }
            verify_consistency(proof, old.size, &old_root, head.size, &head.root)
                .map_err(|e| split(e.to_string()))?;
        }
        next.origins.insert(head.origin.clone(), new);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ledger::tree::Tree;
    use sha2::{Digest, Sha256};

    fn entries(tag: u8, n: u8) -> Vec<NodeHash> {
        (0..n).map(|i| Sha256::digest([tag, i]).into()).collect()
    }

    fn head(t: &Tree, size: u64) -> Head {
        Head {
            origin: "keyrite.ledger/x".into(),
            size,
            root: t.root(size).unwrap(),
        }
    }

    /// Every legal and illegal step of a witness's state, in one table.
    #[test]
    fn the_witness_cosigns_extensions_and_refuses_forks_and_rollbacks() {
        let honest = Tree::of(&entries(1, 6));
        let mut forked_entries = entries(1, 4);
        forked_entries.extend(entries(2, 2));
        let forked = Tree::of(&forked_entries);
        let s0 = WitnessState::new();
        let s4 = s0.accept(&head(&honest, 4), 0, &[]).unwrap();
        assert_eq!(s4.last_size("keyrite.ledger/x"), 4);

        // (state, head presented, proof from, proof, accepted?)
        let p = |t: &Tree, old, new| t.consistency(old, new).unwrap();
        type Case<'a> = (&'a str, &'a WitnessState, Head, u64, Vec<NodeHash>, bool);
        let cases: Vec<Case<'_>> = vec![
            ("first sight", &s0, head(&honest, 2), 0, vec![], true),
            (
                "the same head again",
                &s4,
                head(&honest, 4),
                4,
                vec![],
                true,
            ),
            (
                "grown, proven",
                &s4,
                head(&honest, 6),
                4,
                p(&honest, 4, 6),
                true,
            ),
            (
                "a fork of the same size",
                &s4,
                head(&forked, 4),
                4,
                vec![],
                true,
            ),
            (
                "a fork one larger",
                &s4,
                head(&forked, 5),
                4,
                p(&forked, 4, 5),
                true,
            ),
            ("smaller", &s4, head(&honest, 3), 4, vec![], false),
            (
                "proof from another size",
                &s4,
                head(&honest, 6),
                3,
                p(&honest, 3, 6),
                false,
            ),
            ("grown, no proof", &s4, head(&honest, 6), 4, vec![], false),
        ];
        for (what, state, h, from, proof, ok) in cases {
            assert_eq!(state.accept(&h, from, &proof).is_ok(), ok, "{what}");
        }
        // The fork of the same size shares the first four leaves, so that head is the same:
        // a real fork differs within what was cosigned.
        let s5 = s4.accept(&head(&honest, 5), 4, &p(&honest, 4, 5)).unwrap();
        let err = s5.accept(&head(&forked, 5), 5, &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("split view"), "{text}");
        assert!(text.contains(&head(&honest, 5).root_base64()), "{text}");
        assert!(text.contains(&head(&forked, 5).root_base64()), "{text}");
        let err = s5
            .accept(&head(&forked, 6), 5, &p(&forked, 5, 6))
            .unwrap_err();
        assert!(err.to_string().starts_with("split view"));
        // The state round-trips through its file.
        assert_eq!(
            WitnessState::parse(std::str::from_utf8(&s5.to_json()).unwrap()).unwrap(),
            s5
        );
    }
}
