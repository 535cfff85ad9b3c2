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
    LogError::NotAsSigned(Box::new(log::FieldDiffers {
        key: key.to_string(),
        field: field.to_string(),
        bundle: bundle.into(),
        signed: signed.into(),
    }))
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
    // A re-wrap's KeyMaterialId is the escrow bundle's unsigned word, so the log records the
    // re-wrap but not the id (logs written before that record it, and then it must match); KMS
    // checks the id against the material it derives it from.
    let reimport = generated.and_then(|g| g.reimport_of_key_material_id.as_deref());
    let signed_reimport = logged.rewrap_of.as_ref();
    let consistent = match (reimport, signed_reimport) {
        (None, None) => true,
        (Some(id), Some(r)) => r.key_material_id.as_deref().is_none_or(|s| s == id),
        _ => false,
    };
    if !consistent {
        return Err(differs(
            name,
            "reimport_of_key_material_id",
            reimport.unwrap_or(none),
            signed_reimport
                .map(|r| r.key_material_id.as_deref().unwrap_or("a re-wrap"))
                .unwrap_or(none),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
    use crate::core::ceremony::Record;
    use crate::core::ceremony::record::{Aborted, End, KeyGenerated, KeyWrapped, Probe, Start};
    use crate::core::log::LogChain;
    use crate::core::manifest::{CeremonyRecord, GeneratedKey, TakeOver};
    use jiff::Timestamp;
    use p256::ecdsa::SigningKey;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";
    const PREVIOUS: &str = "arn:aws:kms:us-east-1:111122223333:key/k0";

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn signer() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn trusted() -> TrustedKey {
        TrustedKey::from_key(*signer().verifying_key()).unwrap()
    }

    /// A ceremonied manifest of one key that takes over `alias/k`.
    fn manifest() -> Manifest {
        Manifest {
            format: crate::core::manifest::FORMAT.into(),
            created: Timestamp::UNIX_EPOCH,
            tool_version: "0".into(),
            wrapping_key_spec: WrappingKeySpec::Rsa4096,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            keys: vec![KeyEntry {
                name: "k1".into(),
                requested: "alias/k".into(),
                alias: Some("alias/k".into()),
                key_id: "k1".into(),
                key_arn: ARN.into(),
                account: "111122223333".into(),
                region: "us-east-1".into(),
                key_state: "PendingImport".into(),
                current_key_material_id: None,
                parameters_valid_to: Timestamp::UNIX_EPOCH,
                generated: Some(GeneratedKey {
                    hsm_label: "label".into(),
                    hsm_id: "01".into(),
                    check_value: "abcdef".into(),
                    generated_at: Timestamp::UNIX_EPOCH,
                    reimport_of_key_material_id: None,
                }),
                takes_over: Some(TakeOver {
                    alias: "alias/k".into(),
                    previous_key_arn: PREVIOUS.into(),
                }),
                replicas: Vec::new(),
            }],
            files: Default::default(),
            ceremony: Some(CeremonyRecord {
                script_sha256: h('b'),
                prepared_manifest_sha256: h('c'),
                token_label: "t".into(),
                operator: "Alice".into(),
                witness: None,
                finished_at: Timestamp::UNIX_EPOCH,
            }),
        }
    }

    /// The log of `manifest()`'s ceremony, closed by `last`.
    fn log(last: Record) -> Vec<u8> {
        let records = vec![
            Record::Start(Start {
                tool_version: "0".into(),
                tool_sha256: h('a'),
                tool_features: None,
                roles: None,
                script_sha256: h('b'),
                manifest_sha256: h('c'),
                token_label: "t".into(),
                log_key_sha256: trusted().fingerprint().to_string(),
                roster: None,
                provenance: None,
                alias_moves: vec![AliasMove {
                    key: "k1".into(),
                    alias: "alias/k".into(),
                    previous_key_arn: PREVIOUS.into(),
                }],
                provenance_waived: None,
            }),
            Record::Probe(Probe {
                algorithm: "RSAES_OAEP_SHA_256".into(),
                mechanism: None,
                result: "ok".into(),
                wrap_with_trusted: None,
            }),
            Record::KeyGenerated(KeyGenerated {
                key: "k1".into(),
                key_arn: ARN.into(),
                hsm_label: "label".into(),
                check_value: "abcdef".into(),
                reimport: None,
                wrap_with_trusted: false,
                hsm_id: None,
                replica_regions: Vec::new(),
            }),
            Record::KeyWrapped(KeyWrapped {
                key: "k1".into(),
                file: "k1/EncryptedKeyMaterial.bin".into(),
                sha256: h('e'),
                algorithm: None,
                region: None,
            }),
            last,
        ];
        let mut chain = LogChain::new();
        let mut out = Vec::new();
        for r in records {
            out.extend(
                chain
                    .record(&signer(), Timestamp::UNIX_EPOCH, r.step(), &[], r.to_data())
                    .unwrap(),
            );
        }
        out
    }

    fn end() -> Record {
        Record::End(End {
            manifest_sha256: h('d'),
            keys: Some(1),
        })
    }

    fn check(
        log: &[u8],
        m: &Manifest,
        sha: &str,
        wrapped: &str,
    ) -> Result<SignedCeremony, LogError> {
        SignedCeremony::check(log, &trusted(), m, sha, |_| Some(wrapped.to_string()))
    }

    fn field(r: Result<SignedCeremony, LogError>) -> String {
        match r {
            Err(LogError::NotAsSigned(d)) => d.field,
            other => panic!("expected a field that differs, got {other:?}"),
        }
    }

    #[test]
    fn the_manifest_the_log_vouches_for_passes_and_the_receipt_continues_its_last_record() {
        let log = log(end());
        let signed = check(&log, &manifest(), &h('d'), &h('e')).unwrap();
        assert_eq!(signed.manifest_sha256(), h('d'));
        assert_eq!(signed.alias_move("k1").unwrap().alias, "alias/k");
        // For a genuine log, where the chain read from the file's last line would start.
        let from_file = crate::core::receipt::ReceiptChain::after_ceremony_log(&log).unwrap();
        assert_eq!(
            signed.receipt_start(),
            (from_file.next_seq(), from_file.head().to_string())
        );
        assert_eq!(signed.receipt_start().0, 5);
    }

    #[test]
    fn each_field_the_import_acts_on_is_named_when_it_is_not_the_signed_one() {
        let log = log(end());
        let mut m = manifest();
        m.keys[0].key_arn = "arn:aws:kms:us-east-1:111122223333:key/attacker".into();
        assert_eq!(field(check(&log, &m, &h('d'), &h('e'))), "key_arn");
        assert_eq!(
            field(check(&log, &manifest(), &h('d'), &h('f'))),
            "EncryptedKeyMaterial.bin SHA-256"
        );
        let mut m = manifest();
        m.keys[0].takes_over.as_mut().unwrap().alias = "alias/prod".into();
        assert_eq!(field(check(&log, &m, &h('d'), &h('e'))), "takes_over");
        let mut m = manifest();
        m.keys[0].takes_over = None;
        assert_eq!(field(check(&log, &m, &h('d'), &h('e'))), "takes_over");
        let mut m = manifest();
        m.keys[0]
            .generated
            .as_mut()
            .unwrap()
            .reimport_of_key_material_id = Some("x".into());
        assert_eq!(
            field(check(&log, &m, &h('d'), &h('e'))),
            "reimport_of_key_material_id"
        );
        // Any other field changes the manifest's hash, which the end record binds.
        assert!(
            field(check(&log, &manifest(), &h('9'), &h('e'))).starts_with("manifest.json SHA-256")
        );
    }

    #[test]
    fn an_aborted_log_and_a_log_signed_by_another_key_are_refused() {
        let aborted = log(Record::Aborted(Aborted {
            reason: "stopped".into(),
            destroyed: vec![],
        }));
        assert!(matches!(
            check(&aborted, &manifest(), &h('d'), &h('e')),
            Err(LogError::AbortedCeremony { .. })
        ));
        let other =
            TrustedKey::from_key(*SigningKey::from_slice(&[9u8; 32]).unwrap().verifying_key())
                .unwrap();
        let r = SignedCeremony::check(&log(end()), &other, &manifest(), &h('d'), |_| Some(h('e')));
        assert!(matches!(r, Err(LogError::SignedByOtherKey { .. })), "{r:?}");
    }
}
