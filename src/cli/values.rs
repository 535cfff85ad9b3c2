//! Command-line values by their AWS names, parsed and listed (in --help and in shell completions)
//! by clap. The core's types stay free of clap: their names come from the core's own `as_str`.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};

impl ValueEnum for WrappingAlgorithm {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for WrappingKeySpec {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// `kms import --expiration-model`, as KMS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpirationModel {
    /// The imported material never expires (the default).
    #[value(name = "KEY_MATERIAL_DOES_NOT_EXPIRE")]
    DoesNotExpire,
    /// The imported material expires at --valid-to.
    #[value(name = "KEY_MATERIAL_EXPIRES")]
    Expires,
}

/// A Region name as AWS spells them (`us-west-2`), for --replicate-to and --multi-region.
pub fn region_name(s: &str) -> Result<String, String> {
    crate::core::names::check_region(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_value() {
        for a in WrappingAlgorithm::ALL {
            assert_eq!(WrappingAlgorithm::from_str(a.as_str(), false).unwrap(), a);
        }
        for s in WrappingKeySpec::ALL {
            assert_eq!(WrappingKeySpec::from_str(s.as_str(), false).unwrap(), s);
        }
        assert_eq!(
            ExpirationModel::from_str("KEY_MATERIAL_EXPIRES", false).unwrap(),
            ExpirationModel::Expires
        );
    }
}
