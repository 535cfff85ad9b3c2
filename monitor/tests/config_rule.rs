//! The Config rule's handler on a scheduled notification (tests/fixtures/scheduled-notification.json,
//! the event Config sends a periodic custom Lambda rule), against the local services
//! `scripts/test` starts: KMS and S3 on LocalStack, RDS and DynamoDB on moto. Three EXTERNAL keys:
//! one whose material is 400 days old, protecting a bucket and a database; one imported 10 days
//! ago, protecting a table; one still awaiting its material. Material is imported for real
//! (wrapped by `openssl pkeyutl` with the key's own wrapping key, as the AWS CLI docs do it).
//!
//! STUB OF AWS BEHAVIOUR: Config PutEvaluations. No local emulator implements it: LocalStack
//! 2026.3.0 answers "PutEvaluations without TestMode is not yet implemented" (with TestMode it keeps
//! nothing to read back) and moto answers HTTP 500. An aws-smithy-mocks client records each
//! request and answers as Config does. CloudTrail LookupEvents (no local emulator either) is a
//! stub too: the last successful ImportKeyMaterial of each key, 400 or 10 days ago.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_cloudtrail::types::Event;
use aws_sdk_config::operation::put_evaluations::{PutEvaluationsInput, PutEvaluationsOutput};
use aws_sdk_config::types::{ComplianceType, Evaluation as ConfigEvaluation};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, OriginType, WrappingKeySpec};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use keyrite::kms::KmsTarget;
use keyrite_monitor::{ConfigEvent, Monitor, MonitorError, handle};

/// This test's account on LocalStack: its keys and buckets, and no other test's, are what the
/// rule sees there.
#[path = "../../tests/common/account.rs"]
mod account;
use account::account;

const EVENT: &str = include_str!("fixtures/scheduled-notification.json");
const REGION: &str = "us-east-1";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with ./scripts/test -- -p keyrite-monitor")
    })
}

fn target(endpoint: String) -> KmsTarget {
    KmsTarget {
        profile: None,
        region: Some(REGION.into()),
        endpoint_url: Some(endpoint),
        local_credentials: Some(account().into()),
    }
}

struct Clients {
    kms: aws_sdk_kms::Client,
    s3: aws_sdk_s3::Client,
    rds: aws_sdk_rds::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

/// Clients of the local services: KMS and S3 on LocalStack, RDS and DynamoDB on moto.
async fn clients(kms_endpoint: &str, aws_endpoint: &str) -> Clients {
    let local = keyrite::kms::sdk_config(&target(kms_endpoint.to_string()), true)
        .await
        .unwrap();
    let moto = keyrite::kms::sdk_config(&target(aws_endpoint.to_string()), true)
        .await
        .unwrap();
    Clients {
        kms: aws_sdk_kms::Client::new(&local),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&local)
                .force_path_style(true)
                .build(),
        ),
        rds: aws_sdk_rds::Client::new(&moto),
        dynamodb: aws_sdk_dynamodb::Client::new(&moto),
    }
}

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{what}-{}-{nanos:x}", std::process::id())
}

/// An EXTERNAL key with an alias; with 32 bytes of material imported when `material`.
async fn external_key(
    kms: &aws_sdk_kms::Client,
    alias: &str,
    material: bool,
    dir: &Path,
) -> (String, String) {
    let meta = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let id = meta.key_id().to_string();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    if material {
        let p = kms
            .get_parameters_for_import()
            .key_id(&id)
            .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
            .wrapping_key_spec(WrappingKeySpec::Rsa2048)
            .send()
            .await
            .unwrap();
        let public = dir.join(format!("{id}.der"));
        let plain = dir.join(format!("{id}.bin"));
        let wrapped = dir.join(format!("{id}.wrapped"));
        std::fs::write(&public, p.public_key().unwrap().as_ref()).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        run(&["rand", "-out", plain.to_str().unwrap(), "32"]);
        run(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            public.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
            plain.to_str().unwrap(),
            "-out",
            wrapped.to_str().unwrap(),
        ]);
        kms.import_key_material()
            .key_id(&id)
            .encrypted_key_material(Blob::new(std::fs::read(&wrapped).unwrap()))
            .import_token(p.import_token().unwrap().clone())
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await
            .unwrap();
    }
    (id, meta.arn().unwrap().to_string())
}

