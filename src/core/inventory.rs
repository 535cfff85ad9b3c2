//! The inventory's rules: which EXTERNAL key a resource's encryption setting names, how it names
//! it, and whether the resource belongs with the key (segregation). Pure: the adapters read the
//! keys, aliases and resources; this decides.
//!
//! A resource names its key by alias (`alias/prod-s3` or the alias ARN), by key id or by key ARN.
//! Naming by id or ARN keeps working across a rotation but escapes a review that goes by alias,
//! so it is flagged where the service reports the setting as configured (S3). RDS and DynamoDB
//! report the key ARN they resolved whatever was configured: their naming is "resolved", never
//! flagged.
//!
//! Segregation: a key's environment and service come from its alias (`alias/<env>-<service>`,
//! the last path segment, or as the plan names them); a resource's service is its kind (an S3
//! bucket is `s3`, an RDS instance or cluster `rds`, a DynamoDB table `dynamodb`), its environment
//! is a tag (by default `environment` or `env`) or else a word of its name that is a known
//! environment. A resource whose environment or service differs from its key's is reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The services keyrite inventories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    S3Bucket,
    RdsInstance,
    RdsCluster,
    DynamodbTable,
}

impl ResourceKind {
    /// The service a key protecting this resource should be for.
    pub fn service(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "s3",
            ResourceKind::RdsInstance | ResourceKind::RdsCluster => "rds",
            ResourceKind::DynamodbTable => "dynamodb",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "s3 bucket",
            ResourceKind::RdsInstance => "rds instance",
            ResourceKind::RdsCluster => "rds cluster",
            ResourceKind::DynamodbTable => "dynamodb table",
        }
    }

    /// Whether the service reports the key setting as it was configured (so how it names the key
    /// is known) rather than the key ARN it resolved.
    fn reports_configured_name(self) -> bool {
        self == ResourceKind::S3Bucket
    }
}

/// A service whose resources the inventory reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    S3,
    Rds,
    Dynamodb,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::S3, Service::Rds, Service::Dynamodb];

    /// As `--services` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Rds => "rds",
            Service::Dynamodb => "dynamodb",
        }
    }

    /// As AWS writes it in prose.
    pub fn title(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::Rds => "RDS",
            Service::Dynamodb => "DynamoDB",
        }
    }
}

/// A `--services` list that names a service keyrite does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{given:?} is not a service keyrite inventories; the services are s3, rds and dynamodb: give one or more, comma-separated (e.g. --services s3,dynamodb)"
)]
pub struct UnknownService {
    pub given: String,
}

/// The services an inventory reads: each at most once, in a fixed order; never none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Services(Vec<Service>);

impl Default for Services {
    /// Every service.
    fn default() -> Self {
        Services(Service::ALL.to_vec())
    }
}

impl Services {
    /// `s3,rds,dynamodb`, any of them, in any order.
    pub fn parse(text: &str) -> Result<Services, UnknownService> {
        let mut chosen = Vec::new();
        for word in text.split(',') {
            let word = word.trim();
            let service = Service::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(word))
                .ok_or_else(|| UnknownService {
                    given: word.to_string(),
                })?;
            chosen.push(service);
        }
        chosen.sort();
        chosen.dedup();
        Ok(Services(chosen))
    }

    pub fn contains(&self, service: Service) -> bool {
        self.0.contains(&service)
    }

    pub fn iter(&self) -> impl Iterator<Item = Service> + '_ {
        self.0.iter().copied()
    }

    /// The `--services` value that reads all of these but `service` (None when nothing is left).
    pub fn without(&self, service: Service) -> Option<String> {
        let rest: Vec<&str> = self
            .iter()
            .filter(|s| *s != service)
            .map(Service::as_str)
            .collect();
        (!rest.is_empty()).then(|| rest.join(","))
    }
}

/// How long an AWS message may be in a report.
const MESSAGE_MAX: usize = 300;

