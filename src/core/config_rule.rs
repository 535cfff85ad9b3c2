//! A key's status in AWS Config's terms: the compliance type a custom rule reports for an
//! `AWS::KMS::Key` and the annotation that says why, as `kms status` measured it (the verdict is
//! `kms status`'s, never recomputed here). Config keeps at most 256 characters of annotation: the
//! text is built to fit, the resources it names shortened to "and N more" when they do not.

use jiff::Timestamp;

use crate::core::inventory::{ResourceUse, Service};
use crate::core::key_age::{Age, Compliance};

/// The resource type Config evaluates.
pub const RESOURCE_TYPE: &str = "AWS::KMS::Key";
/// The longest annotation Config accepts.
pub const ANNOTATION_MAX: usize = 256;

/// Config's compliance types, as PutEvaluations spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigCompliance {
    Compliant,
    NonCompliant,
    /// A key with no material (PendingImport): nothing to age.
    NotApplicable,
}

impl ConfigCompliance {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigCompliance::Compliant => "COMPLIANT",
            ConfigCompliance::NonCompliant => "NON_COMPLIANT",
            ConfigCompliance::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// One key as `kms status` reported it.
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts<'a> {
    /// The key's first alias, else its id.
    pub name: &'a str,
    /// The key's state (Enabled, PendingImport, …).
    pub state: &'a str,
    pub compliance: Compliance,
    pub material: Option<&'a Age>,
    pub max_age_days: u32,
    /// The resources the key protects; None when they were not read.
    pub resources: Option<&'a [ResourceUse]>,
    /// The services whose resources could not all be read in the key's region: what the key
    /// protects there is unknown, and the annotation says so.
    pub unread: &'a [Service],
    /// A multi-Region primary's replicas that do not hold its current material, each as
    /// "<region>: why" (`kms status`'s replicas_behind): the key is NON_COMPLIANT, naming them.
    pub replicas_behind: &'a [String],
}

/// What the rule reports for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvaluation {
    pub compliance: ConfigCompliance,
    /// At most [`ANNOTATION_MAX`] bytes (so characters too).
    pub annotation: String,
}

fn date(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// The evaluation of one key: NON_COMPLIANT past due (naming what it exposes), COMPLIANT
/// otherwise (due soon said so), NOT_APPLICABLE without material.
pub fn evaluate(key: &KeyFacts<'_>) -> KeyEvaluation {
    let (compliance, head) = match (key.compliance, key.material) {
        (Compliance::NoMaterial, _) | (_, None) => (
            ConfigCompliance::NotApplicable,
            format!("{}: no key material ({})", key.name, key.state),
        ),
        (c, Some(age)) => {
            let verdict = match c {
                Compliance::NonCompliant => ConfigCompliance::NonCompliant,
                _ => ConfigCompliance::Compliant,
            };
            let when = match c {
                Compliance::NonCompliant => "overdue since",
                Compliance::DueSoon => "due soon:",
                _ => "due",
            };
            let mut head = format!(
                "{}: material {} days old{} (max {}), {when} {}",
                key.name,
                age.age_days,
                if age.estimate {
                    " (estimate: key creation)"
                } else {
                    ""
                },
                key.max_age_days,
                date(age.due)
            );
            if let Some(until) = age.grace_until {
                head.push_str(&format!(", in grace until {}", date(until)));
            }
            if key.replicas_behind.is_empty() {
                (verdict, head)
            } else {
                head.push_str(&format!(
                    "; replica left behind in {}",
                    key.replicas_behind.join("; ")
                ));
                (ConfigCompliance::NonCompliant, head)
            }
        }
    };
    let verb = if compliance == ConfigCompliance::NonCompliant {
        "exposes"
    } else {
        "protects"
    };
    let names: Vec<String> = key
        .resources
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.kind.as_str(), r.name))
        .collect();
    let read: Vec<&str> = Service::ALL
        .into_iter()
        .filter(|s| !key.unread.contains(s))
        .map(Service::title)
        .collect();
    let unknown = if key.unread.is_empty() {
        String::new()
    } else {
        let unread: Vec<&str> = key.unread.iter().map(|s| s.title()).collect();
        format!("; {} could not be read: unknown", or_list(&unread))
    };
    let annotation = match key.resources {
        None => head,
        Some([]) if read.is_empty() => format!("{head}{unknown}"),
        Some([]) => format!("{head}; protects no {} resource{unknown}", or_list(&read)),
        Some(_) => with_resources(&head, verb, &names, &unknown),
    };
    KeyEvaluation {
        compliance,
        annotation: fit(annotation),
    }
}

