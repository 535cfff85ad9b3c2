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
        // With --region, everything goes there (and a key of another region is refused);
        // without it, each key goes to the region its bundle entry names.
        let regions = match &aws.region {
            Some(r) => vec![r.clone()],
            None => kms::import::regions(verified),
        };
        let mut clients = Vec::new();
        for region in regions {
            let target = kms::KmsTarget {
                region: Some(region),
                ..aws.clone()
            };
            clients.push(kms::connect(&target).await?);
        }
        kms::import::import_regions(&clients, verified, expiration, concurrency).await
    })
    .map_err(Error::from)
}
