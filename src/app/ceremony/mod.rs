//! The ceremony at the air gap, headless driver: check the bundle and the script, confirm the
//! fingerprint read out from the connected side, then per key generate AES-256 inside the HSM,
//! take its check value, wrap it for KMS, write EncryptedKeyMaterial.bin and verify it by reading
//! it back. The manifest is replaced last, in one atomic step.

pub mod inputs;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod resume;
pub mod start;

use std::path::PathBuf;

use cryptoki::types::AuthPin;
use jiff::Timestamp;

use crate::app::error::{Error, Result};
use crate::app::escrow::Escrow;
use crate::core::ceremony::record::{self, Record};
use crate::core::ceremony::{Engine, Next, Outcome, Plan, PlannedKey, ResumeChoice, leftovers};
use crate::core::custody::QuorumEvidence;
use crate::core::digest::{normalise_fingerprint, sha256_hex};
use crate::core::log as ceremony_log;
use crate::core::manifest::{self, CeremonyRecord, GeneratedKey, Manifest};
use crate::core::script::{Answers, Script};
use crate::core::wrapping_key::WrappingPublicKey;
use crate::hsm::probe::{self, ProbeReport};
use crate::io::bundle::{MANIFEST, VerifiedBundle};
use crate::io::fs as fsio;
use crate::io::log_file::CeremonyLogFile;
use progress::{KeyStep, Progress, ProgressSink};

use crate::hsm::token::{CeremonyKey, UserSession};
use crate::hsm::{HsmError, HsmLogSigner, LOG_KEY_LABEL, Token};

pub struct CeremonyRequest<'a> {
    pub script: &'a Script,
    /// SHA-256 of the script file as read.
    pub script_sha256: &'a str,
    pub bundle_dir: &'a std::path::Path,
    pub token: &'a Token,
    pub access: Access<'a>,
    /// The quorum that opened the HSM (with a roster): bound by the start record and logged as
    /// quorum.met before anything else happens.
    pub quorum: Option<&'a QuorumEvidence>,
    pub answers: &'a Answers,
    /// A re-wrap ceremony: wrap the escrowed keys an earlier bundle recorded instead of
    /// generating new ones (see [`crate::app::escrow`]).
    pub escrow: Option<&'a Escrow>,
    /// The security officer's PIN, to mark the KMS wrapping keys CKA_TRUSTED so that the ceremony
    /// keys can be generated CKA_WRAP_WITH_TRUSTED (see SECURITY.md). None: keys without it.
    pub so_pin: Option<&'a AuthPin>,
    /// The bundle holds an interrupted ceremony's log: finish it or abort it.
    pub resume: Option<ResumeChoice>,
    /// Where each step's progress goes ([`ProgressSink::lines`] for a headless run).
    pub progress: ProgressSink<'a>,
    /// Who signed the prepared bundle, as the preflight verified it: checked again here against
    /// the bundle and bound by the start record.
    pub provenance: Option<&'a crate::core::provenance::Signers>,
    /// The token's ledger directory: the ceremony's closing is appended there and its evidence
    /// written into the bundle (None: not entered in a ledger).
    pub ledger: Option<&'a std::path::Path>,
}

