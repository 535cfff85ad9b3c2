//! The log-signing key: an ECDSA P-256 key pair generated inside the token, its private half never
//! extractable. Records are signed with CKM_ECDSA over a SHA-256 taken in software (SoftHSM2 2.6.1
//! has no CKM_ECDSA_SHA256), and every signature is checked against the public key before use.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::der::Decode;
use p256::pkcs8::der::asn1::OctetStringRef;
use sha2::{Digest, Sha256};

use super::HsmError;
use super::token::{Token, UserSession};
use crate::core::log::{LogSigner, TrustedKey};

/// The label of the log-signing key pair in the token.
pub const LOG_KEY_LABEL: &str = "keyrite-log-signing";

/// DER of the P-256 curve OID (1.2.840.10045.3.1.7), as CKA_EC_PARAMS wants it.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The protection attributes of a private key, as the token reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyProtection {
    pub token: bool,
    pub sensitive: bool,
    pub extractable: bool,
    pub never_extractable: bool,
    /// Whether CKA_VALUE came back readable (it must not).
    pub value_readable: bool,
}

impl KeyProtection {
    pub fn is_protected(&self) -> bool {
        self.token && self.sensitive && !self.extractable && !self.value_readable
    }
}

/// What a search for a key pair by label found.
pub(super) enum Pair {
    One {
        private: ObjectHandle,
        public: ObjectHandle,
    },
    None,
    Many {
        private: usize,
        public: usize,
    },
}

/// The templates (public, private) of a key pair in the token that can only sign and verify: both
/// token objects; the private half private, sensitive and never extractable. For the log key and
/// a witness key.
pub(super) fn sign_only_pair(
    key_type: KeyType,
    params: &[u8],
    label: &str,
    id: &[u8],
) -> [Vec<Attribute>; 2] {
    let public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::KeyType(key_type),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::KeyType(key_type),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    [public, private]
}

/// The log-signing key in a logged-in session: signs in the token, checks in software.
pub struct HsmLogSigner<'a> {
    session: &'a UserSession,
    private: ObjectHandle,
    public: TrustedKey,
}

impl HsmLogSigner<'_> {
    pub fn public_key(&self) -> &TrustedKey {
        &self.public
    }
}

impl LogSigner for HsmLogSigner<'_> {
    type Error = HsmError;

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let step = "sign a log record";
        let digest = Sha256::digest(message);
        let sig = self
            .session
            .session
            .sign(&Mechanism::Ecdsa, self.private, &digest)
            .map_err(HsmError::at(step))?;
        // Tokens return either of the two valid forms; the log holds only the low-S one, so
        // every line has exactly one byte form (the verifier refuses high S).
        let sig = crate::core::log::normalize_low_s(sig);
        if !self.public.verifies(message, &sig) {
            return Err(HsmError::Verification {
                step,
                message: format!(
                    "the token's {}-byte CKM_ECDSA signature does not verify with the log public key",
                    sig.len()
                ),
                hint: "the token misbehaves, or the log key pair is mismatched; do not use it for a ceremony".into(),
            });
        }
        Ok(sig)
    }
}

impl UserSession {
    /// Generates the log-signing key pair in the token: a token object, private, sensitive, never
    /// extractable, able only to sign. An existing key with the label is refused.
    pub fn generate_log_key(&self, label: &str) -> Result<TrustedKey, HsmError> {
        let step = "generate the log-signing key";
        if !self.find_log_keys(label)?.is_empty() {
            return Err(HsmError::Refused {
                step,
                message: format!(
                    "a log-signing key labelled {label:?} exists in the token already"
                ),
                hint:
                    "keep using it (its public key is what auditors trust), or choose another label"
                        .into(),
            });
        }
        let id = self
            .session
            .generate_random_vec(16)
            .map_err(HsmError::at(step))?;
        let [public_template, private_template] =
            sign_only_pair(KeyType::EC, &P256_PARAMS, label, &id);
        let (public, _private) = self
            .session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(HsmError::at(step))?;
        self.read_public_key(public)
    }