/// The evaluation of a key `kms status` could not read (its policy denies the rule's role
/// DescribeKey): NON_COMPLIANT, since its age cannot be shown to be within the policy, naming
/// AWS's error code and what to do. Config takes no INSUFFICIENT_DATA from a custom rule.
pub fn unreadable(key_id: &str, operation: &str, code: &str) -> KeyEvaluation {
    KeyEvaluation {
        compliance: ConfigCompliance::NonCompliant,
        annotation: fit(format!(
            "{key_id}: could not be read ({operation}: {code}), so its material's age is unknown; allow kms:{operation} on it to the rule's role"
        )),
    }
}

/// `S3`, `S3 or RDS`, `S3, RDS or DynamoDB`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `head; <verb> N: a, b, c<tail>`, as many names as fit, the rest counted; the tail (what
/// could not be read) is kept whole.
fn with_resources(head: &str, verb: &str, names: &[String], tail: &str) -> String {
    let total = names.len();
    let prefix = format!("{head}; {verb} {total}: ");
    for shown in (0..=total).rev() {
        let mut s = prefix.clone();
        s.push_str(&names[..shown].join(", "));
        if shown < total {
            if shown > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("and {} more", total - shown));
        }
        s.push_str(tail);
        if s.len() <= ANNOTATION_MAX {
            return s;
        }
    }
    format!("{prefix}{tail}")
}

