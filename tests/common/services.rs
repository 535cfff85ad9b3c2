//! The local AWS services beyond KMS that `scripts/test` starts: S3 on the same LocalStack as the
//! KMS, RDS and DynamoDB on moto in server mode (KEYRITE_TEST_AWS_ENDPOINT).
#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::{account, kms_endpoint};

/// The moto server that `scripts/test` started (RDS, DynamoDB).
pub fn aws_endpoint() -> String {
    std::env::var("KEYRITE_TEST_AWS_ENDPOINT").expect(
        "KEYRITE_TEST_AWS_ENDPOINT is not set: run the tests with ./scripts/test, which starts moto",
    )
}

async fn config(region: &str, endpoint: String) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        // The test's own account on LocalStack (S3); moto keeps every test's resources in its
        // default account whatever the access key.
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            account(),
            "local",
            None,
            None,
            "keyrite-test",
        ))
        .load()
        .await
}

pub async fn s3(region: &str) -> aws_sdk_s3::Client {
    let c = config(region, kms_endpoint()).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&c)
            .force_path_style(true)
            .build(),
    )
}

pub async fn rds(region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&config(region, aws_endpoint()).await)
}

pub async fn dynamodb(region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&config(region, aws_endpoint()).await)
}

/// The keyrite binary with KMS and S3 on LocalStack and RDS and DynamoDB on moto.
pub fn keyrite_all_services() -> assert_cmd::Command {
    let mut cmd = super::keyrite();
    cmd.env("AWS_ENDPOINT_URL_RDS", aws_endpoint())
        .env("AWS_ENDPOINT_URL_DYNAMODB", aws_endpoint());
    cmd
}

/// A bucket in `region` whose default encryption is SSE-KMS under `key` (as given: alias, id or
/// ARN), with tags.
pub async fn bucket(region: &str, name: &str, key: &str, tags: &[(&str, &str)]) {
    use aws_sdk_s3::types::*;
    let s3 = s3(region).await;
    let mut req = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.expect("create bucket");
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(by_default)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put bucket encryption");
    if !tags.is_empty() {
        let mut tagging = Tagging::builder();
        for (k, v) in tags {
            tagging = tagging.tag_set(Tag::builder().key(*k).value(*v).build().unwrap());
        }
        s3.put_bucket_tagging()
            .bucket(name)
            .tagging(tagging.build().unwrap())
            .send()
            .await
            .expect("put bucket tagging");
    }
}

/// An encrypted RDS instance under `key`.
pub async fn db_instance(region: &str, name: &str, key: &str) {
    rds(region)
        .await
        .create_db_instance()
        .db_instance_identifier(name)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("keyrite")
        .master_user_password("not-a-secret-0")
        .storage_encrypted(true)
        .kms_key_id(key)
        .send()
        .await
        .expect("create db instance");
}

/// An encrypted Aurora cluster under `key`.
pub async fn db_cluster(region: &str, name: &str, key: &str) {
    rds(region)
        .await
        .create_db_cluster()
        .db_cluster_identifier(name)
        .engine("aurora-postgresql")
        .master_username("keyrite")
        .master_user_password("not-a-secret-0")
        .storage_encrypted(true)
        .kms_key_id(key)
        .send()
        .await
        .expect("create db cluster");
}

/// A DynamoDB table encrypted under `key`.
pub async fn table(region: &str, name: &str, key: &str) {
    use aws_sdk_dynamodb::types::*;
    dynamodb(region)
        .await
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key)
                .build(),
        )
        .send()
        .await
        .expect("create table");
}

/// `keyrite kms inventory --json` now, saved into `dir` (for `verify-rotation --inventory`).
pub fn inventory_file(dir: &std::path::Path) -> std::path::PathBuf {
    let out = keyrite_all_services()
        .args(["kms", "inventory", "--json"])
        .assert()
        .success();
    let path = dir.join(super::unique("inventory") + ".json");
    std::fs::write(&path, &out.get_output().stdout).unwrap();
    path
}