    /// The signer for the log-signing key labelled `label`: exactly one private key and one public
    /// key must carry it.
    pub fn log_signer(&self, label: &str) -> Result<HsmLogSigner<'_>, HsmError> {
        let step = "find the log-signing key";
        match self.find_pair(KeyType::EC, label, step)? {
            Pair::One { private, public } => {
                let protection = self.key_protection(private)?;
                if !protection.is_protected() {
                    return Err(HsmError::Verification {
                        step,
                        message: format!(
                            "the log-signing key {label:?} is not protected as it must be: {protection:?}"
                        ),
                        hint: "a log key must be a token object, sensitive and never extractable; generate a new one".into(),
                    });
                }
                Ok(HsmLogSigner {
                    session: self,
                    private,
                    public: self.read_public_key(public)?,
                })
            }
            Pair::None => Err(HsmError::Refused {
                step,
                message: format!("the token holds no log-signing key labelled {label:?}"),
                hint: "the log-signing key is generated in the token at enrolment (a rehearsal makes one in its fresh token); use the enrolled token".into(),
            }),
            Pair::Many { private, public } => Err(HsmError::Refused {
                step,
                message: format!(
                    "the token holds {private} private and {public} public keys labelled {label:?}; keyrite will not guess"
                ),
                hint: "give the log-signing key a unique label".into(),
            }),
        }
    }

    /// The key pair of `key_type` labelled `label`: one private and one public key, none (a
    /// half missing), or more than one of either.
    pub(super) fn find_pair(
        &self,
        key_type: KeyType,
        label: &str,
        step: &'static str,
    ) -> Result<Pair, HsmError> {
        let find = |class| {
            self.session
                .find_objects(&[
                    Attribute::Class(class),
                    Attribute::KeyType(key_type),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .map_err(HsmError::at(step))
        };
        Ok(
            match (
                find(ObjectClass::PRIVATE_KEY)?.as_slice(),
                find(ObjectClass::PUBLIC_KEY)?.as_slice(),
            ) {
                ([private], [public]) => Pair::One {
                    private: *private,
                    public: *public,
                },
                ([], _) | (_, []) => Pair::None,
                (p, q) => Pair::Many {
                    private: p.len(),
                    public: q.len(),
                },
            },
        )
    }

    /// How the private half of the log key labelled `label` is protected, as the token reports it.
    pub fn log_key_protection(&self, label: &str) -> Result<KeyProtection, HsmError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(HsmError::at("search the token"))?;
        let private = found.first().copied().ok_or_else(|| HsmError::Refused {
            step: "read the log key's attributes",
            message: format!("no private key labelled {label:?}"),
            hint: "generate the log-signing key first".into(),
        })?;
        self.key_protection(private)
    }

    /// How a private key is protected, as the token reports it.
    pub(super) fn key_protection(&self, key: ObjectHandle) -> Result<KeyProtection, HsmError> {
        let attrs = self
            .session
            .get_attributes(
                key,
                &[
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Value,
                ],
            )
            .map_err(HsmError::at("read the key's protection attributes"))?;
        let mut p = KeyProtection::default();
        for a in attrs {
            match a {
                Attribute::Token(v) => p.token = v,
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                Attribute::Value(_) => p.value_readable = true,
                _ => {}
            }
        }
        Ok(p)
    }

    fn find_log_keys(&self, label: &str) -> Result<Vec<ObjectHandle>, HsmError> {
        self.session
            .find_objects(&[
                Attribute::KeyType(KeyType::EC),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(HsmError::at("search the token"))
    }

    fn read_public_key(&self, public: ObjectHandle) -> Result<TrustedKey, HsmError> {
        public_key_of(&self.session, public)
    }
}

/// The P-256 public key from CKA_EC_POINT (DER OCTET STRING around the SEC1 point on most
/// tokens; a bare point is accepted too), in any session (a public object needs no login).
fn public_key_of(
    session: &cryptoki::session::Session,
    public: ObjectHandle,
) -> Result<TrustedKey, HsmError> {
    let step = "read the log public key";
    let attrs = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(HsmError::at(step))?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| HsmError::Verification {
            step,
            message: "the public key has no CKA_EC_POINT".into(),
            hint: "the token misbehaves; do not use it for a ceremony".into(),
        })?;
    let sec1 = match <&OctetStringRef>::from_der(&point) {
        Ok(os) => os.as_bytes().to_vec(),
        Err(_) => point,
    };
    let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| HsmError::Verification {
        step,
        message: format!("CKA_EC_POINT ({} bytes) is not a P-256 point", sec1.len()),
        hint: "the log-signing key must be ECDSA P-256".into(),
    })?;
    TrustedKey::from_key(key).map_err(|e| HsmError::Verification {
        step,
        message: e.to_string(),
        hint: "the log-signing key must be ECDSA P-256".into(),
    })
}

impl Token {
    /// The public half of the log-signing key labelled `label`, read in a session that is not
    /// logged in (the key is a public object): the roster's signature can be checked before any
    /// C_Login is attempted.
    pub fn log_public_key(&self, label: &str) -> Result<TrustedKey, HsmError> {
        let step = "read the log public key before login";
        let session = self.public_session()?;
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(HsmError::at(step))?;
        match found.as_slice() {
            [public] => public_key_of(&session, *public),
            [] => Err(HsmError::Refused {
                step,
                message: format!(
                    "token {:?} holds no public log-signing key labelled {label:?}",
                    self.label()
                ),
                hint:
                    "use the token enrolled with `keyrite quorum enroll`; its log key is made there"
                        .into(),
            }),
            many => Err(HsmError::Refused {
                step,
                message: format!(
                    "token {:?} holds {} public keys labelled {label:?}; keyrite will not guess",
                    self.label(),
                    many.len()
                ),
                hint: "find out who added the others; the log-signing key's label must be unique"
                    .into(),
            }),
        }
    }
}
