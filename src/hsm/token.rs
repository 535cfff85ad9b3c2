//! One PKCS#11 token, selected by label, and what a ceremony does with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismInfo, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::HsmError;
use super::key_wrap::{KeyWrapper, wrap_for_kms};
use crate::core::algorithm::WrappingAlgorithm;
use crate::core::pin_counter::{PinCounter, PinRefusal};
use crate::core::wrapping_key::WrappingPublicKey;

/// One context per module for the whole process. `Pkcs11` finalizes the library when dropped, which
/// would pull the rug from under every other user of the same module in this process.
fn context(module: &Path) -> Result<Pkcs11, HsmError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let map = CONTEXTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    if !module.is_file() {
        return Err(HsmError::Load {
            module: module.into(),
            message: "no such file".into(),
        });
    }
    let ctx = Pkcs11::new(module).map_err(|e| HsmError::Load {
        module: module.into(),
        message: e.to_string(),
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, Function::Initialize)) => {}
        Err(e) => return Err(HsmError::at("load the PKCS#11 module")(e)),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// A token, found by its label.
pub struct Token {
    ctx: Pkcs11,
    slot: Slot,
    label: String,
}

/// A session logged in as the token user. Only [`Token::login`] makes one, so the operations below
/// cannot run without a login.
pub struct UserSession {
    pub(super) session: Session,
    ctx: Pkcs11,
    slot: Slot,
}

/// KMS wrapping public keys the security officer marked CKA_TRUSTED, in the order given. They live
/// as long as this value.
pub struct TrustedWrappingKeys {
    _session: Session,
    pub handles: Vec<ObjectHandle>,
}

/// An RSA public key object that can only wrap; `trusted` sets CKA_TRUSTED (SO sessions only).
fn wrapping_key_template(key: &WrappingPublicKey, label: &str, trusted: bool) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Modulus(key.modulus.clone()),
        Attribute::PublicExponent(key.public_exponent.clone()),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if trusted {
        template.push(Attribute::Trusted(true));
    }
    template
}

/// The AES-256 key a ceremony generated: its handle and the facts recorded about it.
#[derive(Debug, Clone)]
pub struct CeremonyKey {
    pub handle: ObjectHandle,
    pub label: String,
    pub id: Vec<u8>,
}

impl Token {
    /// Finds the token labelled `label` in `module`. An unknown label lists the tokens present.
    pub fn open(module: &Path, label: &str) -> Result<Token, HsmError> {
        let ctx = context(module)?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(HsmError::at("list tokens"))?;
        let mut present = Vec::new();
        let mut matches = Vec::new();
        for slot in slots {
            let info = ctx
                .get_token_info(slot)
                .map_err(HsmError::at("read token info"))?;
            if !info.token_initialized() {
                continue;
            }
            let l = info.label().trim_end().to_string();
            if l == label {
                matches.push(slot);
            }
            present.push(format!("{l:?}"));
        }
        match matches.as_slice() {
            [slot] => Ok(Token {
                ctx,
                slot: *slot,
                label: label.into(),
            }),
            [] => Err(HsmError::TokenNotFound {
                label: label.into(),
                module: module.into(),
                present: if present.is_empty() {
                    "none".into()
                } else {
                    present.join(", ")
                },
            }),
            many => Err(HsmError::TokenAmbiguous {
                label: label.into(),
                count: many.len(),
            }),
        }
    }

    /// Initialises a fresh token in the first empty slot (rehearsals and tests: a new SoftHSM2 or
    /// kryoptic token), with the given SO and user PINs.
    pub fn initialise(
        module: &Path,
        label: &str,
        so_pin: &AuthPin,
        user_pin: &AuthPin,
    ) -> Result<Token, HsmError> {
        let ctx = context(module)?;
        let slot = free_slot(&ctx, label)?;
        ctx.init_token(slot, so_pin, label)
            .map_err(HsmError::at("initialise token"))?;
        {
            let session = ctx
                .open_rw_session(slot)
                .map_err(HsmError::at("open session"))?;
            session
                .login(UserType::So, Some(so_pin))
                .map_err(HsmError::at("log in as security officer"))?;
            session
                .init_pin(user_pin)
                .map_err(HsmError::at("set the user PIN"))?;
            session.logout().map_err(HsmError::at("log out"))?;
        }
        Ok(Token {
            ctx,
            slot,
            label: label.into(),
        })
    }

