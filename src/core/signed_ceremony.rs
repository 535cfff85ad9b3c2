//! What `kms import` and `kms rollback` may act on: only what the HSM signed. A bundle's
//! `manifest.json` and `import-progress.json` are written on the connected side and anyone who
//! can write the bundle can change them; the ceremony log is signed by the HSM's log key. Before
//! the first KMS call, [`SignedCeremony::check`] verifies the log with the trusted log public key
//! (the same [`log::verify`] that `keyrite audit verify` runs), requires a complete ceremony (an
//! end record, not an aborted one), and compares every manifest field the import acts on with the
//! signed records, naming the first one that differs. A [`SignedCeremony`] can only be made by
//! that check, so code that takes one cannot skip it.

use crate::core::ceremony::record::AliasMove;
use crate::core::log::{self, LogError, Report, TrustedKey};
use crate::core::manifest::{KeyEntry, Manifest};

/// A ceremony log verified with the trusted key, complete, and matching the bundle field by field.
#[derive(Debug, Clone)]
pub struct SignedCeremony {
    report: Report,
    manifest_sha256: String,
}

/// One manifest field that is not what the signed log recorded.
fn differs(
    key: &str,
    field: &str,
    bundle: impl Into<String>,
    signed: impl Into<String>,
) -> LogError {
    LogError::NotAsSigned {
        key: key.to_string(),
        field: field.to_string(),
        bundle: bundle.into(),
        signed: signed.into(),
    }
}

impl SignedCeremony {
    /// Verifies `log` (the bundle's ceremony.log as read) with `trusted`, then the bundle's
    /// manifest against it. `manifest_sha256` is the SHA-256 of manifest.json as read;
    /// `wrapped_sha256` gives the SHA-256 of a key's EncryptedKeyMaterial.bin as read.
    pub fn check(
        log_bytes: &[u8],
        trusted: &TrustedKey,
        manifest: &Manifest,
        manifest_sha256: &str,
        wrapped_sha256: impl Fn(&KeyEntry) -> Option<String>,
    ) -> Result<SignedCeremony, LogError> {
        let report = log::verify(log_bytes, trusted)?;
        if let Some(a) = &report.aborted {
            return Err(LogError::AbortedCeremony {
                reason: a.reason.clone(),
            });
        }
        let Some(final_manifest) = report.final_manifest_sha256.clone() else {
            return Err(LogError::AbortedCeremony {
                reason: "the log has no end record".into(),
            });
        };
        let ceremony = manifest.ceremony.as_ref().ok_or_else(|| {
            differs(
                "(bundle)",
                "ceremony",
                "none (the manifest records no ceremony)",
                "a finished ceremony",
            )
        })?;
        if ceremony.prepared_manifest_sha256 != report.binding.manifest_sha256 {
            return Err(differs(
                "(bundle)",
                "ceremony.prepared_manifest_sha256",
                &ceremony.prepared_manifest_sha256,
                &report.binding.manifest_sha256,
            ));
        }
        let names = |v: Vec<&str>| v.join(", ");
        let in_manifest: Vec<&str> = manifest.keys.iter().map(|k| k.name.as_str()).collect();
        let in_log: Vec<&str> = report.keys.iter().map(|k| k.key.as_str()).collect();
        if in_manifest != in_log {
            return Err(differs(
                "(bundle)",
                "keys",
                names(in_manifest),
                names(in_log),
            ));
        }
        for key in &manifest.keys {
            check_key(&report, key, wrapped_sha256(key))?;
        }
        for m in &report.binding.alias_moves {
            if !manifest.keys.iter().any(|k| k.name == m.key) {
                return Err(differs(&m.key, "takes_over", "no such key", &m.alias));
            }
        }
        // Every other field (parameters_valid_to, key_state, the wrapping key and import token
        // hashes, ...) is bound by the end record's hash of the whole manifest.
        if manifest_sha256 != final_manifest {
            return Err(differs(
                "(bundle)",
                "manifest.json SHA-256 (a field the per-key records do not name: parameters_valid_to, key_state, region, account, a file hash)",
                manifest_sha256,
                format!("{final_manifest} (the {} record)", log::step::END),
            ));
        }
        Ok(SignedCeremony {
            report,
            manifest_sha256: manifest_sha256.to_string(),
        })
    }

    /// The verified log's report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// SHA-256 of the manifest this ceremony ended with: the bundle it vouches for.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// The alias the signed start record says `key` takes over, if any.
    pub fn alias_move(&self, key: &str) -> Option<&AliasMove> {
        self.report
            .binding
            .alias_moves
            .iter()
            .find(|m| m.key == key)
    }

    /// (next sequence number, SHA-256 of the last line) of the verified log: where the import
    /// receipt's chain continues.
    pub fn receipt_start(&self) -> (u64, String) {
        let next = self.report.records.last().map_or(0, |r| r.seq + 1);
        (next, self.report.head_sha256.clone())
    }
}

/// One key of the manifest against its signed key.generated / key.wrapped records and the start
/// record's alias moves.
fn check_key(report: &Report, key: &KeyEntry, wrapped: Option<String>) -> Result<(), LogError> {
    let name = key.name.as_str();
    let logged = report
        .keys
        .iter()
        .find(|k| k.key == key.name)
        .ok_or_else(|| differs(name, "key", name, "no such key"))?;
    if key.key_arn != logged.key_arn {
        return Err(differs(name, "key_arn", &key.key_arn, &logged.key_arn));
    }
    let signed_wrap = logged.wrapped.as_ref().map(|(_, sha)| sha.as_str());
    let none = "none";
    if wrapped.as_deref() != signed_wrap {
        return Err(differs(
            name,
            "EncryptedKeyMaterial.bin SHA-256",
            wrapped.as_deref().unwrap_or(none),
            signed_wrap.unwrap_or(none),
        ));
    }
    let generated = key.generated.as_ref();
    if generated.map(|g| g.check_value.as_str()) != Some(logged.check_value.as_str())
        || generated.map(|g| g.hsm_label.as_str()) != Some(logged.hsm_label.as_str())
    {
        return Err(differs(
            name,
            "generated (check value, HSM label)",
            generated
                .map(|g| format!("{} {:?}", g.check_value, g.hsm_label))
                .unwrap_or_else(|| none.into()),
            format!("{} {:?}", logged.check_value, logged.hsm_label),
        ));
    }
    let reimport = generated.and_then(|g| g.reimport_of_key_material_id.as_deref());
    let signed_reimport = logged
        .rewrap_of
        .as_ref()
        .map(|r| r.key_material_id.as_str());
    if reimport != signed_reimport {
        return Err(differs(
            name,
            "reimport_of_key_material_id",
            reimport.unwrap_or(none),
            signed_reimport.unwrap_or(none),
        ));
    }
    let signed_move = report
        .binding
        .alias_moves
        .iter()
        .find(|m| m.key == key.name);
    let show = |alias: &str, previous: &str| format!("{alias} from {previous}");
    match (&key.takes_over, signed_move) {
        (None, None) => {}
        (Some(t), Some(m)) if t.alias == m.alias && t.previous_key_arn == m.previous_key_arn => {}
        (t, m) => {
            return Err(differs(
                name,
                "takes_over",
                t.as_ref()
                    .map(|t| show(&t.alias, &t.previous_key_arn))
                    .unwrap_or_else(|| none.into()),
                m.map(|m| show(&m.alias, &m.previous_key_arn))
                    .unwrap_or_else(|| "no alias move".into()),
            ));
        }
    }
    Ok(())
}
