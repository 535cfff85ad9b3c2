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
use crate::core::ledger::cosignature::{self, CosignatureSigner, KeyWitness, WitnessKey};
use crate::core::ledger::proof::{ConsistencyProof, InclusionProof};
use crate::core::ledger::witness::{WitnessRefusal, WitnessState};
use crate::core::ledger::{Ledger, note};
use crate::io::fs as fsio;
use crate::io::ledger_dir;

const KEY_FORMAT: &str = "keyrite-witness-key/1";
/// The first line of a descriptor of a witness key kept in a PKCS#11 token.
const TOKEN_FORMAT: &str = "keyrite-witness-pkcs11/1";

/// The token holding a witness key: the module and the `pkcs11:` URI (token label, pin-source).
#[derive(Debug, Clone, Copy)]
pub struct WitnessToken<'a> {
    /// `--module` (else the URI's module-path, else the build's default).
    pub module: Option<&'a Path>,
    pub uri: &'a str,
}

/// A witness's signer: its key file's Ed25519 key, or (air-gap and full builds) its key in a
/// PKCS#11 token, logged in and checked against its descriptor.
pub enum WitnessSigner {
    File(KeyWitness),
    #[cfg(feature = "airgap")]
    Token(crate::hsm::witness_key::HsmWitnessSigner),
}

impl WitnessSigner {
    pub fn public(&self) -> &WitnessKey {
        self.witness()
    }
}

impl CosignatureSigner for WitnessSigner {
    type Error = crate::app::error::Error;
    fn witness(&self) -> &WitnessKey {
        match self {
            WitnessSigner::File(k) => k.witness(),
            #[cfg(feature = "airgap")]
            WitnessSigner::Token(t) => t.witness(),
        }
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64]> {
        match self {
            WitnessSigner::File(k) => Ok(k.sign(message)?),
            #[cfg(feature = "airgap")]
            WitnessSigner::Token(t) => Ok(t.sign(message)?),
        }
    }
}

fn witness_key(name: &str, key: ed25519_dalek::VerifyingKey) -> Result<WitnessKey> {
    WitnessKey::new(name, key).map_err(|problem| {
        LedgerError::WitnessKey {
            what: name.to_string(),
            problem,
        }
        .into()
    })
}

/// `witness init`: a new Ed25519 key named `name`, written to `key_file` (created new, mode
/// 0600). Returns the verifier key auditors pass to `audit verify --witness`.
pub fn init(key_file: &Path, name: &str) -> Result<WitnessKey> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| LedgerError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let public = witness_key(name, key.verifying_key())?;
    let text = Zeroizing::new(format!(
        "{KEY_FORMAT}\n{name}\n{}\n",
        BASE64.encode(seed.as_ref())
    ));
    fsio::write_new_secret(key_file, text.as_bytes())?;
    Ok(public)
}

/// `witness init --token`: a new Ed25519 key pair named `name`, generated in the witness's own
/// token (private half sensitive, never extractable), and its descriptor written to `descriptor`
/// (created new, fsynced; not secret: the name, the token's label, the key's label and the
/// public key). Nothing is generated when the name is not a witness name, the descriptor exists,
/// the token offers no Ed25519 or holds the key's label already.
#[cfg(feature = "airgap")]
pub fn init_in_token(descriptor: &Path, name: &str, token: WitnessToken) -> Result<WitnessKey> {
    use crate::hsm::witness_key::key_label;
    cosignature::check_name(name).map_err(|problem| LedgerError::WitnessKey {
        what: name.to_string(),
        problem,
    })?;
    if fsio::exists_nofollow(descriptor) {
        return Err(crate::io::fs::FsError::Exists {
            path: descriptor.to_path_buf(),
        }
        .into());
    }
    let (label, session) = log_in(token)?;
    let key_label = key_label(name);
    let (key, pair) = session.generate_witness_key(&label, &key_label)?;
    let public = witness_key(name, key)?;
    let text = format!(
        "{TOKEN_FORMAT}\n{name}\n{label}\n{key_label}\n{}\n",
        BASE64.encode(key.as_bytes())
    );
    if let Err(e) = fsio::write_new(descriptor, text.as_bytes()) {
        session.destroy_witness_key(pair);
        return Err(e.into());
    }
    Ok(public)
}

