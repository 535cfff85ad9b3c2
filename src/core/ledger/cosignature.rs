//! Witness cosignatures: C2SP tlog-cosignature, `cosignature/v1` (signature type 0x04). A witness
//! signs "cosignature/v1\ntime <seconds>\n" followed by the checkpoint body with Ed25519; the
//! signature line carries key ID (4 bytes) || time (u64, big-endian) || signature (64 bytes).
//! `signed_note` parses and writes the lines; the type is not in it, so it is here.

use data_encoding::BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, Verifier};

/// Signature type of cosignature/v1 (Ed25519, timestamped).
pub const COSIGNATURE_TYPE: u8 = 0x04;

/// Why a witness key or cosignature is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureProblem {
    #[error(
        "it is not a cosignature/v1 verifier key (name+keyid+base64(0x04 || Ed25519 key)): {0}"
    )]
    BadVkey(String),
    #[error("the witness name {0:?} has a space or a plus")]
    BadName(String),
    #[error("the note could not take the cosignature: {0}")]
    Note(String),
    #[error("the cosignature by witness {0} does not verify over this checkpoint")]
    Forged(String),
    #[error(
        "the signature made for witness {0} does not verify with its public key: the signer holds another key"
    )]
    SignerMisbehaves(String),
}

/// The message a cosignature/v1 signs.
pub fn message(time: u64, checkpoint_body: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
    m.extend_from_slice(checkpoint_body);
    m
}

/// The key ID: SHA-256(name || 0x0A || 0x04 || public key)[:4].
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(
        name,
        &[&[COSIGNATURE_TYPE], key.as_bytes().as_slice()].concat(),
    )
}

/// A witness's public key, as auditors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    pub name: String,
    pub key: VerifyingKey,
}

impl WitnessKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<WitnessKey, CosignatureProblem> {
        check_name(name)?;
        Ok(WitnessKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn id(&self) -> u32 {
        key_id(&self.name, &self.key)
    }

    /// `name+hex(key ID)+base64(0x04 || key)`.
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id(),
            BASE64.encode(&[&[COSIGNATURE_TYPE], self.key.as_bytes().as_slice()].concat())
        )
    }

    pub fn parse_vkey(vkey: &str) -> Result<WitnessKey, CosignatureProblem> {
        let bad = |why: &str| CosignatureProblem::BadVkey(why.to_string());
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("three parts separated by '+' expected"));
        };
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key ID is not 8 hex digits"));
        }
        let raw = BASE64
            .decode(b64.as_bytes())
            .map_err(|_| bad("the key is not base64"))?;
        let (&ty, key) = raw.split_first().ok_or_else(|| bad("no key"))?;
        if ty != COSIGNATURE_TYPE {
            return Err(bad("the signature type is not 0x04 (cosignature/v1)"));
        }
        let key: [u8; 32] = key.try_into().map_err(|_| bad("the key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| bad("not an Ed25519 key"))?;
        let w = WitnessKey::new(name, key)?;
        if format!("{:08x}", w.id()) != id.to_ascii_lowercase() {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(w)
    }
}

/// A cosignature checked by [`CosignatureVerifier`]: its witness and time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cosigned {
    pub witness: String,
    pub time: u64,
}

/// Verifies cosignature/v1 lines of one witness key.
pub struct CosignatureVerifier(pub WitnessKey);

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        self.0.id()
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((time, sig)) = split(sig) else {
            return false;
        };
        // The spec forbids times above 2^63 - 1.
        time <= i64::MAX as u64
            && self
                .0
                .key
                .verify_strict(
                    &message(time, msg),
                    &ed25519_dalek::Signature::from_bytes(&sig),
                )
                .is_ok()
    }
}

/// The time and Ed25519 signature of a cosignature line's signature bytes (after the key ID).
pub fn split(sig: &[u8]) -> Option<(u64, [u8; 64])> {
    if sig.len() != 72 {
        return None;
    }
    let time = u64::from_be_bytes(sig[..8].try_into().ok()?);
    Some((time, sig[8..].try_into().ok()?))
}

/// Whatever makes a witness's Ed25519 signatures: a key in memory ([`KeyWitness`]) or a key in a
/// token (the HSM adapter's). [`cosign`] checks every signature it returns before using it.
pub trait CosignatureSigner {
    type Error: From<CosignatureProblem>;
    /// The witness's name and public key.
    fn witness(&self) -> &WitnessKey;
    /// The Ed25519 signature of `message` (64 bytes).
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Self::Error>;
}

