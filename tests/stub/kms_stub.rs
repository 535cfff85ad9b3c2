//! AWS KMS behaviour that the local KMS cannot produce, against a STUBBED KMS.
//!
//! Every response here is a stub of documented AWS behaviour (aws-smithy-mocks answering in place
//! of KMS): LocalStack never returns ExpiredImportTokenException, InvalidImportTokenException,
//! IncorrectKeyMaterialException, InvalidCiphertextException (it answers a bad wrap with HTTP 500)
//! or ThrottlingException, and does not bind an import token to its key. The bundle, the checks
//! and the error handling are keyrite's real code; only KMS's answers are stubbed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ErrorMetadata;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::import_key_material::{
    ImportKeyMaterialError, ImportKeyMaterialOutput,
};
use aws_sdk_kms::types::{KeyMetadata, KeyState, OriginType};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use jiff::{SignedDuration, Timestamp};
use keyrite::app::import::{Expiration, import};
use keyrite::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use keyrite::core::exit::ExitCode;
use keyrite::core::manifest::{self, CeremonyRecord, GeneratedKey, KeyEntry, Manifest};
use keyrite::core::signed_ceremony::SignedCeremony;
use keyrite::io::bundle::{Bundle, NewBundle, VerifiedBundle};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const NAME: &str = "prod-s3";
const WRAPPING_PUBLIC_KEY: &[u8] = include_bytes!("../fixtures/wrapping-public-key-rsa4096.der");

fn arn() -> String {
    arn_of(KEY_ID)
}

fn arn_of(key_id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}")
}

/// The first key's replica in `region`: the same key id, the replica's Region.
fn replica_arn(region: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{KEY_ID}")
}

fn key_id_of(i: usize) -> String {
    if i == 0 {
        KEY_ID.into()
    } else {
        format!("{}{i:04}", &KEY_ID[..KEY_ID.len() - 4])
    }
}

struct StubBundle {
    /// Bundle key names; the first is NAME with KEY_ID, the others get key ids of their own.
    names: Vec<&'static str>,
    material_len: usize,
    parameters_valid_to: Timestamp,
    key_arn: String,
    /// The key state `kms prepare` saw: PendingImport (a first import) or Enabled (a rotation).
    key_state: &'static str,
    /// A multi-Region primary (the first key): its replica's Region, with the material wrapped
    /// for that Region's key in `<name>/<region>/`.
    replica: Option<&'static str>,
}

impl Default for StubBundle {
    fn default() -> Self {
        StubBundle {
            names: vec![NAME],
            material_len: 512,
            parameters_valid_to: Timestamp::now() + SignedDuration::from_hours(23),
            key_arn: arn(),
            key_state: "PendingImport",
            replica: None,
        }
    }
}

impl StubBundle {
    /// A bundle as the ceremony leaves it (RSA_4096, RSAES_OAEP_SHA_256), written and verified by
    /// keyrite's own bundle code.
    fn write(&self, dir: &Path) -> VerifiedBundle {
        let path = dir.join("bundle");
        let mut b = NewBundle::create(&path).unwrap();
        for name in &self.names {
            b.write(name, manifest::WRAPPING_PUBLIC_KEY, WRAPPING_PUBLIC_KEY)
                .unwrap();
            b.write(name, manifest::IMPORT_TOKEN, &[0x17; 1024])
                .unwrap();
            b.write(
                name,
                manifest::ENCRYPTED_KEY_MATERIAL,
                &vec![0x5a; self.material_len],
            )
            .unwrap();
        }
        if let Some(region) = self.replica {
            let name = self.names[0];
            b.write_in(
                name,
                Some(region),
                manifest::WRAPPING_PUBLIC_KEY,
                &[0x21; 550],
            )
            .unwrap();
            b.write_in(name, Some(region), manifest::IMPORT_TOKEN, &[0x18; 1024])
                .unwrap();
            b.write_in(
                name,
                Some(region),
                manifest::ENCRYPTED_KEY_MATERIAL,
                &vec![0x5b; self.material_len],
            )
            .unwrap();
        }
        let now = Timestamp::now();
        let m = Manifest {
            format: manifest::FORMAT.into(),
            created: now,
            tool_version: "test".into(),
            wrapping_key_spec: WrappingKeySpec::Rsa4096,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            keys: self
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let key_id = key_id_of(i);
                    KeyEntry {
                        name: name.to_string(),
                        requested: format!("alias/{name}"),
                        alias: Some(format!("alias/{name}")),
                        key_arn: if i == 0 {
                            self.key_arn.clone()
                        } else {
                            arn_of(&key_id)
                        },
                        key_id,
                        account: ACCOUNT.into(),
                        region: REGION.into(),
                        key_state: self.key_state.into(),
                        current_key_material_id: None,
                        parameters_valid_to: self.parameters_valid_to,
                        generated: Some(GeneratedKey {
                            hsm_label: format!("keyrite-{name}"),
                            hsm_id: "01".into(),
                            check_value: "abcdef".into(),
                            generated_at: now,
                            reimport_of_key_material_id: None,
                        }),
                        takes_over: None,
                        replicas: self
                            .replica
                            .filter(|_| i == 0)
                            .map(|region| manifest::ReplicaEntry {
                                region: region.into(),
                                key_arn: replica_arn(region),
                                key_state: self.key_state.into(),
                                current_key_material_id: None,
                                parameters_valid_to: self.parameters_valid_to,
                            })
                            .into_iter()
                            .collect(),
                    }
                })
                .collect(),
            files: b.files().clone(),
            ceremony: Some(CeremonyRecord {
                script_sha256: "00".repeat(32),
                prepared_manifest_sha256: "00".repeat(32),
                token_label: "test".into(),
                operator: "Alice Admin".into(),
                witness: Some("Walter Witness".into()),
                finished_at: now,
            }),
        };
        b.commit(&m).unwrap();
        // A complete ceremony log signed by a software key stands in for the ceremony's: the
        // import verifies it (with `log_trust()`) and the receipt continues it.
        let manifest_sha256 =
            keyrite::core::digest::sha256_hex(&std::fs::read(path.join("manifest.json")).unwrap());
        std::fs::write(
            path.join(keyrite::core::log::FILE_NAME),
            signed_log(&m, &manifest_sha256),
        )
        .unwrap();
        Bundle::verify(&path).unwrap()
    }
}

/// The software key that signs the stub bundles' ceremony logs.
fn log_signer() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap()
}

/// The log public key the stub bundles' logs verify with.
fn log_trust() -> keyrite::core::log::TrustedKey {
    keyrite::core::log::TrustedKey::from_key(*log_signer().verifying_key()).unwrap()
}

