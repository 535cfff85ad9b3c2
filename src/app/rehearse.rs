//! `keyrite rehearse`: the whole flow, start to finish, on a fresh SoftHSM2 token against a local
//! KMS: create the EXTERNAL keys the script names (if missing), prepare, run the ceremony, import,
//! and prove that KMS now holds exactly the HSM's material.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::app::ceremony::print_report as print_ceremony_report;
use crate::app::error::{Error, Result};
use crate::app::localkms::{LocalKms, prove_material};
use crate::app::quorum::{self, HsmEnforcedLogin, RosterInput};
use crate::app::{ceremony, enrol};
use crate::core::custody::CustodianEntry;
use crate::core::digest::{grouped, sha256_hex};
use crate::core::names::KeyRef;
use crate::core::script::{Answers, Script};
use crate::hsm::softhsm;
use crate::io::{bundle, fs as fsio};
use crate::kms::runtime;
use crate::kms::{self, Client, KmsError, KmsTarget};

pub const BUILTIN_SCRIPT: &str = include_str!("../../ceremony-scripts/rehearsal.toml");
pub const TOKEN_LABEL: &str = "keyrite-rehearsal";
/// The log public key a rehearsal leaves for `keyrite audit verify --trust`.
pub const LOG_PUBLIC_KEY: &str = enrol::LOG_PUBLIC_KEY;

/// The rehearsal's custodians: a 2-of-3 quorum, of whom Alice and Carol open the HSM.
pub const REHEARSAL_CUSTODIANS: [&str; 3] = ["Alice", "Bob", "Carol"];

/// What `keyrite rehearse` was asked for.
#[derive(Debug, Clone)]
pub struct RehearseRequest {
    pub headless: bool,
    pub out: Option<PathBuf>,
    pub script: Option<PathBuf>,
    pub module: PathBuf,
    pub endpoint_url: Option<String>,
}

pub fn run(a: &RehearseRequest) -> Result<()> {
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
        None => (
            "ceremony-scripts/rehearsal.toml (built in)".to_string(),
            BUILTIN_SCRIPT.to_string(),
        ),
    };
    let script = Script::parse(&script_name, &script_text)?;
    if !a.module.is_file() {
        return Err(Error::NoSoftHsm {
            module: a.module.clone(),
        });
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
    // The token is enrolled under a 2-of-3 quorum; the shares stay in memory.
    let custodians: Vec<String> = REHEARSAL_CUSTODIANS.map(String::from).to_vec();
    let enrolled = enrol::enrol_shamir(&a.module, TOKEN_LABEL, 2, &custodians)?;
    let log_key_fingerprint = enrol::write_public(
        &out,
        &enrolled.roster_json,
        &enrolled.roster_log,
        &enrolled.log_key,
    )?;
    let log_key_path = out.join(LOG_PUBLIC_KEY);
    crate::say!(
        "[1/6] fresh SoftHSM2 token {TOKEN_LABEL:?} (SOFTHSM2_CONF={}), enrolled 2 of 3: {}",
        conf.display(),
        custodians.join(", ")
    );
    crate::say!(
        "      log-signing key generated in the token; public key {} (sha256 {})",
        log_key_path.display(),
        grouped(&log_key_fingerprint)
    );

    // 2. The local KMS.
    let (_local, endpoint) = match &a.endpoint_url {
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
        local_credentials: true,
    };
    let rt = runtime()?;
    let client = rt.block_on(kms::connect(&target))?;

    // 3. The EXTERNAL keys the script names.
    let keys = script.key_refs();
    for key in &keys {
        let made = rt.block_on(ensure_external_key(&client, key))?;
        crate::say!(
            "[3/6] {} {}",
            key.as_str(),
            if made {
                "created (EXTERNAL, pending import)"
            } else {
                "exists"
            }
        );
    }

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
        },
    ))?;
    crate::say!(
        "[4/6] prepared {}; fingerprint {}",
        bundle_dir.display(),
        grouped(&prepared.fingerprint)
    );

    // 5. The ceremony (headless; the fingerprint is "read out" by the rehearsal itself).
    let answers = Answers {
        operator: "rehearsal".into(),
        witness: None,
        bundle_fingerprint: prepared.fingerprint.clone(),
        custodians: Vec::new(),
        resume: None,
    };
    let roster_path = out.join(enrol::ROSTER_FILE);
    let roster = RosterInput::from_bytes(
        &roster_path,
        enrolled.roster_json.clone(),
        enrolled.roster_log.clone(),
    )?;
    // Two of the three custodians type their shares (here: handed over in memory).
    let typed: Vec<(String, zeroize::Zeroizing<String>)> = custodians
        .iter()
        .zip(&enrolled.shares)
        .filter(|(name, _)| name.as_str() != "Bob")
        .map(|(name, share)| (name.clone(), share.encode()))
        .collect();
    let entries: Vec<CustodianEntry<'_>> = typed
        .iter()
        .map(|(name, share)| CustodianEntry {
            name,
            typed_share: Some(share.as_str()),
        })
        .collect();
    let token = enrolled.token;
    let (session, evidence) = quorum::open(&token, &roster, &entries, HsmEnforcedLogin::None)?;
    drop(entries);
    drop(typed);
    drop(enrolled.shares);
    crate::say!(
        "      quorum met: {} ({} of {})",
        evidence.names().join(", "),
        evidence.threshold,
        evidence.custodians_total
    );
    let report = ceremony::run(&ceremony::CeremonyRequest {
        script: &script,
        script_sha256: &sha256_hex(script_text.as_bytes()),
        bundle_dir: &bundle_dir,
        token: &token,
        access: ceremony::Access::Session(&session),
        quorum: Some(&evidence),
        answers: &answers,
        escrow: None,
        so_pin: None,
        resume: None,
        provenance: None,
    })?;
    eprint!("[5/6] ");
    print_ceremony_report(&report);

    // 6. Import, then prove KMS holds the HSM's material.
    let verified = bundle::Bundle::verify(&bundle_dir)?;
    let outcomes = rt.block_on(kms::import::import(
        &client,
        &verified,
        kms::import::Expiration::DoesNotExpire,
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
            &client,
            &o.key_arn,
            &session,
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
    }
    let audit = crate::app::audit::verify(&bundle_dir, &log_key_path)?;
    crate::say!(
        "audit: {} verifies with {}: {} records, bundle files match",
        audit.log.display(),
        LOG_PUBLIC_KEY,
        audit.log_report.records.len()
    );
    summary(&out, &bundle_dir);
    Ok(())
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
async fn ensure_external_key(client: &Client, key: &KeyRef) -> Result<bool> {
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
