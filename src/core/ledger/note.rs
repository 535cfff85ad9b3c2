//! Checkpoints of the ledger (C2SP tlog-checkpoint) signed as C2SP signed notes by the token's
//! log key: ECDSA P-256, signature type 0x02 (DER signature over SHA-256 of the note text, key ID
//! from the DER SubjectPublicKeyInfo), as transparency-dev's witness implements it.
//!
//! The note format (signature lines, key IDs, the refusal of malformed notes) is `signed_note`'s;
//! the checkpoint body is `tlog_tiles`'; the ECDSA verifier is here because `signed_note` has
//! only Ed25519.

use data_encoding::BASE64;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use signed_note::{Note, NoteError, Verifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use super::tree::NodeHash;
use crate::core::chain::{LogSigner, TrustedKey, low_s};

/// Signature type of ECDSA note signatures (c2sp.org/signed-note).
pub const ECDSA_TYPE: u8 = 0x02;
/// Signature type of Ed25519 note signatures.
pub const ED25519_TYPE: u8 = 0x01;

/// Why a checkpoint note is not one the log key signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteProblem {
    #[error("it is not a signed note: {0}")]
    Malformed(String),
    #[error("its text is not a checkpoint (origin, size, root hash)")]
    NotACheckpoint,
    #[error("it has no signature by the log key {origin}")]
    Unsigned { origin: String },
    #[error("the signature by {name} does not verify")]
    BadSignature { name: String },
    #[error("its origin is {found}, not {expected} (the log key trusted)")]
    OtherOrigin { found: String, expected: String },
    #[error("the log key could not be encoded: {0}")]
    Key(String),
}

/// The ledger's origin (the checkpoint's first line and the log's key name): names the log key
/// by the SHA-256 of its SubjectPublicKeyInfo, so the ledgers of two tokens never share one.
pub fn origin(log_key: &TrustedKey) -> String {
    format!("keyrite.ledger/{}", log_key.fingerprint())
}

/// The log key as a signed-note verifier (type 0x02).
pub struct LogNoteKey {
    name: String,
    id: u32,
    key: TrustedKey,
    spki: Vec<u8>,
}

impl LogNoteKey {
    pub fn new(log_key: &TrustedKey) -> Result<LogNoteKey, NoteProblem> {
        let spki = log_key
            .key()
            .to_public_key_der()
            .map_err(|e| NoteProblem::Key(e.to_string()))?
            .into_vec();
        let name = origin(log_key);
        let id = signed_note::key_id(&name, &[&[ECDSA_TYPE], spki.as_slice()].concat());
        Ok(LogNoteKey {
            name,
            id,
            key: log_key.clone(),
            spki,
        })
    }

    /// The verifier key (vkey): `name+hex(key ID)+base64(0x02 || SPKI DER)`.
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64.encode(&[&[ECDSA_TYPE], self.spki.as_slice()].concat())
        )
    }
}

impl Verifier for LogNoteKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_der(sig) else {
            return false;
        };
        low_s(&sig)
            && self
                .key
                .key()
                .verify_prehash(&Sha256::digest(msg), &sig)
                .is_ok()
    }
}

/// A checkpoint's three lines, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub origin: String,
    pub size: u64,
    pub root: NodeHash,
}

impl Head {
    /// The checkpoint body: origin, size, base64 root, each ending in a newline.
    pub fn body(&self) -> Result<Vec<u8>, NoteProblem> {
        Checkpoint::new(&self.origin, self.size, Hash(self.root), "")
            .map(|c| c.to_bytes())
            .map_err(|_| NoteProblem::NotACheckpoint)
    }

    pub fn parse(body: &[u8]) -> Result<Head, NoteProblem> {
        let c = Checkpoint::from_bytes(body).map_err(|_| NoteProblem::NotACheckpoint)?;
        if !c.extension().is_empty() {
            return Err(NoteProblem::NotACheckpoint);
        }
        Ok(Head {
            origin: c.origin().to_string(),
            size: c.size(),
            root: c.hash().0,
        })
    }

    /// The root hash as the checkpoint writes it (base64).
    pub fn root_base64(&self) -> String {
        BASE64.encode(&self.root)
    }
}