/// A complete ceremony log for manifest `m` (start, probe, each key generated and wrapped, end
/// naming `manifest_sha256`), signed with [`log_signer`].
fn signed_log(m: &Manifest, manifest_sha256: &str) -> Vec<u8> {
    use keyrite::core::ceremony::Record;
    use keyrite::core::ceremony::record::{AliasMove, End, KeyGenerated, KeyWrapped, Probe, Start};
    let now = Timestamp::now();
    let mut records = vec![
        Record::Start(Start {
            tool_version: "test".into(),
            tool_sha256: "0".repeat(64),
            tool_features: None,
            roles: None,
            script_sha256: "00".repeat(32),
            manifest_sha256: "00".repeat(32),
            token_label: "test".into(),
            log_key_sha256: log_trust().fingerprint().to_string(),
            roster: None,
            provenance: None,
            alias_moves: m
                .keys
                .iter()
                .filter_map(|k| {
                    k.takes_over.as_ref().map(|t| AliasMove {
                        key: k.name.clone(),
                        alias: t.alias.clone(),
                        previous_key_arn: t.previous_key_arn.clone(),
                    })
                })
                .collect(),
            provenance_waived: Some("a stub".into()),
        }),
        Record::Probe(Probe {
            algorithm: "RSAES_OAEP_SHA_256".into(),
            mechanism: None,
            result: "ok".into(),
            wrap_with_trusted: None,
        }),
    ];
    for k in &m.keys {
        let g = k.generated.as_ref().unwrap();
        let file = Manifest::file_path(k, manifest::ENCRYPTED_KEY_MATERIAL);
        records.push(Record::KeyGenerated(KeyGenerated {
            key: k.name.clone(),
            key_arn: k.key_arn.clone(),
            hsm_label: g.hsm_label.clone(),
            check_value: g.check_value.clone(),
            reimport: None,
            wrap_with_trusted: false,
            hsm_id: None,
            replica_regions: k.replicas.iter().map(|r| r.region.clone()).collect(),
        }));
        records.push(Record::KeyWrapped(KeyWrapped {
            key: k.name.clone(),
            sha256: m.files[&file].clone(),
            file,
            algorithm: None,
            region: None,
        }));
        for r in &k.replicas {
            let file =
                Manifest::region_file_path(k, Some(&r.region), manifest::ENCRYPTED_KEY_MATERIAL);
            records.push(Record::KeyWrapped(KeyWrapped {
                key: k.name.clone(),
                sha256: m.files[&file].clone(),
                file,
                algorithm: None,
                region: Some(r.region.clone()),
            }));
        }
    }
    records.push(Record::End(End {
        manifest_sha256: manifest_sha256.to_string(),
        keys: Some(m.keys.len()),
    }));
    let mut chain = keyrite::core::log::LogChain::new();
    let mut log = Vec::new();
    for r in records {
        log.extend(
            chain
                .record(&log_signer(), now, r.step(), &[], r.to_data())
                .unwrap(),
        );
    }
    log
}

/// The bundle's ceremony log verified with [`log_trust`]: what `kms import` acts on.
fn signed(bundle: &VerifiedBundle) -> SignedCeremony {
    let log = std::fs::read(bundle.dir().join(keyrite::core::log::FILE_NAME)).unwrap();
    SignedCeremony::check(
        &log,
        &log_trust(),
        bundle.manifest(),
        bundle.fingerprint(),
        |k| {
            bundle
                .file(k, manifest::ENCRYPTED_KEY_MATERIAL)
                .map(keyrite::core::digest::sha256_hex)
        },
    )
    .unwrap()
}

fn metadata(arn: &str, state: KeyState) -> DescribeKeyOutput {
    let mut meta = KeyMetadata::builder()
        .key_id(KEY_ID)
        .arn(arn)
        .aws_account_id(ACCOUNT)
        .origin(OriginType::External)
        .key_state(state.clone());
    if state == KeyState::Enabled {
        meta = meta.current_key_material_id("material-1");
    }
    DescribeKeyOutput::builder()
        .key_metadata(meta.build().unwrap())
        .build()
}

/// Stub: DescribeKey says PendingImport before the import and Enabled after it.
fn describe_pending_then_enabled() -> Rule {
    mock!(Client::describe_key)
        .sequence()
        .output(|| metadata(&arn(), KeyState::PendingImport))
        .output(|| metadata(&arn(), KeyState::Enabled))
        .repeatedly()
        .build()
}

/// Stub: Encrypt answers under the key (the import's ciphertext made before a rotation).
fn encrypt_ok() -> Rule {
    mock!(Client::encrypt).then_output(|| {
        aws_sdk_kms::operation::encrypt::EncryptOutput::builder()
            .key_id(arn())
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(vec![0x3c; 64]))
            .build()
    })
}

fn import_ok() -> ImportKeyMaterialOutput {
    ImportKeyMaterialOutput::builder()
        .key_id(arn())
        .key_material_id("material-1")
        .build()
}

/// A client on the stub, with keyrite's own retry policy; only the first backoff is shortened so
/// the retry tests do not wait seconds (the attempt count is what is under test).
fn stub_client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_kms, RuleMode::MatchAny, rules, |c| c.retry_config(
        keyrite::kms::retry_config().with_initial_backoff(Duration::from_millis(1))
    ))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run_import(client: &Client, bundle: &VerifiedBundle) -> keyrite::app::error::Result<()> {
    rt().block_on(import(
        client,
        bundle,
        &signed(bundle),
        Expiration::DoesNotExpire,
    ))
    .map(|_| ())
}

/// What every KMS rejection must carry: the key, the operation, the AWS code, what to do.
fn assert_names_everything(err: &keyrite::Error, operation: &str, code: &str) {
    let text = err.to_string();
    for part in [NAME, operation, code, "what to do:"] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
}

/// An AWS KMS error as it arrives on the wire (awsJson1.1: HTTP 400, `__type` names the error),
/// so the SDK's own deserializer turns it into the modeled error.
fn aws_error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
}

#[test]
fn stub_aws_import_rejections_name_key_operation_code_and_remedy() {
    let cases = [
        (
            "ExpiredImportTokenException",
            "Import token expired.",
            "prepare a new bundle",
        ),
        (
            "InvalidImportTokenException",
            "Import token is invalid.",
            "prepare a new bundle",
        ),
        (
            "IncorrectKeyMaterialException",
            "The key material does not match the key material previously imported.",
            "escrowed key",
        ),
        (
            "InvalidCiphertextException",
            "Unable to decrypt the encrypted key material.",
            "wrapping algorithm or public key",
        ),
    ];
    for (code, message, remedy) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bundle = StubBundle::default().write(dir.path());
        let describe = describe_pending_then_enabled();
        // Stub of AWS: ImportKeyMaterial rejects with `code`.
        let rejected = mock!(Client::import_key_material)
            .sequence()
            .http_status(400, aws_error_body(code, message))
            .build();
        let client = stub_client(&[&describe, &rejected]);

        let err = run_import(&client, &bundle).unwrap_err();

        assert_names_everything(&err, "ImportKeyMaterial", code);
        assert!(err.to_string().contains(message), "{code}: {err}");
        assert!(err.to_string().contains(remedy), "{code}: {err}");
        assert_eq!(err.exit_code(), ExitCode::OperationFailed, "{code}: {err}");
        assert_eq!(rejected.num_calls(), 1, "{code} is final: not retried");
    }
}

/// The body AWS KMS sends when it throttles (awsJson1.1, HTTP 400).
fn throttled_body() -> Option<String> {
    aws_error_body("ThrottlingException", "Rate exceeded")
}

#[test]
fn stub_aws_throttling_is_retried_with_backoff_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let describe = describe_pending_then_enabled();
    // Stub of AWS: two throttled answers, then the import goes through.
    let throttled_twice = mock!(Client::import_key_material)
        .sequence()
        .http_status(400, throttled_body())
        .times(2)
        .output(import_ok)
        .build();
    let client = stub_client(&[&describe, &throttled_twice]);

    run_import(&client, &bundle).unwrap();

    assert_eq!(
        throttled_twice.num_calls(),
        3,
        "two throttled attempts, then one that succeeded"
    );
}