/// A witness key held in memory (the key file's seed); wiped on drop by `ed25519_dalek`.
pub struct KeyWitness {
    witness: WitnessKey,
    key: SigningKey,
}

impl KeyWitness {
    pub fn new(name: &str, key: SigningKey) -> Result<KeyWitness, CosignatureProblem> {
        Ok(KeyWitness {
            witness: WitnessKey::new(name, key.verifying_key())?,
            key,
        })
    }
}

impl CosignatureSigner for KeyWitness {
    type Error = CosignatureProblem;
    fn witness(&self) -> &WitnessKey {
        &self.witness
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], CosignatureProblem> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// Whether `name` may name a witness (no space, no plus: the signed-note key name rules).
pub fn check_name(name: &str) -> Result<(), CosignatureProblem> {
    if signed_note::is_key_name_valid(name) {
        Ok(())
    } else {
        Err(CosignatureProblem::BadName(name.to_string()))
    }
}

/// The cosignature/v1 line of `signer`'s witness over the checkpoint `note`, made at `time`; the
/// note with it appended (an earlier cosignature by the same key is replaced). A signature that
/// does not verify with the witness's public key is refused, never written.
pub fn cosign<S: CosignatureSigner + ?Sized>(
    note: &Note,
    signer: &S,
    time: u64,
) -> Result<Note, S::Error> {
    let w = signer.witness();
    let message = message(time, note.text());
    let sig = signer.sign(&message)?;
    if w.key
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_err()
    {
        return Err(CosignatureProblem::SignerMisbehaves(w.name.clone()).into());
    }
    let mut bytes = time.to_be_bytes().to_vec();
    bytes.extend_from_slice(&sig);
    let line = signed_note::Signature::new(w.name.clone(), w.id(), bytes)
        .map_err(|e| CosignatureProblem::Note(e.to_string()))?;
    let mut sigs: Vec<signed_note::Signature> = signatures(note)
        .into_iter()
        .filter(|s| !(s.name() == w.name && s.id() == w.id()))
        .collect();
    sigs.push(line);
    Ok(Note::new(note.text(), &sigs).map_err(|e| CosignatureProblem::Note(e.to_string()))?)
}

/// A note's signature lines (`signed_note` keeps them private): parsed back from its bytes.
pub fn signatures(note: &Note) -> Vec<signed_note::Signature> {
    let bytes = note.to_bytes();
    let text_len = note.text().len() + 1;
    bytes
        .get(text_len..)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| signed_note::Signature::from_bytes(l).ok())
        .collect()
}

