//! Ceremony scripts and headless answers: strict TOML, fully validated before any HSM session opens.

use serde::Deserialize;

use super::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use super::ceremony::ResumeChoice;
use super::custody::shares::looks_like_share;
use super::names::KeyRef;

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(
        "{file}: {message}\n  what to do: fix the file; see ceremony-scripts/ for a complete example"
    )]
    Invalid { file: String, message: String },
}

/// A ceremony script. The same script serves a rehearsal and the production ceremony; the HSM is
/// named on the command line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub ceremony: CeremonySection,
    pub wrapping: WrappingSection,
    #[serde(rename = "key")]
    pub keys: Vec<ScriptKey>,
    /// Whose signatures the bundle must carry (`provenance.json`), checked before anyone types
    /// a secret.
    #[serde(default)]
    pub provenance: Option<ProvenanceSection>,
}

/// `[provenance]`: the bundle must be signed by `required` distinct signers of `signers`, among
/// them its preparer (`prepare`) and a countersigner with another key (`cosign`). A script
/// without the section is refused; `required = 0` with a `reason` (logged in the start record)
/// takes an unsigned bundle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceSection {
    /// Each a public key's SHA-256 (hex of its DER SubjectPublicKeyInfo, as `keyrite kms prepare
    /// --sign-with` prints it) or the path of its PEM file (relative to the script).
    #[serde(default)]
    pub signers: Vec<String>,
    pub required: usize,
    /// Why signatures are not required (with `required = 0` only, and then required).
    #[serde(default)]
    pub reason: Option<String>,
}

impl ProvenanceSection {
    /// The reason signatures are waived, when the script waives them (`required = 0`).
    pub fn waived_because(&self) -> Option<&str> {
        (self.required == 0).then_some(self.reason.as_deref().unwrap_or_default())
    }
}