#[test]
fn stub_aws_throttling_that_persists_stops_after_the_stated_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let describe = describe_pending_then_enabled();
    // Stub of AWS: every ImportKeyMaterial is throttled.
    let always_throttled = mock!(Client::import_key_material)
        .sequence()
        .http_status(400, throttled_body())
        .repeatedly()
        .build();
    let client = stub_client(&[&describe, &always_throttled]);

    let err = run_import(&client, &bundle).unwrap_err();

    assert_eq!(
        always_throttled.num_calls(),
        keyrite::kms::MAX_ATTEMPTS as usize,
        "bounded: exactly MAX_ATTEMPTS attempts"
    );
    assert_names_everything(&err, "ImportKeyMaterial", "ThrottlingException");
    assert!(
        err.to_string()
            .contains(&format!("{} attempts", keyrite::kms::MAX_ATTEMPTS)),
        "{err}"
    );
    assert_eq!(err.exit_code(), ExitCode::OperationFailed);
}

#[test]
fn stub_a_token_bound_to_another_key_is_refused_before_import() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let other = format!("arn:aws:kms:{REGION}:444455556666:key/{KEY_ID}");
    // Stub of AWS: DescribeKey answers for a key in another account (other credentials).
    let describe =
        mock!(Client::describe_key).then_output(move || metadata(&other, KeyState::PendingImport));
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let client = stub_client(&[&describe, &imports]);

    let err = run_import(&client, &bundle).unwrap_err();

    assert_eq!(
        imports.num_calls(),
        0,
        "ImportKeyMaterial must not be called"
    );
    assert_eq!(err.exit_code(), ExitCode::Refused, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("444455556666") && text.contains(&arn()),
        "{text}"
    );
}

#[test]
fn preflight_refuses_wrong_material_size_expired_parameters_and_inconsistent_arn_without_calling_kms()
 {
    let cases = [
        (
            StubBundle {
                material_len: 511,
                ..StubBundle::default()
            },
            "511 bytes",
        ),
        (
            StubBundle {
                material_len: 256,
                ..StubBundle::default()
            },
            "256 bytes",
        ),
        (
            StubBundle {
                parameters_valid_to: Timestamp::now() - SignedDuration::from_mins(1),
                ..StubBundle::default()
            },
            "expired",
        ),
        (
            StubBundle {
                parameters_valid_to: Timestamp::now() + SignedDuration::from_mins(2),
                ..StubBundle::default()
            },
            "expire at",
        ),
        (
            StubBundle {
                key_arn: format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"),
                ..StubBundle::default()
            },
            "does not name key",
        ),
    ];
    for (stub, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bundle = stub.write(dir.path());
        let describe = describe_pending_then_enabled();
        let imports = mock!(Client::import_key_material).then_output(import_ok);
        let client = stub_client(&[&describe, &imports]);

        let err = run_import(&client, &bundle).unwrap_err();

        assert!(err.to_string().contains(expect), "{expect}: {err}");
        assert!(err.to_string().contains(NAME), "{err}");
        assert_eq!(err.exit_code(), ExitCode::Refused, "{expect}: {err}");
        assert_eq!(
            describe.num_calls() + imports.num_calls(),
            0,
            "{expect}: KMS was called"
        );
    }
}

#[test]
fn preflight_valid_to_table() {
    let now = Timestamp::now();
    let cases = [
        (now - SignedDuration::from_hours(1), false),
        (now + SignedDuration::from_mins(10), true),
        (now + SignedDuration::from_hours(364 * 24), true),
        (now + SignedDuration::from_hours(366 * 24), false),
    ];
    for (valid_to, ok) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bundle = StubBundle::default().write(dir.path());
        let got = keyrite::app::import::preflight(&bundle, Expiration::ExpiresAt(valid_to), now);
        assert_eq!(got.is_ok(), ok, "{valid_to}: {got:?}");
        if let Err(e) = got {
            assert_eq!(e.exit_code(), ExitCode::Usage);
            assert!(e.to_string().contains("365 days"), "{e}");
        }
    }
}

#[test]
fn stub_a_successful_first_import_calls_import_once() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let describe = describe_pending_then_enabled();
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let client = stub_client(&[&describe, &imports]);

    let outcomes = rt()
        .block_on(import(
            &client,
            &bundle,
            &signed(&bundle),
            Expiration::DoesNotExpire,
        ))
        .unwrap();

    assert_eq!(imports.num_calls(), 1);
    assert_eq!(outcomes[0].kind, "first import");
    assert_eq!(outcomes[0].key_material_id.as_deref(), Some("material-1"));
}

/// A tiny stand-in for KMS's key states, shared by the stubbed DescribeKey and ImportKeyMaterial:
/// a key is PendingImport until material has been imported into it.
#[derive(Clone, Default)]
struct StubKeyStates {
    imported: Arc<Mutex<BTreeSet<String>>>,
    import_calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl StubKeyStates {
    fn describe_rule(&self) -> Rule {
        let states = self.clone();
        mock!(Client::describe_key).then_compute_output(move |req| {
            let arn = req.key_id().unwrap_or_default().to_string();
            let imported = states.imported.lock().unwrap().contains(&arn);
            let state = if imported {
                KeyState::Enabled
            } else {
                KeyState::PendingImport
            };
            let mut meta = KeyMetadata::builder()
                .key_id(arn.rsplit('/').next().unwrap_or_default())
                .arn(&arn)
                .aws_account_id(ACCOUNT)
                .origin(OriginType::External)
                .key_state(state);
            if imported {
                meta = meta.current_key_material_id(format!("material-of-{arn}"));
            }
            DescribeKeyOutput::builder()
                .key_metadata(meta.build().unwrap())
                .build()
        })
    }

    /// ImportKeyMaterial: `outcome(arn)` says what this call does.
    fn import_rule(
        &self,
        outcome: impl Fn(&str) -> ImportOutcomeStub + Send + Sync + 'static,
    ) -> Rule {
        let states = self.clone();
        mock!(Client::import_key_material).then_compute_response(move |req| {
            let arn = req.key_id().unwrap_or_default().to_string();
            *states
                .import_calls
                .lock()
                .unwrap()
                .entry(arn.clone())
                .or_default() += 1;
            let lost = |code: &str| {
                MockResponse::Error(ImportKeyMaterialError::generic(
                    ErrorMetadata::builder()
                        .code(code)
                        .message("stubbed failure")
                        .build(),
                ))
            };
            match outcome(&arn) {
                ImportOutcomeStub::Accepted => {
                    states.imported.lock().unwrap().insert(arn.clone());
                    MockResponse::Output(
                        ImportKeyMaterialOutput::builder()
                            .key_id(&arn)
                            .key_material_id(format!("material-of-{arn}"))
                            .build(),
                    )
                }
                // KMS imported the material, but the answer never came back.
                ImportOutcomeStub::AcceptedButAnswerLost => {
                    states.imported.lock().unwrap().insert(arn.clone());
                    lost("RequestTimeout")
                }
                ImportOutcomeStub::Refused => lost("AccessDeniedException"),
            }
        })
    }

    /// ListKeyRotations (stub of AWS: LocalStack answers it with HTTP 501): a key with material
    /// lists that one material as CURRENT.
    fn list_rule(&self) -> Rule {
        use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
        use aws_sdk_kms::types::{KeyMaterialState, RotationsListEntry};
        let states = self.clone();
        mock!(Client::list_key_rotations).then_compute_output(move |req| {
            let arn = req.key_id().unwrap_or_default().to_string();
            let mut out = ListKeyRotationsOutput::builder();
            if states.imported.lock().unwrap().contains(&arn) {
                out = out.rotations(
                    RotationsListEntry::builder()
                        .key_id(&arn)
                        .key_material_id(format!("material-of-{arn}"))
                        .key_material_state(KeyMaterialState::Current)
                        .build(),
                );
            }
            out.build()
        })
    }

    fn calls(&self, arn: &str) -> usize {
        self.import_calls
            .lock()
            .unwrap()
            .get(arn)
            .copied()
            .unwrap_or(0)
    }
}

enum ImportOutcomeStub {
    Accepted,
    AcceptedButAnswerLost,
    Refused,
}

#[test]
fn stub_an_import_stopped_half_way_resumes_and_sends_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle {
        names: vec!["prod-s3", "prod-rds", "prod-dynamodb", "prod-sqs"],
        ..StubBundle::default()
    }
    .write(dir.path());
    let arns: Vec<String> = (0..4).map(|i| arn_of(&key_id_of(i))).collect();
    let kms = StubKeyStates::default();

