//! `audit verify` and the live ceremony share one set of order rules: over generated sequences of
//! records, the engine refuses a record exactly where the verifier, given the same records as a
//! signed log, stops with a step or quorum error — and a sequence the engine takes whole verifies
//! (or is reported unfinished when it neither ended nor was aborted).

use jiff::Timestamp;
use keyrite::core::ceremony::record::{
    Aborted, BoundRoster, End, KeyGenerated, KeyWrapped, Probe, QuorumMet, Resumed, Start,
};
use keyrite::core::ceremony::{Engine, Next, Plan, PlannedKey, Record, ResumeChoice};
use keyrite::core::log::{LogChain, LogError, TrustedKey, verify};
use p256::ecdsa::SigningKey;
use proptest::prelude::*;

const KEYS: [&str; 3] = ["dev-s3", "dev-rds", "dev-dynamodb"];

fn signer() -> SigningKey {
    SigningKey::from_slice(&[0x33; 32]).unwrap()
}

fn h(c: char) -> String {
    c.to_string().repeat(64)
}

/// A record the generator can pick, valid or not where it stands.
#[derive(Debug, Clone)]
enum Pick {
    Start(bool),
    Met(bool),
    Probe,
    Generate(usize),
    Wrap(usize),
    End(Option<usize>),
    Resume(bool),
    Abort,
}

fn record(pick: &Pick, log_key: &str) -> Record {
    match pick {
        Pick::Start(roster) => Record::Start(Start {
            tool_version: "0.1.0".into(),
            tool_sha256: h('a'),
            tool_features: Some("airgap,connected".into()),
            roles: None,
            script_sha256: h('b'),
            manifest_sha256: h('c'),
            token_label: "t".into(),
            log_key_sha256: log_key.into(),
            roster: roster.then(|| BoundRoster {
                roster_sha256: h('e'),
                mode: "shamir".into(),
                threshold: 2,
                custodians: 3,
            }),
            provenance: None,
            alias_moves: Vec::new(),
            provenance_waived: None,
        }),
        Pick::Met(good) => Record::QuorumMet(QuorumMet {
            mode: "shamir".into(),
            roster_sha256: h('e'),
            threshold: 2,
            authorised: if *good {
                vec![("Alice".into(), 1), ("Carol".into(), 3)]
            } else {
                vec![("Alice".into(), 1), ("Alice".into(), 1)]
            },
            login: None,
        }),
        Pick::Probe => Record::Probe(Probe {
            algorithm: "RSAES_OAEP_SHA_1".into(),
            mechanism: Some("CKM_RSA_PKCS_OAEP".into()),
            result: "ok".into(),
            wrap_with_trusted: Some("not enforced".into()),
        }),
        Pick::Generate(i) => Record::KeyGenerated(KeyGenerated {
            key: KEYS[*i].into(),
            key_arn: format!("arn:aws:kms:us-east-1:000000000000:key/{}", KEYS[*i]),
            hsm_label: format!("keyrite/{}/20261128/0badc0de", KEYS[*i]),
            check_value: "a1b2c3".into(),
            reimport: None,
            wrap_with_trusted: false,
            hsm_id: None,
            replica_regions: Vec::new(),
        }),
        Pick::Wrap(i) => Record::KeyWrapped(KeyWrapped {
            key: KEYS[*i].into(),
            file: format!("{}/EncryptedKeyMaterial.bin", KEYS[*i]),
            sha256: h('f'),
            algorithm: Some("RSAES_OAEP_SHA_1".into()),
            region: None,
        }),
        Pick::End(keys) => Record::End(End {
            manifest_sha256: h('1'),
            keys: *keys,
        }),
        Pick::Resume(finish) => Record::Resumed(Resumed {
            choice: if *finish {
                ResumeChoice::Finish
            } else {
                ResumeChoice::Abort
            },
            tool_version: "0.1.0".into(),
            tool_sha256: h('2'),
        }),
        Pick::Abort => Record::Aborted(Aborted {
            reason: "stopped".into(),
            destroyed: vec![],
        }),
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        any::<bool>().prop_map(Pick::Start),
        any::<bool>().prop_map(Pick::Met),
        Just(Pick::Probe),
        (0..3usize).prop_map(Pick::Generate),
        (0..3usize).prop_map(Pick::Wrap),
        prop::option::of(0..4usize).prop_map(Pick::End),
        any::<bool>().prop_map(Pick::Resume),
        Just(Pick::Abort),
    ]
}

/// The record a ceremony driven by the engine would write next (for `plan`), if any.
fn driven(engine: &Engine, log_key: &str) -> Option<Record> {
    let p = match engine.next() {
        Next::Start => Pick::Start(engine.plan().roster),
        Next::QuorumMet => Pick::Met(true),
        Next::Probe => Pick::Probe,
        Next::Generate(i) => Pick::Generate(i),
        Next::Wrap(i) => Pick::Wrap(i),
        Next::End => Pick::End(Some(engine.machine().keys().len())),
        Next::Abort => Pick::Abort,
        Next::Finished | Next::Stopped => return None,
    };
    Some(record(&p, log_key))
}

