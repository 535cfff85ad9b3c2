//! `keyrite rehearse`: the whole flow, start to finish, on a fresh SoftHSM2 token against a local
//! KMS: create the EXTERNAL keys the script names (if missing), prepare, run the ceremony, import,
//! and prove that KMS now holds exactly the HSM's material.
//!
//! Two ways through the ceremony: unattended ([`run`]: the rehearsal opens the HSM with two of
//! its three custodians' shares and answers for the operators), or by people at a terminal: the
//! command line calls [`start`] (the custodians of a 3-of-5 roster shown their shares through a
//! [`ShareHandover`]), runs the operators' app on [`Rehearsal::ceremony_inputs`] as
//! `keyrite ceremony --roster` would, then [`Rehearsal::finish`].

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::app::ceremony::CeremonyReport;
use crate::app::ceremony::print_report as print_ceremony_report;
use crate::app::ceremony::start::{CeremonyInputs, CeremonyPaths};
use crate::app::enrol::ShareHandover;
use crate::app::error::{Error, Result};
use crate::app::localkms::{LocalKms, prove_across_regions, prove_material};
use crate::app::quorum::{self, HsmEnforcedLogin, RosterInput};
use crate::app::{ceremony, enrol};
use crate::core::custody::shares::CustodianShare;
use crate::core::custody::{CustodianEntry, QuorumEvidence};
use crate::core::digest::{grouped, sha256_hex};
use crate::core::names::KeyRef;
use crate::core::script::{Answers, Script};
use crate::hsm::Token;
use crate::hsm::softhsm;
use crate::hsm::token::UserSession;
use crate::io::{bundle, fs as fsio};
use crate::kms::runtime;
use crate::kms::{self, Client, KmsError, KmsTarget};

/// The default: the nine keys of three environments and three services.
pub const BUILTIN_SCRIPT: &str = include_str!("../../ceremony-scripts/rehearsal-nine.toml");
/// `--quick`: one key.
pub const QUICK_SCRIPT: &str = include_str!("../../ceremony-scripts/rehearsal.toml");
pub const TOKEN_LABEL: &str = "keyrite-rehearsal";
/// The log public key a rehearsal leaves for `keyrite audit verify --trust`.
pub const LOG_PUBLIC_KEY: &str = enrol::LOG_PUBLIC_KEY;

/// The unattended rehearsal's custodians: a 2-of-3 quorum, of whom Alice and Carol open the HSM.
pub const REHEARSAL_CUSTODIANS: [&str; 3] = ["Alice", "Bob", "Carol"];
/// The custodians of a rehearsal at a terminal: a 3-of-5 quorum, shown their shares one at a
/// time; three of them type theirs into the ceremony.
pub const TERMINAL_CUSTODIANS: [&str; 5] = ["Alice", "Bob", "Carol", "Dave", "Erin"];
pub const TERMINAL_THRESHOLD: u8 = 3;
/// The script the rehearsal ran, written next to the bundle.
pub const SCRIPT_FILE: &str = "ceremony.toml";

/// What `keyrite rehearse` was asked for.
#[derive(Debug, Clone)]
pub struct RehearseRequest {
    pub headless: bool,
    pub out: Option<PathBuf>,
    pub script: Option<PathBuf>,
    /// The one-key script instead of the nine-key default.
    pub quick: bool,
    pub module: PathBuf,
    pub endpoint_url: Option<String>,
    /// Multi-Region keys: each key made a multi-Region primary with a replica in this Region,
    /// the one HSM key imported into both.
    pub multi_region: Option<String>,
}

/// A rehearsal prepared up to its ceremony: the token enrolled, the local KMS running, the keys
/// made, the bundle prepared.
pub struct Rehearsal {
    out: PathBuf,
    script: Script,
    script_text: String,
    module: PathBuf,
    token: Token,
    custodians: Vec<String>,
    /// The custodians' shares, kept in memory by the rehearsal alone (a real ceremony has no
    /// such copy): the unattended run opens the HSM with them, and after a ceremony at the
    /// terminal they open it again for the proof.
    shares: Vec<CustodianShare>,
    /// Who opens the HSM with the shares the rehearsal holds (indices into `custodians`).
    opening: &'static [usize],
    roster: RosterInput,
    log_key_path: PathBuf,
    // Dropped (the local KMS stopped) with the rehearsal.
    _local: Option<LocalKms>,
    rt: tokio::runtime::Runtime,
    client: Client,
    bundle_dir: PathBuf,
    fingerprint: String,
}

/// The unattended rehearsal, start to finish.
pub fn run(a: &RehearseRequest) -> Result<()> {
    let r = start(a, None)?;
    let (session, report) = r.unattended_ceremony()?;
    eprint!("[5/6] ");
    print_ceremony_report(&report);
    r.finish(&session)
}

