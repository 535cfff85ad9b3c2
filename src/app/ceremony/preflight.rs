//! The ceremony's preflight: everything that can be checked before anyone types a secret, in this
//! order — the script against the bundle (keys, where they resolve to, algorithm, spec), every
//! bundle hash, the import parameters' remaining validity against the script's margin, the
//! bundle's signatures against the script's `[provenance]` signers, the token
//! present by label, the roster's signature with the published log key, and the outputs
//! creatable. The headless runner and line mode call [`preflight`] first; the terminal app calls
//! [`preflight_reporting`] after its first frame, and ticks each check off as it passes.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use super::inputs::CeremonyInputs;
use crate::app::error::{Error, Result};
use crate::app::quorum::RosterInput;
use crate::core::ceremony::ResumeChoice;
use crate::core::ceremony::preflight::{self as rules, Mismatch};
use crate::core::log::{self, TrustedKey};
use crate::core::manifest;
use crate::core::provenance::Signers;
use crate::core::script::Script;
use crate::core::wrapping_key::WrappingPublicKey;
use crate::hsm::Token;
use crate::io::bundle::{Bundle, VerifiedBundle};
use crate::io::fs as fsio;

/// The name of the published log public key, next to the roster.
pub const LOG_PUBLIC_KEY: &str = "log-public-key.pem";

/// The manifest's replacement while it is written (`fsio::replace`): a killed run may leave it.
const MANIFEST_REPLACEMENT: &str = "manifest.json.new";

/// A bundle checked for a script.
pub struct CheckedBundle {
    pub bundle: VerifiedBundle,
    pub wrapping_keys: Vec<WrappingPublicKey>,
    /// Per key (in the bundle's order), each replica's Region and its wrapping key.
    pub replica_wrapping_keys: Vec<Vec<(String, WrappingPublicKey)>>,
    /// When the first of the bundle's import parameters expires.
    pub parameters_valid_to: Option<Timestamp>,
    /// How long they remain valid (at least the script's margin).
    pub remaining: SignedDuration,
}

/// What the preflight found: the checked bundle, the token, the roster.
pub struct Preflight {
    pub bundle: CheckedBundle,
    pub token: Token,
    pub roster: Option<RosterInput>,
    /// The bundle holds the log of a ceremony that was interrupted: the operators choose to
    /// finish or abort it.
    pub interrupted: Option<Interrupted>,
    /// Who signed the prepared bundle (`provenance.json`), every signature verified and the
    /// script's `[provenance]` rule met; None: unsigned, and the script asks for nothing.
    pub provenance: Option<Signers>,
}

/// An interrupted ceremony's log, as found (not yet verified: that needs the token's log key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub records: usize,
    /// Keys the log records as generated, and as wrapped: an abort destroys the generated keys
    /// never written.
    pub keys_generated: usize,
    pub keys_wrapped: usize,
    /// Why finishing it is refused now (the parameters expire within the margin); aborting is
    /// still possible.
    pub cannot_finish: Option<String>,
}

/// A check of the preflight that passed, told as it passes: the terminal app ticks it off on
/// its first screen. Its text (Display) is the line the people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// The bundle holds the log of an interrupted ceremony: it is finished or aborted.
    Interrupted { records: usize, keys_wrapped: usize },
    /// The bundle's keys are the script's, where the script says, for its algorithm and spec.
    ScriptAgainstBundle { keys: usize },
    /// Every file's SHA-256 is the manifest's, and nothing was planted next to them.
    Hashes { files: usize },
    /// Every key's KMS wrapping public key reads as a key of the script's spec.
    WrappingKeys { keys: usize, spec: String },
    /// The import parameters remain valid beyond the script's margin (`remaining` None: the
    /// bundle records no expiry).
    Validity {
        remaining: Option<SignedDuration>,
        margin: SignedDuration,
    },
    /// The preparers' signatures meet the script's `[provenance]` (None: unsigned, and the
    /// script asks for none).
    Provenance { signers: Option<usize> },
    /// The token, found by its label.
    Token { label: String },
    /// The roster, signed by the token's log key, for this token.
    Roster { custodians: usize, threshold: u8 },
    /// The ceremony's outputs do not exist yet and can be created.
    Outputs,
}