    // Run 1 (stub of AWS): key 1 goes through; key 2 reaches KMS but the answer is lost; the run
    // stops there, as if the network went away.
    let (second, third) = (arns[1].clone(), arns[2].clone());
    let describe = kms.describe_rule();
    let imports = kms.import_rule(move |arn| {
        if arn == second {
            ImportOutcomeStub::AcceptedButAnswerLost
        } else if arn == third {
            ImportOutcomeStub::Refused
        } else {
            ImportOutcomeStub::Accepted
        }
    });
    let err = run_import(&stub_client(&[&describe, &imports]), &bundle).unwrap_err();
    assert!(err.to_string().contains("prod-rds"), "{err}");
    assert_eq!(
        [
            kms.calls(&arns[0]),
            kms.calls(&arns[1]),
            kms.calls(&arns[2]),
            kms.calls(&arns[3])
        ],
        [1, 1, 0, 0]
    );

    // Run 2: everything goes through. Key 1 is done and key 2 is in KMS already: neither is sent
    // again; keys 3 and 4 are sent once each. (Key 2's `sending` stage is checked against
    // ListKeyRotations: its material must be the key's only one.)
    let describe = kms.describe_rule();
    let imports = kms.import_rule(|_| ImportOutcomeStub::Accepted);
    let listed = kms.list_rule();
    let outcomes = rt()
        .block_on(import(
            &stub_client(&[&describe, &imports, &listed]),
            &bundle,
            &signed(&bundle),
            Expiration::DoesNotExpire,
        ))
        .unwrap();
    let kinds: Vec<&str> = outcomes.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            "already imported",
            "first import",
            "first import",
            "first import"
        ]
    );
    assert_eq!(imports.num_calls(), 2, "only keys 3 and 4 were sent");
    for arn in &arns {
        assert_eq!(
            kms.calls(arn),
            1,
            "{arn}: ImportKeyMaterial exactly once over both runs"
        );
    }

    // Run 3: nothing is left to do.
    let describe = kms.describe_rule();
    let imports = kms.import_rule(|_| ImportOutcomeStub::Accepted);
    let listed = kms.list_rule();
    let outcomes = rt()
        .block_on(import(
            &stub_client(&[&describe, &imports, &listed]),
            &bundle,
            &signed(&bundle),
            Expiration::DoesNotExpire,
        ))
        .unwrap();
    assert!(outcomes.iter().all(|o| o.kind == "already imported"));
    assert_eq!(imports.num_calls(), 0);
}

#[test]
fn progress_of_another_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    std::fs::write(
        bundle.dir().join("import-progress.json"),
        format!(
            "{{\"format\":\"keyrite-import-progress/1\",\"bundle_fingerprint\":\"{}\",\"keys\":{{}}}}",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let kms = StubKeyStates::default();
    let describe = kms.describe_rule();
    let imports = kms.import_rule(|_| ImportOutcomeStub::Accepted);
    let err = run_import(&stub_client(&[&describe, &imports]), &bundle).unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::Refused, "{err}");
    assert!(err.to_string().contains("fingerprint"), "{err}");
    assert_eq!(imports.num_calls(), 0);
}

#[test]
fn stub_a_transient_error_on_import_is_not_resent_but_elsewhere_it_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    // Stub of AWS: the first DescribeKey fails with a transient 500, later ones answer.
    let describe = mock!(Client::describe_key)
        .sequence()
        .http_status(
            500,
            aws_error_body("KMSInternalException", "internal error"),
        )
        .output(|| metadata(&arn(), KeyState::PendingImport))
        .repeatedly()
        .build();
    // Stub of AWS: ImportKeyMaterial fails with a transient 500, after which the material may be
    // in KMS already.
    let imports = mock!(Client::import_key_material)
        .sequence()
        .http_status(
            500,
            aws_error_body("KMSInternalException", "internal error"),
        )
        .repeatedly()
        .build();
    let client = stub_client(&[&describe, &imports]);

    let err = run_import(&client, &bundle).unwrap_err();

    assert_eq!(describe.num_calls(), 2, "DescribeKey was retried once");
    assert_eq!(
        imports.num_calls(),
        1,
        "ImportKeyMaterial was not sent again"
    );
    assert_names_everything(&err, "ImportKeyMaterial", "KMSInternalException");
}

#[test]
fn a_key_of_a_region_without_a_client_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let describe = describe_pending_then_enabled();
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let eu = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&describe, &imports],
        |c| c.region(aws_sdk_kms::config::Region::new("eu-west-1"))
    );

    let err = run_import(&eu, &bundle).unwrap_err();

    assert_eq!(err.exit_code(), ExitCode::Refused, "{err}");
    assert!(err.to_string().contains("--region us-east-1"), "{err}");
    assert_eq!(describe.num_calls() + imports.num_calls(), 0);
}

#[test]
fn stub_a_rotation_whose_material_may_be_in_kms_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    // Stub of AWS: the key has material (a rotation), and the ImportKeyMaterial answer is lost
    // (a 500 after which KMS may have staged the new material).
    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let lost = mock!(Client::import_key_material)
        .sequence()
        .http_status(
            500,
            aws_error_body("KMSInternalException", "internal error"),
        )
        .build();
    let encrypt = encrypt_ok();
    let first_run = run_import(&stub_client(&[&describe, &lost, &encrypt]), &bundle).unwrap_err();
    assert!(
        first_run.to_string().contains("run the same command again"),
        "{first_run}"
    );

    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let err = run_import(&stub_client(&[&describe, &imports]), &bundle).unwrap_err();

    assert_eq!(imports.num_calls(), 0, "the material is never sent twice");
    assert_eq!(err.exit_code(), ExitCode::Refused, "{err}");
    assert!(err.to_string().contains("list-key-rotations"), "{err}");
}

