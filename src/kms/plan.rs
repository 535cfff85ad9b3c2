//! `keyrite kms prepare --plan`: every key of a rotation plan checked against what the plan says
//! (EXTERNAL, in the planned account and region, the alias pointing at the planned key), then all
//! their import parameters fetched into one bundle. One refused key prepares nothing.

use std::collections::BTreeMap;
use std::path::Path;

use super::prepare::{Prepared, check_key, refuse_existing, write_bundle};
use super::{Client, KmsError, KmsTarget, connect};

type Result<T, E = KmsError> = std::result::Result<T, E>;
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::names::KeyRef;
use crate::core::plan::{Plan, PlannedKey};

pub async fn prepare_plan(
    target: &KmsTarget,
    plan: &Plan,
    spec: WrappingKeySpec,
    algorithm: WrappingAlgorithm,
    out: &Path,
) -> Result<Prepared> {
    refuse_existing(out)?;
    let mut clients: BTreeMap<&str, Client> = BTreeMap::new();
    for region in plan.regions() {
        let t = KmsTarget {
            region: Some(region.to_string()),
            ..target.clone()
        };
        clients.insert(region, connect(&t).await?);
    }
    let mut checked = Vec::new();
    for planned in &plan.keys {
        let Some(client) = clients.get(planned.region.as_str()) else {
            continue;
        };
        checked.push((client, check_planned(client, planned).await?));
    }
    write_bundle(&checked, spec, algorithm, out).await
}

async fn check_planned(
    client: &Client,
    planned: &PlannedKey,
) -> Result<super::prepare::CheckedKey> {
    let alias = planned.alias();
    let refused = |message: String, hint: &str| KmsError::Refused {
        key: alias.clone(),
        message,
        hint: hint.into(),
    };
    let key = match check_key(client, &KeyRef::Alias(alias.clone())).await {
        Err(KmsError::Service { code, .. }) if code == "NotFoundException" => {
            return Err(refused(
                format!(
                    "no such alias in region {} of the account these credentials reach; the plan puts {}-{} in account {}, region {}",
                    planned.region,
                    planned.environment,
                    planned.service,
                    planned.account,
                    planned.region
                ),
                "create the key and alias where the plan says, or correct the plan",
            ));
        }
        other => other?,
    };
    if key.account != planned.account {
        return Err(refused(
            format!(
                "the key {} is in account {}, the plan says {}",
                key.arn, key.account, planned.account
            ),
            "use credentials for the planned account, or correct the plan",
        ));
    }
    let arn_region = key.arn.split(':').nth(3).unwrap_or("");
    if arn_region != planned.region {
        return Err(refused(
            format!(
                "the key {} is in region {arn_region}, the plan says {}",
                key.arn, planned.region
            ),
            "correct the plan or the alias",
        ));
    }
    if !planned.expects(&key.key_id, &key.arn) {
        return Err(refused(
            format!(
                "the alias points at {}, the plan says {}",
                key.arn,
                planned.key_id.as_deref().unwrap_or("")
            ),
            "find out who moved the alias (CloudTrail UpdateAlias), then fix the alias or the plan",
        ));
    }
    Ok(key)
}