/// Steps 1 to 4: a fresh token enrolled (with `handover`, at a terminal: a 3-of-5 roster whose
/// custodians are shown their shares; without, 2 of 3), the local KMS, the script's EXTERNAL
/// keys, the bundle prepared.
pub fn start(
    a: &RehearseRequest,
    mut handover: Option<&mut dyn ShareHandover>,
) -> Result<Rehearsal> {
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "keyrite-rehearsal-{}",
            Timestamp::now().strftime("%Y%m%d-%H%M%S")
        ))
    });
    let (script_name, script_text) = match &a.script {
        Some(p) => (
            p.display().to_string(),
            fsio::read_text(p, "a ceremony script")?,
        ),
        None if a.quick => (
            "ceremony-scripts/rehearsal.toml (built in)".to_string(),
            QUICK_SCRIPT.to_string(),
        ),
        None => (
            "ceremony-scripts/rehearsal-nine.toml (built in)".to_string(),
            BUILTIN_SCRIPT.to_string(),
        ),
    };
    // Multi-Region: every key gets its replica's Region in the script, as its author would name
    // each Region the material is to go to.
    let script_text = match &a.multi_region {
        Some(region) => with_replica_region(&script_text, region),
        None => script_text,
    };
    let script = Script::parse(&script_name, &script_text)?;
    if !a.module.is_file() {
        return Err(Error::NoSoftHsm {
            module: a.module.clone(),
        });
    }
    if let Some(h) = handover.as_mut() {
        h.ready()?;
    }
    fsio::create_dir_new(&out)?;
    let out = out.canonicalize().map_err(|e| Error::Resolve {
        path: out.to_path_buf(),
        detail: e.to_string(),
    })?;
    crate::say!("rehearsal in {}", out.display());

    // 1. A fresh SoftHSM2 token, in a directory of its own.
    let conf = softhsm::create_token_dir(&out.join("softhsm"))?;
    // SAFETY: no other thread exists yet (the async runtime is built below); SoftHSM2 reads this
    // variable when the module is initialised, just after.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    // The token is enrolled under a quorum; the shares stay in memory.
    let (custodians, threshold, opening): (Vec<String>, u8, &'static [usize]) = match handover {
        // Alice, Bob and Carol open it again for the proof.
        Some(_) => (
            TERMINAL_CUSTODIANS.map(String::from).to_vec(),
            TERMINAL_THRESHOLD,
            &[0, 1, 2],
        ),
        // Alice and Carol.
        None => (REHEARSAL_CUSTODIANS.map(String::from).to_vec(), 2, &[0, 2]),
    };
    let enrolled = enrol::enrol_shamir(&a.module, TOKEN_LABEL, threshold, &custodians)?;
    if let Some(h) = handover {
        h.hand_over(TOKEN_LABEL, threshold, &custodians, &enrolled.shares)?;
    }
    let log_key_fingerprint = enrol::write_public(
        &out,
        &enrolled.roster_json,
        &enrolled.roster_log,
        &enrolled.log_key,
        (&enrolled.ledger, &enrolled.checkpoint),
    )?;
    let log_key_path = out.join(LOG_PUBLIC_KEY);
    crate::say!(
        "[1/6] fresh SoftHSM2 token {TOKEN_LABEL:?} (SOFTHSM2_CONF={}), enrolled {threshold} of {}: {}",
        conf.display(),
        custodians.len(),
        custodians.join(", ")
    );
    crate::say!(
        "      log-signing key generated in the token; public key {} (sha256 {})",
        log_key_path.display(),
        grouped(&log_key_fingerprint)
    );

    // 2. The local KMS.
    let (local, endpoint) = match &a.endpoint_url {
        Some(url) => (None, url.clone()),
        None => {
            let local = LocalKms::start(&out.join("localkms"))?;
            let url = local.endpoint.clone();
            (Some(local), url)
        }
    };
    crate::say!("[2/6] local KMS at {endpoint}");
    let target = KmsTarget {
        profile: None,
        region: Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())),
        endpoint_url: Some(endpoint.clone()),
        local_credentials: Some(kms::LOCAL_ACCESS_KEY.into()),
    };
    let rt = runtime()?;
    let client = rt.block_on(kms::connect(&target))?;

    // 3. The EXTERNAL keys the script names (multi-Region primaries with --multi-region).
    let keys = script.key_refs();
    let multi_region = a.multi_region.is_some();
    for key in &keys {
        let made = rt.block_on(ensure_external_key(&client, key, multi_region))?;
        crate::say!(
            "[3/6] {} {}",
            key.as_str(),
            match (made, multi_region) {
                (true, false) => "created (EXTERNAL, pending import)",
                (true, true) => "created (EXTERNAL multi-Region primary, pending import)",
                (false, _) => "exists",
            }
        );
    }
    let replicate_to: Vec<String> = a.multi_region.iter().cloned().collect();

    // 4. Prepare.
    let bundle_dir = out.join("bundle");
    let prepared = rt.block_on(kms::prepare::prepare(
        &client,
        &kms::prepare::PrepareRequest {
            keys: &keys,
            spec: script.wrapping.key_spec,
            algorithm: script.wrapping.algorithm,
            out: &bundle_dir,
            supplied: None,
            replicate_to: &replicate_to,
        },
    ))?;
    for region in &replicate_to {
        crate::say!(
            "      each key replicated to {region} (PendingImport there); the bundle holds a wrapping key per Region"
        );
    }
    crate::say!(
        "[4/6] prepared {}; fingerprint {}",
        bundle_dir.display(),
        grouped(&prepared.fingerprint)
    );

    let script_path = out.join(SCRIPT_FILE);
    fsio::write_new(&script_path, script_text.as_bytes())?;
    let roster = RosterInput::from_bytes(
        &out.join(enrol::ROSTER_FILE),
        enrolled.roster_json.clone(),
        enrolled.roster_log.clone(),
    )?;
    Ok(Rehearsal {
        out,
        script,
        script_text,
        module: a.module.clone(),
        token: enrolled.token,
        custodians,
        shares: enrolled.shares,
        opening,
        roster,
        log_key_path,
        _local: local,
        rt,
        client,
        bundle_dir,
        fingerprint: prepared.fingerprint,
    })
}