impl ProvenanceSection {
    /// A signer given as a SHA-256 rather than a PEM path.
    pub fn is_sha256(signer: &str) -> bool {
        signer.len() == 64
            && signer
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonySection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The ceremony is refused (before anyone types a secret) when less than this remains of the
    /// import parameters' validity. Default 30.
    #[serde(default)]
    pub expiry_margin_minutes: Option<u32>,
    /// Whether a witness, another person than the operator, must be named. Default true.
    #[serde(default)]
    pub witness_required: Option<bool>,
    /// How long this ceremony took the room in its timed rehearsal, in minutes, from the
    /// ceremony's first frame to its result (a rehearsal at a terminal prints it). The
    /// preflight warns, and the countdown says HURRY, when less than this remains above the
    /// margin. Default: the estimate of [`Script::ceremony_budget`].
    #[serde(default)]
    pub rehearsed_minutes: Option<u32>,
}

/// What the ceremony's time budget ([`Script::ceremony_budget`]) counts, in minutes. An
/// estimate to be replaced by the room's own timed rehearsal: reading and typing a share takes a
/// custodian a few minutes, the fingerprint read-out and the witness's review of nine keys about
/// ten; the HSM's work is seconds.
pub const CEREMONY_BASE_MINUTES: i64 = 10;
pub const CEREMONY_MINUTES_PER_CUSTODIAN: i64 = 3;
pub const CEREMONY_MINUTES_PER_KEY: i64 = 1;

/// The default [`CeremonySection::expiry_margin_minutes`].
pub const DEFAULT_EXPIRY_MARGIN_MINUTES: u32 = 30;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappingSection {
    pub algorithm: WrappingAlgorithm,
    pub key_spec: WrappingKeySpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptKey {
    /// Alias, key ARN or key id, as given to `kms prepare`.
    pub key: String,
    /// The key ARN it must resolve to; or else `account` and `region`.
    #[serde(default)]
    pub arn: Option<String>,
    /// The AWS account the key must be in (with `region`, when no `arn` is given).
    #[serde(default)]
    pub account: Option<String>,
    /// The AWS region the key must be in (with `account`, when no `arn` is given).
    #[serde(default)]
    pub region: Option<String>,
    /// A multi-Region key: the Regions of the replicas the material is wrapped for, besides the
    /// key's own. A bundle whose key has replicas in other Regions (or lacks one named here) is
    /// refused before anyone types a secret: every Region the material goes to is in the script.
    #[serde(default)]
    pub replicas: Vec<String>,
}

/// The operators' names do not satisfy the script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeopleError {
    #[error("the script requires a witness, and none is named")]
    NoWitness,
    #[error("the witness ({witness}) is the operator: the witness must be another person")]
    WitnessIsOperator { witness: String },
    /// A name that looked like a share: nothing of it is kept or shown.
    #[error("{}", crate::core::person::LOOKED_LIKE_SHARE)]
    LooksLikeShare,
}

impl ScriptKey {
    /// Whether a key the bundle resolved (ARN, account, region) is the one this entry names.
    /// None: it is; Some: what differs.
    pub fn mismatch(&self, key_arn: &str, account: &str, region: &str) -> Option<String> {
        if let Some(arn) = &self.arn
            && arn != key_arn
        {
            return Some(format!(
                "the script wants {arn}, the bundle holds {key_arn}"
            ));
        }
        match (&self.account, &self.region) {
            (Some(a), _) if a != account => Some(format!(
                "the script wants account {a}, the bundle's key {key_arn} is in account {account}"
            )),
            (_, Some(r)) if r != region => Some(format!(
                "the script wants region {r}, the bundle's key {key_arn} is in region {region}"
            )),
            _ => None,
        }
    }
}

impl Script {
    pub fn parse(file: &str, text: &str) -> Result<Script, ScriptError> {
        let invalid = |message: String| ScriptError::Invalid {
            file: file.to_string(),
            message,
        };
        let script: Script = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if script.ceremony.name.trim().is_empty() {
            return Err(invalid("[ceremony] name is empty".into()));
        }
        if script.keys.is_empty() {
            return Err(invalid("the script names no [[key]]".into()));
        }
        if script.ceremony.expiry_margin_minutes == Some(0) {
            return Err(invalid(
                "[ceremony] expiry_margin_minutes is 0; leave it out for the default 30".into(),
            ));
        }
        if script.ceremony.rehearsed_minutes == Some(0) {
            return Err(invalid(
                "[ceremony] rehearsed_minutes is 0; leave it out for the estimate, or give the minutes the timed rehearsal printed".into(),
            ));
        }
        if let Some(p) = &script.provenance {
            let reason = p.reason.as_deref().map(str::trim).unwrap_or_default();
            if p.required == 0 && reason.is_empty() {
                return Err(invalid(
                    "[provenance] required = 0 takes an unsigned bundle only with a reason = \"...\" saying why (it is written into the ceremony log)".into(),
                ));
            }
            if p.required > 0 && p.reason.is_some() {
                return Err(invalid(
                    "[provenance] reason is for required = 0 only (a waiver of the signatures)"
                        .into(),
                ));
            }
            if p.required > p.signers.len() {
                return Err(invalid(format!(
                    "[provenance] required = {} of {} signer(s): it must be at most the number of signers",
                    p.required,
                    p.signers.len()
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in &script.keys {
            let r = KeyRef::parse(&k.key).map_err(|e| invalid(format!("[[key]] {e}")))?;
            match (&k.arn, &k.account, &k.region) {
                (Some(arn), _, _) if !arn.starts_with("arn:") => {
                    return Err(invalid(format!(
                        "[[key]] {:?}: arn {arn:?} is not a key ARN",
                        k.key
                    )));
                }
                (Some(_), _, _) | (None, Some(_), Some(_)) => {}
                _ => {
                    return Err(invalid(format!(
                        "[[key]] {:?} names neither the arn nor the account and region it must resolve to",
                        k.key
                    )));
                }
            }
            if !seen.insert(r.as_str().to_string()) {
                return Err(invalid(format!("[[key]] {:?} is listed twice", k.key)));
            }
            let mut regions = std::collections::BTreeSet::new();
            for region in &k.replicas {
                crate::core::names::check_region(region)
                    .map_err(|e| invalid(format!("[[key]] {:?}: replicas: {e}", k.key)))?;
                if !regions.insert(region) {
                    return Err(invalid(format!(
                        "[[key]] {:?}: replicas names {region} twice",
                        k.key
                    )));
                }
            }
        }
        Ok(script)
    }

    /// The margin of the import parameters' validity below which the ceremony is refused.
    pub fn expiry_margin(&self) -> jiff::SignedDuration {
        let minutes = self
            .ceremony
            .expiry_margin_minutes
            .unwrap_or(DEFAULT_EXPIRY_MARGIN_MINUTES);
        jiff::SignedDuration::from_mins(i64::from(minutes))
    }

    /// How long the ceremony at the air-gapped side takes once started: the script's
    /// `rehearsed_minutes` (the room's own timed rehearsal) when it gives them, else an estimate:
    /// [`CEREMONY_BASE_MINUTES`] for the people, the key review, the fingerprint read-out and the
    /// confirmation, [`CEREMONY_MINUTES_PER_CUSTODIAN`] for each custodian who types a share and
    /// [`CEREMONY_MINUTES_PER_KEY`] for each key (checked by the witness, then generated, wrapped
    /// and verified). Nine keys and a quorum of three: 10 + 9 + 9 = 28 min.
    pub fn ceremony_budget(&self, quorum: usize) -> jiff::SignedDuration {
        let minutes = match self.ceremony.rehearsed_minutes {
            Some(m) => i64::from(m),
            None => {
                CEREMONY_BASE_MINUTES
                    + CEREMONY_MINUTES_PER_CUSTODIAN * quorum as i64
                    + CEREMONY_MINUTES_PER_KEY * self.keys.len() as i64
            }
        };
        jiff::SignedDuration::from_mins(minutes)
    }

    /// How [`Script::ceremony_budget`] was counted, for the people it warns.
    pub fn ceremony_budget_source(&self, quorum: usize) -> String {
        match self.ceremony.rehearsed_minutes {
            Some(m) => format!("the script's rehearsed_minutes = {m}, timed in a rehearsal"),
            None => format!(
                "estimated: {CEREMONY_BASE_MINUTES} min + {CEREMONY_MINUTES_PER_CUSTODIAN} min × {} + {CEREMONY_MINUTES_PER_KEY} min × {}; a timed rehearsal gives the script's rehearsed_minutes",
                crate::core::terminal::counted(quorum, "custodian"),
                crate::core::terminal::counted(self.keys.len(), "key")
            ),
        }
    }

    /// The warning when the time left (`remaining`, before the import parameters expire) above
    /// the margin is less than the ceremony takes; None when there is time enough or no expiry.
    pub fn short_of_time(
        &self,
        remaining: Option<jiff::SignedDuration>,
        quorum: usize,
    ) -> Option<String> {
        let left = remaining?;
        let budget = self.ceremony_budget(quorum);
        let above = left - self.expiry_margin();
        (above < budget).then(|| {
            use crate::core::terminal::duration_text;
            format!(
                "only {} left above the {} margin, and this ceremony takes {} ({}): hurry, or prepare a new bundle",
                duration_text(above.max(jiff::SignedDuration::ZERO)),
                duration_text(self.expiry_margin()),
                duration_text(budget),
                self.ceremony_budget_source(quorum)
            )
        })
    }

    pub fn witness_required(&self) -> bool {
        self.ceremony.witness_required.unwrap_or(true)
    }

    /// The operators' names against the script: a witness when the script requires one, and
    /// never the operator (compared ignoring case and spaces).
    pub fn check_people(&self, operator: &str, witness: Option<&str>) -> Result<(), PeopleError> {
        if looks_like_share(operator) || witness.is_some_and(looks_like_share) {
            return Err(PeopleError::LooksLikeShare);
        }
        let same = crate::core::person::same_person;
        match witness.map(str::trim).filter(|w| !w.is_empty()) {
            None if self.witness_required() => Err(PeopleError::NoWitness),
            Some(w) if same(w, operator) => Err(PeopleError::WitnessIsOperator {
                witness: w.to_string(),
            }),
            _ => Ok(()),
        }
    }

    pub fn key_refs(&self) -> Vec<KeyRef> {
        // Validated in parse().
        self.keys
            .iter()
            .filter_map(|k| KeyRef::parse(&k.key).ok())
            .collect()
    }
}

/// What the operators answer, for a headless run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// The ceremony administrator's name.
    pub operator: String,
    #[serde(default)]
    pub witness: Option<String>,
    /// The SHA-256 of the bundle's manifest.json as read out from the connected side.
    pub bundle_fingerprint: String,
    /// The bundle holds an interrupted ceremony: "finish" the keys not yet wrapped, or "abort"
    /// (destroy the keys never written and close the log).
    #[serde(default)]
    pub resume: Option<ResumeChoice>,
    /// The custodians present, in the order they authorise (with --roster).
    #[serde(default, rename = "custodian")]
    pub custodians: Vec<CustodianAnswer>,
}

/// One custodian at the ceremony: their name and, when keyrite holds the quorum, their share as
/// typed. Never `Clone`; the share is redacted from `Debug` and wiped on drop.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodianAnswer {
    pub name: String,
    #[serde(default)]
    pub share: Option<TypedShare>,
}

impl std::fmt::Debug for CustodianAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustodianAnswer")
            .field("name", &self.name)
            .field("share", &self.share.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A share as a custodian typed it. Wiped on drop; no `Debug`, no `Clone`.
pub struct TypedShare(zeroize::Zeroizing<String>);

impl TypedShare {
    pub fn new(text: String) -> TypedShare {
        TypedShare(zeroize::Zeroizing::new(text))
    }

    /// A copy of `text` in a zeroizing buffer of exactly its size (no growth, no stray copy).
    pub fn from_str_zeroizing(text: &str) -> TypedShare {
        let mut owned = zeroize::Zeroizing::new(String::with_capacity(text.len()));
        owned.push_str(text);
        TypedShare(owned)
    }

    /// The typed text, for the quorum gate only.
    pub fn expose_to_gate(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TypedShare {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TypedShareVisitor)
    }
}

/// Copies the share straight into a zeroizing buffer of its final size (an owned string from the
/// parser is taken over as it is), never through a plain `String` left behind.
struct TypedShareVisitor;

impl serde::de::Visitor<'_> for TypedShareVisitor {
    type Value = TypedShare;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a share as a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TypedShare, E> {
        Ok(TypedShare::from_str_zeroizing(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TypedShare, E> {
        Ok(TypedShare::new(v))
    }
}

impl Answers {
    pub fn parse(file: &str, text: &str) -> Result<Answers, ScriptError> {
        let invalid = |message: String| ScriptError::Invalid {
            file: file.to_string(),
            message,
        };
        // An answers file may hold shares: its parse errors say where and which key, never what.
        let a: Answers =
            toml::from_str(text).map_err(|e| invalid(toml_error_without_content(text, &e)))?;
        if a.operator.trim().is_empty() {
            return Err(invalid("operator is empty".into()));
        }
        Ok(a)
    }
}

/// A TOML parse error for a file that may hold secrets: the line, the column and the key name,
/// and what kind of mistake it is, but none of the file's content (toml's own message quotes the
/// offending line, and with it any share on that line).
pub fn toml_error_without_content(text: &str, e: &toml::de::Error) -> String {
    let message = e.message();
    let backticked = |after: &str| {
        message
            .split_once(after)
            .and_then(|(_, rest)| rest.strip_prefix('`'))
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_string())
            .filter(|name| is_key_name(name))
    };
    let kind = if message.contains("unknown field") {
        "unknown key".to_string()
    } else if message.contains("missing field") {
        match backticked("missing field ") {
            Some(name) => format!("the key `{name}` is missing"),
            None => "a required key is missing".to_string(),
        }
    } else if message.contains("invalid type") {
        "the value has the wrong type".to_string()
    } else if message.contains("duplicate key") {
        "the key is given twice".to_string()
    } else if message.contains("unknown variant") {
        "the value is not one of the allowed ones".to_string()
    } else {
        "not valid TOML".to_string()
    };
    let Some(span) = e.span() else {
        return format!("{kind} (the file's content is not shown: it may hold secrets)");
    };
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    let line_text = text.get(line_start..).unwrap_or("");
    let line_text = line_text.split('\n').next().unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| is_key_name(k));
    match key {
        Some(key) => format!(
            "line {line}, column {column}, key `{key}`: {kind} (the file's content is not shown: it may hold secrets)"
        ),
        None => format!(
            "line {line}, column {column}: {kind} (the file's content is not shown: it may hold secrets)"
        ),
    }
}

/// A plausible key name: short, of the characters TOML bare keys use. Anything else (a share
/// pasted where a key belongs) is not echoed.
fn is_key_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[ceremony]
name = "Rotate dev-s3"

[wrapping]
algorithm = "RSAES_OAEP_SHA_1"
key_spec = "RSA_4096"

[[key]]
key = "alias/dev-s3"
account = "111122223333"
region = "eu-west-1"
"#;

    #[test]
    fn a_good_script_parses() {
        let s = Script::parse("s.toml", GOOD).unwrap();
        assert_eq!(s.wrapping.algorithm, WrappingAlgorithm::RsaesOaepSha1);
        assert_eq!(s.key_refs(), vec![KeyRef::Alias("alias/dev-s3".into())]);
    }

    #[test]
    fn provenance_needs_between_one_and_all_of_its_signers() {
        let with = |required: usize| {
            format!(
                "{GOOD}\n[provenance]\nsigners = [\"{}\", \"keys/bob.pem\"]\nrequired = {required}\n",
                "a".repeat(64)
            )
        };
        let s = Script::parse("s.toml", &with(2)).unwrap();
        let p = s.provenance.unwrap();
        assert!(ProvenanceSection::is_sha256(&p.signers[0]));
        assert!(!ProvenanceSection::is_sha256(&p.signers[1]));
        let e = Script::parse("s.toml", &with(3)).unwrap_err().to_string();
        assert!(e.contains("must be at most the number of signers"), "{e}");
        // Signatures waived only with a reason, which is then what the log records.
        let e = Script::parse("s.toml", &with(0)).unwrap_err().to_string();
        assert!(e.contains("only with a reason"), "{e}");
        let waived = Script::parse(
            "s.toml",
            &format!("{GOOD}\n[provenance]\nrequired = 0\nreason = \"a rehearsal\"\n"),
        )
        .unwrap();
        assert_eq!(
            waived.provenance.unwrap().waived_because(),
            Some("a rehearsal")
        );
        assert!(Script::parse("s.toml", GOOD).unwrap().provenance.is_none());
    }

    #[test]
    fn the_margin_and_the_witness_default_to_30_minutes_and_required() {
        let s = Script::parse("s.toml", GOOD).unwrap();
        assert_eq!(s.expiry_margin(), jiff::SignedDuration::from_mins(30));
        assert!(s.witness_required());
        assert!(s.check_people("Alice Admin", None).is_err());
        assert!(s.check_people("Alice Admin", Some("  ")).is_err());
        let same = s
            .check_people("Alice Admin", Some(" alice  ADMIN"))
            .unwrap_err();
        assert!(same.to_string().contains("is the operator"), "{same}");
        assert!(
            s.check_people("Alice Admin", Some("Walter Witness"))
                .is_ok()
        );
        let relaxed = GOOD.replace(
            "[wrapping]",
            "expiry_margin_minutes = 90\nwitness_required = false\n[wrapping]",
        );
        let s = Script::parse("s.toml", &relaxed).unwrap();
        assert_eq!(s.expiry_margin(), jiff::SignedDuration::from_mins(90));
        assert!(s.check_people("Alice Admin", None).is_ok());
        assert!(s.check_people("Alice Admin", Some("ALICEADMIN")).is_err());
    }

    #[test]
    fn short_of_time_when_less_than_the_ceremony_remains_above_the_margin() {
        use jiff::SignedDuration as D;
        let s = Script::parse("s.toml", GOOD).unwrap();
        // One key, a quorum of three: 10 + 9 + 1 = 20 min, above a 30 min margin.
        assert_eq!(s.ceremony_budget(3), D::from_mins(20));
        assert_eq!(s.short_of_time(Some(D::from_mins(50)), 3), None);
        assert_eq!(s.short_of_time(None, 3), None);
        let warn = s.short_of_time(Some(D::from_mins(31)), 3).unwrap();
        assert!(
            warn.starts_with("only 1 min left above the 30 min margin, and this ceremony takes 20 min (estimated: 10 min + 3 min × 3 custodians + 1 min × 1 key;"),
            "{warn}"
        );
        // Under the margin: nothing left above it.
        let warn = s.short_of_time(Some(D::from_mins(20)), 3).unwrap();
        assert!(warn.starts_with("only 0 min left above"), "{warn}");
        // The room's own timed rehearsal replaces the estimate.
        let timed = GOOD.replace("[wrapping]", "rehearsed_minutes = 12\n[wrapping]");
        let s = Script::parse("s.toml", &timed).unwrap();
        assert_eq!(s.ceremony_budget(3), D::from_mins(12));
        assert_eq!(s.short_of_time(Some(D::from_mins(43)), 3), None);
        let warn = s.short_of_time(Some(D::from_mins(41)), 3).unwrap();
        assert!(
            warn.contains(
                "takes 12 min (the script's rehearsed_minutes = 12, timed in a rehearsal)"
            ),
            "{warn}"
        );
    }

    #[test]
    fn a_key_must_resolve_to_the_arn_or_account_and_region_the_script_names() {
        let s = Script::parse("s.toml", GOOD).unwrap();
        let k = &s.keys[0];
        assert_eq!(k.mismatch("arn:x", "111122223333", "eu-west-1"), None);
        assert!(
            k.mismatch("arn:x", "999999999999", "eu-west-1")
                .unwrap()
                .contains("account 111122223333")
        );
        assert!(
            k.mismatch("arn:x", "111122223333", "us-east-1")
                .unwrap()
                .contains("region eu-west-1")
        );
    }

    #[test]
    fn bad_scripts_are_refused_with_the_reason() {
        let cases = [
            (
                GOOD.replace("[ceremony]", "[ceremony]\ncolour = \"red\""),
                "unknown field",
            ),
            (
                GOOD.replace("RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"),
                "unknown variant",
            ),
            (GOOD.replace("alias/dev-s3", "dev s3"), "names no key"),
            (
                format!(
                    "{GOOD}\n[[key]]\nkey = \"alias/dev-s3\"\narn = \"arn:aws:kms:eu-west-1:111122223333:key/k\"\n"
                ),
                "listed twice",
            ),
            (
                GOOD.replace("region = \"eu-west-1\"\n", ""),
                "names neither the arn nor the account and region",
            ),
            (
                GOOD.replace("account = \"111122223333\"", "arn = \"prod-s3\""),
                "is not a key ARN",
            ),
            (
                GOOD.replace("[wrapping]", "expiry_margin_minutes = 0\n[wrapping]"),
                "expiry_margin_minutes is 0",
            ),
            (
                GOOD.replace("name = \"Rotate dev-s3\"", "name = \" \""),
                "name is empty",
            ),
            (
                GOOD.replace("[wrapping]", "rehearsed_minutes = 0\n[wrapping]"),
                "rehearsed_minutes is 0",
            ),
        ];
        for (text, want) in cases {
            let err = Script::parse("s.toml", &text).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?} in {err}");
            assert!(err.starts_with("s.toml: "), "{err}");
        }
    }

    #[test]
    fn answers_parse_errors_name_line_column_and_key_but_never_the_content() {
        const SHARE: &str = "KR1-01-SECRETSECRETSECRET-0123456789";
        let head = "operator = \"Alice\"\nbundle_fingerprint = \"aa\"\n";
        let cases = [
            (
                format!("{head}[[custodian]]\nname = \"A\"\nshares = \"{SHARE}\"\n"),
                "line 5, column 1, key `shares`: unknown key",
            ),
            (
                format!("{head}[[custodian]]\nname = \"A\"\nshare = [\"{SHARE}\"]\n"),
                "line 5, column 9, key `share`: the value has the wrong type",
            ),
            (
                format!("{head}[[custodian]]\nname = \"A\"\nshare = \"{SHARE}\n"),
                "line 5",
            ),
            (
                format!("bundle_fingerprint = \"{SHARE}\"\n"),
                "the key `operator` is missing",
            ),
            (format!("{SHARE} = 1\n"), "line 1"),
        ];
        for (text, want) in cases {
            let err = Answers::parse("a.toml", &text).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?} in {err}");
            assert!(!err.contains("SECRET"), "the share leaked: {err}");
            assert!(err.contains("not shown"), "{err}");
        }
    }
}
