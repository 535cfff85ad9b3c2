//! Who vouches for a bundle: `provenance.json`, the signatures of the people who prepared and
//! countersigned it on the connected side, each over the manifest's fingerprint.
//!
//! AWS does not sign its wrapping keys, so nothing can prove offline that a wrapping public key
//! came from KMS. What the signatures prove is who wrote (or checked) the bundle: a connected side
//! that writes its own RSA key into the bundle and recomputes the hashes changes the fingerprint,
//! and every signature made over the old one stops verifying. The ceremony script names whose
//! signatures it accepts and how many it needs ([`check_signers`]).
//!
//! Each signature is ECDSA P-256 (low S, as the logs) over SHA-256 of [`message`]: the format, the
//! role, the manifest fingerprint and the time, one per line, so a signature for one role or one
//! bundle is never valid for another.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::chain::TrustedKey;

/// The file in the bundle's top directory.
pub const FILE_NAME: &str = "provenance.json";
/// What the file and every signed message say the format is.
pub const FORMAT: &str = "keyrite-provenance/1";

/// Why a signature was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// By the person who ran `keyrite kms prepare`.
    Prepare,
    /// By a second person who checked the keys (`keyrite kms cosign`).
    Cosign,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Prepare => "prepare",
            Role::Cosign => "cosign",
        }
    }
}

/// One signature, as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    /// SHA-256 of the signer's DER SubjectPublicKeyInfo, hex (as the log key's fingerprint).
    pub signer_sha256: String,
    /// The signer's public key, PEM SubjectPublicKeyInfo.
    pub public_key_pem: String,
    pub role: Role,
    pub time: Timestamp,
    /// ECDSA P-256 r||s, 128 lower-case hex, over SHA-256 of [`message`].
    pub signature: String,
}

/// `provenance.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub format: String,
    /// The fingerprint every signature covers.
    pub manifest_sha256: String,
    pub signatures: Vec<BundleSignature>,
}

/// The bytes a signer signs.
pub fn message(role: Role, manifest_sha256: &str, time: Timestamp) -> Vec<u8> {
    format!(
        "{FORMAT}\nrole={}\nmanifest_sha256={manifest_sha256}\ntime={time}\n",
        role.as_str()
    )
    .into_bytes()
}

/// Why `provenance.json` vouches for nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceProblem {
    #[error("it is not a keyrite provenance file: {0}")]
    Unreadable(String),
    #[error("its format is {0:?}, this keyrite reads {FORMAT:?}")]
    Format(String),
    #[error(
        "its signatures are over bundle fingerprint {signed}, but this bundle's is {bundle}: the manifest changed after it was signed"
    )]
    OtherBundle { signed: String, bundle: String },
    #[error("signature {index} ({role}): {why}")]
    BadSignature {
        index: usize,
        role: &'static str,
        why: String,
    },
}

/// A signature that verified: who signed, in which role, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidSignature {
    pub signer_sha256: String,
    pub role: Role,
    pub time: Timestamp,
}

