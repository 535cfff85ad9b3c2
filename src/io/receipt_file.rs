//! The import receipt on disk (`<bundle>/import-receipt.log`): opened for append, its existing
//! records checked first (a resumed import continues the same chain), one record written and
//! fsynced at a time.

use std::fs::File;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::core::receipt::{self, ReceiptChain, data, step};
use crate::core::receipt::{AliasMoved, ImportOutcome};
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::io::error::IoError;
use crate::io::fs as fsio;

type Result<T, E = IoError> = std::result::Result<T, E>;

pub struct ReceiptFile {
    file: File,
    path: PathBuf,
    chain: ReceiptChain,
    written: usize,
}

impl ReceiptFile {
    /// Opens (or creates) the bundle's receipt and appends this run's `import.start`; `run` is
    /// the command (import, rollback). The chain continues from the last record of the ceremony
    /// log `signed` verified, not from whatever the log file's last line is now.
    pub fn open(
        bundle: &VerifiedBundle,
        run: &str,
        signed: &SignedCeremony,
    ) -> Result<ReceiptFile> {
        let (next_seq, head) = signed.receipt_start();
        let start = ReceiptChain::after_verified_log(next_seq, head);
        let path = bundle.dir().join(receipt::FILE_NAME);
        // A link planted in a returned bundle would make the import create or append to any
        // file this user can write: links are refused, never followed.
        let chain = if fsio::exists_nofollow(&path) {
            receipt::verify_chain(&fsio::read_nofollow(&path)?, &start)?.1
        } else {
            start.clone()
        };
        let file = fsio::open_append_nofollow(&path)?;
        let mut r = ReceiptFile {
            file,
            path,
            chain,
            written: 0,
        };
        let tool_version = env!("CARGO_PKG_VERSION");
        r.append(
            step::START,
            data(&[
                ("format", Some(receipt::FORMAT)),
                ("run", Some(run)),
                ("tool_version", Some(tool_version)),
                ("manifest_sha256", Some(bundle.fingerprint())),
                ("ceremony_log_head", Some(start.head())),
            ]),
        )?;
        Ok(r)
    }

    fn append(
        &mut self,
        step: &str,
        data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let line = self.chain.record(Timestamp::now(), step, &[], data);
        fsio::append_synced(&mut self.file, &self.path, &line)?;
        Ok(())
    }

    /// Records one key KMS accepted.
    pub fn imported(&mut self, o: &ImportOutcome) -> Result<()> {
        let mut d = data(&[
            ("key", Some(o.name.as_str())),
            ("key_arn", Some(o.key_arn.as_str())),
            ("kind", Some(o.kind)),
            (
                "encrypted_key_material_sha256",
                Some(o.encrypted_key_material_sha256.as_str()),
            ),
            ("import_token_sha256", Some(o.import_token_sha256.as_str())),
            ("import_request_id", o.import_request_id.as_deref()),
            ("rotate_request_id", o.rotate_request_id.as_deref()),
            ("key_material_id", o.key_material_id.as_deref()),
            (
                "previous_key_material_id",
                o.previous_key_material_id.as_deref(),
            ),
            ("state", Some(o.state.as_str())),
        ]);
        if let Some(sha) = &o.pre_rotation_ciphertext_sha256 {
            d.insert("pre_rotation_ciphertext_sha256".into(), sha.clone().into());
        }
        self.append(step::KEY_IMPORTED, d)?;
        self.written += 1;
        Ok(())
    }

    /// Records an alias moved from one key to another (rotation by a new key).
    pub fn alias_moved(&mut self, m: &AliasMoved) -> Result<()> {
        self.append(
            step::ALIAS_MOVED,
            data(&[
                ("key", Some(m.key.as_str())),
                ("alias", Some(m.alias.as_str())),
                ("from_key_arn", Some(m.from_key_arn.as_str())),
                ("to_key_arn", Some(m.to_key_arn.as_str())),
                ("request_id", m.request_id.as_deref()),
            ]),
        )?;
        self.written += 1;
        Ok(())
    }

    /// Records pending material deleted by `kms rollback`.
    pub fn rolled_back(
        &mut self,
        key: &str,
        key_arn: &str,
        key_material_id: &str,
        request_id: Option<&str>,
    ) -> Result<()> {
        self.append(
            step::KEY_ROLLED_BACK,
            data(&[
                ("key", Some(key)),
                ("key_arn", Some(key_arn)),
                ("key_material_id", Some(key_material_id)),
                ("request_id", request_id),
            ]),
        )?;
        self.written += 1;
        Ok(())
    }

    /// Records what `kms verify-rotation` found for one key.
    pub fn rotation_verified(
        &mut self,
        key: &str,
        key_arn: &str,
        key_material_id: Option<&str>,
        passed: bool,
        checks: &[String],
    ) -> Result<()> {
        let mut d = data(&[
            ("key", Some(key)),
            ("key_arn", Some(key_arn)),
            ("key_material_id", key_material_id),
            ("result", Some(if passed { "passed" } else { "failed" })),
        ]);
        d.insert("checks".into(), checks.to_vec().into());
        self.append(step::KEY_ROTATION_VERIFIED, d)?;
        self.written += 1;
        Ok(())
    }

    /// Closes this run with `import.end`.
    pub fn finish(mut self) -> Result<PathBuf> {
        let mut d = serde_json::Map::new();
        d.insert("keys".into(), self.written.into());
        self.append(step::END, d)?;
        Ok(self.path)
    }
}
