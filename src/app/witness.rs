//! `keyrite witness`: someone outside the ceremony room keeps an Ed25519 key and, per log origin,
//! the last checkpoint they cosigned. `cosign` verifies a bundle's checkpoint with the log's
//! public key, checks it extends that last checkpoint (a consistency proof), stores the new head
//! (atomically, before anything is released) and only then adds its cosignature/v1 line to the
//! bundle's checkpoint. A checkpoint that does not extend the last one is a split view: refused,
//! both heads printed.

use std::path::Path;

use data_encoding::BASE64;
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

use crate::app::error::Result;
use crate::app::ledger_error::LedgerError;
use crate::core::chain::TrustedKey;
use crate::core::ledger::cosignature::{self, WitnessKey};
use crate::core::ledger::proof::{ConsistencyProof, InclusionProof};
use crate::core::ledger::witness::{WitnessRefusal, WitnessState};
use crate::core::ledger::{Ledger, note};
use crate::io::fs as fsio;
use crate::io::ledger_dir;

const KEY_FORMAT: &str = "keyrite-witness-key/1";

/// A witness's signing key, read from its file; wiped on drop.
pub struct WitnessSigner {
    name: String,
    key: SigningKey,
}

impl WitnessSigner {
    pub fn public(&self) -> Result<WitnessKey> {
        WitnessKey::new(&self.name, self.key.verifying_key()).map_err(|problem| {
            LedgerError::WitnessKey {
                what: self.name.clone(),
                problem,
            }
            .into()
        })
    }
}

/// `witness init`: a new Ed25519 key named `name`, written to `key_file` (created new, mode
/// 0600). Returns the verifier key auditors pass to `audit verify --witness`.
pub fn init(key_file: &Path, name: &str) -> Result<WitnessKey> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| LedgerError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let public =
        WitnessKey::new(name, key.verifying_key()).map_err(|problem| LedgerError::WitnessKey {
            what: name.to_string(),
            problem,
        })?;
    let text = Zeroizing::new(format!(
        "{KEY_FORMAT}\n{name}\n{}\n",
        BASE64.encode(seed.as_ref())
    ));
    fsio::write_new_secret(key_file, text.as_bytes())?;
    Ok(public)
}

/// Reads a witness key file (refused if group or others may read it).
pub fn read_key(key_file: &Path) -> Result<WitnessSigner> {
    let bytes = fsio::read_secret(key_file, "a witness key")?;
    let bad = |problem: &str| LedgerError::WitnessKeyFile {
        path: key_file.to_path_buf(),
        problem: problem.to_string(),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not text"))?;
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FORMAT) {
        return Err(bad("its first line is not keyrite-witness-key/1").into());
    }
    let name = lines.next().ok_or_else(|| bad("no name"))?.to_string();
    let seed = Zeroizing::new(
        BASE64
            .decode(lines.next().ok_or_else(|| bad("no key"))?.as_bytes())
            .map_err(|_| bad("the key is not base64"))?,
    );
    let seed: &[u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| bad("the key is not 32 bytes"))?;
    Ok(WitnessSigner {
        name,
        key: SigningKey::from_bytes(seed),
    })
}

/// What a cosigning did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cosigned {
    pub origin: String,
    pub size: u64,
    pub root: String,
    /// The size last cosigned for this origin before (0: the first).
    pub previous_size: u64,
    pub witness: String,
    pub time: u64,
}

/// `witness cosign`: see the module docs.
pub fn cosign(
    bundle: &Path,
    signer: &WitnessSigner,
    state_file: &Path,
    log_key: &TrustedKey,
    time: u64,
) -> Result<Cosigned> {
    let [proof, consistency, copy] =
        ledger_dir::read_bundle(bundle)?.ok_or_else(|| LedgerError::NoEvidence {
            bundle: bundle.to_path_buf(),
        })?;
    let evidence = |problem| LedgerError::Evidence {
        bundle: bundle.to_path_buf(),
        problem,
    };
    let inclusion = InclusionProof::parse(&proof).map_err(|e| evidence(e.into()))?;
    let checkpoint =
        note::verify(&inclusion.checkpoint, log_key).map_err(|e| evidence(e.into()))?;
    let head = checkpoint.head.clone();
    let state = read_state(state_file)?;
    let last = state.last_size(&head.origin);
    // The bundle's consistency proof when it starts where this witness stopped; otherwise one
    // from the bundle's ledger copy, which must give the checkpoint's root to be used at all.
    let cons = ConsistencyProof::parse(&consistency).map_err(|e| evidence(e.into()))?;
    let path = if cons.old == last {
        cons.path
    } else {
        let copy = Ledger::parse(&copy).map_err(evidence)?;
        let tree = copy.tree().map_err(evidence)?;
        if copy.size() < head.size || tree.root(head.size).ok() != Some(head.root) {
            return Err(evidence(crate::core::ledger::LedgerError::CopyDiffers {
                size: head.size,
            })
            .into());
        }
        if last > head.size {
            Vec::new()
        } else {
            tree.consistency(last, head.size)
                .map_err(|e| evidence(e.into()))?
        }
    };
    let next = state
        .accept(&head, last, &path)
        .map_err(|r| LedgerError::SplitView(Box::new(r)))?;
    // The state first: a cosignature is never released for a head the witness could forget.
    fsio::replace_again(state_file, &next.to_json())?;
    let cosigned = cosignature::cosign(&checkpoint.note, &signer.name, &signer.key, time).map_err(
        |problem| LedgerError::WitnessKey {
            what: signer.name.clone(),
            problem,
        },
    )?;
    let with = InclusionProof {
        checkpoint: cosigned.to_bytes(),
        ..inclusion
    };
    ledger_dir::replace_proof(bundle, &with.to_bytes())?;
    Ok(Cosigned {
        origin: head.origin.clone(),
        size: head.size,
        root: head.root_base64(),
        previous_size: last,
        witness: signer.name.clone(),
        time,
    })
}

fn read_state(path: &Path) -> Result<WitnessState> {
    if !fsio::exists_nofollow(path) {
        return Ok(WitnessState::new());
    }
    let text = fsio::text(path, fsio::read_nofollow(path)?, "a witness state file")?;
    WitnessState::parse(&text).map_err(|problem: WitnessRefusal| {
        LedgerError::WitnessState {
            path: path.to_path_buf(),
            problem,
        }
        .into()
    })
}