/// Stub of AWS behaviour LocalStack lacks: ListKeyRotations (LocalStack answers HTTP 501). Three
/// EXTERNAL keys whose current material became current 400, 350 and 10 days ago, one AWS_KMS key
/// that status must leave out, and one EXTERNAL key still pending import.
#[test]
fn stub_status_takes_material_age_from_list_key_rotations_and_exits_7_when_one_is_past_due() {
    use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
    use aws_sdk_kms::operation::list_keys::ListKeysOutput;
    use aws_sdk_kms::primitives::DateTime;
    use aws_sdk_kms::types::{AliasListEntry, KeyListEntry, KeyMaterialState, RotationsListEntry};
    use keyrite::core::key_age::{AgeSource, Compliance, Policy};
    use keyrite::kms::status::{Receipts, RotationsLookup, status};

    let now = Timestamp::now();
    let days_ago = move |d: i64| DateTime::from_secs(now.as_second() - d * 86_400);
    // (key id, origin, state, rotation age in days)
    let keys: Arc<[(&str, OriginType, KeyState, i64); 5]> = Arc::new([
        ("k-late", OriginType::External, KeyState::Enabled, 400),
        ("k-soon", OriginType::External, KeyState::Enabled, 350),
        ("k-fresh", OriginType::External, KeyState::Enabled, 10),
        ("k-aws", OriginType::AwsKms, KeyState::Enabled, 0),
        (
            "k-pending",
            OriginType::External,
            KeyState::PendingImport,
            0,
        ),
    ]);
    let (keys1, keys2) = (keys.clone(), keys.clone());
    let list_keys = mock!(Client::list_keys).then_output(move || {
        ListKeysOutput::builder()
            .set_keys(Some(
                keys.iter()
                    .map(|k| KeyListEntry::builder().key_id(k.0).build())
                    .collect(),
            ))
            .build()
    });
    let list_aliases = mock!(Client::list_aliases).then_output(|| {
        ListAliasesOutput::builder()
            .aliases(
                AliasListEntry::builder()
                    .alias_name("alias/prod-s3")
                    .target_key_id("k-late")
                    .build(),
            )
            .build()
    });
    let describe = mock!(Client::describe_key).then_compute_output(move |req| {
        let id = req.key_id().unwrap_or_default();
        let k = keys1.iter().find(|k| k.0 == id).unwrap();
        let mut meta = KeyMetadata::builder()
            .key_id(id)
            .arn(arn_of(id))
            .origin(k.1.clone())
            .key_state(k.2.clone())
            // The key is older than any material: the fallback would say 900 days.
            .creation_date(days_ago(900));
        if k.2 == KeyState::Enabled {
            meta = meta.current_key_material_id(format!("{id}-m2"));
        }
        DescribeKeyOutput::builder()
            .key_metadata(meta.build().unwrap())
            .build()
    });
    let rotations = mock!(Client::list_key_rotations).then_compute_output(move |req| {
        let id = req.key_id().unwrap_or_default();
        let k = keys2.iter().find(|k| k.0 == id).unwrap();
        let old = RotationsListEntry::builder()
            .key_id(id)
            .key_material_id(format!("{id}-m1"))
            .key_material_state(KeyMaterialState::NonCurrent)
            .rotation_date(days_ago(k.3 + 365))
            .build();
        let current = RotationsListEntry::builder()
            .key_id(id)
            .key_material_id(format!("{id}-m2"))
            .key_material_state(KeyMaterialState::Current)
            .rotation_date(days_ago(k.3))
            .build();
        ListKeyRotationsOutput::builder()
            .rotations(old)
            .rotations(current)
            .build()
    });
    let client = stub_client(&[&list_keys, &list_aliases, &describe, &rotations]);

    let report = rt()
        .block_on(status(
            &client,
            Policy::default(),
            &Receipts::default(),
            now,
        ))
        .unwrap();

    let by_id = |id: &str| report.keys.iter().find(|k| k.key_id == id).unwrap();
    assert_eq!(report.keys.len(), 4, "the AWS_KMS key is left out");
    assert!(report.keys.iter().all(|k| k.key_id != "k-aws"));
    let late = by_id("k-late");
    assert_eq!(late.aliases, ["alias/prod-s3"]);
    assert_eq!(late.compliance, Compliance::NonCompliant);
    assert_eq!(late.key_material_id.as_deref(), Some("k-late-m2"));
    let age = late.material.as_ref().unwrap();
    assert_eq!(age.source, AgeSource::KmsRotations);
    assert!(!age.estimate);
    assert_eq!(age.age_days, 400);
    assert_eq!(late.rotations, RotationsLookup::Listed);
    assert_eq!(by_id("k-soon").compliance, Compliance::DueSoon);
    assert_eq!(by_id("k-fresh").compliance, Compliance::Compliant);
    assert_eq!(by_id("k-fresh").material.as_ref().unwrap().age_days, 10);
    assert_eq!(by_id("k-pending").compliance, Compliance::NoMaterial);
    assert!(by_id("k-pending").material.is_none());
    assert_eq!(rotations.num_calls(), 4);

    // The exit a scheduled job sees: 7, naming the late key by its alias.
    let err = keyrite::app::status::verdict(&report).unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::NonCompliant);
    assert_eq!(ExitCode::NonCompliant as u8, 7);
    assert!(err.to_string().contains("alias/prod-s3"), "{err}");
    assert!(!err.to_string().contains("k-soon"), "{err}");

    // A longer policy: nothing past due, exit 0.
    let lenient = Policy {
        max_age_days: 500,
        due_soon_days: 30,
    };
    let report = rt()
        .block_on(status(&client, lenient, &Receipts::default(), now))
        .unwrap();
    assert_eq!(report.worst(), Compliance::Compliant);
    keyrite::app::status::verdict(&report).unwrap();
}

