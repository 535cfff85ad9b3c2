//! `keyrite kms import`: the bundle's keys imported into KMS, each in the region its entry names
//! (or the one `--region` gives), after its ceremony log is verified with the trusted log key.

use crate::app::error::{Error, Result};
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::{Expiration, ImportOutcome};
use crate::kms::{self, KmsTarget};

/// Imports every key of `verified`, `concurrency` at a time, as far as `signed` (its ceremony
/// log verified with the trusted key, [`crate::app::audit::signed_ceremony`]) vouches for it.
pub fn run(
    verified: &VerifiedBundle,
    signed: &SignedCeremony,
    aws: &KmsTarget,
    expiration: Expiration,
    concurrency: usize,
) -> Result<Vec<ImportOutcome>> {
    let rt = kms::runtime()?;
    rt.block_on(async {
        let clients: Vec<_> = kms::import::connect_regions(verified, aws)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        kms::import::import_regions(&clients, verified, signed, expiration, concurrency).await
    })
    .map_err(Error::from)
}
