//! The token's ledger as an RFC 6962 Merkle tree: one leaf per ceremony, enrolment or re-wrap the
//! log key closed, each leaf the SHA-256 of that log's final record. The tree, its root and its
//! inclusion and consistency proofs come from `tlog_tiles` (a port of Go's sumdb/tlog, checked
//! there against Certificate Transparency's own proofs); this module holds the leaves and
//! answers the questions a ledger is asked.

use tlog_tiles::{
    Hash, HashReader, check_record, check_tree, prove_record, prove_tree, record_hash,
    stored_hashes_for_record_hash, tree_hash,
};

/// A 32-byte node or leaf hash of the tree.
pub type NodeHash = [u8; 32];

/// Why a tree question has no answer, or a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    NoSuchLeaf { index: u64, size: u64 },
    #[error("a tree of {old} leaves cannot grow into one of {new}")]
    Shrinks { old: u64, new: u64 },
    #[error("the tree has {have} leaves, fewer than the {asked} asked for")]
    TooSmall { have: u64, asked: u64 },
    #[error("the inclusion proof of leaf {index} does not lead to the checkpoint's root")]
    NotIncluded { index: u64 },
    #[error(
        "the consistency proof does not show the tree of {old} leaves is a prefix of the tree of {new}"
    )]
    Inconsistent { old: u64, new: u64 },
}

/// The leaf hash RFC 6962 gives a ledger entry: SHA-256(0x00 || the final record's SHA-256).
pub fn leaf_hash(final_record_sha256: &NodeHash) -> NodeHash {
    record_hash(final_record_sha256).0
}

/// The Merkle tree of a ledger's leaves, with every stored node, so roots and proofs of any
/// earlier size can be computed.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    leaves: u64,
    stored: Vec<Hash>,
}

