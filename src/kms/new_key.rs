//! Rotation by a new key, where a policy demands a new key rather than new material under the
//! same one (`keyrite kms prepare --new-key`): per alias, a new EXTERNAL key is created with the
//! current key's key policy, description and tags, and the bundle is prepared for it; `kms
//! import` imports into the new key, checks it, and only then moves the alias to it; `kms
//! rollback` moves the alias back. The previous key stays enabled, so what was encrypted under it
//! still decrypts.

use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, OriginType, Tag};
use futures_util::stream::{self, StreamExt};

use super::prepare::{CONCURRENCY, CheckedKey, PrepareRequest, Prepared};
use super::{Client, KmsError};
use crate::core::manifest::{KeyEntry, TakeOver};
use crate::core::names::KeyRef;
use crate::core::receipt::AliasMoved;

type Result<T, E = KmsError> = std::result::Result<T, E>;

/// The tag keyrite adds to a new key: the ARN of the key it replaces.
pub const REPLACES_TAG: &str = "keyrite:replaces";

/// What the new key copies from the key it replaces.
struct Template {
    checked: CheckedKey,
    alias: String,
    policy: String,
    description: String,
    tags: Vec<Tag>,
}

/// Prepares a bundle for new keys, one per alias in `req.keys`, each to take over its alias.
/// Every current key is checked and its policy, description and tags read before any key is
/// created; a failure after keys were created schedules their deletion (7 days).
pub async fn prepare(client: &Client, req: &PrepareRequest<'_>) -> Result<Prepared> {
    super::prepare::refuse_existing(req.out)?;
    for key in req.keys {
        if !matches!(key, KeyRef::Alias(_)) {
            return Err(KmsError::Refused {
                key: key.as_str().into(),
                message: "--new-key moves an alias to a new key, and this is not an alias".into(),
                hint: "name the key by its alias (alias/…)".into(),
            });
        }
    }
    let templates: Vec<Result<Template>> = stream::iter(req.keys)
        .map(|key| template(client, key))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let templates = templates.into_iter().collect::<Result<Vec<_>>>()?;
    let mut created: Vec<CheckedKey> = Vec::new();
    for t in &templates {
        match create(client, t).await {
            Ok(k) => created.push(k),
            Err(e) => return Err(undo(client, &created, e).await),
        }
    }
    let with_client: Vec<(&Client, CheckedKey)> =
        created.iter().map(|k| (client, k.clone())).collect();
    match super::prepare::write_bundle(&with_client, req.spec, req.algorithm, req.out).await {
        Ok(p) => Ok(p),
        Err(e) => Err(undo(client, &created, e).await),
    }
}

/// Schedules the deletion of keys this run created and returns `error`, extended with what was
/// done about them.
async fn undo(client: &Client, created: &[CheckedKey], error: KmsError) -> KmsError {
    if created.is_empty() {
        return error;
    }
    let mut scheduled = Vec::new();
    for k in created {
        let done = client
            .schedule_key_deletion()
            .key_id(&k.arn)
            .pending_window_in_days(7)
            .send()
            .await;
        scheduled.push(match done {
            Ok(_) => format!("{} scheduled for deletion in 7 days", k.arn),
            Err(e) => format!(
                "{} NOT scheduled for deletion ({}): schedule it by hand",
                k.arn,
                KmsError::from_sdk(&k.arn, "ScheduleKeyDeletion", e)
            ),
        });
    }
    KmsError::Refused {
        key: "the new keys".into(),
        message: format!(
            "{error}\nthe new keys this run created: {}",
            scheduled.join("; ")
        ),
        hint: "fix the cause above and run `kms prepare --new-key` again; the keys are unused"
            .into(),
    }
}

async fn template(client: &Client, key: &KeyRef) -> Result<Template> {
    let checked = super::prepare::check_key(client, key).await?;
    let name = key.as_str();
    let meta = client
        .describe_key()
        .key_id(&checked.arn)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "DescribeKey", e))?
        .key_metadata;
    let description = meta
        .as_ref()
        .and_then(|m| m.description())
        .unwrap_or_default()
        .to_string();
    let policy = client
        .get_key_policy()
        .key_id(&checked.arn)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "GetKeyPolicy", e))?
        .policy
        .ok_or_else(|| KmsError::Check {
            key: name.into(),
            operation: "GetKeyPolicy",
            message: "the response has no Policy".into(),
            hint: "the KMS endpoint misbehaves; try again".into(),
        })?;
    let mut tags: Vec<Tag> = client
        .list_resource_tags()
        .key_id(&checked.arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| KmsError::from_sdk(name, "ListResourceTags", e))?;
    tags.retain(|t| t.tag_key() != REPLACES_TAG);
    let replaces = Tag::builder()
        .tag_key(REPLACES_TAG)
        .tag_value(&checked.arn)
        .build()
        .map_err(|e| KmsError::Runtime(e.to_string()))?;
    tags.push(replaces);
    Ok(Template {
        alias: name.to_string(),
        checked,
        policy,
        description,
        tags,
    })
}

