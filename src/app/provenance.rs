//! Bundle provenance: the preparer signs the manifest's fingerprint (`keyrite kms prepare
//! --sign-with`), a second person countersigns after checking the keys (`keyrite kms cosign`),
//! and the ceremony's preflight refuses a bundle without the signatures its script asks for
//! ([`check_for_script`]), before anyone types a secret. The format and the rules are
//! [`crate::core::provenance`]'s.
//!
//! A signer is a file key (PKCS#8 PEM P-256, readable by its owner only: for rehearsals) or, in
//! a build with both halves, a P-256 key pair in a PKCS#11 token
//! (`pkcs11:token=LABEL;object=KEY?pin-source=file:/path`), signing with CKM_ECDSA as the log
//! key does.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;

use crate::app::error::Result;
pub use crate::app::provenance_error::ProvenanceError;
use crate::core::chain::{LogSigner, TrustedKey, public_key_pem};
use crate::core::provenance::{self, BundleSignature, Provenance, Role, Signers, ValidSignature};
use crate::core::script::ProvenanceSection;
use crate::io::bundle::VerifiedBundle;
use crate::io::fs::{self as fsio, FsError};

/// Who signs, as `--sign-with` names it.
pub enum SignWith {
    /// A PKCS#8 PEM P-256 private key file (rehearsals).
    File(PathBuf),
    /// A P-256 key pair in a PKCS#11 token.
    #[cfg(feature = "airgap")]
    Token {
        uri: crate::hsm::TokenUri,
        module: PathBuf,
    },
}

impl SignWith {
    /// `pkcs11:…` is a token (in a build with the HSM half), anything else a key file.
    pub fn parse(s: &str, module: &Path) -> Result<SignWith> {
        if !s.starts_with("pkcs11:") {
            return Ok(SignWith::File(PathBuf::from(s)));
        }
        #[cfg(feature = "airgap")]
        {
            let uri = crate::hsm::TokenUri::parse(s)?;
            if uri.object.is_none() {
                return Err(ProvenanceError::SignerNoObject { uri: s.into() }.into());
            }
            let module = uri.module_path.clone().unwrap_or(module.to_path_buf());
            Ok(SignWith::Token { uri, module })
        }
        #[cfg(not(feature = "airgap"))]
        {
            let _ = module;
            Err(ProvenanceError::SignerNeedsToken { uri: s.into() }.into())
        }
    }

    /// A file key is read now (mode, format), so a bad one costs nothing; a token is opened only
    /// to sign.
    pub fn check(&self) -> Result<()> {
        match self {
            SignWith::File(path) => load_file_key(path).map(|_| ()),
            #[cfg(feature = "airgap")]
            SignWith::Token { .. } => Ok(()),
        }
    }

    /// Signs `message`; returns (public key, low-S r||s).
    fn sign(&self, message: &[u8]) -> Result<(TrustedKey, Vec<u8>)> {
        match self {
            SignWith::File(path) => {
                let key = load_file_key(path)?;
                let public = TrustedKey::from_key(*key.verifying_key())?;
                let sig = LogSigner::sign(&key, message)?;
                Ok((public, sig))
            }
            #[cfg(feature = "airgap")]
            SignWith::Token { uri, module } => {
                let token = crate::hsm::Token::open(module, &uri.token)?;
                let pin_path =
                    uri.pin_source
                        .as_deref()
                        .ok_or_else(|| ProvenanceError::SignerNoPin {
                            token: uri.token.clone(),
                        })?;
                let pin = crate::hsm::pin::read_pin(pin_path)?;
                let session = token.login(&pin)?;
                let label = uri.object.as_deref().unwrap_or_default();
                let signer = session.log_signer(label)?;
                let sig = LogSigner::sign(&signer, message)?;
                Ok((signer.public_key().clone(), sig))
            }
        }
    }
}