impl HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.stored.get(i))
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Tree {
    /// The tree of these entries (each the final record's SHA-256), in order.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a NodeHash>) -> Tree {
        let mut tree = Tree::default();
        for e in entries {
            tree.push(e);
        }
        tree
    }

    /// Appends one entry.
    pub fn push(&mut self, final_record_sha256: &NodeHash) {
        // Reads only nodes the tree already stores: cannot fail on a tree built by push.
        if let Ok(new) =
            stored_hashes_for_record_hash(self.leaves, record_hash(final_record_sha256), &*self)
        {
            self.stored.extend(new);
            self.leaves += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.leaves
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<NodeHash, TreeError> {
        self.within(size)?;
        tree_hash(size, self)
            .map(|h| h.0)
            .map_err(|_| TreeError::TooSmall {
                have: self.leaves,
                asked: size,
            })
    }

    /// The inclusion proof (RFC 6962 audit path, leaf's sibling first) of leaf `index` in the
    /// tree of `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<NodeHash>, TreeError> {
        self.within(size)?;
        if index >= size {
            return Err(TreeError::NoSuchLeaf { index, size });
        }
        prove_record(size, index, self)
            .map(|p| p.into_iter().map(|h| h.0).collect())
            .map_err(|_| TreeError::NoSuchLeaf { index, size })
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<NodeHash>, TreeError> {
        self.within(new)?;
        if old > new {
            return Err(TreeError::Shrinks { old, new });
        }
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        prove_tree(new, old, self)
            .map(|p| p.into_iter().map(|h| h.0).collect())
            .map_err(|_| TreeError::Shrinks { old, new })
    }

    fn within(&self, size: u64) -> Result<(), TreeError> {
        if size > self.leaves {
            return Err(TreeError::TooSmall {
                have: self.leaves,
                asked: size,
            });
        }
        Ok(())
    }
}

/// Checks that the entry `final_record_sha256` is leaf `index` of the tree of `size` leaves whose
/// root is `root`.
pub fn verify_inclusion(
    proof: &[NodeHash],
    index: u64,
    size: u64,
    root: &NodeHash,
    final_record_sha256: &NodeHash,
) -> Result<(), TreeError> {
    if index >= size {
        return Err(TreeError::NoSuchLeaf { index, size });
    }
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_record(
        &proof,
        size,
        Hash(*root),
        index,
        record_hash(final_record_sha256),
    )
    .map_err(|_| TreeError::NotIncluded { index })
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`.
pub fn verify_consistency(
    proof: &[NodeHash],
    old: u64,
    old_root: &NodeHash,
    new: u64,
    new_root: &NodeHash,
) -> Result<(), TreeError> {
    if old > new {
        return Err(TreeError::Shrinks { old, new });
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(TreeError::Inconsistent { old, new })
        };
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(TreeError::Inconsistent { old, new })
        };
    }
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_tree(&proof, new, Hash(*new_root), old, Hash(*old_root))
        .map_err(|_| TreeError::Inconsistent { old, new })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn entry(i: u8) -> NodeHash {
        Sha256::digest([i]).into()
    }

    fn tree(n: u8) -> (Tree, Vec<NodeHash>) {
        let entries: Vec<NodeHash> = (0..n).map(entry).collect();
        (Tree::of(&entries), entries)
    }

    /// RFC 6962's definition, computed the slow way, to hold the crate's fast way to.
    fn naive_root(leaves: &[NodeHash]) -> NodeHash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = n.next_power_of_two() / 2;
                let mut h = Sha256::new();
                h.update([1u8]);
                h.update(naive_root(&leaves[..k]));
                h.update(naive_root(&leaves[k..]));
                h.finalize().into()
            }
        }
    }

    #[test]
    fn roots_are_rfc_6962_roots_at_every_size() {
        let (t, entries) = tree(13);
        for size in 0..=13u64 {
            assert_eq!(
                t.root(size).unwrap(),
                naive_root(&entries[..size as usize]),
                "size {size}"
            );
        }
        assert_eq!(
            t.root(14),
            Err(TreeError::TooSmall {
                have: 13,
                asked: 14
            })
        );
    }

    #[test]
    fn every_leaf_is_included_at_every_size_and_nothing_else_is() {
        let (t, entries) = tree(9);
        for size in 1..=9u64 {
            let root = t.root(size).unwrap();
            for index in 0..size {
                let proof = t.inclusion(index, size).unwrap();
                let leaf = &entries[index as usize];
                verify_inclusion(&proof, index, size, &root, leaf).unwrap();
                // Another leaf at that index, or the leaf at another index, is refused.
                let other = entry(200);
                assert!(verify_inclusion(&proof, index, size, &root, &other).is_err());
                if size > 1 {
                    let wrong = (index + 1) % size;
                    assert!(verify_inclusion(&proof, wrong, size, &root, leaf).is_err());
                }
            }
        }
    }

    #[test]
    fn every_prefix_is_consistent_and_a_fork_is_not() {
        let (t, _) = tree(11);
        for new in 1..=11u64 {
            for old in 0..=new {
                let proof = t.consistency(old, new).unwrap();
                let (or, nr) = (t.root(old).unwrap(), t.root(new).unwrap());
                verify_consistency(&proof, old, &or, new, &nr).unwrap();
            }
        }
        // A fork: the same first 4 leaves, then another fifth.
        let mut forked: Vec<NodeHash> = (0..4).map(entry).collect();
        forked.push(entry(99));
        forked.push(entry(5));
        let f = Tree::of(&forked);
        let proof = f.consistency(5, 6).unwrap();
        let err = verify_consistency(&proof, 5, &t.root(5).unwrap(), 6, &f.root(6).unwrap());
        assert_eq!(err, Err(TreeError::Inconsistent { old: 5, new: 6 }));
        // Two different trees of one size are never consistent.
        assert!(verify_consistency(&[], 6, &t.root(6).unwrap(), 6, &f.root(6).unwrap()).is_err());
        assert_eq!(
            t.consistency(7, 6),
            Err(TreeError::Shrinks { old: 7, new: 6 })
        );
    }
}
