//! Custody of the HSM: the enrolment script, the roster file it leaves, and the quorum gate's
//! decisions (which custodians authorised, whose share is wrong). Pure: no I/O, no HSM.
//!
//! Two quorum modes:
//! - `shamir`: keyrite holds the quorum. The user PIN is random from the HSM's RNG, split M-of-N
//!   among the custodians ([`shares`]); the roster keeps a commitment to each share.
//! - `hsm-enforced`: the HSM enforces M-of-N itself (PED keys, smartcards). keyrite records who
//!   authorised, by name, and checks the names against the roster; it never sees a secret of theirs.

pub mod shares;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use self::shares::{CustodianShare, QuorumError, Roster, RosterEntry, combine, looks_like_share};
use crate::core::digest::sha256_hex;
use crate::core::log::{LogError, TrustedKey, step, verified_records};
use crate::core::person::same_person;

/// What `roster.json` says it is.
pub const ROSTER_FORMAT: &str = "keyrite-roster/1";
/// Raw bytes of the user PIN taken from the HSM's RNG (the PIN is their hex: 32 characters).
pub const PIN_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumMode {
    #[serde(rename = "shamir")]
    Shamir,
    #[serde(rename = "hsm-enforced")]
    HsmEnforced,
}

impl QuorumMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumMode::Shamir => "shamir",
            QuorumMode::HsmEnforced => "hsm-enforced",
        }
    }
}

/// `keyrite quorum enroll --script enroll.toml`: strict TOML, validated whole before the HSM is
/// touched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolScript {
    /// `shamir` (default) or `hsm-enforced`.
    #[serde(default = "default_mode")]
    pub quorum: QuorumMode,
    /// M: how many custodians together open the HSM.
    pub threshold: u8,
    /// Where the public results go (roster.json, roster.log, log-public-key.pem); a new directory.
    /// Relative paths are taken from the script's directory.
    pub out: PathBuf,
    pub token: EnrolToken,
    #[serde(rename = "custodian")]
    pub custodians: Vec<EnrolCustodian>,
}

fn default_mode() -> QuorumMode {
    QuorumMode::Shamir
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolToken {
    /// The label the new token gets (shamir) or the existing token has (hsm-enforced).
    pub label: String,
    /// The PKCS#11 module (else --module / KEYRITE_PKCS11_MODULE).
    #[serde(default)]
    pub module: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolCustodian {
    pub name: String,
    /// Headless enrolment only: the file (created new, mode 0600) this custodian's share goes to.
    #[serde(default)]
    pub share_file: Option<PathBuf>,
}

/// Why an enrolment script is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolScriptError {
    #[error("{0}")]
    Toml(String),
    #[error("[token] label must be 1 to 32 characters (a PKCS#11 token label)")]
    TokenLabel,
    #[error(
        "threshold = {threshold} with {custodians} [[custodian]]: need 2 <= threshold <= custodians <= 254"
    )]
    Threshold { threshold: u8, custodians: usize },
    #[error(
        "[[custodian]] name {0:?} must be non-empty, without leading/trailing spaces or control characters"
    )]
    Name(String),
    #[error("[[custodian]] {0:?} is listed twice")]
    Twice(String),
    #[error(
        "[[custodian]] {0:?}: share_file has no meaning with quorum = \"hsm-enforced\" (the HSM holds the quorum)"
    )]
    ShareFileWithHsmQuorum(String),
    #[error(
        "[[custodian]] {0:?} has no share_file: a headless enrolment writes each share to its custodian's own file"
    )]
    NoShareFile(String),
    #[error("[[custodian]] {name:?}: share_file {} is given to two custodians", file.display())]
    ShareFileTwice { name: String, file: PathBuf },
}

