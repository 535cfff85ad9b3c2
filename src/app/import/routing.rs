//! Which KMS client imports which key: a plan's bundle may span regions, and each key goes to
//! the client of its own region (or is refused when the import targets another).

use crate::app::error::{Error, Result};
use crate::core::manifest::KeyEntry;
use crate::io::bundle::VerifiedBundle;
use crate::kms::{self, Client, KmsTarget};

/// The regions a bundle's keys live in, each once.
pub fn regions(bundle: &VerifiedBundle) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = bundle
        .manifest()
        .keys
        .iter()
        .map(|k| k.region.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// A KMS client per region the bundle's keys are in: with `aws.region`, that one region only (a
/// key of another region is then refused by [`route`]); without it, each region a key names.
pub async fn connect_regions(
    bundle: &VerifiedBundle,
    aws: &KmsTarget,
) -> Result<Vec<(String, Client)>> {
    let regions = match &aws.region {
        Some(r) => vec![r.clone()],
        None => regions(bundle),
    };
    let mut clients = Vec::new();
    for region in regions {
        let target = KmsTarget {
            region: Some(region.clone()),
            ..aws.clone()
        };
        clients.push((region, kms::connect(&target).await?));
    }
    Ok(clients)
}

/// Each key of the bundle, in its order, with the client of its region; refused, before
/// anything is sent, for a key whose region has no client.
pub fn route<'a>(
    clients: &'a [Client],
    bundle: &'a VerifiedBundle,
) -> Result<Vec<(&'a Client, &'a KeyEntry)>> {
    let region_of = |c: &Client| c.config().region().map(|r| r.to_string());
    let mut routed = Vec::new();
    for key in &bundle.manifest().keys {
        let Some(client) = clients
            .iter()
            .find(|c| region_of(c).as_deref() == Some(key.region.as_str()))
        else {
            let regions: Vec<String> = clients.iter().filter_map(region_of).collect();
            return Err(Error::KeyRefused {
                key: key.name.clone(),
                message: format!(
                    "the bundle was prepared for region {}, but this import targets {}",
                    key.region,
                    regions.join(", ")
                ),
                hint: format!(
                    "run the import with --region {} (or without --region: keyrite then uses each key's own region)",
                    key.region
                ),
            });
        };
        routed.push((client, key));
    }
    Ok(routed)
}