/// A sequence mostly as the engine drives it, with random records mixed in.
fn sequence(roster: bool, steps: &[(bool, Pick)], log_key: &str) -> Vec<Record> {
    let plan = Plan {
        keys: KEYS
            .iter()
            .map(|k| PlannedKey {
                replica_regions: Vec::new(),
                name: k.to_string(),
                key_arn: format!("arn:aws:kms:us-east-1:000000000000:key/{k}"),
            })
            .collect(),
        roster,
    };
    let mut guide = Engine::new(plan);
    let mut out = Vec::new();
    for (follow, p) in steps {
        let r = match (follow, driven(&guide, log_key)) {
            (true, Some(r)) => r,
            (true, None) => continue,
            (false, _) => record(p, log_key),
        };
        let _ = guide.record(r.clone());
        out.push(r);
    }
    out
}

/// Where the engine refuses: the index of the first record it does not take (None: all taken),
/// and whether the log closed. The plan is what the records themselves generate, in that order,
/// until the end record: a verifier knows no other (the bundle's order is checked against the
/// log's by `audit verify` with the bundle).
fn engine_verdict(records: &[Record]) -> (Option<usize>, bool) {
    let mut keys: Vec<PlannedKey> = Vec::new();
    // A key generated after the end record is refused by both, for coming after the end.
    for r in records.iter().take_while(|r| !matches!(r, Record::End(_))) {
        if let Record::KeyGenerated(k) = r
            && !keys.iter().any(|p| p.name == k.key)
        {
            keys.push(PlannedKey {
                replica_regions: k.replica_regions.clone(),
                name: k.key.clone(),
                key_arn: k.key_arn.clone(),
            });
        }
    }
    let roster = matches!(records.first(), Some(Record::Start(s)) if s.roster.is_some());
    let mut engine = Engine::new(Plan { keys, roster });
    for (i, r) in records.iter().enumerate() {
        if engine.record(r.clone()).is_err() {
            return (Some(i), false);
        }
    }
    (None, engine.machine().outcome().is_some())
}

fn signed_log(records: &[Record]) -> Vec<u8> {
    let key = signer();
    let mut chain = LogChain::new();
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let t = Timestamp::from_second(1_795_000_000 + i as i64).unwrap();
        let line = chain
            .record(&key, t, r.step(), &["Alice Admin".into()], r.to_data())
            .unwrap();
        out.extend(line);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_verifier_refuses_exactly_what_the_engine_refuses(
        roster in any::<bool>(),
        steps in prop::collection::vec((prop::bool::weighted(0.8), pick()), 1..14),
    ) {
        let trusted = TrustedKey::from_key(*signer().verifying_key()).unwrap();
        let records = sequence(roster, &steps, trusted.fingerprint());
        let (refused_at, closed) = engine_verdict(&records);
        let verdict = verify(&signed_log(&records), &trusted);
        match (refused_at, verdict) {
            (Some(i), Err(LogError::Step { line, .. } | LogError::Quorum { line, .. })) => {
                prop_assert_eq!(line, i + 1, "refused at the same record");
            }
            (None, Ok(_)) => prop_assert!(closed, "a log verifies whole only once closed"),
            (None, Err(LogError::Unfinished { .. })) => prop_assert!(!closed),
            (engine, verifier) => {
                prop_assert!(false, "engine refuses at {:?}, verifier says {:?} for {:?}",
                    engine, verifier.map(|r| r.records.len()), records.iter().map(Record::step).collect::<Vec<_>>());
            }
        }
    }
}

/// The generator reaches both outcomes and refusals (so the property is not vacuous).
#[test]
fn driven_sequences_verify_and_a_mixed_one_is_refused_at_its_record() {
    let trusted = TrustedKey::from_key(*signer().verifying_key()).unwrap();
    let all: Vec<(bool, Pick)> = (0..12).map(|_| (true, Pick::Probe)).collect();
    for roster in [false, true] {
        let records = sequence(roster, &all, trusted.fingerprint());
        assert_eq!(engine_verdict(&records), (None, true));
        assert!(verify(&signed_log(&records), &trusted).is_ok());
    }
    let mut records = sequence(false, &all[..4], trusted.fingerprint());
    records.push(record(&Pick::Wrap(2), trusted.fingerprint()));
    assert_eq!(engine_verdict(&records).0, Some(4));
    assert!(matches!(
        verify(&signed_log(&records), &trusted),
        Err(LogError::Step { line: 5, .. })
    ));
}