impl std::fmt::Display for Passed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::core::terminal::{counted, duration_text};
        match self {
            Passed::Interrupted {
                records,
                keys_wrapped,
            } => write!(
                f,
                "an interrupted ceremony's log: {}, {} wrapped",
                counted(*records, "record"),
                counted(*keys_wrapped, "key")
            ),
            Passed::ScriptAgainstBundle { keys } => write!(
                f,
                "the bundle is for the script's {} and algorithm",
                counted(*keys, "key")
            ),
            Passed::Hashes { files } => write!(
                f,
                "every file's SHA-256 is the manifest's ({})",
                counted(*files, "file")
            ),
            Passed::WrappingKeys { keys, spec } => write!(
                f,
                "{} {spec}",
                if *keys == 1 {
                    "the KMS wrapping key is".to_string()
                } else {
                    format!("the {keys} KMS wrapping keys are")
                }
            ),
            Passed::Validity {
                remaining: Some(left),
                margin,
            } => write!(
                f,
                "the import parameters: {} left, margin {}",
                duration_text(*left),
                duration_text(*margin)
            ),
            Passed::Validity {
                remaining: None, ..
            } => write!(f, "the import parameters: no expiry recorded in the bundle"),
            Passed::Provenance { signers: Some(n) } => write!(
                f,
                "the bundle's {} verified, as the script asks",
                counted(*n, "signature")
            ),
            Passed::Provenance { signers: None } => {
                write!(
                    f,
                    "the bundle is unsigned, and the script asks for no signature"
                )
            }
            Passed::Token { label } => write!(
                f,
                "the token {} is present",
                crate::core::terminal::for_terminal(label)
            ),
            Passed::Roster {
                custodians,
                threshold,
            } => write!(
                f,
                "the roster is signed by the token's log key: {threshold} of {custodians} custodians"
            ),
            Passed::Outputs => write!(
                f,
                "the log and the wrapped keys can be written, and are new"
            ),
        }
    }
}

/// All the checks, in order; nothing is asked of anyone before they pass, and nothing is
/// written.
pub fn preflight(inputs: &CeremonyInputs) -> Result<Preflight> {
    preflight_reporting(inputs, &mut |_| {})
}

/// [`preflight`], telling `passed` of each check as it passes.
pub fn preflight_reporting(
    inputs: &CeremonyInputs,
    passed: &mut dyn FnMut(Passed),
) -> Result<Preflight> {
    let now = Timestamp::now();
    let interrupted = find_interrupted(&inputs.script, &inputs.bundle, now)?;
    if let Some(i) = &interrupted {
        passed(Passed::Interrupted {
            records: i.records,
            keys_wrapped: i.keys_wrapped,
        });
    }
    let lenient = interrupted.as_ref().map(|_| ResumeChoice::Abort);
    let bundle = check_bundle_reporting(&inputs.script, &inputs.bundle, now, lenient, passed)?;
    let provenance = crate::app::provenance::check_for_script(
        inputs.script.provenance.as_ref(),
        &inputs.script_dir,
        &inputs.bundle,
        bundle.bundle.fingerprint(),
    )?;
    passed(Passed::Provenance {
        signers: provenance
            .as_ref()
            .map(|s| s.prepared_by.len() + s.cosigned_by.len()),
    });
    let token = Token::open(&inputs.module, &inputs.uri.token)?;
    passed(Passed::Token {
        label: token.label().to_string(),
    });
    let roster = match &inputs.roster {
        Some(path) => {
            let roster = check_roster(path, token.label())?;
            // The published key next to the roster is a file; the token's own public log key
            // (read without login) is what the roster must be signed by.
            crate::app::quorum::check_roster_against_token(&token, &roster)?;
            passed(Passed::Roster {
                custodians: roster.file.roster.custodians.len(),
                threshold: roster.file.roster.threshold,
            });
            Some(roster)
        }
        None => None,
    };
    if interrupted.is_none() {
        check_outputs(&bundle.bundle)?;
        passed(Passed::Outputs);
    }
    Ok(Preflight {
        bundle,
        token,
        roster,
        interrupted,
        provenance,
    })
}

