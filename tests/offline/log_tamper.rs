//! The ceremony log tamper corpus (tests/data/log-tamper/): a good log and altered copies, each
//! rejected with its own error. The corpus is generated here from a fixed software P-256 key and
//! fixed times (ECDSA signatures are deterministic, RFC 6979), and the checked-in files must equal
//! what this generator makes: set KEYRITE_REGENERATE_CORPUS=1 to rewrite them.
//! Plus a property test: any single-byte edit of a good log is rejected.

use std::path::PathBuf;

use jiff::Timestamp;
use keyrite::core::log::{
    self, LogChain, LogError, StartData, TrustedKey, data, public_key_pem, step, verify,
};
use keyrite::core::receipt;
use p256::ecdsa::SigningKey;
use proptest::prelude::*;

const CORPUS_KEY: [u8; 32] = [0x42; 32];
const OTHER_KEY: [u8; 32] = [0x17; 32];

fn corpus_key() -> SigningKey {
    SigningKey::from_slice(&CORPUS_KEY).unwrap()
}

fn trusted() -> TrustedKey {
    TrustedKey::from_key(*corpus_key().verifying_key()).unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_795_000_000 + s).unwrap()
}

/// A complete two-key ceremony log, one line per element. `salt` varies the content so two
/// distinct ceremonies can be spliced.
fn ceremony_lines(key: &SigningKey, salt: &str) -> Vec<Vec<u8>> {
    ceremony_lines_with_quorum(key, salt, None)
}

/// The roster the quorum logs bind: 2 of 3.
const ROSTER: (&str, u8, usize) = ("roster", 2, 3);

/// As [`ceremony_lines`]; with `quorum`, the start record binds a 2-of-3 roster and, unless the
/// list is empty, a quorum.met record naming these (custodian, index) follows it.
fn ceremony_lines_with_quorum(
    key: &SigningKey,
    salt: &str,
    quorum: Option<&[(&str, u8)]>,
) -> Vec<Vec<u8>> {
    let fp = TrustedKey::from_key(*key.verifying_key()).unwrap();
    let h = |s: &str| keyrite::core::digest::sha256_hex(format!("{salt}{s}").as_bytes());
    let actors = vec!["Alice Admin".to_string(), "Walter Witness".to_string()];
    let mut chain = LogChain::new();
    let mut lines = Vec::new();
    let start = StartData {
        tool_version: "0.1.0",
        tool_sha256: &h("tool"),
        tool_features: "airgap",
        roles: Some(("rehearsal", "Alice Admin", Some("Walter Witness"))),
        script_sha256: &h("script"),
        manifest_sha256: &h("manifest"),
        token_label: "keyrite-rehearsal",
        log_key_sha256: fp.fingerprint(),
    };
    let mut start_data = start.to_data();
    if let Some(who) = quorum {
        let (name, threshold, total) = ROSTER;
        start_data.extend(data(&[
            ("roster_sha256", &h(name)),
            ("quorum_mode", "shamir"),
            ("quorum_threshold", &threshold.to_string()),
            ("quorum_custodians", &total.to_string()),
        ]));
        lines.push(
            chain
                .record(key, at(0), step::START, &actors, start_data)
                .unwrap(),
        );
        if !who.is_empty() {
            let mut met = data(&[
                ("mode", "shamir"),
                ("roster_sha256", &h(name)),
                ("threshold", &threshold.to_string()),
            ]);
            met.insert(
                "authorised".into(),
                serde_json::Value::Array(
                    who.iter()
                        .map(|(n, i)| serde_json::json!({"name": n, "index": i}))
                        .collect(),
                ),
            );
            lines.push(
                chain
                    .record(key, at(0), step::QUORUM_MET, &actors, met)
                    .unwrap(),
            );
        }
    } else {
        lines.push(
            chain
                .record(key, at(0), step::START, &actors, start_data)
                .unwrap(),
        );
    }
    let probe = data(&[
        ("algorithm", "RSAES_OAEP_SHA_1"),
        ("mechanism", "CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)"),
        (
            "result",
            "wrapped a throwaway key; it decrypts with exactly SHA-1 / MGF1-SHA-1",
        ),
        ("wrap_with_trusted", "enforced"),
    ]);
    lines.push(
        chain
            .record(key, at(1), step::PROBE, &actors, probe)
            .unwrap(),
    );
    for (i, name) in ["dev-s3", "dev-rds"].iter().enumerate() {
        let t = 10 * (i as i64 + 1);
        let gen_data = data(&[
            ("key", name),
            (
                "key_arn",
                &format!("arn:aws:kms:us-east-1:000000000000:key/{name}"),
            ),
            ("hsm_label", &format!("keyrite/{name}/20261124/0badc0de")),
            ("check_value", "a1b2c3"),
        ]);
        lines.push(
            chain
                .record(key, at(t), step::KEY_GENERATED, &actors, gen_data)
                .unwrap(),
        );
        let wrap_data = data(&[
            ("key", name),
            ("file", &format!("{name}/EncryptedKeyMaterial.bin")),
            ("sha256", &h(name)),
            ("algorithm", "RSAES_OAEP_SHA_1"),
        ]);
        lines.push(
            chain
                .record(key, at(t + 1), step::KEY_WRAPPED, &actors, wrap_data)
                .unwrap(),
        );
    }
    let end = data(&[("manifest_sha256", &h("final")), ("keys", "2")]);
    lines.push(chain.record(key, at(99), step::END, &actors, end).unwrap());
    lines
}

