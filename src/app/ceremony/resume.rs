//! An interrupted ceremony taken up again on the same bundle: its log is checked (signatures,
//! chain, and the engine's order rules, against this bundle's plan) and continued with a resumed
//! record; then the ceremony is finished (the keys not yet wrapped) or aborted (the keys generated
//! under the bundle and never written are destroyed, and an aborted record closes the log).
//! Leftovers of the moment of the crash — a key generated but not yet logged, a file written but
//! not yet logged — were never recorded: both paths remove them first.

use std::path::Path;

use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::core::ceremony::record::End;
use crate::core::ceremony::{Engine, Outcome, Plan, Record, ResumeChoice, leftovers};
use crate::core::log;
use crate::core::manifest::{self, Manifest};
use crate::hsm::HsmLogSigner;
use crate::hsm::token::UserSession;
use crate::io::log_file::CeremonyLogFile;

/// An interrupted log reopened and replayed: the engine stands where the ceremony stopped.
pub struct Reopened<'s> {
    pub log: CeremonyLogFile<'s, HsmLogSigner<'s>>,
    pub engine: Engine,
    /// When each logged key was generated (key name, time of its record).
    pub generated_at: Vec<(String, Timestamp)>,
}

/// Reopens `<bundle>/ceremony.log`, checks every complete record with the token's log key and
/// replays them through the engine for this plan; the log must have been started for this
/// prepared bundle and be unfinished.
pub fn reopen<'s>(
    path: &Path,
    signer: &'s HsmLogSigner<'s>,
    actors: Vec<String>,
    plan: Plan,
    prepared_fingerprint: &str,
) -> Result<Reopened<'s>> {
    let trusted = signer.public_key().clone();
    let mut bodies = Vec::new();
    let (log, _) = CeremonyLogFile::reopen(path, signer, actors, |complete| {
        // A log that holds no complete record: the run stopped before its start record was on
        // disk (nothing was generated before it); the ceremony starts over in the same file.
        if !complete.is_empty() {
            bodies = log::verified_records(complete, &trusted)?;
        }
        Ok::<(), Error>(())
    })?;
    let bad = |problem: String| Error::UnfinishedLogMismatch {
        path: path.to_path_buf(),
        problem,
    };
    let mut records = Vec::new();
    let mut generated_at = Vec::new();
    for (line, body) in &bodies {
        let r = Record::from_data(&body.step, &body.data)
            .map_err(|why| bad(format!("line {line}: {why}")))?;
        if let Record::KeyGenerated(k) = &r {
            generated_at.push((k.key.clone(), body.time));
        }
        records.push(r);
    }
    let engine = Engine::replay(plan, &records)
        .map_err(|(i, why)| bad(format!("record {}: {why}", i + 1)))?;
    match engine.machine().start() {
        Some(s) if s.manifest_sha256 != prepared_fingerprint => {
            return Err(bad(format!(
                "the log was started for bundle {}, this bundle is {prepared_fingerprint}",
                s.manifest_sha256
            )));
        }
        None if records.is_empty() => {}
        None => return Err(bad("the log holds no start record".into())),
        Some(_) => {}
    }
    // A log closed by ceremony.end whose manifest was not yet renamed into place: the caller
    // completes it (complete_manifest). An aborted log is closed for good; the caller only enters
    // it in the token's ledger if a stop kept it out.
    let ended = matches!(
        engine.machine().outcome(),
        Some(Outcome::Ended(_) | Outcome::Aborted(_))
    );
    let empty = records.is_empty();
    if !engine.is_interrupted() && !ended && !empty {
        return Err(Error::CeremonyClosed {
            path: path.to_path_buf(),
        });
    }
    Ok(Reopened {
        log,
        engine,
        generated_at,
    })
}