/// Why a roster file, or the roster log that vouches for it, does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("{0}")]
    Json(String),
    #[error("format {0:?}, this keyrite reads {ROSTER_FORMAT:?}")]
    Format(String),
    #[error("threshold {threshold} of {custodians} custodians is not a quorum")]
    Threshold { threshold: u8, custodians: usize },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the roster log holds {0} records, not one {enrolled} record", enrolled = step::QUORUM_ENROLLED)]
    RecordCount(usize),
    #[error("the roster log's record is {0:?}, not {enrolled}", enrolled = step::QUORUM_ENROLLED)]
    RecordStep(String),
    #[error("the roster's SHA-256 is {actual}, the log key signed {}", signed.as_deref().unwrap_or("nothing"))]
    Digest {
        actual: String,
        signed: Option<String>,
    },
    #[error("the roster names log key {named}, the trusted key is {trusted}")]
    LogKey { named: String, trusted: String },
}

impl EnrolScript {
    /// Parses and validates. `headless`: every custodian needs a `share_file` (shamir mode).
    pub fn parse(text: &str, headless: bool) -> Result<EnrolScript, EnrolScriptError> {
        let s: EnrolScript =
            toml::from_str(text).map_err(|e| EnrolScriptError::Toml(e.to_string()))?;
        if s.token.label.trim().is_empty() || s.token.label.len() > 32 {
            return Err(EnrolScriptError::TokenLabel);
        }
        let names: Vec<String> = s.custodians.iter().map(|c| c.name.clone()).collect();
        let n = names.len();
        if s.threshold < 2 || usize::from(s.threshold) > n || n > 254 {
            return Err(EnrolScriptError::Threshold {
                threshold: s.threshold,
                custodians: n,
            });
        }
        let mut seen = BTreeSet::new();
        for name in &names {
            if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
                return Err(EnrolScriptError::Name(name.clone()));
            }
            if !seen.insert(crate::core::person::name_key(name)) {
                return Err(EnrolScriptError::Twice(name.clone()));
            }
        }
        let mut files = BTreeSet::new();
        for c in &s.custodians {
            match (&c.share_file, s.quorum) {
                (Some(_), QuorumMode::HsmEnforced) => {
                    return Err(EnrolScriptError::ShareFileWithHsmQuorum(c.name.clone()));
                }
                (None, QuorumMode::Shamir) if headless => {
                    return Err(EnrolScriptError::NoShareFile(c.name.clone()));
                }
                (Some(f), _) if !files.insert(f.clone()) => {
                    return Err(EnrolScriptError::ShareFileTwice {
                        name: c.name.clone(),
                        file: f.clone(),
                    });
                }
                _ => {}
            }
        }
        Ok(s)
    }

    pub fn names(&self) -> Vec<String> {
        self.custodians.iter().map(|c| c.name.clone()).collect()
    }
}

/// `roster.json`: public. Signed by the log key through `roster.log` (one `quorum.enrolled` record
/// that binds this file's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterFile {
    pub format: String,
    pub mode: QuorumMode,
    pub token_label: String,
    /// SHA-256 of the log public key's DER SubjectPublicKeyInfo.
    pub log_key_sha256: String,
    /// In hsm-enforced mode the commitments are empty: there are no shares.
    pub roster: Roster,
}

impl RosterFile {
    pub fn new(
        mode: QuorumMode,
        token_label: &str,
        log_key_sha256: &str,
        roster: Roster,
    ) -> RosterFile {
        RosterFile {
            format: ROSTER_FORMAT.into(),
            mode,
            token_label: token_label.into(),
            log_key_sha256: log_key_sha256.into(),
            roster,
        }
    }