/// A file key: readable by its owner only (as a PIN file), PKCS#8 PEM, P-256.
fn load_file_key(path: &Path) -> Result<SigningKey> {
    let bytes = fsio::read_secret(path, "a signing key")?;
    let bad = |problem: &str| ProvenanceError::SignerKey {
        path: path.to_path_buf(),
        problem: problem.into(),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not PEM text"))?;
    SigningKey::from_pkcs8_pem(text)
        .map_err(|_| bad("not a P-256 private key in PKCS#8 PEM").into())
}

/// The bundle's provenance file, read without following a link; None when it has none.
pub fn read(dir: &Path) -> Result<Option<Provenance>> {
    let path = dir.join(provenance::FILE_NAME);
    fsio::refuse_symlink(&path)?;
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = fsio::read_nofollow(&path)?;
    Provenance::parse(&bytes)
        .map(Some)
        .map_err(|problem| ProvenanceError::Invalid { path, problem }.into())
}

/// Every signature of the bundle verified over its fingerprint `fingerprint` (empty: unsigned).
pub fn verify(dir: &Path, fingerprint: &str) -> Result<Vec<ValidSignature>> {
    match read(dir)? {
        None => Ok(Vec::new()),
        Some(p) => p.verify(fingerprint).map_err(|problem| {
            ProvenanceError::Invalid {
                path: dir.join(provenance::FILE_NAME),
                problem,
            }
            .into()
        }),
    }
}

/// Adds a signature of `role` by `signer` to the verified bundle's provenance file (created if
/// missing, replaced atomically otherwise). Refused if the file's signatures do not hold, or the
/// signer signed already.
pub fn sign(bundle: &VerifiedBundle, role: Role, signer: &SignWith) -> Result<ValidSignature> {
    let dir = bundle.dir();
    let fingerprint = bundle.fingerprint();
    if bundle.manifest().ceremony.is_some() {
        return Err(ProvenanceError::AfterCeremony {
            dir: dir.to_path_buf(),
        }
        .into());
    }
    let existing = read(dir)?;
    let mut file = match existing {
        Some(p) => {
            p.verify(fingerprint)
                .map_err(|problem| ProvenanceError::Invalid {
                    path: dir.join(provenance::FILE_NAME),
                    problem,
                })?;
            p
        }
        None => Provenance::new(fingerprint),
    };
    let time = Timestamp::now();
    let (public, sig) = signer.sign(&provenance::message(role, fingerprint, time))?;
    if file
        .signatures
        .iter()
        .any(|s| s.signer_sha256 == public.fingerprint())
    {
        return Err(ProvenanceError::AlreadySigned {
            dir: dir.to_path_buf(),
            signer: public.fingerprint().into(),
        }
        .into());
    }
    let (pem, _) = public_key_pem(public.key())?;
    file.signatures.push(BundleSignature {
        signer_sha256: public.fingerprint().into(),
        public_key_pem: pem,
        role,
        time,
        signature: data_encoding::HEXLOWER.encode(&sig),
    });
    // Checked as the ceremony will check it, before it is written.
    file.verify(fingerprint)
        .map_err(|problem| ProvenanceError::Invalid {
            path: dir.join(provenance::FILE_NAME),
            problem,
        })?;
    let path = dir.join(provenance::FILE_NAME);
    if fsio::exists_nofollow(&path) {
        fsio::replace(&path, &file.to_json())?;
    } else {
        fsio::write_new(&path, &file.to_json())?;
    }
    Ok(ValidSignature {
        signer_sha256: public.fingerprint().into(),
        role,
        time,
    })
}

/// The script's `[provenance]` signers as SHA-256s: PEM paths are read (relative to the
/// script's directory) and fingerprinted.
fn listed_signers(section: &ProvenanceSection, script_dir: &Path) -> Result<Vec<String>> {
    section
        .signers
        .iter()
        .map(|s| {
            if ProvenanceSection::is_sha256(s) {
                return Ok(s.clone());
            }
            let path = script_dir.join(s);
            let bad = |problem: String| ProvenanceError::SignerPem {
                path: path.clone(),
                problem,
            };
            let pem = fsio::read_text(&path, "a signer's public key").map_err(|e| match e {
                FsError::Io { source, .. } => bad(source.kind().to_string()),
                other => bad(other.to_string()),
            })?;
            let key = TrustedKey::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
            Ok(key.fingerprint().to_string())
        })
        .collect()
}

/// The bundle's signatures for a script: every signature present must hold. A script must have
/// a `[provenance]` section: at least `required` distinct listed signers must have signed, among
/// them the preparer (`prepare`) and a countersigner with another key (`cosign`); only
/// `required = 0` (with a reason, checked when the script is parsed) takes an unsigned bundle.
/// Returns who signed (None: the bundle is unsigned and the script waives signatures).
pub fn check_for_script(
    section: Option<&ProvenanceSection>,
    script_dir: &Path,
    bundle_dir: &Path,
    fingerprint: &str,
) -> Result<Option<Signers>> {
    let section = section.ok_or(ProvenanceError::NoSection)?;
    let present = read(bundle_dir)?.is_some();
    if section.required == 0 {
        if !present {
            return Ok(None);
        }
        return Ok(Some(Signers::of(&verify(bundle_dir, fingerprint)?)));
    }
    let listed = listed_signers(section, script_dir)?;
    if !present {
        return Err(ProvenanceError::Unsigned {
            dir: bundle_dir.to_path_buf(),
            required: section.required,
        }
        .into());
    }
    let valid = verify(bundle_dir, fingerprint)?;
    let too_few = |problem| ProvenanceError::TooFew {
        dir: bundle_dir.to_path_buf(),
        problem,
    };
    provenance::check_signers(&valid, &listed, section.required).map_err(too_few)?;
    provenance::check_roles(&valid, &listed).map_err(|problem| ProvenanceError::Roles {
        dir: bundle_dir.to_path_buf(),
        problem,
    })?;
    Ok(Some(Signers::of(&valid)))
}

/// What a countersigner checks, per key of the bundle: its alias (as requested), ARN, account,
/// region and the SHA-256 of its wrapping public key; and who signed already.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CosignSummary {
    pub fingerprint: String,
    pub keys: Vec<CosignKey>,
    pub signed: Vec<ValidSignature>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CosignKey {
    pub name: String,
    pub requested: String,
    pub key_arn: String,
    pub account: String,
    pub region: String,
    pub wrapping_key_sha256: String,
    /// Rotation by a new key: the alias it takes over after its import, and from which key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takes_over: Option<crate::core::manifest::TakeOver>,
    /// A multi-Region key's replicas: (Region, ARN, SHA-256 of that Region's wrapping key).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<(String, String, String)>,
}

/// The keys as the countersigner must see them before signing (the bundle verified, its
/// existing signatures checked).
pub fn cosign_summary(bundle: &VerifiedBundle) -> Result<CosignSummary> {
    if bundle.manifest().ceremony.is_some() {
        return Err(ProvenanceError::AfterCeremony {
            dir: bundle.dir().to_path_buf(),
        }
        .into());
    }
    let signed = verify(bundle.dir(), bundle.fingerprint())?;
    let keys = bundle
        .manifest()
        .keys
        .iter()
        .map(|k| CosignKey {
            name: k.name.clone(),
            requested: k.requested.clone(),
            key_arn: k.key_arn.clone(),
            account: k.account.clone(),
            region: k.region.clone(),
            wrapping_key_sha256: bundle
                .file(k, crate::core::manifest::WRAPPING_PUBLIC_KEY)
                .map(crate::core::digest::sha256_hex)
                .unwrap_or_default(),
            takes_over: k.takes_over.clone(),
            replicas: k
                .replicas
                .iter()
                .map(|r| {
                    (
                        r.region.clone(),
                        r.key_arn.clone(),
                        bundle
                            .region_file(
                                k,
                                Some(&r.region),
                                crate::core::manifest::WRAPPING_PUBLIC_KEY,
                            )
                            .map(crate::core::digest::sha256_hex)
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect();
    Ok(CosignSummary {
        fingerprint: bundle.fingerprint().to_string(),
        keys,
        signed,
    })
}