impl Rehearsal {
    /// The fingerprint of the prepared bundle, as the connected side reads it out.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The ceremony's inputs exactly as `keyrite ceremony --roster` reads them: the script the
    /// rehearsal wrote, its bundle, its token and roster. For the operators' app.
    pub fn ceremony_inputs(&self) -> Result<CeremonyInputs> {
        CeremonyInputs::load(&CeremonyPaths {
            script: &self.out.join(SCRIPT_FILE),
            bundle: &self.bundle_dir,
            token: &format!("pkcs11:token={TOKEN_LABEL}"),
            module: &self.module,
            roster: Some(&self.roster.path),
            so_pin_source: None,
            escrow_from: None,
            ledger: None,
        })
    }

    /// The HSM opened by the opening custodians' shares, which the rehearsal holds.
    pub fn open_hsm(&self) -> Result<(UserSession, QuorumEvidence)> {
        let typed: Vec<(&str, zeroize::Zeroizing<String>)> = self
            .custodians
            .iter()
            .zip(&self.shares)
            .enumerate()
            .filter(|(i, _)| self.opening.contains(i))
            .map(|(_, c)| c)
            .map(|(name, share)| (name.as_str(), share.encode()))
            .collect();
        let entries: Vec<CustodianEntry<'_>> = typed
            .iter()
            .map(|(name, share)| CustodianEntry {
                name,
                typed_share: Some(share.as_str()),
            })
            .collect();
        quorum::open(&self.token, &self.roster, &entries, HsmEnforcedLogin::None)
    }

    /// Step 5 unattended: two of the three custodians "type" their shares (handed over in
    /// memory); the fingerprint is "read out" by the rehearsal itself.
    pub fn unattended_ceremony(&self) -> Result<(UserSession, CeremonyReport)> {
        let answers = Answers {
            operator: "rehearsal".into(),
            witness: None,
            bundle_fingerprint: self.fingerprint.clone(),
            custodians: Vec::new(),
            resume: None,
        };
        let (session, evidence) = self.open_hsm()?;
        crate::say!(
            "      quorum met: {} ({} of {})",
            evidence.names().join(", "),
            evidence.threshold,
            evidence.custodians_total
        );
        let report = ceremony::run(&ceremony::CeremonyRequest {
            script: &self.script,
            script_sha256: &sha256_hex(self.script_text.as_bytes()),
            bundle_dir: &self.bundle_dir,
            token: &self.token,
            access: ceremony::Access::Session(&session),
            quorum: Some(&evidence),
            answers: &answers,
            escrow: None,
            so_pin: None,
            resume: None,
            progress: ceremony::progress::ProgressSink::lines(),
            provenance: None,
            ledger: Some(&crate::app::ledger::beside_roster(&self.roster.path)),
        })?;
        Ok((session, report))
    }