    /// A roster for an HSM that enforces the quorum itself: names and indices, no commitments.
    pub fn hsm_enforced(
        threshold: u8,
        names: &[String],
        token_label: &str,
        log_key_sha256: &str,
        id: &str,
    ) -> RosterFile {
        let custodians = names
            .iter()
            .zip(1u8..)
            .map(|(name, index)| RosterEntry {
                name: name.clone(),
                index,
                commitment: String::new(),
            })
            .collect();
        RosterFile::new(
            QuorumMode::HsmEnforced,
            token_label,
            log_key_sha256,
            Roster {
                id: id.into(),
                threshold,
                custodians,
            },
        )
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub fn parse(bytes: &[u8]) -> Result<RosterFile, RosterError> {
        let r: RosterFile =
            serde_json::from_slice(bytes).map_err(|e| RosterError::Json(e.to_string()))?;
        if r.format != ROSTER_FORMAT {
            return Err(RosterError::Format(r.format));
        }
        let n = r.roster.custodians.len();
        if r.roster.threshold < 2 || usize::from(r.roster.threshold) > n {
            return Err(RosterError::Threshold {
                threshold: r.roster.threshold,
                custodians: n,
            });
        }
        Ok(r)
    }

    /// The data of the roster log's `quorum.enrolled` record.
    pub fn enrolled_data(&self, roster_sha256: &str) -> Map<String, Value> {
        let mut d = Map::new();
        d.insert("roster_sha256".into(), json!(roster_sha256));
        d.insert("mode".into(), json!(self.mode.as_str()));
        d.insert("token_label".into(), json!(self.token_label));
        d.insert("log_key_sha256".into(), json!(self.log_key_sha256));
        d.insert("threshold".into(), json!(self.roster.threshold.to_string()));
        d.insert("custodians".into(), authorisers_json(&self.entries()));
        d
    }

    fn entries(&self) -> Vec<(String, u8)> {
        self.roster
            .custodians
            .iter()
            .map(|c| (c.name.clone(), c.index))
            .collect()
    }
}

fn authorisers_json(who: &[(String, u8)]) -> Value {
    Value::Array(
        who.iter()
            .map(|(name, index)| json!({"name": name, "index": index}))
            .collect(),
    )
}

/// Checks `roster.log` (one `quorum.enrolled` record, signed by the log key) against the roster
/// file's bytes and the trusted log key. Returns the roster's SHA-256.
pub fn verify_roster_log(
    roster_bytes: &[u8],
    roster_log: &[u8],
    trusted: &TrustedKey,
) -> Result<String, RosterError> {
    let records = verified_records(roster_log, trusted)?;
    let [(_, body)] = records.as_slice() else {
        return Err(RosterError::RecordCount(records.len()));
    };
    if body.step != step::QUORUM_ENROLLED {
        return Err(RosterError::RecordStep(body.step.clone()));
    }
    let sha = sha256_hex(roster_bytes);
    let signed = body.data.get("roster_sha256").and_then(Value::as_str);
    if signed != Some(sha.as_str()) {
        return Err(RosterError::Digest {
            actual: sha,
            signed: signed.map(str::to_string),
        });
    }
    let roster = RosterFile::parse(roster_bytes)?;
    if roster.log_key_sha256 != trusted.fingerprint() {
        return Err(RosterError::LogKey {
            named: roster.log_key_sha256,
            trusted: trusted.fingerprint().to_string(),
        });
    }
    Ok(sha)
}

/// A custodian's answer at the ceremony: a name and, in shamir mode, the share as typed.
pub struct CustodianEntry<'a> {
    pub name: &'a str,
    pub typed_share: Option<&'a str>,
}

/// What the ceremony log records about the quorum: which roster, and who authorised. Public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumEvidence {
    pub mode: QuorumMode,
    pub roster_sha256: String,
    pub roster_id: String,
    pub threshold: u8,
    pub custodians_total: usize,
    pub log_key_sha256: String,
    /// (name, index) of each custodian who authorised, in the order they did.
    pub authorised: Vec<(String, u8)>,
    /// How the HSM was logged in behind this quorum.
    pub login: Login,
}

/// How a quorum's HSM session was logged in, as the quorum.met record tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Shamir: the custodians' shares rebuilt the PIN.
    Shares,
    /// HSM-enforced: the token's protected authentication path (PIN pad, PED) took the login.
    PinPad,
    /// HSM-enforced on a token without a PIN pad: the PIN came from the token URI's PIN file;
    /// the names are recorded, but nothing made the custodians' presence a condition of login.
    PinFile,
}

impl Login {
    pub fn as_str(self) -> &'static str {
        match self {
            Login::Shares => "shares",
            Login::PinPad => "pin-pad",
            Login::PinFile => "pin-file",
        }
    }
}

