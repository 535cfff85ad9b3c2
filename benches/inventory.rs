//! Inventory cost: 100 EXTERNAL keys and 1,000 resources under them (400 S3 buckets on
//! LocalStack, 300 DynamoDB tables and 300 RDS instances on moto), inventoried by one
//! `keyrite kms inventory`. Prints the wall time and the API calls by operation, next to the
//! calls a naive per-resource lookup would make (each resource's key described and its aliases
//! listed: two KMS calls per resource on top of reading the resources). Asserts only that every
//! resource is found under its key, never a speed.
//!
//! Run: `scripts/bench-inventory` (starts LocalStack and moto, builds unoptimised).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use common::services::*;
use common::*;

const KEYS: usize = 100;
const BUCKETS: usize = 400;
const TABLES: usize = 300;
const DATABASES: usize = 300;

fn main() {
    let rt = rt();
    let prefix = unique("bench");
    let start = Instant::now();
    let keys: Vec<(String, String)> = rt.block_on(async {
        let kms = client().await;
        stream::iter(0..KEYS)
            .map(|i| {
                let kms = kms.clone();
                let prefix = prefix.clone();
                async move {
                    let env = ["dev", "int", "prod"][i % 3];
                    let svc = ["s3", "rds", "dynamodb"][(i / 3) % 3];
                    let meta = kms
                        .create_key()
                        .origin(aws_sdk_kms::types::OriginType::External)
                        .send()
                        .await
                        .unwrap()
                        .key_metadata
                        .unwrap();
                    let alias = format!("alias/{prefix}/{env}-{svc}-{i:03}");
                    kms.create_alias()
                        .alias_name(&alias)
                        .target_key_id(meta.key_id())
                        .send()
                        .await
                        .unwrap();
                    (alias, meta.arn().unwrap().to_string())
                }
            })
            .buffered(16)
            .collect()
            .await
    });
    let key = |i: usize| keys[i % KEYS].1.clone();
    rt.block_on(async {
        let work: Vec<(usize, &str)> = (0..BUCKETS)
            .map(|i| (i, "bucket"))
            .chain((0..TABLES).map(|i| (i, "table")))
            .chain((0..DATABASES).map(|i| (i, "db")))
            .collect();
        stream::iter(work)
            .for_each_concurrent(16, |(i, kind)| {
                let k = key(i);
                let prefix = prefix.clone();
                async move {
                    let name = format!("{prefix}-{kind}-{i:04}");
                    match kind {
                        "bucket" => bucket("us-east-1", &name, &k, &[]).await,
                        "table" => table("us-east-1", &name, &k).await,
                        _ => db_instance("us-east-1", &name, &k).await,
                    }
                }
            })
            .await;
    });
    eprintln!(
        "set up {KEYS} keys and {} resources in {:.1} s",
        BUCKETS + TABLES + DATABASES,
        start.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let out = keyrite_all_services()
        .args(["kms", "inventory", "--region", "us-east-1", "--json"])
        .assert()
        .success();
    let wall = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let ours: Vec<&serde_json::Value> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["aliases"][0]
                .as_str()
                .is_some_and(|a| a.starts_with(&format!("alias/{prefix}/")))
        })
        .collect();
    assert_eq!(ours.len(), KEYS);
    let found: usize = ours
        .iter()
        .map(|k| k["resources"].as_array().unwrap().len())
        .sum();
    assert_eq!(found, BUCKETS + TABLES + DATABASES);
    let all_keys = v["keys"].as_array().unwrap().len() as u64;
    let all_resources: u64 = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["resources"].as_array().unwrap().len() as u64)
        .sum();
    let calls = v["calls"]["total"].as_u64().unwrap();
    let by_op = &v["calls"]["by_operation"];
    let kms_calls: u64 = by_op
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("kms:"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    // Naive: the same reads of the resources, then per resource DescribeKey and ListAliases
    // (--key-id) instead of reading every key once.
    let naive = calls - kms_calls + 2 * all_resources;
    println!(
        "inventory of {all_keys} EXTERNAL keys and {all_resources} resources in the region ({KEYS} keys and {} resources of this run): {:.1} s, {calls} API calls ({kms_calls} to KMS); a naive per-resource lookup: {naive} calls",
        BUCKETS + TABLES + DATABASES,
        wall.as_secs_f64()
    );
    println!("calls by operation: {by_op}");
}