/// A read the inventory could not make: its service's resources in that region (or the one
/// bucket or table named) are unknown, not absent. Every string is made safe for a terminal
/// and cut to a bounded length: it comes from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub service: Service,
    pub region: String,
    /// The AWS call that was refused or failed (`rds:DescribeDBInstances`).
    pub operation: String,
    /// The bucket or table the call was about; None for a listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// AWS's error code (AccessDenied, …), or `unreachable` when no answer came.
    pub code: String,
    pub message: String,
    pub what_to_do: String,
}

/// The IAM action that allows an API call (they differ for some S3 calls).
pub fn permission(operation: &str) -> &str {
    match operation {
        "s3:ListBuckets" => "s3:ListAllMyBuckets",
        "s3:GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        other => other,
    }
}

/// The code an unanswered call is reported with.
pub const UNREACHABLE: &str = "unreachable";
/// The code of a read this keyrite cannot make: it was built without its `resources` feature.
pub const NOT_IN_THIS_BUILD: &str = "NotInThisBuild";
/// What to do about [`NOT_IN_THIS_BUILD`].
pub const REBUILD_WITH_RESOURCES: &str = "build keyrite with its default features (`cargo build --release`), which read S3, RDS, DynamoDB and CloudTrail";

impl Unreadable {
    /// What could not be read and what to do about it; `services` are the ones asked for.
    pub fn new(
        services: &Services,
        service: Service,
        region: &str,
        operation: &str,
        resource: Option<&str>,
        code: &str,
        message: &str,
    ) -> Unreadable {
        let clean = |s: &str| -> String {
            let s = crate::core::terminal::one_line(s);
            let mut out: String = s.chars().take(MESSAGE_MAX).collect();
            if s.chars().count() > MESSAGE_MAX {
                out.push('…');
            }
            out
        };
        let mut u = Unreadable {
            service,
            region: clean(region),
            operation: clean(operation),
            resource: resource.map(clean),
            code: clean(code),
            message: clean(message),
            what_to_do: String::new(),
        };
        let remedy = u.remedy();
        u.what_to_do = match services.without(service) {
            Some(rest) => format!(
                "{remedy}, or leave {} out with --services {rest}",
                service.as_str()
            ),
            None => remedy,
        };
        u
    }

    /// What makes the read work: the IAM permission to allow, or the endpoint to check.
    pub fn remedy(&self) -> String {
        if self.code == NOT_IN_THIS_BUILD {
            REBUILD_WITH_RESOURCES.to_string()
        } else if self.code == UNREACHABLE {
            format!(
                "check the network and the {} endpoint (AWS_ENDPOINT_URL_{})",
                self.service.title(),
                self.service.as_str().to_ascii_uppercase()
            )
        } else {
            format!("allow {} to the caller's role", permission(&self.operation))
        }
    }

    /// One line for people: `rds in us-east-1: rds:DescribeDBInstances failed: <code>: <message>`.
    pub fn summary(&self) -> String {
        format!(
            "{} in {}{}: {} failed: {}{}",
            self.service.as_str(),
            self.region,
            self.resource
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            self.operation,
            self.code,
            if self.message.is_empty() {
                String::new()
            } else {
                format!(": {}", self.message)
            }
        )
    }
}

/// An EXTERNAL key as KMS lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Key {
    pub key_id: String,
    pub key_arn: String,
    pub region: String,
    pub aliases: Vec<String>,
    /// A multi-Region key: the other Regions its related keys (primary, replicas) are in, which
    /// hold the same key material; the inventory reads them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_regions: Vec<String>,
}

/// A resource and the key setting its service reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub kind: ResourceKind,
    pub name: String,
    pub region: String,
    /// The key as the service reports it: alias name, alias ARN, key id or key ARN.
    pub key_setting: String,
    pub tags: BTreeMap<String, String>,
}

/// How a resource names its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamedBy {
    Alias,
    KeyId,
    KeyArn,
    /// The service reports the key ARN it resolved; how it was configured is not known.
    Resolved,
}

impl NamedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            NamedBy::Alias => "alias",
            NamedBy::KeyId => "key id",
            NamedBy::KeyArn => "key ARN",
            NamedBy::Resolved => "resolved ARN",
        }
    }

    /// Named so that an alias-based review does not see it.
    pub fn escapes_alias_review(self) -> bool {
        matches!(self, NamedBy::KeyId | NamedBy::KeyArn)
    }
}

