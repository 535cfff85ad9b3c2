//! Prepare and import cost for 100 keys (KEYRITE_BENCH_KEYS to change it): `keyrite kms prepare`
//! then `keyrite kms import` of the same keys, each run in this process through the command
//! line's own entry point (`keyrite::cli::run`, so bundle checks, hashing and file writes count)
//! with a KMS clock ([`keyrite::kms::clock`]) on every KMS client. For each command it prints the
//! KMS calls by operation, the wall time, the time with at least one KMS call in flight and the
//! time keyrite spends outside KMS calls (wall less that). The ceremony between the two (the
//! keyrite binary on the test token) is setup, not measured. Asserts only that every key ends up
//! Enabled, never a speed.
//!
//! Run: `scripts/bench-prepare-import` (starts the local KMS, builds unoptimised like the tests).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::stream::{self, StreamExt};

use common::flow::{Prepared, all_enabled, ceremony_cmd};
use common::*;
use keyrite::kms::clock::{self, ClockReading};

const DEFAULT_KEYS: usize = 100;

/// `keyrite <args>` in this process, timed, with a fresh KMS clock.
fn run(args: &[&str]) -> (Duration, ClockReading) {
    let cli =
        keyrite::cli::Cli::try_parse_from(std::iter::once("keyrite").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("keyrite {args:?}: {e}"));
    let clock = clock::measure();
    let start = Instant::now();
    keyrite::cli::run(cli).unwrap_or_else(|e| panic!("keyrite {args:?}: {e}"));
    let wall = start.elapsed();
    clock::stop();
    (wall, clock.reading())
}

fn report(what: &str, keys: usize, wall: Duration, r: &ClockReading) {
    let outside = wall.saturating_sub(r.in_kms);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{what} ({keys} keys):");
    println!(
        "  wall time                          {:>9.1} ms  ({:>6.1} ms/key)",
        ms(wall),
        ms(wall) / keys as f64
    );
    println!(
        "  a KMS call in flight               {:>9.1} ms  ({:>5.1} %)",
        ms(r.in_kms),
        100.0 * r.in_kms.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "  keyrite outside KMS calls          {:>9.1} ms  ({:>5.1} %, {:>5.2} ms/key)",
        ms(outside),
        100.0 * outside.as_secs_f64() / wall.as_secs_f64(),
        ms(outside) / keys as f64
    );
    println!(
        "  KMS calls                          {:>9}",
        r.total_calls()
    );
    for (op, n) in &r.calls {
        println!("    {op:<32} {n:>9}");
    }
}

fn main() {
    common::whole_process_is_one_run();
    let keys: usize = std::env::var("KEYRITE_BENCH_KEYS")
        .ok()
        .map(|v| v.parse().expect("KEYRITE_BENCH_KEYS is a number of keys"))
        .unwrap_or(DEFAULT_KEYS);
    let concurrency =
        std::env::var("KEYRITE_BENCH_CONCURRENCY").unwrap_or_else(|_| "16".to_string());
    let hsm = hsm();
    // The command runs in this process: it reads the environment keyrite_process() would give it.
    // SAFETY: set before any thread of this program reads the environment; never changed.
    unsafe {
        std::env::set_var(hsm.env.0, &hsm.env.1);
        std::env::set_var("KEYRITE_PKCS11_MODULE", &hsm.module);
        std::env::set_var("AWS_ENDPOINT_URL", kms_endpoint());
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", account());
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_ENDPOINT_URL_KMS");
    }
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let setup = Instant::now();
    let aliases: Vec<String> = rt.block_on(async {
        let kms = client().await;
        stream::iter(0..keys)
            .map(|_| {
                let kms = kms.clone();
                async move { create_key(&kms, true, "bench-pi").await.0 }
            })
            .buffered(16)
            .collect()
            .await
    });
    println!(
        "setup: {keys} EXTERNAL keys created in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let alg = default_algorithm();
    let bundle = dir.path().join("bundle");
    let mut args = vec![
        "kms",
        "prepare",
        "--out",
        bundle.to_str().unwrap(),
        "--algorithm",
        alg,
        "--wrapping-spec",
        "RSA_4096",
    ];
    for a in &aliases {
        args.extend(["--key", a.as_str()]);
    }
    let (prepare_wall, prepare) = run(&args);

    let ceremony = Instant::now();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let p = Prepared {
        bundle: bundle.clone(),
        fingerprint: keyrite::io::bundle::Bundle::verify(&bundle)
            .unwrap()
            .fingerprint()
            .to_string(),
    };
    ceremony_cmd(dir.path(), &p, &refs, alg).assert().success();
    println!(
        "setup: the ceremony on {} in {:.1} s (not measured)",
        hsm.module.display(),
        ceremony.elapsed().as_secs_f64()
    );

    let trust = hsm.log_public_key();
    let (import_wall, import) = run(&[
        "kms",
        "import",
        "--concurrency",
        &concurrency,
        "--trust",
        trust.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
    ]);
    all_enabled(&rt, &bundle);

    report(
        "keyrite kms prepare (RSA_4096 wrapping keys)",
        keys,
        prepare_wall,
        &prepare,
    );
    report(
        &format!("keyrite kms import --concurrency {concurrency}"),
        keys,
        import_wall,
        &import,
    );
}