    /// Initialises a fresh token in the first empty slot for quorum custody: the user PIN is
    /// `pin_bytes` random bytes from the token's own RNG, set as the text `pin_text` makes of them,
    /// and returned (raw) only so they can be split among the custodians. The SO PIN is the
    /// caller's; keyrite discards it after enrolment.
    pub fn initialise_with_random_pin(
        module: &Path,
        label: &str,
        so_pin: &AuthPin,
        pin_bytes: usize,
        pin_text: impl Fn(&[u8]) -> zeroize::Zeroizing<String>,
    ) -> Result<(Token, zeroize::Zeroizing<Vec<u8>>), HsmError> {
        let ctx = context(module)?;
        let slot = free_slot(&ctx, label)?;
        ctx.init_token(slot, so_pin, label)
            .map_err(HsmError::at("initialise token"))?;
        let raw = {
            let session = ctx
                .open_rw_session(slot)
                .map_err(HsmError::at("open session"))?;
            session
                .login(UserType::So, Some(so_pin))
                .map_err(HsmError::at("log in as security officer"))?;
            let raw = zeroize::Zeroizing::new(
                session
                    .generate_random_vec(pin_bytes as u32)
                    .map_err(HsmError::at("draw the user PIN from the token's RNG"))?,
            );
            let text = pin_text(&raw);
            session
                .init_pin(&AuthPin::new(text.as_str().into()))
                .map_err(HsmError::at("set the user PIN"))?;
            session.logout().map_err(HsmError::at("log out"))?;
            raw
        };
        Ok((
            Token {
                ctx,
                slot,
                label: label.into(),
            },
            raw,
        ))
    }

    /// Whether the token has a protected authentication path (a PIN pad or PED): then a login
    /// takes no PIN from keyrite.
    pub fn has_protected_authentication_path(&self) -> Result<bool, HsmError> {
        Ok(self
            .ctx
            .get_token_info(self.slot)
            .map_err(HsmError::at("read token info"))?
            .protected_authentication_path())
    }

    /// The user PIN's retry counter as the token's flags report it (C_GetTokenInfo, no login).
    pub fn user_pin_counter(&self) -> Result<PinCounter, HsmError> {
        let info = self
            .ctx
            .get_token_info(self.slot)
            .map_err(HsmError::at("read token info"))?;
        Ok(PinCounter {
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
        })
    }

    /// The security officer's PIN retry counter (C_GetTokenInfo, no login).
    pub fn so_pin_counter(&self) -> Result<PinCounter, HsmError> {
        let info = self
            .ctx
            .get_token_info(self.slot)
            .map_err(HsmError::at("read token info"))?;
        Ok(PinCounter {
            count_low: info.so_pin_count_low(),
            final_try: info.so_pin_final_try(),
            locked: info.so_pin_locked(),
        })
    }

    /// Refuses a login the token's flags say could lock it (or cannot succeed): read before
    /// every C_Login, so keyrite never spends the last try.
    fn guard_login(&self, user: UserType) -> Result<(), HsmError> {
        let (counter, who) = match user {
            UserType::So => (self.so_pin_counter()?, "SO"),
            _ => (self.user_pin_counter()?, "USER"),
        };
        counter.may_log_in(who).map_err(|why| HsmError::Refused {
            step: "log in",
            message: format!("token {:?}: {why}; keyrite did not try", self.label),
            hint: match why {
                PinRefusal::Locked(_) => "the security officer must unlock or re-initialise the PIN; find out who entered wrong PINs before anything else".into(),
                PinRefusal::FinalTry(_) => "find out who entered wrong PINs; the security officer resets the retry counter (a successful login with the right PIN does too, outside keyrite), then run the ceremony again".into(),
            },
        })
    }

    /// A read-only session that is not logged in: for public objects only.
    pub(super) fn public_session(&self) -> Result<cryptoki::session::Session, HsmError> {
        self.ctx
            .open_ro_session(self.slot)
            .map_err(HsmError::at("open session"))
    }