/// Signs `head` with the log key: the whole signed note (body, blank line, signature line).
pub fn sign<S: LogSigner>(
    signer: &S,
    log_key: &TrustedKey,
    head: &Head,
) -> Result<Result<Vec<u8>, NoteProblem>, S::Error> {
    let key = match LogNoteKey::new(log_key) {
        Ok(k) => k,
        Err(e) => return Ok(Err(e)),
    };
    let body = match head.body() {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let raw = signer.sign(&body)?;
    Ok(Signature::from_slice(&raw)
        .map_err(|_| NoteProblem::BadSignature {
            name: key.name.clone(),
        })
        .and_then(|s| {
            let der = s.normalize_s().to_der().as_bytes().to_vec();
            let line =
                signed_note::Signature::new(key.name.clone(), key.id, der).map_err(malformed)?;
            Note::new(&body, &[line])
                .map(|n| n.to_bytes())
                .map_err(malformed)
        }))
}

/// A checkpoint note verified with the log key: its head and the note as parsed (with every
/// signature line, cosignatures included).
pub struct VerifiedCheckpoint {
    pub head: Head,
    pub note: Note,
}

/// Parses a signed checkpoint and checks the log key's signature over it. Signatures by other
/// keys (witnesses') are kept, not checked here.
pub fn verify(bytes: &[u8], log_key: &TrustedKey) -> Result<VerifiedCheckpoint, NoteProblem> {
    let note = Note::from_bytes(bytes).map_err(malformed)?;
    let key = LogNoteKey::new(log_key)?;
    let expected = key.name.clone();
    let head = Head::parse(note.text())?;
    if head.origin != expected {
        return Err(NoteProblem::OtherOrigin {
            found: head.origin,
            expected,
        });
    }
    let list = VerifierList::new(vec![Box::new(key)]);
    note.verify(&list).map_err(|e| match e {
        NoteError::UnverifiedNote => NoteProblem::Unsigned {
            origin: expected.clone(),
        },
        NoteError::InvalidSignature { name, .. } => NoteProblem::BadSignature { name },
        other => malformed(other),
    })?;
    Ok(VerifiedCheckpoint { head, note })
}

fn malformed(e: NoteError) -> NoteProblem {
    NoteProblem::Malformed(e.to_string())
}

/// The log key the ledger's tests sign with (a fixed P-256 key), and its trusted public half.
#[cfg(test)]
pub(crate) fn test_log_key() -> (p256::ecdsa::SigningKey, TrustedKey) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let tk = TrustedKey::from_key(*sk.verifying_key()).unwrap();
    (sk, tk)
}

#[cfg(test)]
mod tests {
    use super::test_log_key as key;
    use super::*;
    use p256::ecdsa::SigningKey;

    fn head(tk: &TrustedKey) -> Head {
        Head {
            origin: origin(tk),
            size: 3,
            root: [9u8; 32],
        }
    }

    #[test]
    fn a_checkpoint_signed_by_the_log_key_verifies_and_names_its_head() {
        let (sk, tk) = key();
        let note = sign(&sk, &tk, &head(&tk)).unwrap().unwrap();
        let text = String::from_utf8(note.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], origin(&tk));
        assert_eq!(lines[1], "3");
        assert_eq!(lines[2], BASE64.encode(&[9u8; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with(&format!("— {} ", origin(&tk))));
        let v = verify(&note, &tk).unwrap();
        assert_eq!(v.head, head(&tk));
    }

    #[test]
    fn the_key_id_is_the_spec_rule_over_the_spki_and_the_vkey_carries_it() {
        let (sk, tk) = key();
        let k = LogNoteKey::new(&tk).unwrap();
        let spki = tk.key().to_public_key_der().unwrap();
        let mut h = Sha256::new();
        h.update(origin(&tk).as_bytes());
        h.update(b"\n");
        h.update([0x02]);
        h.update(spki.as_bytes());
        let want = u32::from_be_bytes(h.finalize()[..4].try_into().unwrap());
        assert_eq!(k.key_id(), want);
        assert!(
            k.vkey()
                .starts_with(&format!("{}+{want:08x}+Aj", origin(&tk)))
        );
        // The signature line starts with the same key ID.
        let note = sign(&sk, &tk, &head(&tk)).unwrap().unwrap();
        let n = Note::from_bytes(&note).unwrap();
        let text = String::from_utf8(note).unwrap();
        let b64 = text.lines().nth(4).unwrap().rsplit(' ').next().unwrap();
        let raw = BASE64.decode(b64.as_bytes()).unwrap();
        assert_eq!(raw[..4], want.to_be_bytes());
        assert!(n.text().ends_with(b"\n"));
    }

    #[test]
    fn a_changed_checkpoint_or_another_key_is_refused() {
        let (sk, tk) = key();
        let note = String::from_utf8(sign(&sk, &tk, &head(&tk)).unwrap().unwrap()).unwrap();
        let bumped = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            verify(bumped.as_bytes(), &tk),
            Err(NoteProblem::BadSignature { .. })
        ));
        let other =
            TrustedKey::from_key(*SigningKey::from_slice(&[8u8; 32]).unwrap().verifying_key())
                .unwrap();
        assert!(matches!(
            verify(note.as_bytes(), &other),
            Err(NoteProblem::OtherOrigin { .. })
        ));
        // The right origin but no signature by the trusted key: unsigned.
        let foreign = note.replace(
            note.lines().nth(4).unwrap(),
            "— someone.else/key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        );
        assert!(matches!(
            verify(foreign.as_bytes(), &tk),
            Err(NoteProblem::Unsigned { .. })
        ));
        assert!(matches!(
            verify(b"not a note", &tk),
            Err(NoteProblem::Malformed(_))
        ));
    }

    /// c2sp.org/signed-note, "Verifier keys", Example: the published vkey verifies the published
    /// note (through the same `signed_note` parser and verifier list the ledger uses).
    #[test]
    fn the_signed_note_specs_example_verifies_with_its_vkey() {
        let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let v = signed_note::StandardVerifier::new(vkey).unwrap();
        assert_eq!(v.key_id(), 0x530d903a);
        let n = Note::from_bytes(note.as_bytes()).unwrap();
        let (ok, unknown) = n.verify(&VerifierList::new(vec![Box::new(v)])).unwrap();
        assert_eq!((ok.len(), unknown.len()), (1, 0));
        // One changed character of the text and it no longer verifies.
        let changed = note.replace("an example", "an exemple");
        let n = Note::from_bytes(changed.as_bytes()).unwrap();
        let v = signed_note::StandardVerifier::new(vkey).unwrap();
        assert!(n.verify(&VerifierList::new(vec![Box::new(v)])).is_err());
    }
}