/// How the ceremony gets its logged-in session.
pub enum Access<'a> {
    /// A PIN from a pin-source file (rehearsals and tests without a roster).
    Pin(&'a AuthPin),
    /// A session the quorum gate opened (the PIN, if any, is already wiped).
    Session(&'a UserSession),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyResult {
    pub name: String,
    pub hsm_label: String,
    pub check_value: String,
    pub encrypted_key_material_sha256: String,
    /// A multi-Region key: (Region, SHA-256) of the material wrapped for each replica.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<(String, String)>,
}

/// One wrap the ceremony makes: a key of the bundle (by index) for its own Region (None) or a
/// replica's, with that Region's KMS wrapping key.
pub struct WrapTarget {
    pub key: usize,
    pub region: Option<String>,
    pub public: WrappingPublicKey,
}

impl WrapTarget {
    /// The label of the wrapping key's object in the token.
    fn label(&self, manifest: &Manifest) -> String {
        let name = manifest.keys.get(self.key).map_or("?", |k| k.name.as_str());
        match &self.region {
            None => format!("kms-wrapping/{name}"),
            Some(r) => format!("kms-wrapping/{name}/{r}"),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CeremonyReport {
    pub prepared_fingerprint: String,
    /// The capability probe run before any key was generated (None: an aborted ceremony).
    pub probe: Option<ProbeReport>,
    pub keys: Vec<KeyResult>,
    /// An interrupted ceremony aborted: the HSM labels of the keys destroyed, never written.
    pub aborted: Option<Vec<String>>,
}

/// Everything checked before the HSM is touched: the bundle for the script
/// ([`preflight::check_bundle`]), then the fingerprint the operators typed.
fn check_inputs(req: &CeremonyRequest<'_>) -> Result<(VerifiedBundle, Vec<WrapTarget>)> {
    let checked =
        preflight::check_bundle(req.script, req.bundle_dir, Timestamp::now(), req.resume)?;
    let typed = normalise_fingerprint(&req.answers.bundle_fingerprint);
    if typed != checked.bundle.fingerprint() {
        return Err(Error::FingerprintMismatch {
            bundle: checked.bundle.fingerprint().to_string(),
            typed,
        });
    }
    let mut targets = Vec::new();
    for (key, (public, replicas)) in checked
        .wrapping_keys
        .into_iter()
        .zip(checked.replica_wrapping_keys)
        .enumerate()
    {
        targets.push(WrapTarget {
            key,
            region: None,
            public,
        });
        for (region, public) in replicas {
            targets.push(WrapTarget {
                key,
                region: Some(region),
                public,
            });
        }
    }
    Ok((checked.bundle, targets))
}

/// Removes the EncryptedKeyMaterial files of an unfinished ceremony, so the bundle is left as it was.
struct Written(Vec<PathBuf>);

impl Drop for Written {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn run(req: &CeremonyRequest<'_>) -> Result<CeremonyReport> {
    let (bundle, wrapping_keys) = check_inputs(req)?;
    let fingerprint = bundle.fingerprint().to_string();
    let dir = bundle.dir().to_path_buf();
    if let Some(signed) = req.provenance {
        let now = crate::app::provenance::verify(&dir, &fingerprint)?;
        if &crate::core::provenance::Signers::of(&now) != signed {
            return Err(
                crate::app::provenance::ProvenanceError::ChangedSincePreflight { dir }.into(),
            );
        }
    }
    let manifest: Manifest = bundle.into_manifest();
    if let Some(escrow) = req.escrow {
        check_rewrap(escrow, &manifest)?;
    }
    // The security officer's step comes first: one login state per token and application.
    let trusted = match (req.so_pin, &req.access) {
        (Some(so_pin), Access::Pin(_)) => {
            let keys: Vec<(String, &WrappingPublicKey)> = wrapping_keys
                .iter()
                .map(|t| (t.label(&manifest), &t.public))
                .collect();
            Some(req.token.import_trusted_wrapping_keys(so_pin, &keys)?)
        }
        (Some(_), Access::Session(_)) => {
            return Err(Error::SoStepAfterQuorum);
        }
        (None, _) => None,
    };
    let owned;
    let session = match req.access {
        Access::Pin(pin) => {
            crate::app::quorum::warn_if_failed_logins(req.token)?;
            owned = req.token.login(pin)?;
            &owned
        }
        Access::Session(s) => s,
    };
    let log_signer = session.log_signer(LOG_KEY_LABEL)?;
    if let Some(q) = req.quorum
        && q.log_key_sha256 != log_signer.public_key().fingerprint()
    {
        return Err(Error::RosterLogKey {
            roster: q.log_key_sha256.clone(),
            token: log_signer.public_key().fingerprint().to_string(),
        });
    }
    if let Some(escrow) = req.escrow {
        escrow.verify_log(
            log_signer.public_key(),
            req.quorum.map(|q| q.roster_sha256.as_str()),
        )?;
    }
    // The token's ledger must hold (this log key's, extending its last checkpoint) before
    // anything is generated: a ledger found cut at the end would strand a finished ceremony.
    if let Some(ledger) = req.ledger {
        crate::app::ledger::open(ledger, log_signer.public_key())?;
    }
    let plan = plan(&manifest, req.quorum.is_some());
    let log_path = dir.join(ceremony_log::FILE_NAME);
    let (log, engine, generated_at) = match req.resume {
        None => (
            CeremonyLogFile::create(&log_path, &log_signer, actors(req))?,
            Engine::new(plan),
            Vec::new(),
        ),
        Some(choice) => {
            let r = resume::reopen(&log_path, &log_signer, actors(req), plan, &fingerprint)?;
            if let Some(Outcome::Ended(end)) = r.engine.machine().outcome() {
                if choice == ResumeChoice::Finish {
                    close_ledger(req, &dir, &log_path, &fingerprint, &log_signer)?;
                }
                resume::complete_manifest(&dir, end, choice)?;
                return Ok(ended_report(&fingerprint, r.engine.machine()));
            }
            if let Some(Outcome::Aborted(aborted)) = r.engine.machine().outcome() {
                // An abort stopped after its aborted record and before the token's ledger took
                // it: entering it there is all that is left to do.
                if choice != ResumeChoice::Abort || req.ledger.is_none() {
                    return Err(Error::CeremonyClosed { path: log_path });
                }
                close_ledger(req, &dir, &log_path, &fingerprint, &log_signer)?;
                return Ok(CeremonyReport {
                    prepared_fingerprint: fingerprint,
                    probe: None,
                    keys: Vec::new(),
                    aborted: Some(aborted.destroyed.clone()),
                });
            }
            (r.log, r.engine, r.generated_at)
        }
    };
    let mut driver = Driver {
        req,
        log_key_sha256: log_signer.public_key().fingerprint().to_string(),
        session,
        engine,
        log,
        generated_at,
        leftovers: req.resume == Some(ResumeChoice::Finish),
        aborted: None,
        dir,
        fingerprint,
        manifest,
        wrapping_keys,
        trusted,
        today: Timestamp::now().strftime("%Y%m%d").to_string(),
        written: Written(Vec::new()),
        probe: None,
        current: None,
        results: Vec::new(),
    };
    driver.drive()
}

/// The ceremony's plan for the engine: the bundle's keys in the bundle's order.
fn plan(manifest: &Manifest, roster: bool) -> Plan {
    Plan {
        keys: manifest
            .keys
            .iter()
            .map(|k| PlannedKey {
                name: k.name.clone(),
                key_arn: k.key_arn.clone(),
                replica_regions: k.replicas.iter().map(|r| r.region.clone()).collect(),
            })
            .collect(),
        roster,
    }
}

/// Who the log names as present.
fn actors(req: &CeremonyRequest<'_>) -> Vec<String> {
    let mut actors = vec![req.answers.operator.clone()];
    actors.extend(req.answers.witness.clone());
    if let Some(q) = req.quorum {
        actors.extend(q.names());
    }
    actors
}

/// A key generated (or found) and not yet wrapped.
struct Current {
    label: String,
    key: CeremonyKey,
    check_value: String,
    escrowed: Option<crate::app::escrow::EscrowedKey>,
}

/// Performs what the engine says is next, and hands it the record of what happened.
struct Driver<'r, 's> {
    req: &'r CeremonyRequest<'r>,
    session: &'s UserSession,
    engine: Engine,
    log_key_sha256: String,
    log: CeremonyLogFile<'s, HsmLogSigner<'s>>,
    dir: PathBuf,
    fingerprint: String,
    manifest: Manifest,
    /// Every wrap of the ceremony; the trusted handles, when the security officer imported
    /// the wrapping keys, are in the same order.
    wrapping_keys: Vec<WrapTarget>,
    trusted: Option<crate::hsm::token::TrustedWrappingKeys>,
    today: String,
    written: Written,
    probe: Option<ProbeReport>,
    current: Option<Current>,
    results: Vec<KeyResult>,
    /// When each key logged before an interruption was generated.
    generated_at: Vec<(String, Timestamp)>,
    /// A resumed ceremony to finish: its leftovers are cleared once the HSM is open.
    leftovers: bool,
    aborted: Option<Vec<String>>,
}

impl Driver<'_, '_> {
    /// The start record, binding this ceremony's inputs, committed to the log.
    fn commit_start(&mut self) -> Result<()> {
        let start = start_record(
            self.req,
            &self.manifest,
            &self.fingerprint,
            &self.log_key_sha256,
        )?;
        self.commit(start)
    }

    fn drive(&mut self) -> Result<CeremonyReport> {
        if let Some(choice) = self.req.resume {
            if self.engine.machine().start().is_none() {
                // The interrupted run left no complete record: the log starts again here.
                self.commit_start()?;
            }
            self.restore_wrapped()?;
            self.commit(resume::resumed_record(choice, tool_sha256()?))?;
        }
        loop {
            match self.engine.next() {
                Next::Start => self.commit_start()?,
                Next::QuorumMet => {
                    let q = self
                        .req
                        .quorum
                        .ok_or_else(|| internal("a quorum without evidence"))?;
                    self.commit(quorum_record(q))?;
                }
                Next::Probe => self.probe()?,
                Next::Generate(i) => self.generate(i)?,
                Next::Wrap(i) => self.wrap(i)?,
                Next::End => self.end()?,
                Next::Abort => self.abort()?,
                Next::Finished | Next::Stopped => break,
            }
        }
        self.written.0.clear();
        if self.aborted.is_none() {
            self.req.progress.emit(Progress::Finished {
                keys: self.results.len(),
            });
        }
        Ok(CeremonyReport {
            prepared_fingerprint: self.fingerprint.clone(),
            probe: self.probe.clone(),
            keys: std::mem::take(&mut self.results),
            aborted: self.aborted.take(),
        })
    }

    /// The keys an interrupted ceremony wrapped before it stopped: their files must be the ones
    /// the log recorded; they go into the manifest as if wrapped in this run.
    fn restore_wrapped(&mut self) -> Result<()> {
        let logged: Vec<_> = self.engine.machine().keys().to_vec();
        for k in logged {
            // Every file the log records as wrapped, of a key wrapped in part too, must be the
            // one written.
            for (file, sha) in k.recorded_files() {
                let path = self.dir.join(file);
                let actual = sha256_hex(&fsio::read_nofollow(&path)?);
                if &actual != sha {
                    return Err(Error::WrittenFileChanged {
                        path,
                        actual,
                        logged: sha.clone(),
                    });
                }
            }
            let (true, Some((file, sha))) = (k.fully_wrapped(), &k.wrapped) else {
                continue;
            };
            let found = self.session.find_escrowed_key(&k.hsm_label)?;
            let generated_at = self
                .generated_at
                .iter()
                .find(|(name, _)| *name == k.key)
                .map_or_else(Timestamp::now, |(_, t)| *t);
            let Some(entry) = self.manifest.keys.iter_mut().find(|e| e.name == k.key) else {
                return Err(internal("a logged key outside the bundle"));
            };
            entry.generated = Some(GeneratedKey {
                hsm_label: k.hsm_label.clone(),
                hsm_id: data_encoding::HEXLOWER.encode(&found.id),
                check_value: k.check_value.clone(),
                generated_at,
                reimport_of_key_material_id: None,
            });
            self.manifest.files.insert(file.clone(), sha.clone());
            for (_, f, h) in &k.replica_wraps {
                self.manifest.files.insert(f.clone(), h.clone());
            }
            self.results.push(KeyResult {
                name: k.key.clone(),
                hsm_label: k.hsm_label.clone(),
                check_value: k.check_value.clone(),
                encrypted_key_material_sha256: sha.clone(),
                replicas: k.replica_digests(),
            });
        }
        Ok(())
    }

    /// Aborts an interrupted ceremony: destroys the keys generated under this bundle and never
    /// written, removes unrecorded files, and closes the log with an aborted record.
    fn abort(&mut self) -> Result<()> {
        let destroyed = resume::clear_leftovers(
            self.session,
            &self.dir,
            &self.manifest,
            &self.engine,
            &self.fingerprint,
            false,
        )?;
        self.commit(Record::Aborted(record::Aborted {
            reason: "the ceremony was interrupted, and the operators chose to abort it".into(),
            destroyed: destroyed.clone(),
        }))?;
        self.close_ledger()?;
        self.aborted = Some(destroyed);
        Ok(())
    }

    /// The engine takes the record, the log writes it.
    fn commit(&mut self, record: Record) -> Result<()> {
        let record = self
            .engine
            .record(record)
            .map_err(|why| internal(&format!("the ceremony engine refused a record: {why}")))?;
        self.log.write(&record)?;
        Ok(())
    }

    fn probe(&mut self) -> Result<()> {
        if std::mem::take(&mut self.leftovers) {
            resume::clear_leftovers(
                self.session,
                &self.dir,
                &self.manifest,
                &self.engine,
                &self.fingerprint,
                true,
            )?;
        }
        let probe = probe::probe(
            self.session,
            self.req.token.label(),
            self.manifest.wrapping_algorithm,
        )?;
        self.commit(Record::Probe(record::Probe {
            algorithm: probe.algorithm.as_str().to_string(),
            mechanism: Some(probe.mechanism.clone()),
            result: probe.result.clone(),
            wrap_with_trusted: Some(probe.wrap_with_trusted.clone()),
        }))?;
        if self.trusted.is_some() && !probe.wrap_with_trusted.starts_with("enforced") {
            return Err(HsmError::Refused {
                step: "capability probe",
                message: format!(
                    "the security officer marked the wrapping keys trusted, but CKA_WRAP_WITH_TRUSTED is {}",
                    probe.wrap_with_trusted
                ),
                hint: "on this token the attribute protects nothing; run the ceremony without --so-pin-source".into(),
            }
            .into());
        }
        self.req.progress.emit(Progress::Probed {
            result: probe.result.clone(),
        });
        self.probe = Some(probe);
        Ok(())
    }

    fn generate(&mut self, i: usize) -> Result<()> {
        let key = self
            .manifest
            .keys
            .get(i)
            .ok_or_else(|| internal("a key outside the bundle"))?;
        let escrowed = self
            .req
            .escrow
            .map(|e| e.for_key(key))
            .transpose()?
            .cloned();
        let (label, generated) = match &escrowed {
            None => {
                let label =
                    leftovers::ceremony_key_label(&key.name, &self.today, &self.fingerprint);
                let generated = self.session.generate_ceremony_key_with_id(
                    &label,
                    leftovers::ceremony_key_id(&self.fingerprint, &key.name),
                    self.trusted.is_some(),
                )?;
                (label, generated)
            }
            Some(e) => (
                e.hsm_label.clone(),
                self.session.find_escrowed_key(&e.hsm_label)?,
            ),
        };
        self.req.progress.key(
            i,
            &key.name,
            KeyStep::Generated {
                hsm_label: label.clone(),
            },
        );
        if self.session.value_is_readable(generated.handle)? {
            return Err(HsmError::Verification {
                step: "generate AES-256 key",
                message: format!("the token lets CKA_VALUE of {label:?} be read in plaintext"),
                hint: "this token does not honour CKA_SENSITIVE; do not use it for a ceremony"
                    .into(),
            }
            .into());
        }
        let kcv_hex = data_encoding::HEXLOWER.encode(&self.session.check_value(generated.handle)?);
        let reimport = match (&escrowed, self.req.escrow) {
            (Some(e), Some(escrow)) => {
                if e.check_value != kcv_hex {
                    return Err(HsmError::Verification {
                        step: "find the escrowed key",
                        message: format!(
                            "the key labelled {label:?} has check value {kcv_hex}, but the escrow bundle recorded {}",
                            e.check_value
                        ),
                        hint: "stop: this is not the escrowed material. Nothing was wrapped; find the HSM that holds the original key".into(),
                    }
                    .into());
                }
                Some(record::Reimport {
                    escrow_bundle_sha256: escrow.bundle_fingerprint.clone(),
                    // Unsigned (the escrow bundle's import record): not logged. The manifest
                    // carries it to the import, where KMS checks it against the material.
                    key_material_id: None,
                    escrow_log_sha256: Some(escrow.log_sha256.clone()),
                })
            }
            _ => None,
        };
        self.req.progress.key(
            i,
            &key.name,
            KeyStep::CheckValue {
                check_value: kcv_hex.clone(),
            },
        );
        let rec = Record::KeyGenerated(record::KeyGenerated {
            key: key.name.clone(),
            key_arn: key.key_arn.clone(),
            hsm_label: label.clone(),
            check_value: kcv_hex.clone(),
            reimport,
            wrap_with_trusted: self.trusted.is_some(),
            hsm_id: Some(data_encoding::HEXLOWER.encode(&generated.id)),
            replica_regions: key.replicas.iter().map(|r| r.region.clone()).collect(),
        });
        self.commit(rec)?;
        self.current = Some(Current {
            label,
            key: generated,
            check_value: kcv_hex,
            escrowed,
        });
        Ok(())
    }

    /// Wraps key `i` for its next Region (its own first, then each replica's), writes and reads
    /// back the material, and logs it. Once every Region is wrapped, the key goes into the
    /// manifest.
    fn wrap(&mut self, i: usize) -> Result<()> {
        let current = match self.current.take() {
            Some(c) => c,
            None => self.pending_from_log()?,
        };
        let region: Option<String> = self
            .engine
            .machine()
            .pending()
            .and_then(|p| p.next_wrap_region())
            .flatten()
            .map(str::to_string);
        let Some(key) = self.manifest.keys.get(i) else {
            return Err(internal("a key outside the bundle"));
        };
        let Some(target) = self
            .wrapping_keys
            .iter()
            .position(|t| t.key == i && t.region == region)
        else {
            return Err(internal("a Region outside the bundle"));
        };
        let wrapping = &self.wrapping_keys[target];
        let wrap_handle = match self.trusted.as_ref().and_then(|t| t.handles.get(target)) {
            Some(h) => *h,
            None => self
                .session
                .import_wrapping_key(&wrapping.public, &wrapping.label(&self.manifest))?,
        };
        let algorithm = self.manifest.wrapping_algorithm;
        let wrapped = self
            .session
            .wrap(wrap_handle, current.key.handle, algorithm)?;
        let expected_len = crate::core::import_rules::expected_encrypted_len(
            algorithm,
            wrapping.public.modulus.len(),
        );
        if wrapped.len() != expected_len {
            return Err(HsmError::Verification {
                step: "wrap the key material",
                message: format!(
                    "the wrapped key is {} bytes, expected {expected_len}",
                    wrapped.len(),
                ),
                hint: "the token misbehaves; do not use it for this ceremony".into(),
            }
            .into());
        }
        let progress = self.req.progress;
        progress.key(i, &key.name, KeyStep::Wrapped);
        // Created beneath the key's (or its replica Region's) directory opened without following
        // a link: a directory swapped for a link after the preflight cannot redirect the
        // wrapped material.
        let kdir = self.dir.join(Manifest::region_dir(key, region.as_deref()));
        let path = fsio::write_new_beneath(&kdir, manifest::ENCRYPTED_KEY_MATERIAL, &wrapped)?;
        self.written.0.push(path.clone());
        progress.key(i, &key.name, KeyStep::Written);
        let digest = sha256_hex(&wrapped);
        let read_back = sha256_hex(&fsio::read_nofollow(&path)?);
        progress.key(i, &key.name, KeyStep::ReadBack);
        if read_back != digest {
            return Err(Error::ReadBack {
                path: path.clone(),
                read_back,
                written: digest,
            });
        }
        let file =
            Manifest::region_file_path(key, region.as_deref(), manifest::ENCRYPTED_KEY_MATERIAL);
        let name = key.name.clone();
        // From here the log decides: a record whose write failed may still have reached the
        // disk, and a file the log records as wrapped must be there when the ceremony is
        // finished or aborted. An unrecorded file is removed then (resume::clear_leftovers).
        self.written.0.retain(|p| p != &path);
        self.commit(Record::KeyWrapped(record::KeyWrapped {
            key: name.clone(),
            file: file.clone(),
            sha256: digest.clone(),
            algorithm: Some(algorithm.to_string()),
            region: region.clone(),
        }))?;
        let logged = self
            .engine
            .machine()
            .keys()
            .iter()
            .find(|k| k.key == name)
            .cloned()
            .ok_or_else(|| internal("a wrapped key the log does not hold"))?;
        if !logged.fully_wrapped() {
            // More Regions to wrap this key for: the engine says Wrap(i) again.
            self.current = Some(current);
            return Ok(());
        }
        let Some((own_file, own_sha)) = logged.wrapped.clone() else {
            return Err(internal("a wrapped key without its own Region's file"));
        };
        progress.key(
            i,
            &name,
            KeyStep::Verified {
                sha256: own_sha.clone(),
            },
        );
        let key = self
            .manifest
            .keys
            .get_mut(i)
            .ok_or_else(|| internal("a key outside the bundle"))?;
        key.generated = Some(GeneratedKey {
            hsm_label: current.label.clone(),
            hsm_id: data_encoding::HEXLOWER.encode(&current.key.id),
            check_value: current.check_value.clone(),
            generated_at: current
                .escrowed
                .as_ref()
                .map_or_else(Timestamp::now, |e| e.generated_at),
            reimport_of_key_material_id: current.escrowed.map(|e| e.key_material_id),
        });
        self.manifest.files.insert(own_file, own_sha.clone());
        for (_, f, h) in &logged.replica_wraps {
            self.manifest.files.insert(f.clone(), h.clone());
        }
        self.results.push(KeyResult {
            name,
            hsm_label: current.label,
            check_value: current.check_value,
            encrypted_key_material_sha256: own_sha,
            replicas: logged.replica_digests(),
        });
        Ok(())
    }

    /// The key an interrupted ceremony generated and logged but did not wrap: found by its
    /// label, with the check value the log recorded.
    fn pending_from_log(&self) -> Result<Current> {
        let pending = self
            .engine
            .machine()
            .pending()
            .cloned()
            .ok_or_else(|| internal("no key to wrap"))?;
        let key = self.session.find_escrowed_key(&pending.hsm_label)?;
        if let Some(logged) = &pending.hsm_id
            && *logged != data_encoding::HEXLOWER.encode(&key.id)
        {
            return Err(HsmError::Verification {
                step: "find the interrupted ceremony's key",
                message: format!(
                    "the key labelled {:?} has CKA_ID {}, the log recorded {logged}",
                    pending.hsm_label,
                    data_encoding::HEXLOWER.encode(&key.id)
                ),
                hint: "stop: this is not the key the ceremony generated. Abort the ceremony (resume = \"abort\")".into(),
            }
            .into());
        }
        let kcv = data_encoding::HEXLOWER.encode(&self.session.check_value(key.handle)?);
        if kcv != pending.check_value {
            return Err(HsmError::Verification {
                step: "find the interrupted ceremony's key",
                message: format!(
                    "the key labelled {:?} has check value {kcv}, the log recorded {}",
                    pending.hsm_label, pending.check_value
                ),
                hint: "stop: this is not the key the ceremony generated. Abort the ceremony (resume = \"abort\")".into(),
            }
            .into());
        }
        Ok(Current {
            label: pending.hsm_label,
            key,
            check_value: kcv,
            escrowed: None,
        })
    }

    fn end(&mut self) -> Result<()> {
        self.manifest.ceremony = Some(CeremonyRecord {
            script_sha256: self.req.script_sha256.to_string(),
            prepared_manifest_sha256: self.fingerprint.clone(),
            token_label: self.req.token.label().to_string(),
            operator: self.req.answers.operator.clone(),
            witness: self.req.answers.witness.clone(),
            finished_at: Timestamp::now(),
        });
        let manifest_bytes = self.manifest.to_json();
        // Staged whole and fsynced first, then named by the end record, then renamed into place:
        // a stop before the end record leaves an unrecorded file (removed when the ceremony is
        // finished or aborted); a stop after it leaves the very bytes the log names, which
        // finishing renames (resume::complete_manifest). A finished manifest is never without
        // the ceremony.end record that names it.
        let path = self.dir.join(MANIFEST);
        fsio::stage_replacement(&path, &manifest_bytes)?;
        self.commit(Record::End(record::End {
            manifest_sha256: sha256_hex(&manifest_bytes),
            keys: Some(self.results.len()),
        }))?;
        // The ledger before the manifest: a stop in between is finished by `resume = "finish"`,
        // which closes the ledger again (adding nothing twice) and then renames the manifest.
        self.close_ledger()?;
        fsio::commit_replacement(&path)?;
        Ok(())
    }

    /// Enters this ceremony's closed log in the token's ledger, when it has one.
    fn close_ledger(&self) -> Result<()> {
        close_ledger(
            self.req,
            &self.dir,
            self.log.path(),
            &self.fingerprint,
            self.log.signer(),
        )
    }
}

/// Enters the closed log in the token's ledger, when the ceremony has one.
fn close_ledger(
    req: &CeremonyRequest<'_>,
    dir: &std::path::Path,
    log_path: &std::path::Path,
    fingerprint: &str,
    signer: &HsmLogSigner<'_>,
) -> Result<()> {
    let Some(ledger) = req.ledger else {
        return Ok(());
    };
    let kind = if req.escrow.is_some() {
        crate::core::ledger::EntryKind::Rewrap
    } else {
        crate::core::ledger::EntryKind::Ceremony
    };
    crate::app::ledger::close(
        ledger,
        dir,
        log_path,
        kind,
        fingerprint,
        signer,
        signer.public_key(),
    )?;
    Ok(())
}

/// A refusal by the engine in a live run: the driver asked for something the engine does not
/// allow. Nothing more is done.
fn internal(what: &str) -> Error {
    Error::EngineStopped {
        what: what.to_string(),
    }
}

/// Before the HSM is touched: every key of a re-wrap has an escrowed key on record, and KMS had it
/// back in PendingImport when the bundle was prepared (only then does a re-import restore it).
fn check_rewrap(escrow: &Escrow, manifest: &Manifest) -> Result<()> {
    for key in &manifest.keys {
        escrow.for_key(key)?;
        if key.key_state != "PendingImport" {
            return Err(Error::NothingToRestore {
                key: key.name.clone(),
                state: key.key_state.clone(),
            });
        }
    }
    Ok(())
}

/// Which build of keyrite this is, as the start record tells it: "airgap" for the air-gap build
/// (`--no-default-features --features airgap`, no network code), "airgap,connected" for the
/// full build.
pub const TOOL_FEATURES: &str = if cfg!(feature = "connected") {
    "airgap,connected"
} else {
    "airgap"
};

/// The start record: it binds the tool, the script and the prepared manifest by hash.
fn start_record(
    req: &CeremonyRequest<'_>,
    manifest: &Manifest,
    fingerprint: &str,
    log_key_sha256: &str,
) -> Result<Record> {
    Ok(Record::Start(record::Start {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        tool_sha256: tool_sha256()?,
        tool_features: Some(TOOL_FEATURES.into()),
        roles: Some(record::Roles {
            ceremony: req.script.ceremony.name.clone(),
            operator: req.answers.operator.clone(),
            witness: req.answers.witness.clone(),
        }),
        script_sha256: req.script_sha256.into(),
        manifest_sha256: fingerprint.into(),
        token_label: req.token.label().into(),
        log_key_sha256: log_key_sha256.into(),
        roster: req.quorum.map(|q| record::BoundRoster {
            roster_sha256: q.roster_sha256.clone(),
            mode: q.mode.as_str().into(),
            threshold: q.threshold,
            custodians: q.custodians_total,
        }),
        provenance: req.provenance.map(|p| record::BoundProvenance {
            prepared_by: p.prepared_by.clone(),
            cosigned_by: p.cosigned_by.clone(),
        }),
        alias_moves: manifest
            .keys
            .iter()
            .filter_map(|k| {
                k.takes_over.as_ref().map(|t| record::AliasMove {
                    key: k.name.clone(),
                    alias: t.alias.clone(),
                    previous_key_arn: t.previous_key_arn.clone(),
                })
            })
            .collect(),
        provenance_waived: req
            .script
            .provenance
            .as_ref()
            .and_then(|p| p.waived_because())
            .map(str::to_string),
    }))
}

/// The SHA-256 of the running executable.
fn tool_sha256() -> Result<String> {
    let exe = std::env::current_exe().map_err(|e| Error::CurrentExe {
        detail: e.to_string(),
    })?;
    Ok(sha256_hex(&fsio::read(&exe)?))
}

/// The quorum.met record of the quorum that opened the HSM.
fn quorum_record(q: &QuorumEvidence) -> Record {
    Record::QuorumMet(record::QuorumMet {
        mode: q.mode.as_str().into(),
        roster_sha256: q.roster_sha256.clone(),
        threshold: q.threshold,
        authorised: q.authorised.clone(),
        login: Some(q.login.as_str().into()),
    })
}

/// The report for people, on stderr.
pub fn print_report(report: &CeremonyReport) {
    if let Some(destroyed) = &report.aborted {
        crate::say!(
            "the interrupted ceremony is aborted; {} never written {} destroyed{}{}",
            crate::core::terminal::counted(destroyed.len(), "key"),
            if destroyed.len() == 1 { "was" } else { "were" },
            if destroyed.is_empty() { "" } else { ": " },
            destroyed.join(", ")
        );
        crate::say!("  prepare a new bundle for a new ceremony (`keyrite kms prepare`)");
        return;
    }
    if let Some(probe) = &report.probe {
        crate::say!(
            "capability probe on token {:?}: {}",
            probe.token,
            probe.result
        );
        crate::say!("  CKA_WRAP_WITH_TRUSTED: {}", probe.wrap_with_trusted);
    }
    crate::say!(
        "ceremony complete; bundle fingerprint confirmed: {}",
        crate::core::digest::grouped(&report.prepared_fingerprint)
    );
    for k in &report.keys {
        crate::say!(
            "  {:<24} check value {}  HSM label {}  EncryptedKeyMaterial.bin sha256 {}",
            k.name,
            k.check_value,
            k.hsm_label,
            k.encrypted_key_material_sha256
        );
        for (region, sha) in &k.replicas {
            crate::say!(
                "  {:<24} replica in {region}: EncryptedKeyMaterial.bin sha256 {sha}",
                ""
            );
        }
    }
}

/// The report of a ceremony completed by [`resume::complete_manifest`]: its keys as the log recorded them.
fn ended_report(prepared_fingerprint: &str, m: &crate::core::ceremony::Machine) -> CeremonyReport {
    CeremonyReport {
        prepared_fingerprint: prepared_fingerprint.to_string(),
        probe: None,
        keys: m
            .keys()
            .iter()
            .map(|k| KeyResult {
                name: k.key.clone(),
                hsm_label: k.hsm_label.clone(),
                check_value: k.check_value.clone(),
                encrypted_key_material_sha256: k
                    .wrapped
                    .as_ref()
                    .map(|(_, sha)| sha.clone())
                    .unwrap_or_default(),
                replicas: k.replica_digests(),
            })
            .collect(),
        aborted: None,
    }
}
