//! After a rotation, the resources an earlier inventory mapped to a key, checked against a fresh
//! one: each must still resolve to the key (on-demand rotation keeps the key's ARN). For a
//! rotation by a new key, a resource that named the alias must now resolve to the new key; one
//! that names the previous key by id or ARN, or whose service resolved the ARN when it was set up
//! (RDS, DynamoDB), stays under the previous key, which is reported, not failed: its data still
//! decrypts, and re-pointing it is a separate decision. Pure: the adapters read both inventories.

use serde_json::Value;

use super::inventory::KeyResources;

/// One resource under one key, as an earlier `keyrite kms inventory --json` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierUse {
    pub key_arn: String,
    /// The inventory's kind (`s3-bucket`, `rds-instance`, `rds-cluster`, `dynamodb-table`).
    pub kind: String,
    pub name: String,
    pub region: String,
    /// How the resource named the key (`alias`, `key-id`, `key-arn`, `resolved`).
    pub named_by: String,
}

/// Why an earlier inventory report cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryReportError {
    #[error("it is not JSON ({0})")]
    NotJson(String),
    #[error("it has no \"keys\" list: give the output of `keyrite kms inventory --json`")]
    NoKeys,
    #[error("an entry has no {0:?}")]
    Missing(&'static str),
}

/// Reads the resources of a `keyrite kms inventory --json` report.
pub fn parse_inventory(bytes: &[u8]) -> Result<Vec<EarlierUse>, InventoryReportError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| InventoryReportError::NotJson(e.to_string()))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(InventoryReportError::NoKeys)?;
    let text = |v: &Value, field: &'static str| -> Result<String, InventoryReportError> {
        v.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(InventoryReportError::Missing(field))
    };
    let mut out = Vec::new();
    for k in keys {
        let key_arn = text(k, "key_arn")?;
        for r in k
            .get("resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            out.push(EarlierUse {
                key_arn: key_arn.clone(),
                kind: text(r, "kind")?,
                name: text(r, "name")?,
                region: text(r, "region")?,
                named_by: text(r, "named_by")?,
            });
        }
    }
    Ok(out)
}

/// The key a resource resolves to in `now`, by kind, name and region.
fn resolves_now<'a>(now: &'a [KeyResources], r: &EarlierUse) -> Option<&'a str> {
    now.iter().find_map(|k| {
        k.resources
            .iter()
            .any(|u| {
                serde_json::to_value(u.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    == Some(r.kind.clone())
                    && u.name == r.name
                    && u.region == r.region
            })
            .then_some(k.key.key_arn.as_str())
    })
}

