//! `keyrite kms import`: the bundle's keys imported into KMS, each in the region its entry names
//! (or the one `--region` gives), after its ceremony log is verified with the trusted log key.

use std::path::Path;

use crate::app::error::{Error, Result};
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::{Expiration, ImportOutcome};
use crate::kms::{self, KmsTarget};

/// Imports every key of `verified`, `concurrency` at a time. Nothing is sent to KMS unless the
/// bundle's ceremony log verifies with the key in `trust` and vouches for every field the import
/// acts on ([`crate::app::audit::signed_ceremony`]).
pub fn run(
    verified: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
    expiration: Expiration,
    concurrency: usize,
) -> Result<Vec<ImportOutcome>> {
    let signed = crate::app::audit::signed_ceremony(verified, trust)?;
    let rt = kms::runtime()?;
    rt.block_on(async {
        let clients: Vec<_> = kms::import::connect_regions(verified, aws)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        kms::import::import_regions(&clients, verified, &signed, expiration, concurrency).await
    })
    .map_err(Error::from)
}
