//! The lookups themselves, through aws-sdk-cloudtrail (the `resources` feature; `absent.rs`
//! stands in for them in a build without it).

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use jiff::Timestamp;

use super::{MATERIAL_EVENTS, TrailLookup};

pub use aws_sdk_cloudtrail::Client as CloudTrailClient;

/// The latest successful material event of `key_arn`.
pub async fn last_material_change(client: &CloudTrailClient, key_arn: &str) -> TrailLookup {
    let attribute = match LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(key_arn)
        .build()
    {
        Ok(a) => a,
        Err(e) => {
            return TrailLookup::Unavailable {
                reason: format!("CloudTrail lookup for {key_arn}: {e}"),
            };
        }
    };
    let mut pages = client
        .lookup_events()
        .lookup_attributes(attribute)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                use aws_sdk_kms::error::ProvideErrorMetadata;
                let status = e.raw_response().map(|r| r.status().as_u16());
                return TrailLookup::Unavailable {
                    reason: format!(
                        "CloudTrail LookupEvents failed (HTTP {}{})",
                        status.map_or("?".into(), |s| s.to_string()),
                        e.code().map(|c| format!(", {c}")).unwrap_or_default()
                    ),
                };
            }
        };
        for ev in page.events() {
            let name = ev.event_name().unwrap_or_default();
            if !MATERIAL_EVENTS.contains(&name) || failed(ev.cloud_trail_event()) {
                continue;
            }
            return TrailLookup::Found {
                last_change: ev
                    .event_time()
                    .and_then(|t| Timestamp::from_second(t.secs()).ok()),
                event: Some(name.to_string()),
            };
        }
    }
    TrailLookup::Found {
        last_change: None,
        event: None,
    }
}

/// An event whose record carries an errorCode did not succeed.
fn failed(record: Option<&str>) -> bool {
    record
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .is_some_and(|v| v.get("errorCode").is_some_and(|c| !c.is_null()))
}

/// The key's failed calls since `since` (events whose record carries an errorCode), as
/// "<event> failed with <code> at <time>"; Err(reason) when LookupEvents is not available.
pub async fn errors_since(
    client: &CloudTrailClient,
    key_arn: &str,
    since: Timestamp,
) -> Result<Vec<String>, String> {
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(key_arn)
        .build()
        .map_err(|e| format!("CloudTrail lookup for {key_arn}: {e}"))?;
    let mut pages = client
        .lookup_events()
        .lookup_attributes(attribute)
        .start_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(
            since.as_second(),
        ))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            use aws_sdk_kms::error::ProvideErrorMetadata;
            format!(
                "CloudTrail LookupEvents failed (HTTP {}{})",
                e.raw_response()
                    .map_or("?".into(), |r| r.status().as_u16().to_string()),
                e.code().map(|c| format!(", {c}")).unwrap_or_default()
            )
        })?;
        for ev in page.events() {
            let code = ev
                .cloud_trail_event()
                .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                .and_then(|v| {
                    v.get("errorCode")
                        .and_then(|c| c.as_str().map(str::to_string))
                });
            if let Some(code) = code {
                let at = ev
                    .event_time()
                    .and_then(|t| Timestamp::from_second(t.secs()).ok())
                    .map_or("?".to_string(), |t| t.to_string());
                out.push(format!(
                    "{} failed with {code} at {at}",
                    ev.event_name().unwrap_or("an event")
                ));
            }
        }
    }
    Ok(out)
}
