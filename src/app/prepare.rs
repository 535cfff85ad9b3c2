//! `keyrite kms prepare`: each key checked and its import parameters fetched into a new bundle.

use std::path::Path;

use crate::app::error::{Error, Result};
use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use crate::core::aws_cli_params::CliParameters;
use crate::core::names::KeyRef;
use crate::core::plan::Plan;
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
    /// Rotation by a new key per alias (`--new-key`).
    pub new_key: bool,
}

pub fn run(r: &PrepareRequest<'_>) -> Result<Prepared> {
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
        };
        if r.new_key {
            return kms::new_key::prepare(&client, &req).await;
        }
        kms::prepare::prepare(&client, &req).await
    })
    .map_err(Error::from)
}
