//! `keyrite kms rollback`: pending material an import staged but never rotated to, deleted.

use crate::app::error::{Error, Result};
use crate::io::bundle::VerifiedBundle;
use crate::kms::rollback::KeyRollback;
use crate::kms::{self, KmsTarget};

pub fn run(verified: &VerifiedBundle, aws: &KmsTarget) -> Result<Vec<KeyRollback>> {
    let rt = kms::runtime()?;
    rt.block_on(async {
        let clients = kms::import::connect_regions(verified, aws).await?;
        kms::rollback::rollback(
            |region| clients.iter().find(|(r, _)| r == region).map(|(_, c)| c),
            verified,
        )
        .await
    })
    .map_err(Error::from)
}