    /// Logs in through the token's protected authentication path (C_Login with no PIN): the
    /// custodians authorise at the HSM itself.
    pub fn login_protected(&self) -> Result<UserSession, HsmError> {
        self.guard_login(UserType::User)?;
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(HsmError::at("open session"))?;
        match session.login(UserType::User, None) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(UserSession {
                session,
                ctx: self.ctx.clone(),
                slot: self.slot,
            }),
            Err(e) => Err(HsmError::at("log in at the HSM's PIN pad / PED")(e)),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The security officer marks the KMS wrapping public keys trusted (CKA_TRUSTED, which only
    /// the SO may set), so that ceremony keys marked CKA_WRAP_WITH_TRUSTED can be wrapped under
    /// them and under nothing else. Runs before the user logs in (a token has one login state per
    /// application). The keys are public session objects of a session the returned value keeps
    /// open, logged out again: they disappear with it and never persist in the token.
    pub fn import_trusted_wrapping_keys(
        &self,
        so_pin: &AuthPin,
        keys: &[(String, &WrappingPublicKey)],
    ) -> Result<TrustedWrappingKeys, HsmError> {
        self.guard_login(UserType::So)?;
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(HsmError::at("open session"))?;
        session
            .login(UserType::So, Some(so_pin))
            .map_err(HsmError::at("log in as security officer"))?;
        let mut handles = Vec::new();
        for (label, key) in keys {
            let created = session.create_object(&wrapping_key_template(key, label, true));
            match created {
                Ok(h) => handles.push(h),
                Err(e) => {
                    let _ = session.logout();
                    return Err(HsmError::at(
                        "import the KMS wrapping public key as trusted (security officer)",
                    )(e));
                }
            }
        }
        session
            .logout()
            .map_err(HsmError::at("log out the security officer"))?;
        Ok(TrustedWrappingKeys {
            _session: session,
            handles,
        })
    }

    /// Opens a read-write session and logs in as the token user.
    pub fn login(&self, pin: &AuthPin) -> Result<UserSession, HsmError> {
        self.guard_login(UserType::User)?;
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(HsmError::at("open session"))?;
        match session.login(UserType::User, Some(pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(UserSession {
                session,
                ctx: self.ctx.clone(),
                slot: self.slot,
            }),
            Err(e) => Err(HsmError::at("log in")(e)),
        }
    }
}

/// The first slot whose token is not initialised, refusing a label that exists already.
fn free_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, HsmError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(HsmError::at("list tokens"))?;
    let mut free = None;
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(HsmError::at("read token info"))?;
        if info.token_initialized() && info.label().trim_end() == label {
            return Err(HsmError::Refused {
                step: "initialise token",
                message: format!("a token labelled {label:?} exists already"),
                hint: "choose another label; keyrite never re-initialises a token".into(),
            });
        }
        if !info.token_initialized() && free.is_none() {
            free = Some(slot);
        }
    }
    free.ok_or_else(|| HsmError::Refused {
        step: "initialise token",
        message: "no empty slot to initialise".into(),
        hint: "create a fresh token directory (SoftHSM2) or database (kryoptic)".into(),
    })
}

impl UserSession {
    /// `n` bytes from the token's RNG.
    pub fn random(&self, n: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, HsmError> {
        self.session
            .generate_random_vec(n as u32)
            .map(zeroize::Zeroizing::new)
            .map_err(HsmError::at("draw random bytes from the token"))
    }

    /// C_GetMechanismInfo for this session's token: whether it offers `mechanism` at all, and
    /// for which operations. Any mechanism type, named or not in cryptoki.
    pub fn mechanism_info(&self, mechanism: MechanismType) -> Result<MechanismInfo, HsmError> {
        self.ctx
            .get_mechanism_info(self.slot, mechanism)
            .map_err(HsmError::at("read mechanism info"))
    }

    /// How many objects this session sees in the token: every class, every label, token and
    /// session objects, private ones included (the session is logged in).
    pub fn object_count(&self) -> Result<usize, HsmError> {
        self.session
            .find_objects(&[])
            .map(|objects| objects.len())
            .map_err(HsmError::at("search the token"))
    }

    /// Secret keys with this label.
    pub fn find_secret_keys(&self, label: &str) -> Result<Vec<ObjectHandle>, HsmError> {
        self.session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(label.into()),
            ])
            .map_err(HsmError::at("search the token"))
    }

    /// Every secret key in the token with its label (labels that are not UTF-8 are shown lossily).
    pub fn secret_keys(&self) -> Result<Vec<(ObjectHandle, String)>, HsmError> {
        Ok(self
            .secret_keys_with_ids()?
            .into_iter()
            .map(|(h, label, _)| (h, label))
            .collect())
    }