/// A ceremony log in a bundle that records no finished ceremony: an interrupted ceremony.
fn find_interrupted(script: &Script, dir: &Path, now: Timestamp) -> Result<Option<Interrupted>> {
    let path = dir.join(log::FILE_NAME);
    if !path.exists() {
        return Ok(None);
    }
    let (manifest, _) = Bundle::read_manifest(dir)?;
    if manifest.ceremony.is_some() {
        return Ok(None);
    }
    let bytes = fsio::read(&path)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let bodies = log::bodies(&bytes[..complete])?;
    Ok(Some(Interrupted {
        records: bodies.len(),
        keys_generated: bodies
            .iter()
            .filter(|b| b.step == log::step::KEY_GENERATED)
            .count(),
        keys_wrapped: bodies
            .iter()
            .filter(|b| b.step == log::step::KEY_WRAPPED)
            .count(),
        cannot_finish: rules::expiry(&manifest, now, script.expiry_margin())
            .err()
            .map(|e| e.to_string()),
    }))
}

/// The bundle for the script: the script against the manifest, every hash, the wrapping keys, and
/// the parameters' validity against the script's margin (exit 5 when too little remains).
/// `resume`: the bundle holds an interrupted ceremony to finish or abort (its unlisted wrapped
/// files are let through; aborting needs no remaining validity).
pub fn check_bundle(
    script: &Script,
    dir: &Path,
    now: Timestamp,
    resume: Option<ResumeChoice>,
) -> Result<CheckedBundle> {
    check_bundle_reporting(script, dir, now, resume, &mut |_| {})
}

/// [`check_bundle`], telling `passed` of each check as it passes.
fn check_bundle_reporting(
    script: &Script,
    dir: &Path,
    now: Timestamp,
    resume: Option<ResumeChoice>,
    passed: &mut dyn FnMut(Passed),
) -> Result<CheckedBundle> {
    let (manifest, _) = Bundle::read_manifest(dir)?;
    rules::script_against_bundle(script, &manifest).map_err(|m| match m {
        Mismatch::Algorithm(problem) => Error::ScriptBundleWrapping { problem },
        Mismatch::Keys(problem) | Mismatch::Destination(problem) => {
            Error::ScriptBundleOtherKeys { problem }
        }
    })?;
    passed(Passed::ScriptAgainstBundle {
        keys: manifest.keys.len(),
    });
    let bundle = match resume {
        None => Bundle::verify(dir)?,
        Some(_) => Bundle::verify_interrupted(dir)?,
    };
    let m = bundle.manifest();
    if m.ceremony.is_some() {
        return Err(Error::CeremonyDone {
            dir: dir.to_path_buf(),
        });
    }
    // Nothing planted at the top: the preparers' signatures (checked on their own), and
    // leftovers of a killed run (its log, a manifest replacement not yet renamed) only where the
    // log of an unfinished ceremony makes them expected.
    let ledger_files = [
        crate::core::ledger::proof::PROOF_FILE,
        crate::core::ledger::proof::CONSISTENCY_FILE,
        crate::core::ledger::FILE_NAME,
    ];
    // A stop while the ledger's evidence was being written leaves its replacement (`<file>.new`,
    // removed when it is written again).
    let staged: Vec<String> = ledger_files.iter().map(|f| format!("{f}.new")).collect();
    let mut leftovers: Vec<&str> = vec![crate::core::provenance::FILE_NAME];
    if resume.is_some() {
        leftovers.extend([log::FILE_NAME, MANIFEST_REPLACEMENT]);
        // Written between the end (or aborted) record and the manifest's rename.
        leftovers.extend(ledger_files);
        leftovers.extend(staged.iter().map(String::as_str));
    }
    Bundle::check_top_level(dir, &manifest, &leftovers)?;
    passed(Passed::Hashes {
        files: bundle.manifest().files.len(),
    });
    let mut wrapping_keys = Vec::new();
    let mut replica_wrapping_keys = Vec::new();
    for key in &m.keys {
        let mut replicas = Vec::new();
        // A wrapping key is one Region's: KMS makes a new pair per GetParametersForImport, so
        // one seen in two Regions of a key was put there by someone, not fetched.
        let mut seen: Vec<(Option<&str>, &[u8])> = Vec::new();
        for region in key.wrap_regions() {
            let at = manifest::Manifest::region_dir(key, region);
            let missing = |file: &'static str| Error::ManifestLacks {
                key: at.clone(),
                file,
            };
            let der = bundle
                .region_file(key, region, manifest::WRAPPING_PUBLIC_KEY)
                .ok_or_else(|| missing(manifest::WRAPPING_PUBLIC_KEY))?;
            if bundle
                .region_file(key, region, manifest::IMPORT_TOKEN)
                .is_none()
            {
                return Err(missing(manifest::IMPORT_TOKEN));
            }
            if let Some((other, _)) = seen.iter().find(|(_, d)| *d == der) {
                let name = |r: Option<&str>| r.unwrap_or(&key.region).to_string();
                return Err(Error::WrappingKeyReused {
                    key: key.name.clone(),
                    first: name(*other),
                    second: name(region),
                });
            }
            seen.push((region, der));
            let parsed =
                WrappingPublicKey::from_der(der, m.wrapping_key_spec).map_err(|problem| {
                    Error::BundleWrappingKey {
                        key: at.clone(),
                        file: manifest::WRAPPING_PUBLIC_KEY,
                        problem,
                    }
                })?;
            match region {
                None => wrapping_keys.push(parsed),
                Some(r) => replicas.push((r.to_string(), parsed)),
            }
        }
        replica_wrapping_keys.push(replicas);
    }
    passed(Passed::WrappingKeys {
        keys: wrapping_keys.len(),
        spec: m.wrapping_key_spec.to_string(),
    });
    let remaining = match rules::expiry(m, now, script.expiry_margin()) {
        Ok(left) => left,
        Err(_) if resume == Some(ResumeChoice::Abort) => SignedDuration::ZERO,
        Err(problem) => {
            return Err(Error::BundleExpiring {
                problem: problem.to_string(),
            });
        }
    };
    let parameters_valid_to = rules::parameters_expire(m);
    passed(Passed::Validity {
        remaining: parameters_valid_to.map(|_| remaining),
        margin: script.expiry_margin(),
    });
    Ok(CheckedBundle {
        parameters_valid_to,
        remaining,
        wrapping_keys,
        replica_wrapping_keys,
        bundle,
    })
}

