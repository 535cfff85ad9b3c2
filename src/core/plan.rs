//! Rotation plans: which keys a rotation covers, named by environment and service, with the AWS
//! account and region each must live in. Strict TOML, fully validated before KMS is asked anything.
//!
//! ```toml
//! [plan]
//! name = "2026-Q4 rotation"
//!
//! [[key]]
//! environment = "prod"
//! service = "s3"
//! account = "111122223333"
//! region = "eu-west-1"
//! # alias = "alias/prod-s3"   (default: alias/<environment>-<service>)
//! # key_id = "1234abcd-..."   (optional: the key id or ARN the alias must point to)
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;

use super::import_rules::ImportRuleError;
use super::import_rules::check_key_arn;
use super::names::{KeyRef, KeyRefError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub plan: PlanSection,
    #[serde(rename = "key")]
    pub keys: Vec<PlannedKey>,
    /// How `kms inventory` tells a resource's environment (default: tags `environment`/`env`,
    /// then a word of its name among dev, int, prod).
    #[serde(default)]
    pub segregation: Option<super::inventory::SegregationRules>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSection {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedKey {
    pub environment: String,
    pub service: String,
    pub account: String,
    pub region: String,
    #[serde(default)]
    pub alias: Option<String>,
    /// The key id or key ARN the alias must point to.
    #[serde(default)]
    pub key_id: Option<String>,
}

impl PlannedKey {
    /// The alias the plan names: as written, or `alias/<environment>-<service>`.
    pub fn alias(&self) -> String {
        self.alias
            .clone()
            .unwrap_or_else(|| format!("alias/{}-{}", self.environment, self.service))
    }

    /// True when `key_id` / `arn` is the key the plan expects (or the plan names none).
    pub fn expects(&self, key_id: &str, arn: &str) -> bool {
        match &self.key_id {
            None => true,
            Some(k) if k.starts_with("arn:") => k == arn,
            Some(k) => k == key_id,
        }
    }
}

/// Why a plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Toml(String),
    #[error("[plan] name is empty")]
    NoName,
    #[error("the plan names no [[key]]")]
    NoKeys,
    /// A `[[key]]` entry (`at` names it: number, environment and service).
    #[error("{at}: {problem}")]
    Key {
        at: String,
        problem: PlannedKeyError,
    },
}

/// What is wrong with one `[[key]]` of a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlannedKeyError {
    #[error("{field} {value:?} must be lower-case letters, digits and '-'")]
    Name { field: &'static str, value: String },
    #[error("account {0:?} is not a 12-digit AWS account id")]
    Account(String),
    #[error("region {0:?} is not an AWS region name (like eu-west-1)")]
    Region(String),
    #[error("alias {0:?} must start with alias/")]
    NotAlias(String),
    #[error(transparent)]
    Alias(#[from] KeyRefError),
    #[error("key_id: {0}")]
    KeyArn(#[from] ImportRuleError),
    #[error("key_id {0:?} is not a key id or key ARN")]
    KeyId(String),
    #[error("{0} is planned twice")]
    AliasTwice(String),
    #[error("environment {environment} service {service} is planned twice")]
    PlaceTwice {
        environment: String,
        service: String,
    },
}

impl Plan {
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan = toml::from_str(text).map_err(|e| PlanError::Toml(e.to_string()))?;
        if plan.plan.name.trim().is_empty() {
            return Err(PlanError::NoName);
        }
        if plan.keys.is_empty() {
            return Err(PlanError::NoKeys);
        }
        let mut aliases = BTreeSet::new();
        let mut places = BTreeSet::new();
        for (i, k) in plan.keys.iter().enumerate() {
            let at = format!("[[key]] {} ({}-{})", i + 1, k.environment, k.service);
            let err = |problem: PlannedKeyError| PlanError::Key {
                at: at.clone(),
                problem,
            };
            for (field, value) in [("environment", &k.environment), ("service", &k.service)] {
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    return Err(err(PlannedKeyError::Name {
                        field,
                        value: value.clone(),
                    }));
                }
            }
            if k.account.len() != 12 || !k.account.chars().all(|c| c.is_ascii_digit()) {
                return Err(err(PlannedKeyError::Account(k.account.clone())));
            }
            if !is_region(&k.region) {
                return Err(err(PlannedKeyError::Region(k.region.clone())));
            }
            let alias = k.alias();
            match KeyRef::parse(&alias) {
                Ok(KeyRef::Alias(_)) => {}
                Ok(_) => return Err(err(PlannedKeyError::NotAlias(alias))),
                Err(e) => return Err(err(e.into())),
            }
            if let Some(id) = &k.key_id {
                if id.starts_with("arn:") {
                    let key = id.rsplit('/').next().unwrap_or("");
                    check_key_arn(id, &k.region, &k.account, key).map_err(|e| err(e.into()))?;
                } else if !matches!(KeyRef::parse(id), Ok(KeyRef::KeyId(_))) {
                    return Err(err(PlannedKeyError::KeyId(id.clone())));
                }
            }
            if !aliases.insert((k.account.clone(), k.region.clone(), alias.clone())) {
                return Err(err(PlannedKeyError::AliasTwice(alias)));
            }
            if !places.insert((k.environment.clone(), k.service.clone())) {
                return Err(err(PlannedKeyError::PlaceTwice {
                    environment: k.environment.clone(),
                    service: k.service.clone(),
                }));
            }
        }
        Ok(plan)
    }

    /// What each planned alias is for, for the inventory's segregation check.
    pub fn purposes(&self) -> std::collections::BTreeMap<String, super::inventory::Purpose> {
        self.keys
            .iter()
            .map(|k| {
                (
                    k.alias(),
                    super::inventory::Purpose {
                        environment: k.environment.clone(),
                        service: k.service.clone(),
                    },
                )
            })
            .collect()
    }

    /// The regions the plan touches, each once, in order.
    pub fn regions(&self) -> BTreeSet<&str> {
        self.keys.iter().map(|k| k.region.as_str()).collect()
    }
}

/// `xx-name-N` or `xx-name-name-N` (us-east-1, ap-southeast-2, us-gov-west-1, eu-central-2).
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].len() == 2
        && parts
            .last()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[plan]