/// Stub of AWS behaviour LocalStack lacks: a rotation whose new material KMS staged (PENDING_ROTATION)
/// but whose RotateKeyOnDemand was refused, then `DeleteImportedKeyMaterial` with that material's id.
#[test]
fn stub_rollback_deletes_the_pending_material_by_its_id_once_and_the_bundle_is_not_resent() {
    use aws_sdk_kms::operation::delete_imported_key_material::DeleteImportedKeyMaterialOutput;
    use keyrite::app::rollback::{RollbackOutcome, rollback};

    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    // The key has material-1 current; the import stages material-2; the rotation is refused.
    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let staged = mock!(Client::import_key_material).then_output(|| {
        ImportKeyMaterialOutput::builder()
            .key_id(arn())
            .key_material_id("material-2")
            .build()
    });
    let refused = mock!(Client::rotate_key_on_demand)
        .sequence()
        .http_status(
            400,
            aws_error_body("KMSInvalidStateException", "rotation refused"),
        )
        .build();
    let encrypt = encrypt_ok();
    let err = run_import(
        &stub_client(&[&describe, &staged, &refused, &encrypt]),
        &bundle,
    )
    .unwrap_err();
    assert!(err.to_string().contains("RotateKeyOnDemand"), "{err}");
    assert_eq!(staged.num_calls(), 1);

    let delete = mock!(Client::delete_imported_key_material)
        .match_requests(|r| r.key_material_id() == Some("material-2") && r.key_id() == Some(&arn()))
        .then_output(|| {
            DeleteImportedKeyMaterialOutput::builder()
                .key_id(arn())
                .key_material_id("material-2")
                .build()
        });
    // KMS lists material-2 as staged, not rotated to: the only state rollback deletes.
    let listed = mock!(Client::list_key_rotations).then_output(|| {
        use aws_sdk_kms::types::{KeyMaterialState, RotationsListEntry};
        aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput::builder()
            .rotations(
                RotationsListEntry::builder()
                    .key_id(arn())
                    .key_material_id("material-1")
                    .key_material_state(KeyMaterialState::Current)
                    .build(),
            )
            .rotations(
                RotationsListEntry::builder()
                    .key_id(arn())
                    .key_material_id("material-2")
                    .key_material_state(KeyMaterialState::PendingRotation)
                    .build(),
            )
            .build()
    });
    let client = stub_client(&[&describe, &listed, &delete]);
    let done = rt()
        .block_on(rollback(|_| Some(&client), &bundle, &signed(&bundle)))
        .unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert!(matches!(
        &done[0].outcome,
        RollbackOutcome::RolledBack { key_material_id, .. } if key_material_id == "material-2"
    ));

    // Again: nothing is deleted twice.
    let done = rt()
        .block_on(rollback(|_| Some(&client), &bundle, &signed(&bundle)))
        .unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert!(matches!(
        &done[0].outcome,
        RollbackOutcome::AlreadyRolledBack { .. }
    ));

    // The bundle's material is spent: an import refuses it without sending.
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let err = run_import(&stub_client(&[&describe, &imports]), &bundle).unwrap_err();
    assert_eq!(imports.num_calls(), 0);
    assert_eq!(err.exit_code(), ExitCode::Refused);
    assert!(err.to_string().contains("rolled back"), "{err}");

    // The receipt records the rollback on the same chain.
    let log = std::fs::read(bundle.dir().join("ceremony.log")).unwrap();
    let start = keyrite::core::receipt::ReceiptChain::after_ceremony_log(&log).unwrap();
    let receipt = std::fs::read(bundle.dir().join("import-receipt.log")).unwrap();
    let (report, _) = keyrite::core::receipt::verify_chain(&receipt, &start).unwrap();
    assert_eq!(
        report.rolled_back,
        [("prod-s3".to_string(), "material-2".to_string())]
    );
    assert!(report.keys.is_empty(), "the rotation never completed");
}

/// Rollback never deletes material that is already current.
#[test]
fn stub_rollback_refuses_current_material() {
    use keyrite::app::rollback::rollback;

    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle::default().write(dir.path());
    let describe = describe_pending_then_enabled();
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    run_import(&stub_client(&[&describe, &imports]), &bundle).unwrap();

    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let delete = mock!(Client::delete_imported_key_material)
        .then_http_response(|| panic!("DeleteImportedKeyMaterial must not be called"));
    let client = stub_client(&[&describe, &delete]);
    let done = rt()
        .block_on(rollback(|_| Some(&client), &bundle, &signed(&bundle)))
        .unwrap();
    // The import finished: its material is current and stays.
    assert!(matches!(
        &done[0].outcome,
        keyrite::app::rollback::RollbackOutcome::AlreadyCurrent { key_material_id }
            if key_material_id.as_deref() == Some("material-1")
    ));
    assert_eq!(delete.num_calls(), 0);
}

/// Stub of AWS behaviour LocalStack lacks (ListKeyRotations is HTTP 501 there). A forged
/// `imported` stage of a rotation names material someone else staged: KMS lists it as
/// PENDING_ROTATION, but not with the KeyMaterialDescription keyrite gives this bundle's material
/// (the SHA-256 the signed log recorded for it). Nothing is rotated and nothing sent. The same
/// stage naming material described as keyrite stages it is rotated to once.
#[test]
fn stub_a_forged_imported_stage_naming_material_keyrite_did_not_stage_is_not_rotated_to() {
    use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
    use aws_sdk_kms::operation::rotate_key_on_demand::RotateKeyOnDemandOutput;
    use aws_sdk_kms::types::{KeyMaterialState, RotationsListEntry};

    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle {
        key_state: "Enabled",
        ..StubBundle::default()
    }
    .write(dir.path());
    std::fs::write(
        bundle.dir().join("import-progress.json"),
        serde_json::to_vec(&serde_json::json!({
            "format": "keyrite-import-progress/1",
            "bundle_fingerprint": bundle.fingerprint(),
            "keys": { NAME: { "stage": "imported", "first": false, "key_material_id": "staged-material" } }
        }))
        .unwrap(),
    )
    .unwrap();
    let listing = |description: String| {
        mock!(Client::list_key_rotations).then_output(move || {
            ListKeyRotationsOutput::builder()
                .rotations(
                    RotationsListEntry::builder()
                        .key_id(arn())
                        .key_material_id("material-1")
                        .key_material_state(KeyMaterialState::Current)
                        .build(),
                )
                .rotations(
                    RotationsListEntry::builder()
                        .key_id(arn())
                        .key_material_id("staged-material")
                        .key_material_state(KeyMaterialState::PendingRotation)
                        .key_material_description(description.clone())
                        .build(),
                )
                .build()
        })
    };
    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let imports = mock!(Client::import_key_material).then_output(import_ok);
    let rotate = mock!(Client::rotate_key_on_demand)
        .then_output(|| RotateKeyOnDemandOutput::builder().key_id(arn()).build());
    let foreign = listing("staged by hand".into());
    let err = run_import(
        &stub_client(&[&describe, &foreign, &imports, &rotate]),
        &bundle,
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::VerificationFailed, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("material staged-material as staged by this bundle"),
        "{text}"
    );
    assert!(text.contains("\"staged by hand\""), "{text}");
    assert!(
        text.contains("nothing was sent and nothing rotated"),
        "{text}"
    );
    assert_eq!((imports.num_calls(), rotate.num_calls()), (0, 0));

    // Material described as keyrite stages this bundle's: only the rotation is left.
    let sha = keyrite::core::digest::sha256_hex(
        bundle
            .file(&bundle.manifest().keys[0], manifest::ENCRYPTED_KEY_MATERIAL)
            .unwrap(),
    );
    let ours = listing(keyrite::kms::import::material_description(&sha));
    let describe = mock!(Client::describe_key)
        .sequence()
        .output(|| metadata(&arn(), KeyState::Enabled))
        .output(|| {
            let mut d = metadata(&arn(), KeyState::Enabled);
            if let Some(m) = d.key_metadata.as_mut() {
                m.current_key_material_id = Some("staged-material".into());
            }
            d
        })
        .repeatedly()
        .build();
    let outcomes = rt()
        .block_on(import(
            &stub_client(&[&describe, &ours, &imports, &rotate]),
            &bundle,
            &signed(&bundle),
            Expiration::DoesNotExpire,
        ))
        .unwrap();
    assert_eq!((imports.num_calls(), rotate.num_calls()), (0, 1));
    assert_eq!(outcomes[0].kind, "rotation");
    assert_eq!(
        outcomes[0].key_material_id.as_deref(),
        Some("staged-material")
    );
}

