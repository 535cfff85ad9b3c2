//! An outside witness's Ed25519 key pair in the witness's own PKCS#11 token (PKCS#11 3.0
//! CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA): generated there, its private half a token object,
//! private, sensitive and never extractable, able only to sign. Cosignatures are signed in the
//! token and checked against the public key in software before they are used
//! ([`crate::core::ledger::cosignature::cosign`]).

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectHandle};
use ed25519_dalek::VerifyingKey;
use p256::pkcs8::der::Decode;
use p256::pkcs8::der::asn1::OctetStringRef;

use super::HsmError;
use super::log_key::{Pair, sign_only_pair};
use super::token::UserSession;
use crate::core::ledger::cosignature::{CosignatureProblem, CosignatureSigner, WitnessKey};

/// The label of a witness's key pair: derived from the witness's name.
pub fn key_label(witness_name: &str) -> String {
    format!("keyrite-witness:{witness_name}")
}

/// CKA_EC_PARAMS for Ed25519: the DER OID 1.3.101.112 (RFC 8410), which PKCS#11 3.0 names first;
/// then the PrintableString "edwards25519", its older form, for a token that takes only that.
const ED25519_PARAMS: [&[u8]; 2] = [&[0x06, 0x03, 0x2b, 0x65, 0x70], b"\x13\x0cedwards25519"];

/// What `witness init` checks a new key with: the token signs it, the public key verifies it.
const CHECK_MESSAGE: &[u8] = b"keyrite witness key check\n";

impl From<CosignatureProblem> for HsmError {
    fn from(problem: CosignatureProblem) -> HsmError {
        HsmError::Verification {
            step: "cosign with the witness key in the token",
            message: problem.to_string(),
            hint: "the token's key does not sign as its public key says; do not use it as a witness key".into(),
        }
    }
}

/// The witness key in a logged-in session of its token: signs there, checked in software.
pub struct HsmWitnessSigner {
    session: UserSession,
    private: ObjectHandle,
    witness: WitnessKey,
}

impl CosignatureSigner for HsmWitnessSigner {
    type Error = HsmError;

    fn witness(&self) -> &WitnessKey {
        &self.witness
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], HsmError> {
        self.session.sign_ed25519(self.private, message)
    }
}

impl UserSession {
    /// Refuses a token that offers no Ed25519 (no CKM_EC_EDWARDS_KEY_PAIR_GEN or CKM_EDDSA for
    /// signing), before anything is generated.
    pub fn require_ed25519(&self, token: &str) -> Result<(), HsmError> {
        for (mechanism, name) in [
            (
                MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
                "CKM_EC_EDWARDS_KEY_PAIR_GEN",
            ),
            (MechanismType::EDDSA, "CKM_EDDSA"),
        ] {
            let offered = match self.mechanism_info(mechanism) {
                Ok(info) => {
                    if mechanism == MechanismType::EDDSA {
                        info.sign()
                    } else {
                        info.generate_key_pair()
                    }
                }
                Err(HsmError::Pkcs11 { rv, .. }) if rv == "CKR_MECHANISM_INVALID" => false,
                Err(e) => return Err(e),
            };
            if !offered {
                return Err(no_ed25519(Some(token), name));
            }
        }
        Ok(())
    }