/// Cut to [`ANNOTATION_MAX`] bytes at a character boundary, marking the cut.
fn fit(s: String) -> String {
    if s.len() <= ANNOTATION_MAX {
        return s;
    }
    let mut end = ANNOTATION_MAX - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_key_is_non_compliant_naming_the_code() {
        let e = unreadable("1234abcd", "DescribeKey", "AccessDeniedException");
        assert_eq!(e.compliance, ConfigCompliance::NonCompliant);
        assert!(
            e.annotation
                .starts_with("1234abcd: could not be read (DescribeKey: AccessDeniedException)"),
            "{}",
            e.annotation
        );
        let long = unreadable(&"k".repeat(300), "DescribeKey", "AccessDeniedException");
        assert!(long.annotation.len() <= ANNOTATION_MAX);
    }
    use crate::core::inventory::{NamedBy, ResourceKind};
    use crate::core::key_age::{AgeSource, Policy, assess};

    fn day(n: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + n * 86_400).unwrap()
    }

    fn resource(kind: ResourceKind, name: &str) -> ResourceUse {
        ResourceUse {
            kind,
            name: name.into(),
            region: "us-east-1".into(),
            key_setting: "alias/prod-s3".into(),
            named_by: NamedBy::Alias,
            escapes_alias_review: false,
            environment: None,
            segregation: vec![],
        }
    }

    fn facts<'a>(age: Option<&'a Age>, resources: Option<&'a [ResourceUse]>) -> KeyFacts<'a> {
        KeyFacts {
            name: "alias/prod-s3",
            state: "Enabled",
            compliance: age.map_or(Compliance::NoMaterial, |a| a.compliance),
            material: age,
            max_age_days: 365,
            resources,
            unread: &[],
            replicas_behind: &[],
        }
    }

    #[test]
    fn a_replica_left_behind_makes_a_fresh_key_non_compliant_and_is_named() {
        let fresh = assess(Policy::default(), day(0), AgeSource::Cloudtrail, day(10));
        let behind = ["eu-west-1: its current material is m0, the primary's is m1".to_string()];
        let e = evaluate(&KeyFacts {
            replicas_behind: &behind,
            ..facts(Some(&fresh), None)
        });
        assert_eq!(e.compliance, ConfigCompliance::NonCompliant);
        assert!(
            e.annotation.ends_with(
                "; replica left behind in eu-west-1: its current material is m0, the primary's is m1"
            ),
            "{}",
            e.annotation
        );
        assert_eq!(
            evaluate(&facts(Some(&fresh), None)).compliance,
            ConfigCompliance::Compliant
        );
    }

    #[test]
    fn verdicts_and_annotations() {
        let p = Policy::default();
        let late = assess(p, day(0), AgeSource::Cloudtrail, day(400));
        let soon = assess(p, day(0), AgeSource::Cloudtrail, day(350));
        let fresh = assess(p, day(0), AgeSource::KeyCreationEstimate, day(10));
        let rs = [
            resource(ResourceKind::S3Bucket, "prod-data"),
            resource(ResourceKind::RdsInstance, "prod-db"),
        ];
        type Case<'a> = (
            Option<&'a Age>,
            Option<&'a [ResourceUse]>,
            ConfigCompliance,
            &'a str,
        );
        let cases: [Case<'_>; 5] = [
            (
                Some(&late),
                Some(&rs),
                ConfigCompliance::NonCompliant,
                "alias/prod-s3: material 400 days old (max 365), overdue since 2028-01-15; exposes 2: s3 bucket prod-data, rds instance prod-db",
            ),
            (
                Some(&soon),
                Some(&[]),
                ConfigCompliance::Compliant,
                "alias/prod-s3: material 350 days old (max 365), due soon: 2028-01-15; protects no S3, RDS or DynamoDB resource",
            ),
            (
                Some(&fresh),
                None,
                ConfigCompliance::Compliant,
                "alias/prod-s3: material 10 days old (estimate: key creation) (max 365), due 2028-01-15",
            ),
            (
                None,
                Some(&rs),
                ConfigCompliance::NotApplicable,
                "alias/prod-s3: no key material (Enabled); protects 2: s3 bucket prod-data, rds instance prod-db",
            ),
            (
                None,
                None,
                ConfigCompliance::NotApplicable,
                "alias/prod-s3: no key material (Enabled)",
            ),
        ];
        for (age, resources, want, text) in cases {
            let e = evaluate(&facts(age, resources));
            assert_eq!(e.compliance, want, "{text}");
            assert_eq!(e.annotation, text);
        }
        let graced = crate::core::key_age::apply_grace(late.clone(), 7, &[day(398)], day(400));
        let e = evaluate(&facts(Some(&graced), None));
        assert_eq!(e.compliance, ConfigCompliance::Compliant);
        assert!(
            e.annotation.ends_with(", in grace until 2028-02-24"),
            "{}",
            e.annotation
        );
    }

    #[test]
    fn resources_that_could_not_be_read_are_unknown_not_absent() {
        let p = Policy::default();
        let soon = assess(p, day(0), AgeSource::Cloudtrail, day(350));
        let late = assess(p, day(0), AgeSource::Cloudtrail, day(400));
        let rs = [resource(ResourceKind::S3Bucket, "prod-data")];
        let head = "alias/prod-s3: material 350 days old (max 365), due soon: 2028-01-15";
        for (unread, resources, want) in [
            (
                &[Service::Rds][..],
                &[][..],
                format!(
                    "{head}; protects no S3 or DynamoDB resource; RDS could not be read: unknown"
                ),
            ),
            (
                &[Service::Rds, Service::Dynamodb][..],
                &[][..],
                format!(
                    "{head}; protects no S3 resource; RDS or DynamoDB could not be read: unknown"
                ),
            ),
            (
                &Service::ALL[..],
                &[][..],
                format!("{head}; S3, RDS or DynamoDB could not be read: unknown"),
            ),
            (
                &[Service::Rds][..],
                &rs[..],
                format!("{head}; protects 1: s3 bucket prod-data; RDS could not be read: unknown"),
            ),
        ] {
            let e = evaluate(&KeyFacts {
                unread,
                ..facts(Some(&soon), Some(resources))
            });
            assert_eq!(e.annotation, want);
            assert!(!e.annotation.contains("protects no S3, RDS"));
        }
        // Many names: cut to fit, the unknown part kept whole.
        let many: Vec<ResourceUse> = (0..40)
            .map(|i| resource(ResourceKind::DynamodbTable, &format!("orders-{i:02}")))
            .collect();
        let e = evaluate(&KeyFacts {
            unread: &[Service::Rds],
            replicas_behind: &[],
            ..facts(Some(&late), Some(&many))
        });
        assert!(e.annotation.len() <= ANNOTATION_MAX, "{}", e.annotation);
        assert!(
            e.annotation
                .ends_with(" more; RDS could not be read: unknown"),
            "{}",
            e.annotation
        );
    }

    #[test]
    fn many_resources_fit_in_256_characters() {
        let late = assess(Policy::default(), day(0), AgeSource::Receipt, day(500));
        let rs: Vec<ResourceUse> = (0..40)
            .map(|i| resource(ResourceKind::DynamodbTable, &format!("orders-{i:02}")))
            .collect();
        let e = evaluate(&facts(Some(&late), Some(&rs)));
        assert!(e.annotation.len() <= ANNOTATION_MAX, "{}", e.annotation);
        assert!(
            e.annotation
                .contains("exposes 40: dynamodb table orders-00, ")
        );
        let shown = e.annotation.matches("dynamodb table").count();
        assert!(shown >= 3, "{}", e.annotation);
        assert!(
            e.annotation
                .ends_with(&format!(", and {} more", 40 - shown)),
            "{}",
            e.annotation
        );
        // One name longer than the limit: counted, not shown.
        let long = [resource(ResourceKind::S3Bucket, &"b".repeat(300))];
        let e = evaluate(&facts(Some(&late), Some(&long)));
        assert!(
            e.annotation.ends_with("exposes 1: and 1 more"),
            "{}",
            e.annotation
        );
        // A key name past the limit is cut at a character boundary.
        let name = "é".repeat(200);
        let e = evaluate(&KeyFacts {
            name: &name,
            ..facts(Some(&late), None)
        });
        assert!(e.annotation.len() <= ANNOTATION_MAX);
        assert!(e.annotation.ends_with('…'));
    }
}