/// A rotation's NEW_KEY_MATERIAL import carries the KeyMaterialDescription naming the SHA-256 the
/// signed log recorded for the material (stub of AWS: the request is what is under test).
#[test]
fn stub_a_rotation_stages_its_material_with_the_signed_sha256_as_description() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle {
        key_state: "Enabled",
        ..StubBundle::default()
    }
    .write(dir.path());
    let sha = keyrite::core::digest::sha256_hex(
        bundle
            .file(&bundle.manifest().keys[0], manifest::ENCRYPTED_KEY_MATERIAL)
            .unwrap(),
    );
    let want = keyrite::kms::import::material_description(&sha);
    let describe = mock!(Client::describe_key).then_output(|| metadata(&arn(), KeyState::Enabled));
    let imports = mock!(Client::import_key_material)
        .match_requests(move |r| r.key_material_description() == Some(want.as_str()))
        .then_output(|| {
            ImportKeyMaterialOutput::builder()
                .key_id(arn())
                .key_material_id("material-2")
                .build()
        });
    let refused = mock!(Client::rotate_key_on_demand)
        .sequence()
        .http_status(400, aws_error_body("KMSInvalidStateException", "stop here"))
        .build();
    let encrypt = encrypt_ok();
    let err = run_import(
        &stub_client(&[&describe, &imports, &refused, &encrypt]),
        &bundle,
    )
    .unwrap_err();
    assert!(err.to_string().contains("RotateKeyOnDemand"), "{err}");
    assert_eq!(imports.num_calls(), 1, "the import carried the description");
}

/// Stub: ListKeys lists [`KEY_ID`] and `second`; ListAliases lists no alias.
fn two_keys_listed(second: &str) -> (Rule, Rule) {
    use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_kms::operation::list_keys::ListKeysOutput;
    use aws_sdk_kms::types::KeyListEntry;
    let second = second.to_string();
    let list = mock!(Client::list_keys).then_output(move || {
        ListKeysOutput::builder()
            .keys(
                KeyListEntry::builder()
                    .key_id(KEY_ID)
                    .key_arn(arn())
                    .build(),
            )
            .keys(
                KeyListEntry::builder()
                    .key_id(&second)
                    .key_arn(arn_of(&second))
                    .build(),
            )
            .build()
    });
    let aliases = mock!(Client::list_aliases).then_output(|| ListAliasesOutput::builder().build());
    (list, aliases)
}

/// `kms status` when one key's policy denies DescribeKey. A STUB of AWS: LocalStack has no
/// per-key permissions, so it cannot refuse one key and answer for another. The readable key is
/// still measured (an overdue one still exits 7); the denied one is named with AWS's error code,
/// and a report otherwise within the policy exits 10 (partial), not 0 and not 6.
#[test]
fn stub_a_key_denying_describe_key_is_named_and_the_others_still_reported() {
    use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
    use aws_sdk_kms::primitives::DateTime;
    use keyrite::core::key_age::{Compliance, Policy};
    use keyrite::kms::status::{Receipts, status};

    let denied = key_id_of(1);
    for (created_days_ago, want) in [
        (400_i64, ExitCode::NonCompliant),
        (10, ExitCode::StatusPartial),
    ] {
        let now = Timestamp::now();
        let created = now.as_second() - created_days_ago * 86_400;
        let denied_id = denied.clone();
        let (list, aliases) = two_keys_listed(&denied);
        // Stub of AWS: the second key's key policy denies kms:DescribeKey to the caller.
        let refused = mock!(Client::describe_key)
            .match_requests(move |r| r.key_id() == Some(denied_id.as_str()))
            .sequence()
            .http_status(
                400,
                aws_error_body(
                    "AccessDeniedException",
                    "User is not authorized to perform: kms:DescribeKey",
                ),
            )
            .repeatedly()
            .build();
        let readable = mock!(Client::describe_key).then_output(move || {
            let meta = KeyMetadata::builder()
                .key_id(KEY_ID)
                .arn(arn())
                .origin(OriginType::External)
                .key_state(KeyState::Enabled)
                .current_key_material_id("material-1")
                .creation_date(DateTime::from_secs(created))
                .build()
                .unwrap();
            DescribeKeyOutput::builder().key_metadata(meta).build()
        });
        let rotations = mock!(Client::list_key_rotations)
            .then_output(|| ListKeyRotationsOutput::builder().build());
        let client = stub_client(&[&list, &aliases, &refused, &readable, &rotations]);

        let report = rt()
            .block_on(status(
                &client,
                Policy::default(),
                &Receipts::default(),
                now,
            ))
            .expect("one unreadable key does not fail the whole report");

        assert_eq!(report.keys.len(), 1, "{report:?}");
        assert_eq!(report.keys[0].key_id, KEY_ID);
        let measured = if created_days_ago > 365 {
            Compliance::NonCompliant
        } else {
            Compliance::Compliant
        };
        assert_eq!(report.keys[0].compliance, measured);
        assert_eq!(report.unreadable.len(), 1, "{report:?}");
        assert_eq!(report.unreadable[0].key_id, denied);
        assert_eq!(report.unreadable[0].operation, "DescribeKey");
        assert_eq!(report.unreadable[0].code, "AccessDeniedException");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["unreadable"][0]["code"], "AccessDeniedException");

        let err = keyrite::app::status::verdict(&report).unwrap_err();
        assert_eq!(err.exit_code(), want, "{err}");
        if want == ExitCode::StatusPartial {
            let text = err.to_string();
            for part in [
                denied.as_str(),
                "DescribeKey",
                "AccessDeniedException",
                "what to do:",
            ] {
                assert!(text.contains(part), "{part:?} missing from:\n{text}");
            }
        }
        assert_eq!(refused.num_calls(), 1, "AccessDenied is final: not retried");
    }
}

/// `kms status` when one key's policy denies ListKeyRotations (DescribeKey allowed). A STUB of
/// AWS: LocalStack answers ListKeyRotations with HTTP 501 for every key and has no per-key
/// permissions. The denied key is named UNREADABLE with the call and AWS's code; the other key is
/// measured, and a report otherwise within the policy exits 10 (partial).
#[test]
fn stub_a_key_denying_list_key_rotations_is_named_and_the_others_still_reported() {
    use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
    use aws_sdk_kms::primitives::DateTime;
    use keyrite::core::key_age::{Compliance, Policy};
    use keyrite::kms::status::{Receipts, status};

    let denied = key_id_of(1);
    let now = Timestamp::now();
    let created = now.as_second() - 10 * 86_400;
    let (list, aliases) = two_keys_listed(&denied);
    // Both keys describe: EXTERNAL, Enabled, with material.
    let describe = mock!(Client::describe_key).then_compute_output(move |r| {
        let id = r.key_id().unwrap_or_default().to_string();
        let meta = KeyMetadata::builder()
            .key_id(&id)
            .arn(arn_of(&id))
            .origin(OriginType::External)
            .key_state(KeyState::Enabled)
            .current_key_material_id("material-1")
            .creation_date(DateTime::from_secs(created))
            .build()
            .unwrap();
        DescribeKeyOutput::builder().key_metadata(meta).build()
    });
    // Stub of AWS: the second key's key policy denies kms:ListKeyRotations to the caller.
    let denied_id = denied.clone();
    let refused = mock!(Client::list_key_rotations)
        .match_requests(move |r| r.key_id() == Some(denied_id.as_str()))
        .sequence()
        .http_status(
            400,
            aws_error_body(
                "AccessDeniedException",
                "User is not authorized to perform: kms:ListKeyRotations",
            ),
        )
        .repeatedly()
        .build();
    let rotations =
        mock!(Client::list_key_rotations).then_output(|| ListKeyRotationsOutput::builder().build());
    let client = stub_client(&[&list, &aliases, &describe, &refused, &rotations]);

    let report = rt()
        .block_on(status(
            &client,
            Policy::default(),
            &Receipts::default(),
            now,
        ))
        .expect("one key denying ListKeyRotations does not fail the whole report");

    assert_eq!(report.keys.len(), 1, "{report:?}");
    assert_eq!(report.keys[0].key_id, KEY_ID);
    assert_eq!(report.keys[0].compliance, Compliance::Compliant);
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert_eq!(report.unreadable[0].key_id, denied);
    assert_eq!(report.unreadable[0].operation, "ListKeyRotations");
    assert_eq!(report.unreadable[0].code, "AccessDeniedException");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["unreadable"][0]["operation"], "ListKeyRotations");

    let err = keyrite::app::status::verdict(&report).unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::StatusPartial, "{err}");
    let text = err.to_string();
    for part in [
        denied.as_str(),
        "ListKeyRotations",
        "AccessDeniedException",
        "kms:ListKeyRotations",
    ] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    assert_eq!(refused.num_calls(), 1, "AccessDenied is final: not retried");
}