name = "Q4"

[[key]]
environment = "prod"
service = "s3"
account = "111122223333"
region = "eu-west-1"

[[key]]
environment = "dev"
service = "rds"
account = "444455556666"
region = "us-east-1"
alias = "alias/team/dev-rds"
key_id = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab"
"#;

    #[test]
    fn the_example_plan_parses() {
        let p = Plan::parse(include_str!("../../plans/example.toml")).unwrap();
        assert_eq!(p.keys.len(), 9);
        assert_eq!(p.keys[8].alias(), "alias/prod/dynamodb-tables");
        assert_eq!(p.regions().len(), 2);
    }

    #[test]
    fn a_good_plan_parses_with_default_aliases() {
        let p = Plan::parse(GOOD).unwrap();
        assert_eq!(p.keys[0].alias(), "alias/prod-s3");
        assert_eq!(p.keys[1].alias(), "alias/team/dev-rds");
        assert_eq!(
            p.regions().into_iter().collect::<Vec<_>>(),
            ["eu-west-1", "us-east-1"]
        );
        assert!(p.keys[1].expects(
            "1234abcd-12ab",
            "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab"
        ));
        assert!(!p.keys[1].expects("other", "arn:aws:kms:us-east-1:444455556666:key/other"));
        assert!(p.keys[0].expects("anything", "arn:any"));
    }

    #[test]
    fn segregation_rules_and_purposes() {
        let p = Plan::parse(GOOD).unwrap();
        assert_eq!(p.segregation, None);
        let purposes = p.purposes();
        assert_eq!(purposes["alias/prod-s3"].environment, "prod");
        assert_eq!(purposes["alias/team/dev-rds"].service, "rds");
        let with = GOOD.replace(
            "name = \"Q4\"\n",
            "name = \"Q4\"\n\n[segregation]\nenvironments = [\"dev\", \"production\"]\n",
        );
        let rules = Plan::parse(&with).unwrap().segregation.unwrap();
        assert_eq!(rules.environments, ["dev", "production"]);
        assert_eq!(rules.environment_tags, ["environment", "env"]);
        let bad = with.replace("environments", "environmets");
        assert!(
            Plan::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        let cases = [
            (
                GOOD.replace("name = \"Q4\"", "name = \"Q4\"\nowner = \"x\""),
                "unknown field",
            ),
            (
                GOOD.replace("service = \"s3\"", "service = \"s3\"\nregoin = \"x\""),
                "unknown field",
            ),
            (
                GOOD.replace("\"111122223333\"", "\"11112222333\""),
                "12-digit",
            ),
            (GOOD.replace("\"eu-west-1\"", "\"europe\""), "region"),
            (GOOD.replace("\"prod\"", "\"Prod\""), "lower-case"),
            (GOOD.replace("alias/team/dev-rds", "alias/aws/rds"), "alias"),
            (GOOD.replace("alias/team/dev-rds", "team/dev-rds"), "alias/"),
            (
                GOOD.replace(":444455556666:key", ":111122223333:key"),
                "key_id",
            ),
            (GOOD.replace("us-east-1:", "eu-west-1:"), "key_id"),
            (
                GOOD.replace("\"dev\"", "\"prod\"")
                    .replace("\"rds\"", "\"s3\""),
                "twice",
            ),
            (
                GOOD.replace(
                    "alias = \"alias/team/dev-rds\"",
                    "alias = \"alias/prod-s3\"",
                )
                .replace("444455556666", "111122223333")
                .replace("us-east-1", "eu-west-1"),
                "twice",
            ),
            ("key = []\n[plan]\nname = \"x\"\n".to_string(), "no [[key]]"),
            (
                GOOD.replace("name = \"Q4\"", "name = \" \""),
                "name is empty",
            ),
        ];
        for (text, want) in cases {
            let err = Plan::parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?}, got {err}\n{text}");
        }
    }
}