/// What the crash left that the log does not record: the keys this ceremony generated whose
/// material never left the HSM ([`leftovers::to_destroy`]: a logged key by its exact label and
/// CKA_ID, an unlogged one by the ceremony's label and the CKA_ID derived from the prepared
/// fingerprint), and every EncryptedKeyMaterial.bin (a key's own Region's or a replica's) the log
/// does not record as wrapped. `keep_pending`: the key the log shows generated and not wrapped
/// is kept (to be wrapped when finishing). Returns the labels destroyed.
pub fn clear_leftovers(
    session: &UserSession,
    dir: &Path,
    manifest: &Manifest,
    engine: &Engine,
    prepared_fingerprint: &str,
    keep_pending: bool,
) -> Result<Vec<String>> {
    let m = engine.machine();
    let logged = |name: &str| m.keys().iter().find(|k| k.key == name);
    // Keys whose material never left the HSM. A multi-Region key wrapped for some of its Regions
    // only is kept: material that left the HSM, even for one Region, may reach KMS, and only the
    // same material brings a key back.
    let unwrapped: Vec<&str> = manifest
        .keys
        .iter()
        .map(|k| k.name.as_str())
        .filter(|name| logged(name).is_none_or(|k| k.wrapped.is_none()))
        .collect();
    let listed = session.secret_keys_with_ids()?;
    let token: Vec<leftovers::TokenKey> = listed
        .iter()
        .map(|(_, label, id)| leftovers::TokenKey {
            label: label.clone(),
            id: id.clone(),
        })
        .collect();
    let keep = if keep_pending { m.pending() } else { None };
    let mut destroyed = Vec::new();
    for i in leftovers::to_destroy(&token, m.keys(), &unwrapped, prepared_fingerprint, keep) {
        if let Some((handle, label, _)) = listed.get(i) {
            session.destroy_key(*handle)?;
            destroyed.push(label.clone());
        }
    }
    // The manifest is replaced through `manifest.json.new` and a rename: a run stopped between
    // the two leaves that file, never a half-written manifest. It was never recorded.
    let manifest_new = dir.join(format!("{}.new", crate::io::bundle::MANIFEST));
    // The files of every Region not recorded as wrapped (a key's own, or a replica's).
    let mut unrecorded = Vec::new();
    for key in &manifest.keys {
        for region in key.wrap_regions() {
            let rel = Manifest::region_file_path(key, region, manifest::ENCRYPTED_KEY_MATERIAL);
            let recorded =
                logged(&key.name).is_some_and(|k| k.recorded_files().any(|(f, _)| *f == rel));
            if !recorded {
                unrecorded.push(dir.join(rel));
            }
        }
    }
    let leftovers = unrecorded.into_iter().chain(std::iter::once(manifest_new));
    for path in leftovers {
        if crate::io::fs::exists_nofollow(&path) {
            std::fs::remove_file(&path).map_err(|source| crate::io::fs::FsError::Io {
                action: "remove the unrecorded",
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(destroyed)
}

/// The record of the choice made.
pub fn resumed_record(choice: ResumeChoice, tool_sha256: String) -> Record {
    Record::Resumed(crate::core::ceremony::record::Resumed {
        choice,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        tool_sha256,
    })
}

/// A ceremony stopped after its end record and before its manifest replaced the prepared one:
/// the staged `manifest.json.new` must be the manifest the end record names, and is renamed into
/// place. Nothing is logged: the log is closed. Aborting is refused: the log says the ceremony
/// ended.
pub fn complete_manifest(dir: &Path, end: &End, choice: ResumeChoice) -> Result<()> {
    let path = dir.join(crate::io::bundle::MANIFEST);
    if choice == ResumeChoice::Abort {
        return Err(Error::EndedNotAborted {
            path: dir.join(log::FILE_NAME),
        });
    }
    let staged = dir.join(format!("{}.new", crate::io::bundle::MANIFEST));
    let actual = crate::core::digest::sha256_hex(&crate::io::fs::read_nofollow(&staged)?);
    if actual != end.manifest_sha256 {
        return Err(Error::StagedManifestChanged {
            path: staged,
            actual,
            logged: end.manifest_sha256.clone(),
        });
    }
    crate::io::fs::commit_replacement(&path)?;
    Ok(())
}
