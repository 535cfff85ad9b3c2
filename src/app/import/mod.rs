//! `keyrite kms import`: the bundle's keys imported into KMS, each in the region its entry names
//! (or the one `--region` gives), after its ceremony log is verified with the trusted log key. A
//! key with material gets the new material as NEW_KEY_MATERIAL and is rotated to it on demand, so
//! its ARN and aliases never change and old ciphertext keeps decrypting.
//!
//! The driver: [`preflight`] checks what needs no network, [`routing`] gives each key the client
//! of its region, [`key`] imports one key and checks what KMS then reports, [`journal`] keeps
//! the progress file a re-run resumes from, and the receipt records each key KMS accepted. The
//! KMS calls themselves are [`crate::kms::import`]'s.

pub mod aws_cli;
pub mod journal;
pub mod key;
pub mod preflight;
pub mod replicas;
pub mod routing;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;

use crate::app::error::Result;
use crate::core::import_progress::KeyProgress;
use crate::core::manifest::KeyEntry;
use crate::core::signed_ceremony::SignedCeremony;
use crate::io::bundle::VerifiedBundle;
use crate::io::receipt_file::ReceiptFile;
use crate::kms::{self, Client, KmsTarget};
use journal::{Journal, poisoned};

pub use crate::core::receipt::ImportOutcome;
pub use crate::kms::import::Expiration;
pub use aws_cli::aws_cli_equivalent;
pub use key::{ALREADY_IMPORTED, signed_take_over};
pub use preflight::{VALIDITY_MARGIN, check_vouched, preflight};
pub use routing::{connect_regions, regions};

/// How many keys an import works on at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

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
        let clients: Vec<_> = connect_regions(verified, aws)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        import_regions(&clients, verified, signed, expiration, concurrency).await
    })
}

/// Imports every key of the bundle through `client`, whose region must be the bundle's.
pub async fn import(
    client: &Client,
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    expiration: Expiration,
) -> Result<Vec<ImportOutcome>> {
    import_regions(
        std::slice::from_ref(client),
        bundle,
        signed,
        expiration,
        DEFAULT_CONCURRENCY,
    )
    .await
}

/// Imports every key of the bundle, each through the client of its region (a plan's bundle may
/// span regions), up to `concurrency` keys at once. A key whose region has no client is refused
/// before anything is sent. Outcomes come back in the bundle's key order.
pub async fn import_regions(
    clients: &[Client],
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    expiration: Expiration,
    concurrency: usize,
) -> Result<Vec<ImportOutcome>> {
    check_vouched(bundle, signed)?;
    preflight(bundle, expiration, Timestamp::now())?;
    let routed = routing::route(clients, bundle)?;
    let journal = Mutex::new(Journal::open(bundle)?);
    let receipt = Mutex::new(ReceiptFile::open(bundle, "import", signed)?);
    // After the first failure no further key is started; keys already in flight finish, so each
    // one's progress is recorded in a state a re-run can resume from.
    let stop = AtomicBool::new(false);
    let results: Vec<(usize, Result<Option<ImportOutcome>>)> =
        stream::iter(routed.into_iter().enumerate())
            .map(|(i, (client, key))| {
                let (journal, receipt, stop) = (&journal, &receipt, &stop);
                async move {
                    if stop.load(Ordering::SeqCst) {
                        return (i, Ok(None));
                    }
                    let result = import_and_record(
                        client, bundle, signed, key, expiration, journal, receipt,
                    )
                    .await
                    .map(Some);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    (i, result)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for (_, r) in results {
        match r {
            Ok(Some(o)) => outcomes.push(o),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let receipt = receipt.into_inner().map_err(|_| poisoned())?;
    receipt.finish()?;
    Ok(outcomes)
}

/// One key: import it, then write its receipt record and only then mark it done.
async fn import_and_record(
    client: &Client,
    bundle: &VerifiedBundle,
    signed: &SignedCeremony,
    key: &KeyEntry,
    expiration: Expiration,
    journal: &Mutex<Journal>,
    receipt: &Mutex<ReceiptFile>,
) -> Result<ImportOutcome> {
    let mut outcome = key::import_one(client, bundle, key, expiration, journal).await?;
    if outcome.kind != ALREADY_IMPORTED {
        receipt.lock().map_err(|_| poisoned())?.imported(&outcome)?;
        // Rotation by a new key: the new key was checked (Enabled, its material current), so
        // the alias moves to it now, and the move is recorded.
        if let Some(take) = &signed_take_over(signed, key) {
            outcome.alias_moved =
                kms::new_key::move_alias(client, key, take, &take.previous_key_arn, &key.key_arn)
                    .await?;
            if let Some(m) = &outcome.alias_moved {
                receipt.lock().map_err(|_| poisoned())?.alias_moved(m)?;
            }
        }
    }
    journal::record(
        journal,
        &outcome.name,
        KeyProgress::Done {
            key_material_id: outcome.key_material_id.clone(),
        },
    )?;
    Ok(outcome)
}
