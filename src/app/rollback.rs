//! `keyrite kms rollback`: pending material an import staged but never rotated to, deleted; an
//! alias a new key took over, moved back. Only as far as the verified ceremony log vouches.

use std::path::Path;

use crate::app::error::{Error, Result};
use crate::io::bundle::VerifiedBundle;
use crate::kms::rollback::KeyRollback;
use crate::kms::{self, KmsTarget};

pub fn run(
    verified: &VerifiedBundle,
    trust: Option<&Path>,
    aws: &KmsTarget,
) -> Result<Vec<KeyRollback>> {
    let signed = crate::app::audit::signed_ceremony(verified, trust)?;
    let rt = kms::runtime()?;
    rt.block_on(async {
        let clients = kms::import::connect_regions(verified, aws).await?;
        kms::rollback::rollback(
            |region| clients.iter().find(|(r, _)| r == region).map(|(_, c)| c),
            verified,
            &signed,
        )
        .await
    })
    .map_err(Error::from)
}