impl Provenance {
    pub fn new(manifest_sha256: &str) -> Provenance {
        Provenance {
            format: FORMAT.into(),
            manifest_sha256: manifest_sha256.into(),
            signatures: Vec::new(),
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Provenance, ProvenanceProblem> {
        let p: Provenance = serde_json::from_slice(bytes).map_err(|e| {
            ProvenanceProblem::Unreadable(format!("line {}, column {}", e.line(), e.column()))
        })?;
        if p.format != FORMAT {
            return Err(ProvenanceProblem::Format(p.format));
        }
        Ok(p)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Every signature checked for the bundle with this fingerprint. One bad signature refuses
    /// the file: nobody who signs honestly writes one.
    pub fn verify(&self, fingerprint: &str) -> Result<Vec<ValidSignature>, ProvenanceProblem> {
        if self.manifest_sha256 != fingerprint {
            return Err(ProvenanceProblem::OtherBundle {
                signed: self.manifest_sha256.clone(),
                bundle: fingerprint.into(),
            });
        }
        let mut valid = Vec::new();
        for (i, s) in self.signatures.iter().enumerate() {
            let bad = |why: String| ProvenanceProblem::BadSignature {
                index: i + 1,
                role: s.role.as_str(),
                why,
            };
            let key = TrustedKey::from_pem(&s.public_key_pem)
                .map_err(|e| bad(format!("its public key is unreadable: {e}")))?;
            if key.fingerprint() != s.signer_sha256 {
                return Err(bad(format!(
                    "it names signer {}, but its public key is {}",
                    s.signer_sha256,
                    key.fingerprint()
                )));
            }
            let sig = data_encoding::HEXLOWER_PERMISSIVE
                .decode(s.signature.as_ref())
                .map_err(|_| bad("the signature is not hex".into()))?;
            if !key.verifies(&message(s.role, fingerprint, s.time), &sig) {
                return Err(bad(format!(
                    "the signature of {} does not verify over this bundle's fingerprint",
                    s.signer_sha256
                )));
            }
            valid.push(ValidSignature {
                signer_sha256: s.signer_sha256.clone(),
                role: s.role,
                time: s.time,
            });
        }
        Ok(valid)
    }
}

/// Who vouched for the bundle, as the start record binds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signers {
    pub prepared_by: Vec<String>,
    pub cosigned_by: Vec<String>,
}

impl Signers {
    /// The distinct signers of each role, in the file's order.
    pub fn of(valid: &[ValidSignature]) -> Signers {
        let pick = |role: Role| {
            let mut out: Vec<String> = Vec::new();
            for v in valid.iter().filter(|v| v.role == role) {
                if !out.contains(&v.signer_sha256) {
                    out.push(v.signer_sha256.clone());
                }
            }
            out
        };
        Signers {
            prepared_by: pick(Role::Prepare),
            cosigned_by: pick(Role::Cosign),
        }
    }
}

/// Too few of the listed signers signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the script requires signatures by {}; {found} of them signed. Signed by: {}. Listed and missing: {}",
    crate::core::terminal::counted(*required, "distinct listed signer"),
    list(signed),
    list(missing)
)]
pub struct TooFewSigners {
    pub required: usize,
    pub found: usize,
    /// Everyone whose signature verified, "<sha256> (role[, not listed])".
    pub signed: Vec<String>,
    /// The listed signers who did not sign.
    pub missing: Vec<String>,
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nobody".into()
    } else {
        v.join(", ")
    }
}

/// The roles hold: a listed signer signed as the preparer (`prepare`), and a listed signer with
/// another key countersigned (`cosign`). Two `prepare` signatures are not a countersignature.
pub fn check_roles(valid: &[ValidSignature], listed: &[String]) -> Result<(), RolesNotMet> {
    let of = |role: Role| -> Vec<&str> {
        valid
            .iter()
            .filter(|v| v.role == role && listed.contains(&v.signer_sha256))
            .map(|v| v.signer_sha256.as_str())
            .collect()
    };
    let (prepared, cosigned) = (of(Role::Prepare), of(Role::Cosign));
    if prepared.is_empty() {
        return Err(RolesNotMet::NoPreparer);
    }
    if !cosigned.iter().any(|c| prepared.iter().any(|p| p != c)) {
        return Err(RolesNotMet::NotCountersigned {
            preparers: prepared.join(", "),
        });
    }
    Ok(())
}

/// The signatures lack a role the script requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolesNotMet {
    #[error("no listed signer signed as the bundle's preparer (`prepare`)")]
    NoPreparer,
    #[error(
        "not countersigned: a countersignature is a `cosign` by a listed key other than the preparer's ({preparers}); two `prepare` signatures are not one"
    )]
    NotCountersigned { preparers: String },
}