/// A multi-Region primary's rotation against a STUB of AWS (LocalStack does not propagate
/// RotateKeyOnDemand to replicas, nor refuse new material into a replica): the primary is given
/// NEW_KEY_MATERIAL, the replica the same material as EXISTING_KEY_MATERIAL under the primary's
/// KeyMaterialId, and only then does the primary rotate; AWS makes the replica's current material
/// the new one with the primary's rotation. `propagates`: whether the stub does, as AWS does.
/// Returns the import's result and the order of the calls that changed something.
fn rotate_multi_region(propagates: bool) -> (keyrite::app::error::Result<()>, Vec<String>) {
    use aws_sdk_kms::types::{
        ImportType, MultiRegionConfiguration, MultiRegionKey, MultiRegionKeyType,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    const AWAY: &str = "eu-west-1";
    let dir = tempfile::tempdir().unwrap();
    let bundle = StubBundle {
        key_state: "Enabled",
        replica: Some(AWAY),
        ..StubBundle::default()
    }
    .write(dir.path());
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let rotated = Arc::new(AtomicBool::new(false));
    let primary = arn();
    let away = replica_arn(AWAY);
    let mrk = |arn: &str, region: &str| MultiRegionKey::builder().arn(arn).region(region).build();
    let config = MultiRegionConfiguration::builder()
        .multi_region_key_type(MultiRegionKeyType::Primary)
        .primary_key(mrk(&primary, REGION))
        .replica_keys(mrk(&away, AWAY))
        .build();
    let described =
        |arn: String, current: &'static str, config: Option<MultiRegionConfiguration>| {
            let meta = KeyMetadata::builder()
                .key_id(KEY_ID)
                .arn(arn)
                .aws_account_id(ACCOUNT)
                .origin(OriginType::External)
                .key_state(KeyState::Enabled)
                .multi_region(true)
                .set_multi_region_configuration(config)
                .current_key_material_id(current)
                .build()
                .unwrap();
            DescribeKeyOutput::builder().key_metadata(meta).build()
        };
    let describe_primary = {
        let (rotated, primary, config) = (rotated.clone(), primary.clone(), config.clone());
        let arn = primary.clone();
        mock!(Client::describe_key)
            .match_requests(move |r| r.key_id() == Some(arn.as_str()))
            .then_output(move || {
                let current = if rotated.load(Ordering::SeqCst) {
                    "material-2"
                } else {
                    "material-1"
                };
                described(primary.clone(), current, Some(config.clone()))
            })
    };
    let describe_replica = {
        let (rotated, away) = (rotated.clone(), away.clone());
        let arn = away.clone();
        let replica_config = MultiRegionConfiguration::builder()
            .multi_region_key_type(MultiRegionKeyType::Replica)
            .primary_key(mrk(&primary, REGION))
            .build();
        mock!(Client::describe_key)
            .match_requests(move |r| r.key_id() == Some(arn.as_str()))
            .then_output(move || {
                let current = if propagates && rotated.load(Ordering::SeqCst) {
                    "material-2"
                } else {
                    "material-1"
                };
                described(away.clone(), current, Some(replica_config.clone()))
            })
    };
    let import_primary = {
        let (calls, key) = (calls.clone(), primary.clone());
        mock!(Client::import_key_material)
            .match_requests(move |r| {
                let ours = r.key_id() == Some(key.as_str())
                    && r.import_type() == Some(&ImportType::NewKeyMaterial);
                if ours {
                    calls
                        .lock()
                        .unwrap()
                        .push("primary NEW_KEY_MATERIAL".into());
                }
                ours
            })
            .then_output(|| {
                ImportKeyMaterialOutput::builder()
                    .key_id(arn())
                    .key_material_id("material-2")
                    .build()
            })
    };
    // AWS's rule for a replica: the primary's material, as EXISTING_KEY_MATERIAL, by its id.
    let import_replica = {
        let (calls, arn) = (calls.clone(), away.clone());
        mock!(Client::import_key_material)
            .match_requests(move |r| {
                let ours = r.key_id() == Some(arn.as_str())
                    && r.import_type() == Some(&ImportType::ExistingKeyMaterial)
                    && r.key_material_id() == Some("material-2");
                if ours {
                    calls
                        .lock()
                        .unwrap()
                        .push("replica EXISTING_KEY_MATERIAL material-2".into());
                }
                ours
            })
            .then_output(move || {
                ImportKeyMaterialOutput::builder()
                    .key_id(replica_arn(AWAY))
                    .key_material_id("material-2")
                    .build()
            })
    };
    let rotate = {
        let (calls, rotated, key) = (calls.clone(), rotated.clone(), primary.clone());
        mock!(Client::rotate_key_on_demand)
            .match_requests(move |r| {
                let ours = r.key_id() == Some(key.as_str());
                if ours {
                    calls
                        .lock()
                        .unwrap()
                        .push("primary RotateKeyOnDemand".into());
                    rotated.store(true, Ordering::SeqCst);
                }
                ours
            })
            .then_output(|| {
                aws_sdk_kms::operation::rotate_key_on_demand::RotateKeyOnDemandOutput::builder()
                    .key_id(arn())
                    .build()
            })
    };
    let client = stub_client(&[
        &describe_primary,
        &describe_replica,
        &encrypt_ok(),
        &import_primary,
        &import_replica,
        &rotate,
    ]);
    let result = run_import(&client, &bundle);
    let calls = calls.lock().unwrap().clone();
    (result, calls)
}

#[test]
fn stub_aws_a_multi_region_rotation_imports_the_replica_before_the_primary_rotates() {
    let (result, calls) = rotate_multi_region(true);
    result.unwrap();
    assert_eq!(
        calls,
        [
            "primary NEW_KEY_MATERIAL",
            "replica EXISTING_KEY_MATERIAL material-2",
            "primary RotateKeyOnDemand"
        ]
    );
}

#[test]
fn stub_aws_a_replica_left_on_its_old_material_after_the_rotation_is_named_not_called_rotated() {
    // A replica that does not follow the primary's rotation (as LocalStack behaves).
    let (result, calls) = rotate_multi_region(false);
    let err = result.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("different KeyMaterialIds across Regions: the replica in eu-west-1 reports material-1, the primary material-2"),
        "{text}"
    );
    assert_eq!(err.exit_code(), ExitCode::VerificationFailed, "{text}");
    assert_eq!(calls.len(), 3, "{calls:?}");
}