/// The cosignatures in `note` by `witnesses` that verify, one per witness. A line naming a listed
/// witness (name and key ID) that does not verify is an error: the note was tampered with.
pub fn verified_cosignatures(
    note: &Note,
    witnesses: &[WitnessKey],
) -> Result<Vec<Cosigned>, CosignatureProblem> {
    let mut found: Vec<Cosigned> = Vec::new();
    for s in signatures(note) {
        let Some(w) = witnesses
            .iter()
            .find(|w| w.name == s.name() && w.id() == s.id())
        else {
            continue;
        };
        let v = CosignatureVerifier(w.clone());
        if !v.verify(note.text(), s.signature()) {
            return Err(CosignatureProblem::Forged(w.name.clone()));
        }
        let time = split(s.signature()).map(|(t, _)| t).unwrap_or_default();
        if !found.iter().any(|c| c.witness == w.name) {
            found.push(Cosigned {
                witness: w.name.clone(),
                time,
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    /// c2sp.org/tlog-cosignature, "Ed25519 signed message": the exact bytes signed.
    #[test]
    fn the_signed_message_is_the_specs() {
        assert_eq!(
            String::from_utf8(message(1679315147, BODY.as_bytes())).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    /// The specification's example checkpoint with its witness cosignature: the spec publishes
    /// no public key for `witness.example.com/w1`, so what can be checked is the framing: the line
    /// parses as a 0x04 cosignature (key ID, big-endian time, 64-byte Ed25519 signature) whose time
    /// is the one the signed-message example shows, and a verifier that does not know the key
    /// ignores it rather than failing the note.
    #[test]
    fn the_specs_example_cosignature_is_framed_as_cosignature_v1() {
        let example = format!(
            "{BODY}\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
        );
        let note = Note::from_bytes(example.as_bytes()).unwrap();
        assert_eq!(note.text(), BODY.as_bytes());
        let sigs = signatures(&note);
        assert_eq!(sigs.len(), 2);
        let w = &sigs[1];
        assert_eq!(w.name(), "witness.example.com/w1");
        assert_eq!(w.id(), 0x8d66cf3f);
        let (time, _) = split(w.signature()).unwrap();
        assert_eq!(time, 1679315147);
        // A verifier with another key of that name ignores the line (its key ID differs).
        let other = WitnessKey::new(
            "witness.example.com/w1",
            SigningKey::from_bytes(&[3u8; 32]).verifying_key(),
        )
        .unwrap();
        assert_eq!(verified_cosignatures(&note, &[other]).unwrap(), vec![]);
    }

    #[test]
    fn a_cosignature_verifies_and_binds_time_text_and_key() {
        let sk = SigningKey::from_bytes(&[5u8; 32]);
        let w = WitnessKey::new("auditor.example/w1", sk.verifying_key()).unwrap();
        assert_eq!(WitnessKey::parse_vkey(&w.vkey()).unwrap(), w);
        let note = Note::new(BODY.as_bytes(), &[]).unwrap();
        let signer = KeyWitness::new(&w.name, sk.clone()).unwrap();
        let cosigned = cosign(&note, &signer, 1_700_000_000).unwrap();
        let got = verified_cosignatures(&cosigned, std::slice::from_ref(&w)).unwrap();
        assert_eq!(
            got,
            vec![Cosigned {
                witness: w.name.clone(),
                time: 1_700_000_000
            }]
        );
        let line = signatures(&cosigned).pop().unwrap();
        assert_eq!(line.signature().len(), 72);
        assert_eq!(line.id(), w.id());
        // The same signature over another size is refused, and so is a changed time.
        let text = String::from_utf8(cosigned.to_bytes()).unwrap();
        let moved = Note::from_bytes(text.replacen("20852163", "20852164", 1).as_bytes()).unwrap();
        assert!(verified_cosignatures(&moved, std::slice::from_ref(&w)).is_err());
        let mut raw = line.signature().to_vec();
        raw[7] ^= 1;
        let retimed = Note::new(
            BODY.as_bytes(),
            &[signed_note::Signature::new(w.name.clone(), w.id(), raw).unwrap()],
        )
        .unwrap();
        assert!(verified_cosignatures(&retimed, std::slice::from_ref(&w)).is_err());
        // Cosigning again replaces the witness's line rather than adding one.
        let twice = cosign(&cosigned, &signer, 1_700_000_001).unwrap();
        assert_eq!(signatures(&twice).len(), 1);
    }

    /// A signer whose signatures are made by another key than the witness's (a token holding
    /// another key than its descriptor names) is refused before any line is written.
    #[test]
    fn a_signature_by_another_key_is_never_written() {
        struct Swapped(WitnessKey, SigningKey);
        impl CosignatureSigner for Swapped {
            type Error = CosignatureProblem;
            fn witness(&self) -> &WitnessKey {
                &self.0
            }
            fn sign(&self, message: &[u8]) -> Result<[u8; 64], CosignatureProblem> {
                Ok(self.1.sign(message).to_bytes())
            }
        }
        let w = WitnessKey::new("w", SigningKey::from_bytes(&[5u8; 32]).verifying_key()).unwrap();
        let note = Note::new(BODY.as_bytes(), &[]).unwrap();
        let swapped = Swapped(w, SigningKey::from_bytes(&[6u8; 32]));
        assert_eq!(
            cosign(&note, &swapped, 1).unwrap_err(),
            CosignatureProblem::SignerMisbehaves("w".into())
        );
    }

    #[test]
    fn a_vkey_of_another_type_or_with_a_wrong_id_is_refused() {
        let sk = SigningKey::from_bytes(&[5u8; 32]);
        let w = WitnessKey::new("w", sk.verifying_key()).unwrap();
        let vkey = w.vkey();
        let wrong_id = format!("w+00000000+{}", vkey.rsplit('+').next().unwrap());
        assert!(WitnessKey::parse_vkey(&wrong_id).is_err());
        let as_ed25519 = format!(
            "w+{:08x}+{}",
            w.id(),
            BASE64.encode(&[&[1u8], sk.verifying_key().as_bytes().as_slice()].concat())
        );
        assert!(WitnessKey::parse_vkey(&as_ed25519).is_err());
        assert!(WitnessKey::new("a b", sk.verifying_key()).is_err());
    }
}