/// Where keys' and resources' environments come from; `[segregation]` in a plan file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SegregationRules {
    /// The environments there are; a word of a resource's name that is one of them is its
    /// environment when no tag says.
    #[serde(default = "default_environments")]
    pub environments: Vec<String>,
    /// Tag keys holding a resource's environment, first found wins (compared ignoring case).
    #[serde(default = "default_environment_tags")]
    pub environment_tags: Vec<String>,
}

fn default_environments() -> Vec<String> {
    ["dev", "int", "prod"].map(String::from).to_vec()
}

fn default_environment_tags() -> Vec<String> {
    ["environment", "env"].map(String::from).to_vec()
}

impl Default for SegregationRules {
    fn default() -> Self {
        SegregationRules {
            environments: default_environments(),
            environment_tags: default_environment_tags(),
        }
    }
}

/// What a key is for: its environment and service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purpose {
    pub environment: String,
    pub service: String,
}

/// The purpose an alias names: the last segment of `alias/…/<env>-<service>` with a known
/// environment.
pub fn purpose_of_alias(alias: &str, rules: &SegregationRules) -> Option<Purpose> {
    let last = alias.strip_prefix("alias/")?.rsplit('/').next()?;
    let (env, service) = last.split_once('-')?;
    if service.is_empty() || !rules.environments.iter().any(|e| e == env) {
        return None;
    }
    Some(Purpose {
        environment: env.to_string(),
        service: service.to_string(),
    })
}

/// The environment a resource is in: a tag, else a word of its name.
pub fn environment_of(resource: &Resource, rules: &SegregationRules) -> Option<String> {
    for t in &rules.environment_tags {
        if let Some((_, v)) = resource
            .tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(t))
        {
            return Some(v.to_ascii_lowercase());
        }
    }
    resource
        .name
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| rules.environments.iter().any(|e| e == w))
        .map(str::to_string)
}

/// Why a resource does not belong with its key.
pub fn segregation(
    key: Option<&Purpose>,
    resource: &Resource,
    rules: &SegregationRules,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(key) = key else { return out };
    if resource.kind.service() != key.service {
        out.push(format!(
            "a {} protected by a {} key",
            resource.kind.as_str(),
            key.service
        ));
    }
    if let Some(env) = environment_of(resource, rules)
        && env != key.environment
    {
        out.push(format!(
            "a {env} resource protected by a {} key",
            key.environment
        ));
    }
    out
}

/// The keys of one or more regions, looked up the ways a resource may name one.
pub struct KeyIndex<'k> {
    keys: &'k [Key],
    by_arn: BTreeMap<&'k str, usize>,
    by_region_id: BTreeMap<(&'k str, &'k str), usize>,
    by_region_alias: BTreeMap<(&'k str, &'k str), usize>,
}

impl<'k> KeyIndex<'k> {
    pub fn new(keys: &'k [Key]) -> KeyIndex<'k> {
        let mut ix = KeyIndex {
            keys,
            by_arn: BTreeMap::new(),
            by_region_id: BTreeMap::new(),
            by_region_alias: BTreeMap::new(),
        };
        for (i, k) in keys.iter().enumerate() {
            ix.by_arn.insert(&k.key_arn, i);
            ix.by_region_id.insert((&k.region, &k.key_id), i);
            for a in &k.aliases {
                ix.by_region_alias.insert((&k.region, a), i);
            }
        }
        ix
    }

    /// The key a resource's setting names, and how; None for a key not in the index (not
    /// EXTERNAL, another account, or an AWS managed key).
    pub fn resolve(&self, resource: &Resource) -> Option<(usize, NamedBy)> {
        let s = resource.key_setting.as_str();
        let (found, named) = if let Some(rest) = s.strip_prefix("arn:") {
            // arn:<partition>:kms:<region>:<account>:key/<id> | alias/<name>
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [_, "kms", region, _, resource_part] = parts.as_slice() else {
                return None;
            };
            if resource_part.starts_with("key/") {
                (self.by_arn.get(s).copied(), NamedBy::KeyArn)
            } else if resource_part.starts_with("alias/") {
                (
                    self.by_region_alias
                        .get(&(*region, *resource_part))
                        .copied(),
                    NamedBy::Alias,
                )
            } else {
                return None;
            }
        } else if s.starts_with("alias/") {
            (
                self.by_region_alias
                    .get(&(resource.region.as_str(), s))
                    .copied(),
                NamedBy::Alias,
            )
        } else {
            (
                self.by_region_id
                    .get(&(resource.region.as_str(), s))
                    .copied(),
                NamedBy::KeyId,
            )
        };
        let found = found?;
        let named = if resource.kind.reports_configured_name() {
            named
        } else {
            NamedBy::Resolved
        };
        Some((found, named))
    }

    pub fn key(&self, i: usize) -> &'k Key {
        &self.keys[i]
    }
}