/// Opens the token the URI names and logs in: with its pin-source, else at its PIN pad.
#[cfg(feature = "airgap")]
fn log_in(token: WitnessToken) -> Result<(String, crate::hsm::token::UserSession)> {
    let uri = crate::hsm::TokenUri::parse(token.uri)?;
    let module = token
        .module
        .map(Path::to_path_buf)
        .or(uri.module_path.clone())
        .unwrap_or_else(|| crate::hsm::softhsm::DEFAULT_MODULE.into());
    let opened = crate::hsm::Token::open(&module, &uri.token)?;
    let session = match &uri.pin_source {
        Some(path) => opened.login(&crate::hsm::pin::read_pin(path)?)?,
        None if opened.has_protected_authentication_path()? => opened.login_protected()?,
        None => return Err(LedgerError::WitnessNoPin { token: uri.token }.into()),
    };
    Ok((uri.token, session))
}

/// Reads a witness key: a key file `witness init` wrote (refused if group or others may read
/// it), or the descriptor of a key in a token, which `token` must then name (the token's key is
/// checked to be the descriptor's before anything is signed). Told apart by the first line.
pub fn read_signer(key_file: &Path, token: Option<WitnessToken>) -> Result<WitnessSigner> {
    let first = Zeroizing::new(fsio::read_nofollow(key_file)?);
    if !first.starts_with(format!("{TOKEN_FORMAT}\n").as_bytes()) {
        return read_key(key_file).map(WitnessSigner::File);
    }
    let bad = |problem: &str| LedgerError::WitnessKeyFile {
        path: key_file.to_path_buf(),
        problem: problem.to_string(),
    };
    let text = std::str::from_utf8(&first).map_err(|_| bad("not text"))?;
    let fields: Vec<&str> = text.lines().skip(1).collect();
    let [name, token_label, key_label, public] = fields[..] else {
        return Err(bad("not five lines: format, name, token label, key label, public key").into());
    };
    if [name, token_label, key_label, public].contains(&"") {
        return Err(bad("an empty line").into());
    }
    let public: [u8; 32] = BASE64
        .decode(public.as_bytes())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| bad("the public key is not 32 bytes of base64"))?;
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| bad("the public key is not an Ed25519 key"))?;
    let expected = witness_key(name, public)?;
    let Some(token) = token else {
        return Err(LedgerError::WitnessNeedsToken {
            path: key_file.to_path_buf(),
            token: token_label.to_string(),
        }
        .into());
    };
    #[cfg(feature = "airgap")]
    {
        let (label, session) = log_in(token)?;
        if label != token_label {
            return Err(LedgerError::WitnessOtherToken {
                path: key_file.to_path_buf(),
                named: token_label.to_string(),
                given: label,
            }
            .into());
        }
        Ok(WitnessSigner::Token(
            session.witness_signer(&label, key_label, &expected)?,
        ))
    }
    #[cfg(not(feature = "airgap"))]
    {
        let _ = (token, key_label, expected);
        Err(LedgerError::WitnessNeedsHsm.into())
    }
}

/// Reads a witness key file (refused if group or others may read it).
pub fn read_key(key_file: &Path) -> Result<KeyWitness> {
    let bytes = fsio::read_secret(key_file, "a witness key")?;
    let bad = |problem: &str| LedgerError::WitnessKeyFile {
        path: key_file.to_path_buf(),
        problem: problem.to_string(),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not text"))?;
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FORMAT) {
        return Err(bad(
            "its first line is neither keyrite-witness-key/1 nor keyrite-witness-pkcs11/1",
        )
        .into());
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
    KeyWitness::new(&name, SigningKey::from_bytes(seed)).map_err(|problem| {
        LedgerError::WitnessKey {
            what: name.clone(),
            problem,
        }
        .into()
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
    let cosigned = cosignature::cosign(&checkpoint.note, signer, time)?;
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
        witness: signer.public().name.clone(),
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
