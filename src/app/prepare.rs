//! `keyrite kms prepare`: each key checked and its import parameters fetched into a new bundle,
//! signed by its preparer with `--sign-with` ([`crate::app::provenance`]).

use std::path::Path;

use crate::app::error::{Error, Result};
use crate::app::provenance::{self, SignWith};
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::aws_cli_params::CliParameters;
use crate::core::names::KeyRef;
use crate::core::plan::Plan;
use crate::core::provenance::{Role, ValidSignature};
use crate::io::bundle::Bundle;
use crate::kms::prepare::Prepared;
use crate::kms::{self, KmsTarget};

pub struct PrepareRequest<'a> {
    pub target: KmsTarget,
    pub keys: &'a [KeyRef],
    pub plan: Option<&'a Plan>,
    pub spec: WrappingKeySpec,
    pub algorithm: WrappingAlgorithm,
    pub out: &'a Path,
    pub supplied: Option<&'a CliParameters>,
    /// Regions to make replicas of each (multi-Region primary) key in first.
    pub replicate_to: &'a [String],
    /// Rotation by a new key per alias (`--new-key`).
    pub new_key: bool,
    /// The preparer's key: signs the new bundle's fingerprint into provenance.json.
    pub sign_with: Option<&'a SignWith>,
}

/// A prepared bundle, and the preparer's signature when one was asked for.
pub struct PreparedSigned {
    pub prepared: Prepared,
    pub signature: Option<ValidSignature>,
}

pub fn run(r: &PrepareRequest<'_>) -> Result<PreparedSigned> {
    // A file key that cannot sign is refused before anything is fetched.
    if let Some(signer) = r.sign_with {
        signer.check()?;
    }
    let prepared = fetch(r)?;
    let signature = match r.sign_with {
        None => None,
        Some(signer) => {
            let signed = Bundle::verify(r.out)
                .map_err(Error::from)
                .and_then(|b| provenance::sign(&b, Role::Prepare, signer));
            match signed {
                Ok(s) => Some(s),
                Err(e) => {
                    // An unsigned bundle where a signed one was asked for is not left behind.
                    let _ = std::fs::remove_dir_all(r.out);
                    return Err(e);
                }
            }
        }
    };
    Ok(PreparedSigned {
        prepared,
        signature,
    })
}

fn fetch(r: &PrepareRequest<'_>) -> Result<Prepared> {
    let rt = kms::runtime()?;
    rt.block_on(async {
        if let Some(plan) = &r.plan {
            return kms::plan::prepare_plan(&r.target, plan, r.spec, r.algorithm, r.out).await;
        }
        let client = kms::connect(&r.target).await?;
        let req = kms::prepare::PrepareRequest {
            keys: r.keys,
            spec: r.spec,
            algorithm: r.algorithm,
            out: r.out,
            supplied: r.supplied,
            replicate_to: r.replicate_to,
        };
        if r.new_key {
            return kms::new_key::prepare(&client, &req).await;
        }
        kms::prepare::prepare(&client, &req).await
    })
    .map_err(Error::from)
}