/// At least `required` distinct signers of `listed` signed (in any role).
pub fn check_signers(
    valid: &[ValidSignature],
    listed: &[String],
    required: usize,
) -> Result<(), TooFewSigners> {
    let mut found: Vec<&str> = Vec::new();
    let mut signed = Vec::new();
    for v in valid {
        let is_listed = listed.contains(&v.signer_sha256);
        signed.push(format!(
            "{} ({}{})",
            v.signer_sha256,
            v.role.as_str(),
            if is_listed { "" } else { ", not listed" }
        ));
        if is_listed && !found.contains(&v.signer_sha256.as_str()) {
            found.push(&v.signer_sha256);
        }
    }
    if found.len() >= required {
        return Ok(());
    }
    Err(TooFewSigners {
        required,
        found: found.len(),
        signed,
        missing: listed
            .iter()
            .filter(|l| !found.contains(&l.as_str()))
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::chain::LogSigner;
    use p256::ecdsa::SigningKey;

    fn key(n: u8) -> (SigningKey, TrustedKey, String) {
        let sk = SigningKey::from_slice(&[n; 32]).unwrap();
        let t = TrustedKey::from_key(*sk.verifying_key()).unwrap();
        let (pem, _) = crate::core::chain::public_key_pem(sk.verifying_key()).unwrap();
        (sk, t, pem)
    }

    fn signed(fp: &str, who: &[(u8, Role)]) -> Provenance {
        let mut p = Provenance::new(fp);
        let time: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        for (n, role) in who {
            let (sk, t, pem) = key(*n);
            let sig = sk.sign(&message(*role, fp, time)).unwrap();
            p.signatures.push(BundleSignature {
                signer_sha256: t.fingerprint().into(),
                public_key_pem: pem,
                role: *role,
                time,
                signature: data_encoding::HEXLOWER.encode(&sig),
            });
        }
        p
    }

    const FP: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OTHER: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn signatures_verify_for_their_bundle_only() {
        let p = signed(FP, &[(1, Role::Prepare), (2, Role::Cosign)]);
        let back = Provenance::parse(&p.to_json()).unwrap();
        let valid = back.verify(FP).unwrap();
        assert_eq!(valid.len(), 2);
        assert!(matches!(
            back.verify(OTHER),
            Err(ProvenanceProblem::OtherBundle { .. })
        ));
        // The fingerprint field rewritten to the new bundle: the signatures no longer match.
        let mut forged = back.clone();
        forged.manifest_sha256 = OTHER.into();
        assert!(matches!(
            forged.verify(OTHER),
            Err(ProvenanceProblem::BadSignature { index: 1, .. })
        ));
        // A prepare signature presented as a cosign does not verify either.
        let mut swapped = back;
        swapped.signatures[0].role = Role::Cosign;
        assert!(swapped.verify(FP).is_err());
    }

    #[test]
    fn the_listed_signers_must_reach_the_required_count() {
        let (_, a, _) = key(1);
        let (_, b, _) = key(2);
        let listed = vec![a.fingerprint().to_string(), b.fingerprint().to_string()];
        let both = signed(FP, &[(1, Role::Prepare), (2, Role::Cosign)])
            .verify(FP)
            .unwrap();
        assert!(check_signers(&both, &listed, 2).is_ok());
        let one = signed(FP, &[(1, Role::Prepare)]).verify(FP).unwrap();
        let e = check_signers(&one, &listed, 2).unwrap_err();
        assert_eq!((e.found, e.missing.clone()), (1, vec![listed[1].clone()]));
        // The same signer twice counts once.
        let twice = signed(FP, &[(1, Role::Prepare), (1, Role::Cosign)])
            .verify(FP)
            .unwrap();
        assert!(check_signers(&twice, &listed, 2).is_err());
        // An unlisted signer counts for nothing, and is named as such.
        let stranger = signed(FP, &[(3, Role::Prepare)]).verify(FP).unwrap();
        let e = check_signers(&stranger, &listed, 1).unwrap_err();
        assert!(e.to_string().contains("not listed"), "{e}");
        assert_eq!(
            Signers::of(&both).cosigned_by,
            vec![b.fingerprint().to_string()]
        );
    }

    #[test]
    fn a_countersignature_is_a_cosign_by_another_listed_key() {
        let sig = |who: char, role| ValidSignature {
            signer_sha256: who.to_string().repeat(64),
            role,
            time: jiff::Timestamp::UNIX_EPOCH,
        };
        let listed = vec!["a".repeat(64), "b".repeat(64)];
        let good = [sig('a', Role::Prepare), sig('b', Role::Cosign)];
        assert_eq!(check_roles(&good, &listed), Ok(()));
        let two_prepares = [sig('a', Role::Prepare), sig('b', Role::Prepare)];
        assert!(matches!(
            check_roles(&two_prepares, &listed),
            Err(RolesNotMet::NotCountersigned { .. })
        ));
        let no_preparer = [sig('b', Role::Cosign)];
        assert_eq!(
            check_roles(&no_preparer, &listed),
            Err(RolesNotMet::NoPreparer)
        );
        let unlisted_cosigner = [sig('a', Role::Prepare), sig('c', Role::Cosign)];
        assert!(check_roles(&unlisted_cosigner, &listed).is_err());
    }
}