/// A bucket and a database under `key_arn`, a table under `table.1`.
async fn resources(c: &Clients, bucket: &str, db: &str, table: (&str, &str), key_arn: &str) {
    use aws_sdk_dynamodb::types as ddb;
    use aws_sdk_s3::types as s3t;
    let s3 = &c.s3;
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            s3t::ServerSideEncryptionConfiguration::builder()
                .rules(
                    s3t::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            s3t::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(s3t::ServerSideEncryption::AwsKms)
                                .kms_master_key_id(key_arn)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.rds
        .create_db_instance()
        .db_instance_identifier(db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("keyrite")
        .master_user_password("not-a-secret-0")
        .storage_encrypted(true)
        .kms_key_id(key_arn)
        .send()
        .await
        .unwrap();
    let (table, table_key) = table;
    c.dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ddb::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            ddb::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(ddb::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(ddb::BillingMode::PayPerRequest)
        .sse_specification(
            ddb::SseSpecification::builder()
                .enabled(true)
                .sse_type(ddb::SseType::Kms)
                .kms_master_key_id(table_key)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// CloudTrail as a stub: each key ARN's last successful ImportKeyMaterial, `days` ago.
fn trail(days_ago: BTreeMap<String, i64>) -> aws_sdk_cloudtrail::Client {
    let now = jiff::Timestamp::now().as_second();
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(move |req| {
        let arn = req.lookup_attributes()[0].attribute_value();
        let mut out = LookupEventsOutput::builder();
        if let Some(days) = days_ago.get(arn) {
            out = out.events(
                Event::builder()
                    .event_name("ImportKeyMaterial")
                    .event_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(
                        now - days * 86_400,
                    ))
                    .cloud_trail_event(r#"{"eventName":"ImportKeyMaterial"}"#)
                    .build(),
            );
        }
        out.build()
    });
    mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&rule])
}

type Recorded = Arc<Mutex<Vec<PutEvaluationsInput>>>;

/// Config as a stub: records each PutEvaluations; refuses every evaluation when `refuse`.
fn config_stub(refuse: bool) -> (aws_sdk_config::Client, Recorded) {
    let recorded: Recorded = Arc::default();
    let r = recorded.clone();
    let rule = mock!(aws_sdk_config::Client::put_evaluations).then_compute_output(move |req| {
        r.lock().unwrap().push(req.clone());
        let failed: Vec<ConfigEvaluation> = if refuse {
            req.evaluations().to_vec()
        } else {
            Vec::new()
        };
        PutEvaluationsOutput::builder()
            .set_failed_evaluations(Some(failed))
            .build()
    });
    (
        mock_client!(aws_sdk_config, RuleMode::MatchAny, [&rule]),
        recorded,
    )
}

#[tokio::test]
async fn a_scheduled_notification_reports_each_external_key_to_config() {
    let kms_endpoint = env("KEYRITE_TEST_KMS_ENDPOINT");
    let aws_endpoint = env("KEYRITE_TEST_AWS_ENDPOINT");
    // The resources' services, as the Lambda would find them: S3 on LocalStack, RDS and
    // DynamoDB on moto. SAFETY: set before any client of this test reads them; RDS's is changed
    // once below, under the same condition.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &kms_endpoint);
        std::env::set_var("AWS_ENDPOINT_URL_RDS", &aws_endpoint);
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &aws_endpoint);
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("mon");
    let c = clients(&kms_endpoint, &aws_endpoint).await;
    let kms = &c.kms;
    let (overdue, overdue_arn) =
        external_key(kms, &format!("alias/{prefix}/dev-s3"), true, dir.path()).await;
    let (fresh, fresh_arn) = external_key(
        kms,
        &format!("alias/{prefix}/dev-dynamodb"),
        true,
        dir.path(),
    )
    .await;
    let (pending, _) =
        external_key(kms, &format!("alias/{prefix}/dev-rds"), false, dir.path()).await;
    let bucket = format!("{prefix}-dev-data");
    let db = format!("{prefix}-dev-db");
    let table = format!("{prefix}-dev-orders");
    resources(&c, &bucket, &db, (&table, &fresh_arn), &overdue_arn).await;

    let event: ConfigEvent = serde_json::from_str(EVENT).unwrap();
    let (config, recorded) = config_stub(false);
    let monitor = Monitor {
        target: target(kms_endpoint.clone()),
        trail: Some(trail(BTreeMap::from([
            (overdue_arn.clone(), 400),
            (fresh_arn.clone(), 10),
        ]))),
        config,
    };
    let outcome = handle(&event, &monitor).await.expect("handle");
    assert_eq!(outcome.region, REGION);

    // What the handler says it put, for our three keys.
    let ours: BTreeMap<&str, &keyrite_monitor::Evaluation> = outcome
        .evaluations
        .iter()
        .filter(|e| [&overdue, &fresh, &pending].contains(&&e.key_id))
        .map(|e| (e.key_id.as_str(), e))
        .collect();
    assert_eq!(ours.len(), 3);
    let late = ours[overdue.as_str()];
    assert_eq!(late.compliance, "NON_COMPLIANT");
    assert!(
        late.annotation.starts_with(&format!(
            "alias/{prefix}/dev-s3: material 400 days old (max 365), overdue since "
        )),
        "{}",
        late.annotation
    );
    assert!(
        late.annotation.ends_with(&format!(
            "; exposes 2: s3 bucket {bucket}, rds instance {db}"
        )),
        "{}",
        late.annotation
    );
    let ok = ours[fresh.as_str()];
    assert_eq!(ok.compliance, "COMPLIANT");
    assert!(
        ok.annotation
            .contains("material 10 days old (max 365), due "),
        "{}",
        ok.annotation
    );
    assert!(
        ok.annotation
            .ends_with(&format!("; protects 1: dynamodb table {table}")),
        "{}",
        ok.annotation
    );
    let none = ours[pending.as_str()];
    assert_eq!(none.compliance, "NOT_APPLICABLE");
    assert_eq!(
        none.annotation,
        format!(
            "alias/{prefix}/dev-rds: no key material (PendingImport); protects no S3, RDS or DynamoDB resource"
        )
    );

    // What Config was sent: every evaluation, with the event's token, in calls of at most 100.
    let requests = recorded.lock().unwrap().clone();
    assert_eq!(requests.len(), outcome.evaluations.len().div_ceil(100));
    let sent: Vec<&ConfigEvaluation> = requests.iter().flat_map(|r| r.evaluations()).collect();
    assert_eq!(sent.len(), outcome.evaluations.len());
    let notified = jiff::Timestamp::from_second(1_795_845_600).unwrap(); // 2026-11-28T06:00:00Z
    for r in &requests {
        assert_eq!(r.result_token(), Some("result-token-of-this-evaluation"));
        assert_eq!(r.test_mode(), None);
    }
    for e in &sent {
        assert_eq!(e.compliance_resource_type(), "AWS::KMS::Key");
        assert_eq!(e.ordering_timestamp().secs(), notified.as_second());
        assert!(e.annotation().unwrap().len() <= 256);
    }
    for (id, mine) in &ours {
        let put = sent
            .iter()
            .find(|e| e.compliance_resource_id() == *id)
            .expect("put for each key");
        assert_eq!(
            put.compliance_type(),
            &ComplianceType::from(mine.compliance)
        );
        assert_eq!(put.annotation(), Some(mine.annotation.as_str()));
    }

    // Config refusing the evaluations is the rule's failure, not a silent success.
    let (refusing, _) = config_stub(true);
    let monitor = Monitor {
        config: refusing,
        ..monitor
    };
    let err = handle(&event, &monitor).await.unwrap_err();
    assert!(matches!(err, MonitorError::Refused { .. }), "{err}");

    // RDS unreadable (its endpoint now LocalStack, which does not emulate RDS: the answer a role
    // without rds:DescribeDBInstances gets): the keys are still evaluated, and no annotation
    // claims a key protects nothing when RDS could not be looked at.
    // SAFETY: this is the binary's only test and its runtime is single-threaded: no other
    // thread reads the environment while it changes; clients made from here on read the new value.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_RDS", &kms_endpoint);
    }
    let (config, _) = config_stub(false);
    let monitor = Monitor { config, ..monitor };
    let outcome = handle(&event, &monitor).await.expect("handle without RDS");
    let annotation = |id: &str| {
        outcome
            .evaluations
            .iter()
            .find(|e| e.key_id == id)
            .map(|e| (e.compliance, e.annotation.clone()))
            .unwrap()
    };
    let (compliance, text) = annotation(&pending);
    assert_eq!(compliance, "NOT_APPLICABLE");
    assert_eq!(
        text,
        format!(
            "alias/{prefix}/dev-rds: no key material (PendingImport); protects no S3 or DynamoDB resource; RDS could not be read: unknown"
        )
    );
    let (compliance, text) = annotation(&overdue);
    assert_eq!(compliance, "NON_COMPLIANT");
    assert!(
        text.ends_with(&format!(
            "; exposes 1: s3 bucket {bucket}; RDS could not be read: unknown"
        )),
        "{text}"
    );
}
