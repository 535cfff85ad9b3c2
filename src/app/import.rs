//! `keyrite kms import`: the bundle's keys imported into KMS, each in the region its entry names
//! (or the one `--region` gives).

use crate::app::error::{Error, Result};
use crate::io::bundle::VerifiedBundle;
use crate::kms::import::{Expiration, ImportOutcome};
use crate::kms::{self, KmsTarget};

/// Imports every key of `verified`, `concurrency` at a time.
pub fn run(
    verified: &VerifiedBundle,
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
        kms::import::import_regions(&clients, verified, expiration, concurrency).await
    })
    .map_err(Error::from)
}