    /// Generates the witness's Ed25519 key pair labelled `label` in the token and checks it signs
    /// (one CKM_EDDSA signature verified with the public key read back). An existing object with
    /// the label is refused before anything is generated; a pair that fails its check is
    /// destroyed. Returns the public key and the pair's handles (public, private).
    pub fn generate_witness_key(
        &self,
        token: &str,
        label: &str,
    ) -> Result<(VerifyingKey, [ObjectHandle; 2]), HsmError> {
        let step = "generate the witness key";
        let existing = self
            .session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map_err(HsmError::at(step))?;
        if !existing.is_empty() {
            return Err(HsmError::Refused {
                step,
                message: format!(
                    "token {token:?} holds {} labelled {label:?} already",
                    crate::core::terminal::counted(existing.len(), "object")
                ),
                hint: "keep using that witness key (its descriptor names it), or choose another witness name".into(),
            });
        }
        self.require_ed25519(token)?;
        let id = self
            .session
            .generate_random_vec(16)
            .map_err(HsmError::at(step))?;
        let mut last = None;
        for params in ED25519_PARAMS {
            let [public_template, private_template] =
                sign_only_pair(KeyType::EC_EDWARDS, params, label, &id);
            match self.session.generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &public_template,
                &private_template,
            ) {
                Ok((public, private)) => {
                    let checked = self.check_witness_pair(public, private);
                    if checked.is_err() {
                        let _ = self.session.destroy_object(private);
                        let _ = self.session.destroy_object(public);
                    }
                    return checked.map(|key| (key, [public, private]));
                }
                Err(CkError::Pkcs11(
                    rv @ (RvError::AttributeValueInvalid
                    | RvError::DomainParamsInvalid
                    | RvError::CurveNotSupported
                    | RvError::TemplateInconsistent),
                    f,
                )) => last = Some(CkError::Pkcs11(rv, f)),
                Err(CkError::Pkcs11(RvError::MechanismInvalid, _)) => {
                    return Err(no_ed25519(Some(token), "CKM_EC_EDWARDS_KEY_PAIR_GEN"));
                }
                Err(e) => return Err(HsmError::at(step)(e)),
            }
        }
        Err(match last {
            Some(e) => HsmError::at(step)(e),
            None => no_ed25519(Some(token), "CKM_EC_EDWARDS_KEY_PAIR_GEN"),
        })
    }

    fn check_witness_pair(
        &self,
        public: ObjectHandle,
        private: ObjectHandle,
    ) -> Result<VerifyingKey, HsmError> {
        let key = self.ed25519_public_key(public)?;
        let sig = self.sign_ed25519(private, CHECK_MESSAGE)?;
        key.verify_strict(CHECK_MESSAGE, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| HsmError::Verification {
                step: "check the new witness key",
                message: "the token's CKM_EDDSA signature does not verify with the public key it returned".into(),
                hint: "the token misbehaves; do not use it for a witness key (the pair was destroyed)".into(),
            })?;
        Ok(key)
    }

    /// Destroys a witness key pair `witness init` made but could not record.
    pub fn destroy_witness_key(&self, pair: [ObjectHandle; 2]) {
        for h in pair {
            let _ = self.session.destroy_object(h);
        }
    }

    /// One CKM_EDDSA (pure Ed25519) signature by `private`.
    fn sign_ed25519(&self, private: ObjectHandle, message: &[u8]) -> Result<[u8; 64], HsmError> {
        let step = "sign with the witness key";
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = match self.session.sign(&mechanism, private, message) {
            Ok(sig) => sig,
            Err(CkError::Pkcs11(RvError::MechanismInvalid, _)) => {
                return Err(no_ed25519(None, "CKM_EDDSA for signing"));
            }
            Err(e) => return Err(HsmError::at(step)(e)),
        };
        sig.as_slice()
            .try_into()
            .map_err(|_| HsmError::Verification {
                step,
                message: format!(
                    "CKM_EDDSA returned {} bytes, not an Ed25519 signature's 64",
                    sig.len()
                ),
                hint: "the witness key in the token is not Ed25519; use a key `keyrite witness init --token` made".into(),
            })
    }

    /// The Ed25519 public key from CKA_EC_POINT: a DER OCTET STRING around the 32 bytes
    /// (SoftHSM2), or the bare 32 bytes (kryoptic).
    fn ed25519_public_key(&self, public: ObjectHandle) -> Result<VerifyingKey, HsmError> {
        let step = "read the witness public key";
        let point = self
            .session
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(HsmError::at(step))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .unwrap_or_default();
        // 32 bytes are the bare key (kryoptic returns it so); a bare key could also parse as DER.
        let raw = match <&OctetStringRef>::from_der(&point) {
            Ok(os) if point.len() != 32 => os.as_bytes().to_vec(),
            _ => point,
        };
        <[u8; 32]>::try_from(raw.as_slice())
            .ok()
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| HsmError::Verification {
                step,
                message: format!(
                    "CKA_EC_POINT ({} bytes) is not an Ed25519 public key",
                    raw.len()
                ),
                hint:
                    "the witness key must be Ed25519; use a key `keyrite witness init --token` made"
                        .into(),
            })
    }

    /// The signer for the witness key labelled `label`, which must be `expected` (the key its
    /// descriptor names): exactly one Ed25519 private and one public key carry the label, the
    /// private one sensitive and never extractable, and the public one is `expected`'s.
    pub fn witness_signer(
        self,
        token: &str,
        label: &str,
        expected: &WitnessKey,
    ) -> Result<HsmWitnessSigner, HsmError> {
        let step = "find the witness key";
        let (private, public) = match self.find_pair(KeyType::EC_EDWARDS, label, step)? {
            Pair::One { private, public } => (private, public),
            Pair::None => {
                return Err(HsmError::Refused {
                    step,
                    message: format!(
                        "token {token:?} holds no Ed25519 key pair labelled {label:?}"
                    ),
                    hint: "log in to the token `keyrite witness init --token` made the key in (the descriptor names it), or make a new witness key".into(),
                });
            }
            Pair::Many { private, public } => {
                return Err(HsmError::Refused {
                    step,
                    message: format!(
                        "token {token:?} holds {private} private and {public} public keys labelled {label:?}; keyrite will not guess"
                    ),
                    hint: "find out who added the others; a witness key's label must be unique"
                        .into(),
                });
            }
        };
        let key = self.ed25519_public_key(public)?;
        if key != expected.key {
            return Err(HsmError::Verification {
                step,
                message: format!(
                    "the key labelled {label:?} in token {token:?} is not the witness key the descriptor names (the token's public key {}, the descriptor's {})",
                    data_encoding::BASE64.encode(key.as_bytes()),
                    data_encoding::BASE64.encode(expected.key.as_bytes())
                ),
                hint: "use the descriptor `keyrite witness init` wrote for this token's key, with the token it names; a token or descriptor swapped for another is not this witness".into(),
            });
        }
        let protection = self.key_protection(private)?;
        if !protection.is_protected() {
            return Err(HsmError::Verification {
                step,
                message: format!(
                    "the witness key {label:?} is not protected as it must be: {protection:?}"
                ),
                hint: "a witness key in a token must be a token object, sensitive and never extractable; make a new one with `keyrite witness init --token`".into(),
            });
        }
        Ok(HsmWitnessSigner {
            session: self,
            private,
            witness: expected.clone(),
        })
    }
}

/// The refusal of a token without Ed25519 (`token`: its label, where known).
fn no_ed25519(token: Option<&str>, mechanism: &str) -> HsmError {
    let token = token.map_or("the token".to_string(), |t| format!("token {t:?}"));
    HsmError::Refused {
        step: "check the token offers Ed25519",
        message: format!(
            "{token} does not offer Ed25519 ({mechanism} is missing); nothing was kept in the token"
        ),
        hint: "use a token with PKCS#11 3.0 EdDSA (SoftHSM2 2.6 or later, kryoptic), or keep the witness key in a file: `keyrite witness init --key FILE --name NAME` without --token".into(),
    }
}