/// The checks for one key of a bundle ("ok: …", "note: …", "FAILED: …"): `key_arn` the key
/// rotated, `previous` the key a new key took its alias from.
pub fn recheck(
    earlier: &[EarlierUse],
    now: &[KeyResources],
    key_arn: &str,
    previous: Option<&str>,
) -> Vec<String> {
    let under = previous.unwrap_or(key_arn);
    let mut checks = Vec::new();
    let mine: Vec<&EarlierUse> = earlier.iter().filter(|r| r.key_arn == under).collect();
    if mine.is_empty() {
        checks.push(format!(
            "note: the earlier inventory maps no resource to {under}"
        ));
    }
    for r in mine {
        let what = format!("{} {} ({})", r.kind, r.name, r.region);
        let current = resolves_now(now, r);
        let line = match (current, previous) {
            (Some(k), _) if k == key_arn => format!("ok: {what} resolves to {key_arn}"),
            (Some(k), Some(p)) if k == p && r.named_by != "alias" => format!(
                "note: {what} names the previous key {p} ({}), not the alias: it stays under that key; point it at the alias to move its data to the new key",
                r.named_by.replace('-', " ")
            ),
            (Some(k), _) => format!("FAILED: {what} resolves to {k}, not {key_arn}"),
            (None, _) => format!(
                "FAILED: {what} no longer resolves to an EXTERNAL key (gone, or its encryption changed)"
            ),
        };
        checks.push(line);
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inventory::{Key, NamedBy, ResourceKind, ResourceUse};

    const OLD: &str = "arn:aws:kms:eu-west-1:111122223333:key/old";
    const NEW: &str = "arn:aws:kms:eu-west-1:111122223333:key/new";

    fn earlier() -> Vec<EarlierUse> {
        let json = format!(
            r#"{{"keys":[{{"key_arn":"{OLD}","resources":[
              {{"kind":"s3-bucket","name":"orders","region":"eu-west-1","named_by":"alias"}},
              {{"kind":"dynamodb-table","name":"carts","region":"eu-west-1","named_by":"resolved"}},
              {{"kind":"s3-bucket","name":"gone","region":"eu-west-1","named_by":"alias"}}]}},
              {{"key_arn":"{NEW}","resources":[]}}]}}"#
        );
        parse_inventory(json.as_bytes()).unwrap()
    }

    fn under(key_arn: &str, resources: &[(ResourceKind, &str)]) -> KeyResources {
        KeyResources {
            key: Key {
                key_id: "k".into(),
                key_arn: key_arn.into(),
                region: "eu-west-1".into(),
                aliases: vec![],
                related_regions: Vec::new(),
            },
            purpose: None,
            resources: resources
                .iter()
                .map(|(kind, name)| ResourceUse {
                    kind: *kind,
                    name: name.to_string(),
                    region: "eu-west-1".into(),
                    key_setting: String::new(),
                    named_by: NamedBy::Alias,
                    escapes_alias_review: false,
                    environment: None,
                    segregation: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn on_demand_rotation_keeps_every_resource_under_the_key() {
        let now = [under(
            OLD,
            &[
                (ResourceKind::S3Bucket, "orders"),
                (ResourceKind::DynamodbTable, "carts"),
                (ResourceKind::S3Bucket, "gone"),
            ],
        )];
        let checks = recheck(&earlier(), &now, OLD, None);
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|c| c.starts_with("ok:")), "{checks:?}");
        // A resource that moved to another key, and one that is gone.
        let now = [
            under(OLD, &[(ResourceKind::DynamodbTable, "carts")]),
            under(NEW, &[(ResourceKind::S3Bucket, "orders")]),
        ];
        let checks = recheck(&earlier(), &now, OLD, None);
        assert!(checks[0].starts_with("FAILED: s3-bucket orders") && checks[0].contains(NEW));
        assert!(checks[1].starts_with("ok:"));
        assert!(checks[2].contains("no longer resolves"), "{checks:?}");
    }

    #[test]
    fn after_a_new_key_the_alias_users_follow_and_the_others_stay() {
        let now = [
            under(OLD, &[(ResourceKind::DynamodbTable, "carts")]),
            under(
                NEW,
                &[
                    (ResourceKind::S3Bucket, "orders"),
                    (ResourceKind::S3Bucket, "gone"),
                ],
            ),
        ];
        let checks = recheck(&earlier(), &now, NEW, Some(OLD));
        assert!(checks[0].starts_with("ok: s3-bucket orders"), "{checks:?}");
        assert!(
            checks[1].starts_with("note: dynamodb-table carts") && checks[1].contains("resolved"),
            "{checks:?}"
        );
        // An alias user left under the previous key: the alias did not move.
        let now = [under(OLD, &[(ResourceKind::S3Bucket, "orders")])];
        let checks = recheck(&earlier(), &now, NEW, Some(OLD));
        assert!(
            checks[0].starts_with("FAILED: s3-bucket orders"),
            "{checks:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_an_inventory_is_refused() {
        assert!(parse_inventory(b"{}").is_err());
        assert!(parse_inventory(b"[1]").is_err());
        assert!(parse_inventory(br#"{"keys":[{"resources":[]}]}"#).is_err());
    }
}
