//! `keyrite kms rollback`: pending material an import staged but never rotated to, deleted.

use crate::app::error::{Error, Result};
use crate::io::bundle::VerifiedBundle;
use crate::kms::rollback::KeyRollback;
use crate::kms::{self, KmsTarget};

pub fn run(verified: &VerifiedBundle, aws: &KmsTarget) -> Result<Vec<KeyRollback>> {
    let rt = kms::runtime()?;
    rt.block_on(async {
        let regions = match &aws.region {
            Some(r) => vec![r.clone()],
            None => kms::import::regions(verified),
        };
        let mut clients = Vec::new();
        for region in regions {
            let target = kms::KmsTarget {
                region: Some(region.clone()),
                ..aws.clone()
            };
            clients.push((region, kms::connect(&target).await?));
        }
        kms::rollback::rollback(
            |region| clients.iter().find(|(r, _)| r == region).map(|(_, c)| c),
            verified,
        )
        .await
    })
    .map_err(Error::from)
}