fn strip(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap()
}

/// The signature hex of a line and the line without it.
fn sig_range(line: &[u8]) -> std::ops::Range<usize> {
    let end = strip(line).len() - 2;
    end - 128..end
}

/// (file name, bytes, the error it must fail with; None: must verify).
fn corpus() -> Vec<(&'static str, Vec<u8>, Option<LogError>)> {
    let good = ceremony_lines(&corpus_key(), "A");
    let mut out = vec![("good.log", good.concat(), None)];

    let mut flipped = good.clone();
    // A byte inside the third record's check value: "a1b2c3" -> "a1b2c2".
    let pos = flipped[2].windows(6).position(|w| w == b"a1b2c3").unwrap() + 5;
    flipped[2][pos] ^= 0x01;
    out.push((
        "flipped-byte.log",
        flipped.concat(),
        Some(LogError::BadSignature {
            line: 3,
            seq: Some(2),
        }),
    ));

    let mut deleted = good.clone();
    deleted.remove(2);
    out.push((
        "deleted-record.log",
        deleted.concat(),
        Some(LogError::Sequence {
            line: 3,
            expected: 2,
            found: 3,
        }),
    ));

    let mut reordered = good.clone();
    reordered.swap(2, 3);
    out.push((
        "reordered-records.log",
        reordered.concat(),
        Some(LogError::Sequence {
            line: 3,
            expected: 2,
            found: 3,
        }),
    ));

    let mut duplicated = good.clone();
    duplicated.insert(2, good[1].clone());
    out.push((
        "duplicated-record.log",
        duplicated.concat(),
        Some(LogError::Sequence {
            line: 3,
            expected: 2,
            found: 1,
        }),
    ));

    let mut truncated = good.concat();
    truncated.truncate(truncated.len() - good[6].len() / 2);
    out.push((
        "truncated-tail.log",
        truncated,
        Some(LogError::Truncated { line: 7 }),
    ));

    let mut swapped = good.clone();
    let (r1, r2) = (sig_range(&swapped[1]), sig_range(&swapped[2]));
    let s1 = swapped[1][r1.clone()].to_vec();
    let s2 = swapped[2][r2.clone()].to_vec();
    swapped[1][r1].copy_from_slice(&s2);
    swapped[2][r2].copy_from_slice(&s1);
    out.push((
        "swapped-signature.log",
        swapped.concat(),
        Some(LogError::BadSignature {
            line: 2,
            seq: Some(1),
        }),
    ));

    // The same signature in its other valid form, (r, n - s): keyrite writes only low S, so a
    // high-S signature is a re-encoded one (ECDSA malleability) and is refused.
    let mut high_s = good.clone();
    let r = sig_range(&high_s[1]);
    let sig = p256::ecdsa::Signature::from_slice(
        &data_encoding::HEXLOWER_PERMISSIVE
            .decode(high_s[1][r.clone()].as_ref())
            .unwrap(),
    )
    .unwrap();
    assert!(log::low_s(&sig), "the corpus writer signs low-S");
    let flipped_s = -*sig.s();
    let high =
        p256::ecdsa::Signature::from_scalars(sig.r().to_bytes(), flipped_s.to_bytes()).unwrap();
    assert!(!log::low_s(&high));
    high_s[1][r].copy_from_slice(data_encoding::HEXLOWER.encode(&high.to_bytes()).as_bytes());
    out.push((
        "high-s-signature.log",
        high_s.concat(),
        Some(LogError::HighS {
            line: 2,
            seq: Some(1),
        }),
    ));

    // A record that continues the chain correctly but is signed by another key.
    let other = SigningKey::from_slice(&OTHER_KEY).unwrap();
    let forged_body = format!(
        "{{\"seq\":7,\"time\":\"{}\",\"step\":\"key.wrapped\",\"actors\":[\"Mallory\"],\"data\":{{\"key\":\"dev-s3\"}},\"prev\":\"{}\"}}",
        at(120),
        keyrite::core::digest::sha256_hex(strip(&good[6]))
    );
    let sig = log::LogSigner::sign(&other, forged_body.as_bytes()).unwrap();
    let forged = format!(
        "{{\"body\":{forged_body},\"sig\":\"{}\"}}\n",
        data_encoding::HEXLOWER.encode(&sig)
    );
    let mut appended = good.concat();
    appended.extend_from_slice(forged.as_bytes());
    out.push((
        "appended-other-key.log",
        appended,
        Some(LogError::BadSignature {
            line: 8,
            seq: Some(7),
        }),
    ));

    // Two ceremonies signed by the same key, spliced: every signature holds, the chain does not.
    let b = ceremony_lines(&corpus_key(), "B");
    let mut spliced = good[..4].to_vec();
    spliced.extend_from_slice(&b[4..]);
    out.push((
        "spliced-ceremonies.log",
        spliced.concat(),
        Some(LogError::Chain {
            line: 5,
            seq: 4,
            expected: keyrite::core::digest::sha256_hex(strip(&good[3])),
            found: keyrite::core::digest::sha256_hex(strip(&b[3])),
        }),
    ));

    // Cut after a complete record: every record verifies, but the ceremony has no end.
    out.push((
        "missing-end.log",
        good[..6].concat(),
        Some(LogError::Unfinished { last_seq: 5 }),
    ));

    // A ceremony opened by a 2-of-3 quorum: Alice and Carol.
    let quorum =
        ceremony_lines_with_quorum(&corpus_key(), "A", Some(&[("Alice", 1), ("Carol", 3)]));
    out.push(("good-quorum.log", quorum.concat(), None));

    // Properly signed, but the quorum is forged: one custodian counted twice to reach 2 of 3.
    let forged =
        ceremony_lines_with_quorum(&corpus_key(), "A", Some(&[("Alice", 1), ("Alice", 1)]));
    out.push((
        "forged-quorum.log",
        forged.concat(),
        Some(LogError::Quorum {
            line: 2,
            seq: 1,
            reason: "custodian \"Alice\" (index 1) is counted twice".into(),
        }),
    ));

    // The start record binds a roster, but no quorum.met comes before the HSM is used (the
    // capability probe).
    let missing = ceremony_lines_with_quorum(&corpus_key(), "A", Some(&[]));
    out.push((
        "missing-quorum.log",
        missing.concat(),
        Some(LogError::Quorum {
            line: 2,
            seq: 1,
            reason: "the token is probed, but the log binds a roster and has no quorum.met record before it".into(),
        }),
    ));
    out
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/log-tamper")
}