    /// Step 6 and the audit: import, prove KMS holds the HSM's material (with `session`), verify
    /// the log with the published key; the summary.
    pub fn finish(self, session: &UserSession) -> Result<()> {
        let Rehearsal {
            out,
            rt,
            client,
            bundle_dir,
            log_key_path,
            ..
        } = &self;
        // 6. Import, then prove KMS holds the HSM's material.
        let verified = bundle::Bundle::verify(bundle_dir)?;
        // The import acts on the bundle only as far as its log, verified with the key this
        // rehearsal published, vouches for it: the same check `keyrite kms import --trust` makes.
        let signed = crate::app::audit::signed_ceremony(&verified, Some(log_key_path))?;
        let outcomes = rt.block_on(crate::app::import::import(
            client,
            &verified,
            &signed,
            crate::app::import::Expiration::DoesNotExpire,
        ))?;
        for (o, k) in outcomes.iter().zip(&verified.manifest().keys) {
            let label = k
                .generated
                .as_ref()
                .map(|g| g.hsm_label.as_str())
                .unwrap_or_default();
            let handle = session
                .find_secret_keys(label)?
                .first()
                .copied()
                .ok_or_else(|| Error::HsmKeyGone {
                    label: label.to_string(),
                })?;
            rt.block_on(prove_material(
                client,
                &o.key_arn,
                session,
                handle,
                b"keyrite rehearsal proof",
            ))?;
            crate::say!(
                "[6/6] {}: {}, {}; key material {}; KMS Encrypt -> HSM AES-GCM decrypt: same plaintext",
                o.name,
                o.kind,
                o.state,
                o.key_material_id.as_deref().unwrap_or("?")
            );
            // Each replica holds the same HSM key: KMS Encrypt there, HSM decrypt; and KMS
            // ciphertext of one Region decrypts in the other, both ways.
            for r in &o.replicas {
                let there = kms::multi_region::client_in(client, &r.region);
                rt.block_on(prove_material(
                    &there,
                    &r.key_arn,
                    session,
                    handle,
                    b"keyrite rehearsal proof",
                ))?;
                rt.block_on(prove_across_regions(
                    client,
                    &o.key_arn,
                    &there,
                    &r.key_arn,
                    b"keyrite across Regions",
                ))?;
                rt.block_on(prove_across_regions(
                    &there,
                    &r.key_arn,
                    client,
                    &o.key_arn,
                    b"keyrite across Regions",
                ))?;
                crate::say!(
                    "      {} in {}: {}, key material {}; KMS Encrypt there -> HSM decrypt, and KMS Decrypt across the two Regions both ways: same plaintext",
                    o.name,
                    r.region,
                    r.state,
                    r.key_material_id.as_deref().unwrap_or("?")
                );
            }
        }
        let audit = crate::app::audit::verify(bundle_dir, log_key_path)?;
        crate::app::audit::verdict(&audit, true)?;
        crate::say!(
            "audit: {} verifies with {}: {} records, bundle files match",
            audit.log.display(),
            LOG_PUBLIC_KEY,
            audit.log_report.records.len()
        );
        summary(out, bundle_dir);
        Ok(())
    }
}

/// `text` with `replicas = ["<region>"]` as the first line of each `[[key]]` table.
fn with_replica_region(text: &str, region: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[[key]]" {
            out.push_str(&format!("replicas = [{region:?}]\n"));
        }
    }
    out
}

fn summary(out: &Path, bundle: &Path) {
    crate::say!("\nrehearsal complete:");
    crate::say!("  bundle:        {}", bundle.display());
    crate::say!(
        "  manifest:      {}",
        bundle.join(bundle::MANIFEST).display()
    );
    crate::say!(
        "  SoftHSM2 token: {} (SOFTHSM2_CONF={})",
        TOKEN_LABEL,
        out.join("softhsm/softhsm2.conf").display()
    );
    crate::say!("  log key:       {}", out.join(LOG_PUBLIC_KEY).display());
    crate::say!(
        "  local KMS log: {}",
        out.join("localkms/localstack.log").display()
    );
}

/// Creates an EXTERNAL symmetric key with the alias, unless the alias exists. Returns whether it
/// created one.
async fn ensure_external_key(client: &Client, key: &KeyRef, multi_region: bool) -> Result<bool> {
    let KeyRef::Alias(alias) = key else {
        return Err(Error::RehearsalKeyNotAlias {
            key: key.as_str().to_string(),
        });
    };
    match client.describe_key().key_id(alias).send().await {
        Ok(_) => return Ok(false),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) => {}
        Err(e) => return Err(KmsError::from_sdk(alias, "DescribeKey", e).into()),
    }
    let created = client
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .multi_region(multi_region)
        .description("keyrite rehearsal key")
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(alias, "CreateKey", e))?;
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .unwrap_or_default();
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(alias, "CreateAlias", e))?;
    Ok(true)
}