async fn create(client: &Client, t: &Template) -> Result<CheckedKey> {
    let name = t.alias.as_str();
    let mut req = client
        .create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .policy(&t.policy)
        .set_tags(Some(t.tags.clone()));
    if !t.description.is_empty() {
        req = req.description(&t.description);
    }
    let meta = req
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "CreateKey", e))?
        .key_metadata
        .ok_or_else(|| KmsError::Check {
            key: name.into(),
            operation: "CreateKey",
            message: "the response has no KeyMetadata".into(),
            hint:
                "look for a new PendingImport key with `aws kms list-keys` and delete it; try again"
                    .into(),
        })?;
    let arn = meta.arn().unwrap_or_default().to_string();
    let account = meta.aws_account_id().unwrap_or_default().to_string();
    crate::core::names::check_key_arn(&arn)
        .and_then(|()| crate::core::names::check_key_id(meta.key_id()))
        .and_then(|()| crate::core::names::check_account(&account))
        .map_err(|message| KmsError::Refused {
            key: name.into(),
            message: format!("CreateKey answered with {message}"),
            hint: "check the endpoint keyrite talks to (AWS_ENDPOINT_URL, --endpoint-url): real KMS never answers this".into(),
        })?;
    if account != t.checked.account {
        return Err(KmsError::Refused {
            key: name.into(),
            message: format!(
                "the new key {arn} was created in account {account}, the alias's key is in {}",
                t.checked.account
            ),
            hint: "use credentials of the account the alias lives in".into(),
        });
    }
    Ok(CheckedKey {
        requested: t.checked.requested.clone(),
        key_id: meta.key_id().to_string(),
        arn,
        account,
        state: meta
            .key_state()
            .map(KeyState::as_str)
            .unwrap_or("PendingImport")
            .to_string(),
        current_material: None,
        replicas: Vec::new(),
        takes_over: Some(TakeOver {
            alias: t.alias.clone(),
            previous_key_arn: t.checked.arn.clone(),
        }),
    })
}

/// The key ARN an alias names now.
pub async fn alias_target(client: &Client, key: &str, alias: &str) -> Result<String> {
    let meta = client
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(key, "DescribeKey", e))?
        .key_metadata
        .ok_or_else(|| KmsError::Check {
            key: key.into(),
            operation: "DescribeKey",
            message: format!("no key metadata for {alias}"),
            hint: "the KMS endpoint misbehaves; try again".into(),
        })?;
    Ok(meta.arn().unwrap_or_default().to_string())
}

/// Moves the alias of a new-key entry from `from` to `to` (import: previous key -> new key;
/// rollback: back). None when the alias already names `to`; refused when it names neither.
/// Checked afterwards through DescribeKey on the alias.
pub async fn move_alias(
    client: &Client,
    key: &KeyEntry,
    take: &TakeOver,
    from: &str,
    to: &str,
) -> Result<Option<AliasMoved>> {
    let name = key.name.as_str();
    let now = alias_target(client, name, &take.alias).await?;
    if now == to {
        return Ok(None);
    }
    if now != from {
        return Err(KmsError::Refused {
            key: name.into(),
            message: format!(
                "{} names {now}, neither the previous key {} nor the new key {}; the alias was not moved",
                take.alias, take.previous_key_arn, key.key_arn
            ),
            hint: format!(
                "someone moved the alias since the bundle was prepared: find out why, then move it by hand with `aws kms update-alias --alias-name {} --target-key-id <arn>`",
                take.alias
            ),
        });
    }
    // By key id: AWS takes an id or an ARN here, LocalStack keeps an ARN as given and then
    // cannot resolve the alias.
    let to_id = to.rsplit_once("key/").map_or(to, |(_, id)| id);
    let moved = client
        .update_alias()
        .alias_name(&take.alias)
        .target_key_id(to_id)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(name, "UpdateAlias", e))?;
    let after = alias_target(client, name, &take.alias).await?;
    if after != to {
        return Err(KmsError::Check {
            key: name.into(),
            operation: "UpdateAlias",
            message: format!("{} names {after}, not {to}", take.alias),
            hint: format!("check with `aws kms describe-key --key-id {}`", take.alias),
        });
    }
    Ok(Some(AliasMoved {
        key: name.to_string(),
        alias: take.alias.clone(),
        from_key_arn: from.to_string(),
        to_key_arn: to.to_string(),
        request_id: moved.request_id().map(str::to_string),
    }))
}