impl QuorumEvidence {
    pub fn names(&self) -> Vec<String> {
        self.authorised.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The PIN text for raw PIN bytes: lower-case hex (any token accepts it; 32 characters).
pub fn pin_text(raw: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(data_encoding::HEXLOWER.encode(raw))
}

fn share_err(position: usize, name: &str, message: String, hint: &str) -> QuorumError {
    QuorumError::Share {
        position,
        message: format!("({name}) {message}"),
        hint: hint.into(),
    }
}

/// Checks the custodians' names against the roster: known, distinct, enough. Returns (name, index).
fn check_names(
    roster: &RosterFile,
    entries: &[CustodianEntry<'_>],
) -> Result<Vec<(String, u8)>, QuorumError> {
    let mut out: Vec<(String, u8)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let earlier: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        let entry = roster.check_name(e.name, &earlier, i + 1)?;
        out.push((entry.name.clone(), entry.index));
    }
    Ok(out)
}

impl RosterFile {
    /// One custodian's name as it is typed, before anything is combined: a custodian of this
    /// roster (ignoring case and spacing; the entry holds the name as enrolled) not among the
    /// names already entered. The error lists the roster's names; a name that looks like a share
    /// is refused without being echoed.
    pub fn check_name(
        &self,
        name: &str,
        earlier: &[&str],
        position: usize,
    ) -> Result<&RosterEntry, QuorumError> {
        if looks_like_share(name) {
            // Never echoed: the message holds nothing of what was typed.
            return Err(QuorumError::LooksLikeShare);
        }
        let entry = self
            .roster
            .custodians
            .iter()
            .find(|c| same_person(&c.name, name))
            .ok_or_else(|| {
                share_err(
                    position,
                    name,
                    "is not a custodian of this roster".into(),
                    &format!("the custodians are {}", self.roster.names().join(", ")),
                )
            })?;
        if earlier.iter().any(|e| same_person(e, name)) {
            return Err(share_err(
                position,
                name,
                "is named twice".into(),
                "each custodian authorises once",
            ));
        }
        Ok(entry)
    }

    /// One custodian's share as it is typed, before anything is combined: it decodes (a mistyped
    /// group is named), it is the share issued to this custodian (index), and it is the one this
    /// roster enrolled (commitment). Nothing here touches the HSM; the error never holds the share.
    pub fn check_share(&self, name: &str, typed: &str, position: usize) -> Result<(), QuorumError> {
        let entry = self.check_name(name, &[], position)?;
        let share = CustodianShare::decode(typed, position).map_err(|err| match err {
            QuorumError::Share {
                position,
                message,
                hint,
            } => share_err(position, name, message, &hint),
            other => other,
        })?;
        if share.index() != entry.index {
            return Err(share_err(
                position,
                name,
                format!(
                    "entered a share that is {} not {name}'s (index {})",
                    self.owner_of(share.index()),
                    entry.index
                ),
                "each custodian enters the share issued to them",
            ));
        }
        if share.commitment(&self.roster.id) != entry.commitment {
            return Err(share_err(
                position,
                name,
                format!(
                    "it is not the share enrolled for {name} (index {})",
                    entry.index
                ),
                "this share is from another enrolment or was altered; use the share issued for this HSM",
            ));
        }
        Ok(())
    }

    fn owner_of(&self, index: u8) -> String {
        self.roster
            .custodians
            .iter()
            .find(|c| c.index == index)
            .map(|c| format!("{}'s (index {})", c.name, c.index))
            .unwrap_or_else(|| {
                format!("index {index}, which belongs to no custodian of this roster,")
            })
    }
}

/// The quorum gate, shamir mode: every share decoded and matched to the custodian who entered it,
/// checked against the roster's commitment, then M of them combined into the PIN's raw bytes.
/// Nothing here touches the HSM: a wrong, duplicate, foreign or missing share costs no login.
pub fn open_with_shares(
    roster: &RosterFile,
    roster_sha256: &str,
    entries: &[CustodianEntry<'_>],
) -> Result<(Zeroizing<Vec<u8>>, QuorumEvidence), QuorumError> {
    if roster.mode != QuorumMode::Shamir {
        return Err(QuorumError::Mode(
            "this roster is for an HSM that enforces the quorum itself: give custodian names, no shares".into(),
        ));
    }
    let who = check_names(roster, entries)?;
    let mut typed = Vec::new();
    for (i, (e, (name, _))) in entries.iter().zip(&who).enumerate() {
        let position = i + 1;
        let text = e.typed_share.ok_or_else(|| {
            share_err(
                position,
                name,
                "gave no share".into(),
                "every custodian present types their share",
            )
        })?;
        roster.check_share(name, text, position)?;
        typed.push(text);
    }
    let raw = combine(&roster.roster, &typed).map_err(|err| match err {
        QuorumError::Share {
            position,
            message,
            hint,
        } => {
            let name = who
                .get(position - 1)
                .map(|(n, _)| n.as_str())
                .unwrap_or("?");
            share_err(position, name, message, &hint)
        }
        other => other,
    })?;
    if raw.len() != PIN_BYTES {
        return Err(QuorumError::Policy(format!(
            "the shares rebuild {} bytes, not the {PIN_BYTES} of a keyrite PIN",
            raw.len()
        )));
    }
    Ok((raw, evidence(roster, roster_sha256, who)))
}

/// The quorum gate, hsm-enforced mode: the names are checked against the roster (known, distinct,
/// at least M); the HSM itself enforces the quorum at login.
pub fn authorised_by_names(
    roster: &RosterFile,
    roster_sha256: &str,
    entries: &[CustodianEntry<'_>],
) -> Result<QuorumEvidence, QuorumError> {
    if roster.mode != QuorumMode::HsmEnforced {
        return Err(QuorumError::Mode(
            "this roster splits the PIN into shares: every custodian present types their share"
                .into(),
        ));
    }
    if let Some((i, e)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.typed_share.is_some())
    {
        return Err(share_err(
            i + 1,
            e.name,
            "gave a share, but this HSM enforces the quorum itself and keyrite takes no shares"
                .into(),
            "remove the share from the answers; the custodians authorise at the HSM",
        ));
    }
    let who = check_names(roster, entries)?;
    let need = usize::from(roster.roster.threshold);
    if who.len() < need {
        return Err(QuorumError::TooFewNamed {
            have: who.len(),
            need,
        });
    }
    Ok(evidence(roster, roster_sha256, who))
}

fn evidence(roster: &RosterFile, roster_sha256: &str, who: Vec<(String, u8)>) -> QuorumEvidence {
    let need = usize::from(roster.roster.threshold);
    QuorumEvidence {
        mode: roster.mode,
        roster_sha256: roster_sha256.into(),
        roster_id: roster.roster.id.clone(),
        threshold: roster.roster.threshold,
        custodians_total: roster.roster.custodians.len(),
        log_key_sha256: roster.log_key_sha256.clone(),
        // Only the M shares that were combined authorised; a surplus share is checked, not used.
        authorised: who.into_iter().take(need.max(1)).collect(),
        login: match roster.mode {
            QuorumMode::Shamir => Login::Shares,
            QuorumMode::HsmEnforced => Login::PinPad,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::custody::shares::split;

    const SCRIPT: &str = r#"
threshold = 2
out = "enrolment"

[token]
label = "keyrite-prod"

[[custodian]]
name = "Alice"
share_file = "alice.share"

[[custodian]]
name = "Bob"
share_file = "bob.share"

[[custodian]]
name = "Carol"
share_file = "carol.share"
"#;

    #[test]
    fn enrol_scripts_are_validated_whole() {
        let s = EnrolScript::parse(SCRIPT, true).unwrap();
        assert_eq!(s.quorum, QuorumMode::Shamir);
        assert_eq!(s.names(), ["Alice", "Bob", "Carol"]);
        let cases = [
            (
                SCRIPT.replace("threshold = 2", "threshold = 4"),
                "threshold",
            ),
            (
                SCRIPT.replace("threshold = 2", "threshold = 1"),
                "threshold",
            ),
            (SCRIPT.replace("\"Bob\"", "\"alice\""), "listed twice"),
            (SCRIPT.replace("bob.share", "alice.share"), "two custodians"),
            (
                SCRIPT.replace("share_file = \"bob.share\"\n", ""),
                "no share_file",
            ),
            (format!("colour = 1\n{SCRIPT}"), "unknown field"),
            (
                format!("quorum = \"hsm-enforced\"\n{SCRIPT}"),
                "no meaning with quorum",
            ),
            (format!("quorum = \"pgp\"\n{SCRIPT}"), "unknown variant"),
        ];
        for (text, want) in cases {
            let e = EnrolScript::parse(&text, true).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?} in {e}");
        }
        // Not headless: share files are not needed.
        let no_files = SCRIPT
            .lines()
            .filter(|l| !l.starts_with("share_file"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(EnrolScript::parse(&no_files, false).is_ok());
    }

    #[test]
    fn the_example_enrolment_script_parses() {
        let text = include_str!("../../../ceremony-scripts/enroll.toml");
        let s = EnrolScript::parse(text, true).unwrap();
        assert_eq!((s.threshold, s.custodians.len()), (2, 3));
        assert_eq!(s.token.label, "Ceremony HSM");
    }

    fn roster() -> (RosterFile, Vec<Zeroizing<String>>) {
        let names: Vec<String> = ["Alice", "Bob", "Carol"].map(String::from).to_vec();
        let (r, shares) = split(&[7u8; PIN_BYTES], 2, &names, "rid").unwrap();
        (
            RosterFile::new(QuorumMode::Shamir, "t", &"ab".repeat(32), r),
            shares.iter().map(|s| s.encode()).collect(),
        )
    }

    #[test]
    fn the_gate_names_the_custodian_whose_share_is_wrong() {
        let (r, s) = roster();
        let e = |name: &'static str, share: &'static str| CustodianEntry {
            name,
            typed_share: Some(share),
        };
        // SAFETY of the lifetimes: leak is fine in a test.
        let s: Vec<&'static str> = s.iter().map(|x| &*x.to_string().leak()).collect();
        let (raw, ev) = open_with_shares(&r, "h", &[e("Bob", s[1]), e("Carol", s[2])]).unwrap();
        assert_eq!(raw.as_slice(), &[7u8; PIN_BYTES]);
        assert_eq!(
            ev.authorised,
            [("Bob".to_string(), 2), ("Carol".to_string(), 3)]
        );
        let cases: Vec<(Vec<CustodianEntry>, &str)> = vec![
            (vec![e("Alice", s[0])], "only 1 valid distinct share"),
            (
                vec![e("Alice", s[0]), e("Bob", s[0])],
                "share 2: (Bob) entered a share that is Alice's (index 1) not Bob's",
            ),
            (
                vec![e("Alice", s[0]), e("Alice", s[0])],
                "share 2: (Alice) is named twice",
            ),
            (
                vec![e("Mallory", s[0])],
                "share 1: (Mallory) is not a custodian",
            ),
            (
                vec![e("Alice", "KR1-01-XXXX-Y"), e("Bob", s[1])],
                "share 1: (Alice)",
            ),
        ];
        for (entries, want) in cases {
            let err = open_with_shares(&r, "h", &entries).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?} in {err}");
        }
        let (foreign, fs) = roster();
        let _ = foreign;
        let f1: &'static str = fs[1].to_string().leak();
        let err = open_with_shares(&r, "h", &[e("Alice", s[0]), e("Bob", f1)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("share 2: (Bob) it is not the share enrolled for Bob"),
            "{err}"
        );
    }

    #[test]
    fn hsm_enforced_records_names_and_refuses_shares() {
        let names: Vec<String> = ["Alice", "Bob", "Carol"].map(String::from).to_vec();
        let r = RosterFile::hsm_enforced(2, &names, "t", &"ab".repeat(32), "rid");
        let n = |name| CustodianEntry {
            name,
            typed_share: None,
        };
        let ev = authorised_by_names(&r, "h", &[n("Carol"), n("Alice")]).unwrap();
        assert_eq!(ev.names(), ["Carol", "Alice"]);
        assert_eq!(ev.mode, QuorumMode::HsmEnforced);
        assert!(authorised_by_names(&r, "h", &[n("Carol")]).is_err());
        assert!(authorised_by_names(&r, "h", &[n("Carol"), n("Carol")]).is_err());
        let with_share = CustodianEntry {
            name: "Bob",
            typed_share: Some("KR1-02"),
        };
        let err = authorised_by_names(&r, "h", &[n("Alice"), with_share])
            .unwrap_err()
            .to_string();
        assert!(err.contains("share 2: (Bob) gave a share"), "{err}");
        assert!(open_with_shares(&r, "h", &[n("Alice"), n("Bob")]).is_err());
    }

    #[test]
    fn roster_files_round_trip_and_bad_ones_are_refused() {
        let (r, _) = roster();
        let bytes = r.to_json();
        assert_eq!(RosterFile::parse(&bytes).unwrap(), r);
        let text = String::from_utf8(bytes).unwrap();
        assert!(RosterFile::parse(text.replace("keyrite-roster/1", "x").as_bytes()).is_err());
        assert!(
            RosterFile::parse(
                text.replace("\"threshold\": 2", "\"threshold\": 9")
                    .as_bytes()
            )
            .is_err()
        );
    }

    #[test]
    fn each_entry_is_checked_as_it_is_typed() {
        let names: Vec<String> = ["Alice", "Bob", "Carol"].map(String::from).into();
        let (roster, shares) = split(&[7u8; 16], 2, &names, "roster-1").unwrap();
        let file = RosterFile::new(QuorumMode::Shamir, "keyrite-prod", "00", roster);
        let (alice, bob) = (shares[0].encode(), shares[1].encode());
        assert_eq!(file.check_name("Bob", &["Alice"], 2).unwrap().index, 2);
        let e = file.check_name("Mallory", &[], 1).unwrap_err().to_string();
        assert!(e.contains("Alice, Bob, Carol"), "{e}");
        let e = file
            .check_name("Alice", &["Alice"], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("named twice"), "{e}");
        file.check_share("Alice", &alice, 1).unwrap();
        // Bob's share under Alice's name: named as Bob's, and never echoed.
        let e = file.check_share("Alice", &bob, 1).unwrap_err().to_string();
        assert!(e.contains("Bob's (index 2)"), "{e}");
        assert!(!e.contains(&bob[7..]), "{e}");
        // One character wrong in the third group: every such typo is refused, and a refusal
        // that names a group names that one. (The group's own check catches 31 in 32 single
        // changes; the one it misses is caught by the whole share's check, which names none.)
        let at = alice.match_indices('-').nth(3).unwrap().0 + 1;
        let mut named = 0;
        for c in ('A'..='Z').chain('0'..='9') {
            let mut typo: Vec<char> = alice.chars().collect();
            if typo[at] == c {
                continue;
            }
            typo[at] = c;
            let typo: String = typo.into_iter().collect();
            // A character the share alphabet reads as the same one (a look-alike) is no typo.
            let Err(e) = file.check_share("Alice", &typo, 1) else {
                continue;
            };
            let e = e.to_string();
            for other in [
                "group 1", "group 2", "group 4", "group 5", "group 6", "group 7",
            ] {
                assert!(!e.contains(other), "{c}: {e}");
            }
            named += usize::from(e.contains("group 3"));
        }
        assert!(named >= 25, "only {named} of the typos named group 3");
        // A share of the same index from another enrolment fails its commitment.
        let (_, other) = split(&[8u8; 16], 2, &names, "roster-1").unwrap();
        let e = file
            .check_share("Alice", &other[0].encode(), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not the share enrolled for Alice"), "{e}");
    }
}
