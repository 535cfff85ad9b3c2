//! The ledger's evidence in a bundle, in C2SP text formats:
//! - `ledger.tlog-proof` (c2sp.org/tlog-proof@v1): the index of this ceremony's leaf, its
//!   inclusion proof and the signed checkpoint, where witnesses add their cosignature lines;
//! - `ledger.consistency`: `old <size>` and the consistency proof from the previous checkpoint,
//!   as a c2sp.org/tlog-witness add-checkpoint request carries it.

use data_encoding::BASE64;

use super::tree::NodeHash;

pub const PROOF_FILE: &str = "ledger.tlog-proof";
pub const CONSISTENCY_FILE: &str = "ledger.consistency";
const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Why a proof file does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ProofSyntax {
    pub file: &'static str,
    pub problem: String,
}

/// A tlog-proof: leaf index, inclusion proof, checkpoint note (bytes as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub index: u64,
    pub path: Vec<NodeHash>,
    pub checkpoint: Vec<u8>,
}

impl InclusionProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{PROOF_HEADER}\nindex {}\n", self.index);
        for h in &self.path {
            s.push_str(&BASE64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.checkpoint);
        b
    }

    pub fn parse(bytes: &[u8]) -> Result<InclusionProof, ProofSyntax> {
        let bad = |problem: &str| ProofSyntax {
            file: PROOF_FILE,
            problem: problem.to_string(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .and_then(decimal)
            .ok_or_else(|| bad("no 'index N' line"))?;
        let path = hashes(lines).ok_or_else(|| bad("a proof line is not a base64 SHA-256"))?;
        Ok(InclusionProof {
            index,
            path,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }
}

/// `old <size>` and the consistency proof from that size to the checkpoint's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old: u64,
    pub path: Vec<NodeHash>,
}

impl ConsistencyProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("old {}\n", self.old);
        for h in &self.path {
            s.push_str(&BASE64.encode(h));
            s.push('\n');
        }
        s.into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Result<ConsistencyProof, ProofSyntax> {
        let bad = |problem: &str| ProofSyntax {
            file: CONSISTENCY_FILE,
            problem: problem.to_string(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
        let text = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("it does not end in a newline"))?;
        let mut lines = text.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(decimal)
            .ok_or_else(|| bad("no 'old N' line"))?;
        let path = hashes(lines).ok_or_else(|| bad("a proof line is not a base64 SHA-256"))?;
        Ok(ConsistencyProof { old, path })
    }
}

/// A decimal without leading zeros (but "0").
fn decimal(s: &str) -> Option<u64> {
    let n: u64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

fn hashes<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Vec<NodeHash>> {
    let mut out = Vec::new();
    for l in lines {
        let raw = BASE64.decode(l.as_bytes()).ok()?;
        out.push(raw.try_into().ok()?);
        if out.len() > 63 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_round_trip_and_malformed_ones_are_named() {
        let p = InclusionProof {
            index: 3,
            path: vec![[1u8; 32], [2u8; 32]],
            checkpoint: b"o\n4\nAAAA\n\n\xe2\x80\x94 o AAAA\n".to_vec(),
        };
        assert_eq!(InclusionProof::parse(&p.to_bytes()).unwrap(), p);
        let c = ConsistencyProof {
            old: 2,
            path: vec![[3u8; 32]],
        };
        assert_eq!(ConsistencyProof::parse(&c.to_bytes()).unwrap(), c);
        let zero = ConsistencyProof {
            old: 0,
            path: vec![],
        };
        assert_eq!(zero.to_bytes(), b"old 0\n");
        assert_eq!(ConsistencyProof::parse(b"old 0\n").unwrap(), zero);
        for bad in [
            &b"old 01\n"[..],
            b"old 1",
            b"old 1\nnot-base64\n",
            b"new 1\n",
        ] {
            assert!(ConsistencyProof::parse(bad).is_err(), "{bad:?}");
        }
        let text = String::from_utf8(p.to_bytes()).unwrap();
        assert!(InclusionProof::parse(text.replace("index 3", "index x").as_bytes()).is_err());
        assert!(InclusionProof::parse(text.replace("c2sp.org", "c2sp.com").as_bytes()).is_err());
    }
}
