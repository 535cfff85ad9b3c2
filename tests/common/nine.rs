//! Nine EXTERNAL keys alias/<prefix>/{dev,int,prod}-{s3,rds,dynamodb} (dev and int in
//! us-east-1, prod in eu-west-1), each protecting a resource of its service on the local
//! services, plus a bucket naming its key by ARN and a dev bucket under the prod S3 key.
#![allow(dead_code)]

use std::collections::BTreeMap;

use super::services::*;
use super::*;

pub struct Nine {
    pub prefix: String,
    /// "dev-s3" -> (alias, key ARN, region)
    pub keys: BTreeMap<String, (String, String, &'static str)>,
}

fn region_of(environment: &str) -> &'static str {
    if environment == "prod" {
        "eu-west-1"
    } else {
        "us-east-1"
    }
}

fn alias_arn(key_arn: &str, alias: &str) -> String {
    let head = key_arn.rsplit_once(":key/").unwrap().0;
    format!("{head}:{alias}")
}

/// The nine keys and one resource each, plus the two that must be reported.
pub fn nine_keys_with_resources() -> Nine {
    let rt = rt();
    let prefix = unique("inv");
    let mut keys = BTreeMap::new();
    rt.block_on(async {
        for env in ["dev", "int", "prod"] {
            let region = region_of(env);
            let kms = keyrite::kms::connect(&keyrite::kms::KmsTarget {
                region: Some(region.into()),
                ..kms_target()
            })
            .await
            .unwrap();
            for svc in ["s3", "rds", "dynamodb"] {
                let meta = kms
                    .create_key()
                    .origin(aws_sdk_kms::types::OriginType::External)
                    .send()
                    .await
                    .unwrap()
                    .key_metadata
                    .unwrap();
                let alias = format!("alias/{prefix}/{env}-{svc}");
                kms.create_alias()
                    .alias_name(&alias)
                    .target_key_id(meta.key_id())
                    .send()
                    .await
                    .unwrap();
                keys.insert(
                    format!("{env}-{svc}"),
                    (alias, meta.arn().unwrap().to_string(), region),
                );
            }
        }
        for env in ["dev", "int", "prod"] {
            let region = region_of(env);
            let (alias, arn, _) = &keys[&format!("{env}-s3")];
            // dev's bucket names its key by ARN; the others by alias ARN.
            let setting = if env == "dev" {
                arn.clone()
            } else {
                alias_arn(arn, alias)
            };
            bucket(region, &format!("{prefix}-{env}-data"), &setting, &[]).await;
            let (_, arn, _) = &keys[&format!("{env}-rds")];
            if env == "int" {
                db_cluster(region, &format!("{prefix}-{env}-cluster"), arn).await;
            } else {
                db_instance(region, &format!("{prefix}-{env}-db"), arn).await;
            }
            let (_, arn, _) = &keys[&format!("{env}-dynamodb")];
            table(region, &format!("{prefix}-{env}-orders"), arn).await;
        }
        // A dev bucket (by its tag) under the prod S3 key.
        let (alias, arn, _) = &keys["prod-s3"];
        bucket(
            "eu-west-1",
            &format!("{prefix}-logs"),
            &alias_arn(arn, alias),
            &[("Environment", "dev")],
        )
        .await;
    });
    Nine { prefix, keys }
}
