//! `keyrite kms import`: the bundle's keys imported into KMS, each in the region its entry names
//! (or the one `--region` gives).

use crate::app::error::{Error, Result};
use crate::core::log;
use crate::io::bundle::VerifiedBundle;
use crate::io::fs as fsio;
use crate::kms::import::{Expiration, ImportOutcome};
use crate::kms::{self, KmsTarget};

/// A bundle a ceremony wrote is imported only once its log is closed by the ceremony.end record:
/// a ceremony that stopped is finished at the air gap first, an aborted one is never imported.
/// (That the manifest is the one the end record names is `audit verify`'s check.) A bundle no ceremony touched (wrapped by hand) has neither log nor
/// ceremony record and is let through.
pub fn check_ceremony_ended(verified: &VerifiedBundle) -> Result<()> {
    let path = verified.dir().join(log::FILE_NAME);
    if !fsio::exists_nofollow(&path) {
        return match verified.manifest().ceremony {
            Some(_) => Err(Error::CeremonyNotEnded { path }),
            None => Ok(()),
        };
    }
    let bytes = fsio::read_nofollow(&path)?;
    let ended = log::bodies(&bytes)?
        .last()
        .is_some_and(|b| b.step == log::step::END);
    if ended {
        Ok(())
    } else {
        Err(Error::CeremonyNotEnded { path })
    }
}

/// Imports every key of `verified`, `concurrency` at a time.
pub fn run(
    verified: &VerifiedBundle,
    aws: &KmsTarget,
    expiration: Expiration,
    concurrency: usize,
) -> Result<Vec<ImportOutcome>> {
    check_ceremony_ended(verified)?;
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
