//! Verifying a 10,000-record ceremony log, against the raw signature verifications alone, with
//! criterion's statistics (records/s, a confidence interval, the change since the last run).
//! Asserts nothing about speed. Run: `cargo bench --bench log_verify`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use keyrite::core::log::{LogChain, StartData, TrustedKey, data, step, verify};
use p256::ecdsa::SigningKey;

const RECORDS: usize = 10_000;

fn build_log(key: &SigningKey, trusted: &TrustedKey) -> Vec<u8> {
    let h = "ab".repeat(32);
    let actors = vec!["Alice Admin".to_string(), "Walter Witness".to_string()];
    let t = Timestamp::from_second(1_795_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut chain = LogChain::new();
    let mut log = Vec::new();
    let start = StartData {
        tool_version: "0.1.0",
        tool_sha256: &h,
        tool_features: "airgap",
        roles: None,
        script_sha256: &h,
        manifest_sha256: &h,
        token_label: "bench",
        log_key_sha256: trusted.fingerprint(),
    };
    let mut push = |step: &str, d| {
        log.extend(chain.record(key, t, step, &actors, d).expect("sign"));
    };
    // A quorum ceremony: start (binding a 2-of-3 roster), quorum.met, probe, key pairs, end.
    let mut start_data = start.to_data();
    start_data.extend(data(&[
        ("roster_sha256", &h),
        ("quorum_mode", "shamir"),
        ("quorum_threshold", "2"),
        ("quorum_custodians", "3"),
    ]));
    push(step::START, start_data);
    let mut met = data(&[
        ("mode", "shamir"),
        ("roster_sha256", &h),
        ("threshold", "2"),
    ]);
    met.insert(
        "authorised".into(),
        serde_json::json!([{"name": "Alice", "index": 1}, {"name": "Carol", "index": 3}]),
    );
    push(step::QUORUM_MET, met);
    push(
        step::PROBE,
        data(&[("algorithm", "RSAES_OAEP_SHA_1"), ("result", "ok")]),
    );
    for i in 0..(RECORDS - 4) / 2 {
        let name = format!("key-{i}");
        push(
            step::KEY_GENERATED,
            data(&[
                ("key", &name),
                (
                    "key_arn",
                    &format!("arn:aws:kms:us-east-1:000000000000:key/{name}"),
                ),
                ("hsm_label", &format!("keyrite/{name}/20261124/0badc0de")),
                ("check_value", "a1b2c3"),
            ]),
        );
        push(
            step::KEY_WRAPPED,
            data(&[
                ("key", &name),
                ("file", &format!("{name}/EncryptedKeyMaterial.bin")),
                ("sha256", &h),
                ("algorithm", "RSAES_OAEP_SHA_1"),
            ]),
        );
    }
    push(step::END, data(&[("manifest_sha256", &h)]));
    log
}

/// (body, signature) of every line, cut out once, outside the timed part.
fn split(log: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let body = &l[8..l.len() - 2 - 128 - 8];
            let sig = data_encoding::HEXLOWER_PERMISSIVE
                .decode(l[l.len() - 2 - 128..l.len() - 2].as_ref())
                .expect("hex");
            (body, sig)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_slice(&[0x42; 32]).expect("key");
    let trusted = TrustedKey::from_key(*key.verifying_key()).expect("trusted");
    let log = build_log(&key, &trusted);
    let parts = split(&log);
    assert_eq!(parts.len(), RECORDS);
    let report = verify(&log, &trusted).expect("the benchmark log verifies");
    assert_eq!(report.records.len(), RECORDS);

    let mut g = c.benchmark_group(format!("log of {RECORDS} records, {} bytes", log.len()));
    g.sample_size(10)
        .throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function(
        "full verify (framing, signatures, chain, sequence, steps)",
        |b| b.iter(|| verify(black_box(&log), &trusted).expect("verifies")),
    );
    g.bench_function(
        "raw signature verifications alone (SHA-256 + ECDSA P-256)",
        |b| {
            b.iter(|| {
                for (body, sig) in &parts {
                    assert!(trusted.verifies(black_box(body), sig));
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