    /// Every secret key in the token with its label and CKA_ID (labels that are not UTF-8 are
    /// shown lossily; a key without an id has an empty one).
    pub fn secret_keys_with_ids(&self) -> Result<Vec<(ObjectHandle, String, Vec<u8>)>, HsmError> {
        let step = "list the token's secret keys";
        let handles = self
            .session
            .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .map_err(HsmError::at(step))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let (mut label, mut id) = (String::new(), Vec::new());
            for a in self
                .session
                .get_attributes(h, &[AttributeType::Label, AttributeType::Id])
                .map_err(HsmError::at(step))?
            {
                match a {
                    Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
                    Attribute::Id(i) => id = i,
                    _ => {}
                }
            }
            out.push((h, label, id));
        }
        Ok(out)
    }

    /// How many secret keys the token holds.
    pub fn count_secret_keys(&self) -> Result<usize, HsmError> {
        Ok(self.secret_keys()?.len())
    }

    /// Destroys a key (C_DestroyObject): an aborted ceremony's key that was never written.
    pub fn destroy_key(&self, key: ObjectHandle) -> Result<(), HsmError> {
        self.session
            .destroy_object(key)
            .map_err(HsmError::at("destroy a key never written"))
    }

    /// Generates the AES-256 key material inside the token: a token object, private, sensitive,
    /// extractable only so it can be wrapped, usable for nothing but wrap-out, the check value and
    /// the escrow decrypt. Its id comes from the token's RNG. An existing label is refused.
    pub fn generate_ceremony_key(&self, label: &str) -> Result<CeremonyKey, HsmError> {
        self.generate_ceremony_key_with(label, false)
    }

    /// [`UserSession::generate_ceremony_key`]; with `wrap_with_trusted` the key is also marked
    /// CKA_WRAP_WITH_TRUSTED: a token that enforces it wraps the key only under a key the
    /// security officer marked trusted.
    pub fn generate_ceremony_key_with(
        &self,
        label: &str,
        wrap_with_trusted: bool,
    ) -> Result<CeremonyKey, HsmError> {
        let id = self
            .session
            .generate_random_vec(16)
            .map_err(HsmError::at("generate AES-256 key"))?;
        self.generate_ceremony_key_with_id(label, id, wrap_with_trusted)
    }

    /// [`UserSession::generate_ceremony_key_with`] with the CKA_ID given: the ceremony derives it
    /// from the prepared bundle, so that a key generated by a run that stopped before logging it
    /// is still told apart from every other ceremony's keys.
    pub fn generate_ceremony_key_with_id(
        &self,
        label: &str,
        id: Vec<u8>,
        wrap_with_trusted: bool,
    ) -> Result<CeremonyKey, HsmError> {
        let step = "generate AES-256 key";
        if !self.find_secret_keys(label)?.is_empty() {
            return Err(HsmError::Refused {
                step,
                message: format!("a key labelled {label:?} exists in the token already"),
                hint: "this bundle was used by an earlier (perhaps interrupted) ceremony; prepare a fresh bundle with `keyrite kms prepare` and run the ceremony with it".into(),
            });
        }
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        if wrap_with_trusted {
            template.push(Attribute::WrapWithTrusted(true));
        }
        let handle = self
            .session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(HsmError::at(step))?;
        Ok(CeremonyKey {
            handle,
            label: label.into(),
            id,
        })
    }

    /// The escrowed AES-256 key labelled `label`, left in the token by an earlier ceremony, for a
    /// re-wrap. Exactly one secret key must carry the label.
    pub fn find_escrowed_key(&self, label: &str) -> Result<CeremonyKey, HsmError> {
        let step = "find the escrowed key";
        let handle = match self.find_secret_keys(label)?.as_slice() {
            [h] => *h,
            [] => {
                return Err(HsmError::Refused {
                    step,
                    message: format!("the token holds no key labelled {label:?}"),
                    hint: "log in to the token that holds the escrow copy (or restore it from the HSM's backup); without it the material cannot be restored and KMS needs new material".into(),
                });
            }
            many => {
                return Err(HsmError::Refused {
                    step,
                    message: format!("{} keys are labelled {label:?}; keyrite will not guess which one holds the material", many.len()),
                    hint: "find out where the extra key came from; the check value in the earlier bundle tells the right one".into(),
                });
            }
        };
        let id = self
            .session
            .get_attributes(handle, &[AttributeType::Id])
            .map_err(HsmError::at(step))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(id) => Some(id),
                _ => None,
            })
            .unwrap_or_default();
        Ok(CeremonyKey {
            handle,
            label: label.into(),
            id,
        })
    }

    /// The check value: the first 3 bytes of AES-ECB(key, zero block), computed in the token. Where
    /// the token offers CKA_CHECK_VALUE too, the two must agree.
    pub fn check_value(&self, key: ObjectHandle) -> Result<[u8; 3], HsmError> {
        let step = "compute check value";
        let block = self
            .session
            .encrypt(&Mechanism::AesEcb, key, &[0u8; 16])
            .map_err(HsmError::at(step))?;
        let kcv: [u8; 3] = block
            .get(..3)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| HsmError::Verification {
                step,
                message: format!("AES-ECB returned {} bytes, not 16", block.len()),
                hint: "the token misbehaves; do not use it for this ceremony".into(),
            })?;
        if let Some(token_kcv) = self.token_check_value(key)?
            && token_kcv != kcv
        {
            return Err(HsmError::Verification {
                step,
                message: format!(
                    "the token's CKA_CHECK_VALUE {} differs from AES-ECB of a zero block {}",
                    data_encoding::HEXLOWER.encode(&token_kcv),
                    data_encoding::HEXLOWER.encode(&kcv)
                ),
                hint: "the token misbehaves; do not use it for this ceremony".into(),
            });
        }
        Ok(kcv)
    }

    /// CKA_CHECK_VALUE, where the token keeps one.
    pub fn token_check_value(&self, key: ObjectHandle) -> Result<Option<[u8; 3]>, HsmError> {
        let attrs = self
            .session
            .get_attributes(key, &[AttributeType::CheckValue])
            .map_err(HsmError::at("read CKA_CHECK_VALUE"))?;
        Ok(attrs.into_iter().find_map(|a| match a {
            Attribute::CheckValue(v) => v.get(..3).and_then(|b| b.try_into().ok()),
            _ => None,
        }))
    }

    /// Whether `key` is marked CKA_WRAP_WITH_TRUSTED.
    pub fn wraps_only_with_trusted(&self, key: ObjectHandle) -> Result<bool, HsmError> {
        let attrs = self
            .session
            .get_attributes(key, &[AttributeType::WrapWithTrusted])
            .map_err(HsmError::at("read CKA_WRAP_WITH_TRUSTED"))?;
        Ok(attrs
            .iter()
            .any(|a| matches!(a, Attribute::WrapWithTrusted(true))))
    }

    /// Whether CKA_VALUE of `key` can be read: it must not be, for a ceremony key.
    pub fn value_is_readable(&self, key: ObjectHandle) -> Result<bool, HsmError> {
        let info = self
            .session
            .get_attribute_info(key, &[AttributeType::Value])
            .map_err(HsmError::at("read attribute info"))?;
        Ok(matches!(info.first(), Some(AttributeInfo::Available(_))))
    }

    /// Imports the KMS wrapping public key as a session object that can only wrap.
    pub fn import_wrapping_key(
        &self,
        key: &WrappingPublicKey,
        label: &str,
    ) -> Result<ObjectHandle, HsmError> {
        self.session
            .create_object(&wrapping_key_template(key, label, false))
            .map_err(HsmError::at("import the KMS wrapping public key"))
    }

    /// Wraps `key` under the wrapping key with the KMS algorithm, inside the token, in one
    /// C_WrapKey (RSA_AES_KEY_WRAP_* through the token's own CKM_RSA_AES_KEY_WRAP).
    pub fn wrap(
        &self,
        wrapping_key: ObjectHandle,
        key: ObjectHandle,
        algorithm: WrappingAlgorithm,
    ) -> Result<Vec<u8>, HsmError> {
        wrap_for_kms(self, wrapping_key, key, algorithm)
    }

    /// Single-part AES-GCM decryption inside the token (used to prove which material KMS holds).
    pub fn decrypt_aes_gcm(
        &self,
        key: ObjectHandle,
        iv: &[u8],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let mut iv = iv.to_vec();
        let params =
            GcmParams::new(&mut iv, aad, 128.into()).map_err(HsmError::at("AES-GCM parameters"))?;
        self.session
            .decrypt(&Mechanism::AesGcm(params), key, ciphertext_and_tag)
            .map_err(HsmError::at("AES-GCM decrypt"))
    }
}

impl KeyWrapper for UserSession {
    type Key = cryptoki::object::ObjectHandle;

    fn wrap_key(
        &self,
        mechanism: &Mechanism<'_>,
        wrapping_key: Self::Key,
        key: Self::Key,
    ) -> Result<Vec<u8>, HsmError> {
        self.session
            .wrap_key(mechanism, wrapping_key, key)
            .map_err(HsmError::at(super::key_wrap::STEP))
    }
}