/// The roster: signed by the published log key next to it, for this token.
fn check_roster(path: &Path, token_label: &str) -> Result<RosterInput> {
    let roster = RosterInput::load(path)?;
    let pem_path = path.parent().unwrap_or(Path::new(".")).join(LOG_PUBLIC_KEY);
    let pem = fsio::read_text(&pem_path, "the published log public key")?;
    let trusted = TrustedKey::from_pem(&pem)?;
    if trusted.fingerprint() != roster.file.log_key_sha256 {
        return Err(Error::RosterPublishedKey {
            pem: pem_path,
            fingerprint: trusted.fingerprint().to_string(),
            roster_key: roster.file.log_key_sha256.clone(),
        });
    }
    crate::core::custody::verify_roster_log(&roster.bytes, &roster.log, &trusted).map_err(
        |why| Error::RosterLogUnsigned {
            path: path.to_path_buf(),
            problem: why.to_string(),
        },
    )?;
    if roster.file.token_label != token_label {
        return Err(Error::RosterForOtherToken {
            path: path.to_path_buf(),
            roster_token: roster.file.token_label.clone(),
            token: token_label.to_string(),
        });
    }
    Ok(roster)
}

/// The ceremony's outputs do not exist yet, and the bundle directory can take them.
fn check_outputs(bundle: &VerifiedBundle) -> Result<()> {
    let dir = bundle.dir();
    let mut outputs = vec![dir.join(log::FILE_NAME)];
    let mut dirs = vec![dir.to_path_buf()];
    for key in &bundle.manifest().keys {
        for region in key.wrap_regions() {
            let kdir = dir.join(manifest::Manifest::region_dir(key, region));
            outputs.push(kdir.join(manifest::ENCRYPTED_KEY_MATERIAL));
            dirs.push(kdir);
        }
    }
    if let Some(existing) = outputs.iter().find(|p| p.exists()) {
        return Err(Error::CeremonyOutputExists {
            path: existing.clone(),
        });
    }
    for d in dirs {
        if !writable_dir(&d) {
            return Err(Error::BundleNotWritable { dir: d });
        }
    }
    Ok(())
}

/// Whether this process may create files in `dir` (access(2) with W_OK|X_OK), without writing.
fn writable_dir(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads the NUL-terminated path `c` owns for the duration of the call.
    dir.is_dir() && unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0
}