/// One resource under a key, with what the inventory found about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceUse {
    pub kind: ResourceKind,
    pub name: String,
    pub region: String,
    pub key_setting: String,
    pub named_by: NamedBy,
    /// Named by key id or ARN: keeps working across rotation but escapes alias-based review.
    pub escapes_alias_review: bool,
    pub environment: Option<String>,
    /// Why it does not belong with its key (empty when it does, or when nothing says).
    pub segregation: Vec<String>,
}

/// One EXTERNAL key with the resources that use it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyResources {
    #[serde(flatten)]
    pub key: Key,
    pub purpose: Option<Purpose>,
    pub resources: Vec<ResourceUse>,
}

/// Every key with its resources. Resources naming a key not among `keys` are left out: they
/// are not under an EXTERNAL key of these regions. `purposes` maps an alias to what the plan
/// says it is for; other aliases are read as `<env>-<service>`.
pub fn map(
    keys: &[Key],
    resources: &[Resource],
    rules: &SegregationRules,
    purposes: &BTreeMap<String, Purpose>,
) -> Vec<KeyResources> {
    let ix = KeyIndex::new(keys);
    let mut out: Vec<KeyResources> = keys
        .iter()
        .map(|k| {
            let purpose = k.aliases.iter().find_map(|a| {
                purposes
                    .get(a)
                    .cloned()
                    .or_else(|| purpose_of_alias(a, rules))
            });
            KeyResources {
                key: k.clone(),
                purpose,
                resources: Vec::new(),
            }
        })
        .collect();
    for r in resources {
        let Some((i, named_by)) = ix.resolve(r) else {
            continue;
        };
        let entry = &mut out[i];
        entry.resources.push(ResourceUse {
            kind: r.kind,
            name: r.name.clone(),
            region: r.region.clone(),
            key_setting: r.key_setting.clone(),
            named_by,
            escapes_alias_review: named_by.escapes_alias_review(),
            environment: environment_of(r, rules),
            segregation: segregation(entry.purpose.as_ref(), r, rules),
        });
    }
    for e in &mut out {
        e.resources
            .sort_by(|a, b| (a.kind, &a.region, &a.name).cmp(&(b.kind, &b.region, &b.name)));
    }
    out.sort_by(|a, b| {
        (a.key.aliases.first(), &a.key.region, &a.key.key_id).cmp(&(
            b.key.aliases.first(),
            &b.key.region,
            &b.key.key_id,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN_DEV: &str = "arn:aws:kms:us-east-1:000000000000:key/dev-s3-id";
    const ARN_PROD: &str = "arn:aws:kms:eu-west-1:000000000000:key/prod-s3-id";

    fn keys() -> Vec<Key> {
        vec![
            Key {
                key_id: "dev-s3-id".into(),
                key_arn: ARN_DEV.into(),
                region: "us-east-1".into(),
                aliases: vec!["alias/dev-s3".into()],
                related_regions: Vec::new(),
            },
            Key {
                key_id: "prod-s3-id".into(),
                key_arn: ARN_PROD.into(),
                region: "eu-west-1".into(),
                aliases: vec!["alias/team/prod-s3".into()],
                related_regions: Vec::new(),
            },
        ]
    }

    fn res(kind: ResourceKind, name: &str, region: &str, setting: &str) -> Resource {
        Resource {
            kind,
            name: name.into(),
            region: region.into(),
            key_setting: setting.into(),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn services_table() {
        let all = Services::default();
        for (text, want) in [
            (
                "s3,rds,dynamodb",
                Some(vec![Service::S3, Service::Rds, Service::Dynamodb]),
            ),
            ("dynamodb,s3", Some(vec![Service::S3, Service::Dynamodb])),
            (" RDS , rds", Some(vec![Service::Rds])),
            ("s3,ec2", None),
            ("", None),
            ("s3,", None),
        ] {
            let got = Services::parse(text);
            match want {
                Some(w) => assert_eq!(got.unwrap().iter().collect::<Vec<_>>(), w, "{text:?}"),
                None => {
                    let e = got.unwrap_err().to_string();
                    assert!(e.contains("s3, rds and dynamodb"), "{e}");
                }
            }
        }
        assert_eq!(all.without(Service::Rds).as_deref(), Some("s3,dynamodb"));
        assert_eq!(Services::parse("rds").unwrap().without(Service::Rds), None);
    }

    #[test]
    fn an_unreadable_read_says_what_and_what_to_do_in_one_safe_line() {
        let u = Unreadable::new(
            &Services::default(),
            Service::S3,
            "us-east-1",
            "s3:ListBuckets",
            None,
            "AccessDenied",
            "denied\nrds in us-east-1: fine \u{1b}[2J",
        );
        assert_eq!(
            u.what_to_do,
            "allow s3:ListAllMyBuckets to the caller's role, or leave s3 out with --services rds,dynamodb"
        );
        assert!(!u.summary().contains('\n'), "{}", u.summary());
        assert!(!u.summary().contains('\u{1b}'), "{}", u.summary());
        let long = Unreadable::new(
            &Services::parse("rds").unwrap(),
            Service::Rds,
            "eu-west-1",
            "rds:DescribeDBClusters",
            None,
            UNREACHABLE,
            &"x".repeat(5000),
        );
        assert!(long.message.chars().count() <= MESSAGE_MAX + 1);
        assert_eq!(
            long.what_to_do,
            "check the network and the RDS endpoint (AWS_ENDPOINT_URL_RDS)"
        );
    }

    #[test]
    fn resolution_table() {
        use NamedBy::*;
        use ResourceKind::*;
        let keys = keys();
        let ix = KeyIndex::new(&keys);
        let cases: [(Resource, Option<(usize, NamedBy)>); 11] = [
            (
                res(S3Bucket, "b", "us-east-1", "alias/dev-s3"),
                Some((0, Alias)),
            ),
            (
                res(S3Bucket, "b", "us-east-1", "dev-s3-id"),
                Some((0, KeyId)),
            ),
            (res(S3Bucket, "b", "us-east-1", ARN_DEV), Some((0, KeyArn))),
            (
                res(
                    S3Bucket,
                    "b",
                    "eu-west-1",
                    "arn:aws:kms:us-east-1:000000000000:alias/dev-s3",
                ),
                Some((0, Alias)),
            ),
            // An alias or id is looked up in the resource's own region.
            (res(S3Bucket, "b", "eu-west-1", "alias/dev-s3"), None),
            (res(S3Bucket, "b", "eu-west-1", "dev-s3-id"), None),
            (
                res(S3Bucket, "b", "eu-west-1", "alias/team/prod-s3"),
                Some((1, Alias)),
            ),
            // RDS and DynamoDB report the ARN they resolved.
            (
                res(RdsInstance, "d", "us-east-1", ARN_DEV),
                Some((0, Resolved)),
            ),
            (
                res(DynamodbTable, "t", "eu-west-1", ARN_PROD),
                Some((1, Resolved)),
            ),
            // Not an EXTERNAL key of the inventory, or not a KMS ARN.
            (res(S3Bucket, "b", "us-east-1", "alias/aws/s3"), None),
            (res(S3Bucket, "b", "us-east-1", "arn:aws:s3:::x"), None),
        ];
        for (r, want) in cases {
            assert_eq!(ix.resolve(&r), want, "{r:?}");
        }
    }

    #[test]
    fn purpose_and_environment_table() {
        let rules = SegregationRules::default();
        for (alias, want) in [
            ("alias/prod-s3", Some(("prod", "s3"))),
            ("alias/team/int-dynamodb", Some(("int", "dynamodb"))),
            ("alias/staging-s3", None),
            ("alias/prod", None),
            ("prod-s3", None),
        ] {
            assert_eq!(
                purpose_of_alias(alias, &rules),
                want.map(|(e, s)| Purpose {
                    environment: e.into(),
                    service: s.into()
                }),
                "{alias}"
            );
        }
        let mut r = res(ResourceKind::S3Bucket, "acme-dev-logs", "us-east-1", "x");
        assert_eq!(environment_of(&r, &rules).as_deref(), Some("dev"));
        r.tags.insert("Environment".into(), "PROD".into());
        assert_eq!(environment_of(&r, &rules).as_deref(), Some("prod"));
        let r = res(ResourceKind::S3Bucket, "developer-logs", "us-east-1", "x");
        assert_eq!(environment_of(&r, &rules), None, "a word, not a prefix");
        let custom = SegregationRules {
            environments: vec!["staging".into()],
            environment_tags: vec!["stage".into()],
        };
        let mut r = res(ResourceKind::S3Bucket, "x-staging", "us-east-1", "x");
        assert_eq!(environment_of(&r, &custom).as_deref(), Some("staging"));
        r.tags.insert("env".into(), "prod".into());
        assert_eq!(environment_of(&r, &custom).as_deref(), Some("staging"));
    }

    #[test]
    fn segregation_table() {
        let rules = SegregationRules::default();
        let prod_s3 = Purpose {
            environment: "prod".into(),
            service: "s3".into(),
        };
        let cases = [
            (res(ResourceKind::S3Bucket, "prod-data", "r", "x"), 0),
            (res(ResourceKind::S3Bucket, "dev-data", "r", "x"), 1),
            (res(ResourceKind::RdsInstance, "prod-db", "r", "x"), 1),
            (res(ResourceKind::DynamodbTable, "dev-orders", "r", "x"), 2),
            // Nothing says which environment: only the service is checked.
            (res(ResourceKind::S3Bucket, "data", "r", "x"), 0),
        ];
        for (r, n) in cases {
            assert_eq!(segregation(Some(&prod_s3), &r, &rules).len(), n, "{r:?}");
        }
        let r = res(ResourceKind::RdsCluster, "dev-db", "r", "x");
        assert!(segregation(None, &r, &rules).is_empty());
    }

    #[test]
    fn map_puts_each_resource_under_its_key_with_its_findings() {
        let keys = keys();
        let resources = [
            res(ResourceKind::S3Bucket, "dev-a", "us-east-1", "alias/dev-s3"),
            res(ResourceKind::S3Bucket, "dev-b", "us-east-1", ARN_DEV),
            res(
                ResourceKind::S3Bucket,
                "dev-c",
                "eu-west-1",
                "alias/team/prod-s3",
            ),
            res(ResourceKind::S3Bucket, "other", "us-east-1", "alias/aws/s3"),
        ];
        let mut purposes = BTreeMap::new();
        purposes.insert(
            "alias/team/prod-s3".to_string(),
            Purpose {
                environment: "prod".into(),
                service: "s3".into(),
            },
        );
        let m = map(&keys, &resources, &SegregationRules::default(), &purposes);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].key.key_id, "dev-s3-id");
        assert_eq!(m[0].resources.len(), 2);
        assert!(!m[0].resources[0].escapes_alias_review);
        assert!(m[0].resources[1].escapes_alias_review);
        assert!(m[0].resources.iter().all(|r| r.segregation.is_empty()));
        assert_eq!(m[1].resources.len(), 1);
        assert_eq!(
            m[1].resources[0].segregation,
            ["a dev resource protected by a prod key"]
        );
    }
}
