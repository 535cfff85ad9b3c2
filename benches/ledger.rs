//! The token's ledger at 10,000 closings (decades of ceremonies): one closing (append, sign the
//! checkpoint, compute the inclusion and consistency proofs) and `audit verify`'s check of a
//! bundle's ledger evidence (parse the copy, rebuild the tree, check both proofs and the
//! signature), with criterion's statistics. Asserts nothing about speed.
//! Run: `cargo bench --bench ledger`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use keyrite::core::digest::sha256_hex;
use keyrite::core::ledger::{self, BundleLedger, Entry, EntryKind, Ledger};
use keyrite::core::log::TrustedKey;
use p256::ecdsa::SigningKey;

const CLOSINGS: u64 = 10_000;

fn entry(i: u64) -> Entry {
    Entry {
        kind: EntryKind::Ceremony,
        final_record_sha256: sha256_hex(&i.to_be_bytes()),
        subject: sha256_hex(&(i + 1).to_be_bytes()),
        time: Timestamp::from_second(1_795_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_slice(&[7u8; 32]).expect("a P-256 scalar");
    let trusted = TrustedKey::from_key(*key.verifying_key()).expect("a key");
    let mut base = Ledger::new(&trusted);
    base.entries = (0..CLOSINGS - 1).map(entry).collect();
    let mut g = c.benchmark_group("ledger");
    g.sample_size(20);
    g.bench_function("close the 10,000th ceremony", |b| {
        b.iter(|| {
            let mut l = base.clone();
            let sealed = ledger::seal(&mut l, entry(CLOSINGS - 1), CLOSINGS - 1, &key, &trusted)
                .expect("sign")
                .expect("seal");
            black_box(sealed);
        })
    });
    let mut l = base.clone();
    let sealed = ledger::seal(&mut l, entry(CLOSINGS - 1), CLOSINGS - 1, &key, &trusted)
        .expect("sign")
        .expect("seal");
    let (proof, cons, copy) = (
        sealed.inclusion.to_bytes(),
        sealed.consistency.to_bytes(),
        l.to_bytes(),
    );
    let last = entry(CLOSINGS - 1).final_record_sha256;
    g.bench_function("verify a bundle's evidence at 10,000 closings", |b| {
        b.iter(|| {
            let r = ledger::verify_bundle(
                &BundleLedger {
                    proof: &proof,
                    consistency: &cons,
                    copy: &copy,
                },
                &last,
                &trusted,
                &[],
                0,
            )
            .expect("verifies");
            black_box(r);
        })
    });
    g.finish();
    eprintln!(
        "ledger of {CLOSINGS} closings: ledger.jsonl {} bytes, ledger.tlog-proof {} bytes, ledger.consistency {} bytes",
        copy.len(),
        proof.len(),
        cons.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