#[test]
fn the_checked_in_corpus_is_what_the_generator_makes_and_each_variant_fails_its_own_way() {
    let dir = corpus_dir();
    let (pem, _) = public_key_pem(corpus_key().verifying_key()).unwrap();
    let corpus = corpus();
    if std::env::var_os("KEYRITE_REGENERATE_CORPUS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("log-public-key.pem"), &pem).unwrap();
        for (name, bytes, _) in &corpus {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let trusted_pem = std::fs::read_to_string(dir.join("log-public-key.pem")).unwrap();
    assert_eq!(trusted_pem, pem, "log-public-key.pem is the corpus key");
    let trusted = TrustedKey::from_pem(&trusted_pem).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    let mut expected: Vec<_> = corpus.iter().map(|(n, _, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "the corpus directory holds exactly these logs"
    );
    for (name, bytes, want) in corpus {
        let on_disk = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(on_disk, bytes, "{name} differs from the generator's output");
        match (verify(&on_disk, &trusted), want) {
            (Ok(report), None) => {
                let with_quorum = name == "good-quorum.log";
                assert_eq!(report.records.len(), 7 + usize::from(with_quorum), "{name}");
                assert_eq!(report.keys.len(), 2, "{name}");
                assert_eq!(report.quorum.is_some(), with_quorum, "{name}");
            }
            (Err(got), Some(want)) => assert_eq!(got, want, "{name}"),
            (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
        }
    }
}

#[test]
fn every_error_names_the_line_of_the_first_bad_record() {
    let trusted = trusted();
    for (name, bytes, want) in corpus() {
        if let Some(want) = want {
            let msg = verify(&bytes, &trusted).unwrap_err().to_string();
            assert!(msg.contains("what to do:"), "{name}: {msg}");
            if !matches!(want, LogError::Unfinished { .. }) {
                assert!(msg.starts_with("line "), "{name}: {msg}");
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_byte_edit_is_rejected_or_changes_nothing(
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        kind in 0u8..3,
    ) {
        let good = ceremony_lines(&corpus_key(), "A").concat();
        let i = pos.index(good.len());
        let edit = match kind {
            0 => Edit::Replace(i, byte),
            1 => Edit::Insert(i, byte),
            _ => Edit::Delete(i),
        };
        let mut edited = good.clone();
        match edit {
            Edit::Replace(i, b) => edited[i] = b,
            Edit::Insert(i, b) => edited.insert(i, b),
            Edit::Delete(i) => { edited.remove(i); }
        }
        let result = verify(&edited, &trusted());
        prop_assert!(result.is_err() || edited == good, "{edit:?} was accepted");
    }
}

/// What a crash leaves: the log cut at any byte. Only the cut is reported (a cut-off last line, or
/// no end record); no complete record before it fails its signature, sequence or chain.
fn assert_cut_reports_only_the_cut(good: &[u8], at: usize) -> Result<(), TestCaseError> {
    let cut = &good[..at];
    let complete = cut.iter().filter(|&&b| b == b'\n').count();
    let result = verify(cut, &trusted());
    let ok = match (&result, at) {
        (Err(LogError::Empty), 0) => true,
        (Ok(_), n) => n == good.len(),
        (Err(LogError::Truncated { line }), _) => {
            *line == complete + 1 && cut.last() != Some(&b'\n')
        }
        (Err(LogError::Unfinished { last_seq }), _) => {
            cut.last() == Some(&b'\n') && *last_seq + 1 == complete as u64
        }
        _ => false,
    };
    prop_assert!(ok, "cut at {at}: {result:?}");
    Ok(())
}

#[test]
fn a_log_cut_at_any_record_boundary_reports_only_the_missing_end() {
    let good = ceremony_lines(&corpus_key(), "A").concat();
    for (i, _) in good.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        assert_cut_reports_only_the_cut(&good, i + 1).unwrap();
    }
    assert_cut_reports_only_the_cut(&good, 0).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_log_cut_at_any_byte_reports_only_the_cut(pos in any::<prop::sample::Index>()) {
        let good = ceremony_lines(&corpus_key(), "A").concat();
        assert_cut_reports_only_the_cut(&good, pos.index(good.len() + 1))?;
    }
}

// ---- The import receipt's corpus: receipts continuing good.log, each failing its own way ----

/// One receipt record's line, continuing `chain`.
fn receipt_line(
    chain: &mut receipt::ReceiptChain,
    t: i64,
    step: &str,
    fields: &[(&str, Option<&str>)],
) -> Vec<u8> {
    chain.record(at(t), step, &[], receipt::data(fields))
}

fn imported(chain: &mut receipt::ReceiptChain, t: i64, name: &str) -> Vec<u8> {
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{name}");
    let sha = keyrite::core::digest::sha256_hex(format!("A{name}").as_bytes());
    let material = format!("material-{name}");
    receipt_line(
        chain,
        t,
        receipt::step::KEY_IMPORTED,
        &[
            ("key", Some(name)),
            ("key_arn", Some(&arn)),
            ("kind", Some("first import")),
            ("encrypted_key_material_sha256", Some(&sha)),
            ("import_token_sha256", Some("token")),
            ("import_request_id", Some("request-1")),
            ("rotate_request_id", None),
            ("key_material_id", Some(&material)),
            ("previous_key_material_id", None),
            ("state", Some("Enabled")),
        ],
    )
}

fn run_start(chain: &mut receipt::ReceiptChain, t: i64, run: &str, head: &str) -> Vec<u8> {
    let final_manifest = keyrite::core::digest::sha256_hex(b"Afinal");
    receipt_line(
        chain,
        t,
        receipt::step::START,
        &[
            ("format", Some(receipt::FORMAT)),
            ("run", Some(run)),
            ("tool_version", Some("0.1.0")),
            ("manifest_sha256", Some(&final_manifest)),
            ("ceremony_log_head", Some(head)),
        ],
    )
}

fn run_end(chain: &mut receipt::ReceiptChain, t: i64) -> Vec<u8> {
    receipt_line(chain, t, receipt::step::END, &[("keys", Some("2"))])
}

/// (file name, bytes, None: verifies | Some((line, what the error says))).
type ReceiptCase = (&'static str, Vec<u8>, Option<(usize, &'static str)>);

fn receipt_corpus() -> Vec<ReceiptCase> {
    let log = ceremony_lines(&corpus_key(), "A").concat();
    let head = verify(&log, &trusted()).unwrap().head_sha256;
    let start = receipt::ReceiptChain::after_ceremony_log(&log).unwrap();
    let mut out: Vec<ReceiptCase> = Vec::new();

    let mut c = start.clone();
    let good = [
        run_start(&mut c, 100, "import", &head),
        imported(&mut c, 101, "dev-s3"),
        imported(&mut c, 102, "dev-rds"),
        run_end(&mut c, 103),
    ];
    out.push(("receipt-good.receipt", good.concat(), None));

    // A key that failed and was rolled back in a run of its own is accounted for.
    let mut c = start.clone();
    let rolled = [
        run_start(&mut c, 100, "import", &head),
        imported(&mut c, 101, "dev-s3"),
        run_start(&mut c, 110, "rollback", &head),
        receipt_line(
            &mut c,
            111,
            receipt::step::KEY_ROLLED_BACK,
            &[
                ("key", Some("dev-rds")),
                (
                    "key_arn",
                    Some("arn:aws:kms:us-east-1:000000000000:key/dev-rds"),
                ),
                ("key_material_id", Some("material-dev-rds")),
                ("request_id", Some("request-2")),
            ],
        ),
        run_end(&mut c, 112),
        run_start(&mut c, 120, "import", &head),
        run_end(&mut c, 121),
    ];
    out.push(("receipt-rolled-back-key.receipt", rolled.concat(), None));

    // Dated before the ceremony's end record (at 99): an import of material not yet made.
    let mut c = start.clone();
    let early = [
        run_start(&mut c, 100, "import", &head),
        imported(&mut c, 50, "dev-s3"),
        imported(&mut c, 102, "dev-rds"),
        run_end(&mut c, 103),
    ];
    out.push((
        "receipt-dated-before-the-ceremony-ended.receipt",
        early.concat(),
        Some((2, "before the ceremony's last record")),
    ));

    // A rollback of a key this ceremony never produced.
    let mut c = start.clone();
    let foreign = [
        run_start(&mut c, 100, "rollback", &head),
        receipt_line(
            &mut c,
            101,
            receipt::step::KEY_ROLLED_BACK,
            &[
                ("key", Some("prod-s3")),
                (
                    "key_arn",
                    Some("arn:aws:kms:us-east-1:000000000000:key/prod-s3"),
                ),
                ("key_material_id", Some("material-of-another-ceremony")),
                ("request_id", Some("request-3")),
            ],
        ),
        run_end(&mut c, 102),
    ];
    out.push((
        "receipt-rollback-of-another-key.receipt",
        foreign.concat(),
        Some((
            2,
            "a rollback of key \"prod-s3\", which this ceremony did not produce",
        )),
    ));

    // A finished import that leaves one of the ceremony's keys unaccounted for.
    let mut c = start.clone();
    let missing = [
        run_start(&mut c, 100, "import", &head),
        imported(&mut c, 101, "dev-s3"),
        run_end(&mut c, 103),
    ];
    out.push((
        "receipt-key-unaccounted.receipt",
        missing.concat(),
        Some((3, "no record of key dev-rds")),
    ));
    out
}

#[test]
fn the_checked_in_receipt_corpus_is_what_the_generator_makes_and_each_variant_fails_its_own_way() {
    let dir = corpus_dir();
    let corpus = receipt_corpus();
    if std::env::var_os("KEYRITE_REGENERATE_CORPUS").is_some() {
        for (name, bytes, _) in &corpus {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".receipt"))
        .collect();
    names.sort();
    let mut expected: Vec<_> = corpus.iter().map(|(n, _, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "the corpus holds exactly these receipts");
    let log = std::fs::read(dir.join("good.log")).unwrap();
    let report = verify(&log, &trusted()).unwrap();
    for (name, bytes, want) in corpus {
        let on_disk = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(on_disk, bytes, "{name} differs from the generator's output");
        match (receipt::verify(&on_disk, &report), want) {
            (Ok(r), None) => assert!(r.finished, "{name}"),
            (Err(receipt::ReceiptError::Content { line, reason, .. }), Some((at, what))) => {
                assert_eq!(line, at, "{name}: {reason}");
                assert!(reason.contains(what), "{name}: {reason}");
                let msg = receipt::verify(&on_disk, &report).unwrap_err().to_string();
                assert!(msg.contains("what to do:"), "{name}: {msg}");
            }
            (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
        }
    }
}
