//! Import throughput: 100 keys imported by `keyrite kms import` (one process, --concurrency 16
//! unless KEYRITE_BENCH_CONCURRENCY says otherwise)
//! and, in the same run, 100 more through a loop of the AWS CLI commands keyrite prints for them
//! (one `aws kms import-key-material` process per key), both into the local KMS. Both bundles come
//! from real ceremonies on the test token. Prints both times and the ratio; asserts only that
//! every key ends up Enabled, never a speed.
//!
//! Run: `scripts/bench-import` (starts the local KMS, installs the AWS CLI, builds unoptimised
//! like the test suite).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::flow::{all_enabled, ceremony_cmd, prepare};
use common::*;

const KEYS: usize = 100;

fn ceremony_bundle(dir: &Path, rt: &tokio::runtime::Runtime, tag: &str) -> common::flow::Prepared {
    let client = rt.block_on(client());
    let aliases: Vec<String> = (0..KEYS)
        .map(|_| rt.block_on(create_key(&client, true, tag)).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let alg = default_algorithm();
    let p = prepare(dir, &refs, alg);
    ceremony_cmd(dir, &p, &refs, alg).assert().success();
    p
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    common::whole_process_is_one_run();
    let aws = std::env::var("KEYRITE_BENCH_AWS").expect(
        "KEYRITE_BENCH_AWS names the aws executable: run this through scripts/bench-import",
    );
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let setup = Instant::now();
    let ours = ceremony_bundle(&dir.path().join("ours"), &rt, "bench-k");
    let theirs = ceremony_bundle(&dir.path().join("theirs"), &rt, "bench-c");
    println!(
        "setup: 2 x {KEYS} EXTERNAL keys created, prepared and through a ceremony on {} in {:.1} s",
        hsm().module.display(),
        secs(setup.elapsed())
    );

    // keyrite: one process, the whole bundle (KEYRITE_BENCH_CONCURRENCY, default 16).
    let concurrency = std::env::var("KEYRITE_BENCH_CONCURRENCY").unwrap_or_else(|_| "16".into());
    let start = Instant::now();
    keyrite()
        .args(["kms", "import", "--concurrency", &concurrency, "--bundle"])
        .arg(&ours.bundle)
        .assert()
        .success();
    let keyrite_time = start.elapsed();
    all_enabled(&rt, &ours.bundle);

    // The AWS CLI: the commands keyrite prints, one key after the other.
    let verified = keyrite::io::bundle::Bundle::verify(&theirs.bundle).unwrap();
    let commands = keyrite::app::import::aws_cli_equivalent(
        &verified,
        keyrite::app::import::Expiration::DoesNotExpire,
    );
    let bin_dir = Path::new(&aws).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = Instant::now();
    for (name, lines) in &commands {
        for line in lines {
            let out = Command::new("sh")
                .arg("-c")
                .arg(line)
                .env("PATH", &path)
                .env("AWS_ENDPOINT_URL", kms_endpoint())
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", account())
                .env("AWS_SECRET_ACCESS_KEY", "local")
                .env_remove("AWS_PROFILE")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let cli_time = start.elapsed();
    all_enabled(&rt, &theirs.bundle);

    println!("import of {KEYS} prepared keys into the local KMS:");
    println!(
        "  keyrite kms import (1 process, --concurrency {concurrency:>2})  {:>7.2} s  ({:>6.1} ms/key)",
        secs(keyrite_time),
        secs(keyrite_time) * 1e3 / KEYS as f64
    );
    println!(
        "  AWS CLI loop ({KEYS} import-key-material calls)     {:>7.2} s  ({:>6.1} ms/key)",
        secs(cli_time),
        secs(cli_time) * 1e3 / KEYS as f64
    );
    println!(
        "  ratio (AWS CLI / keyrite)                         {:>7.1}x",
        secs(cli_time) / secs(keyrite_time)
    );
    println!(
        "  (keyrite also checks each key with DescribeKey before and after; the CLI loop does not)"
    );
}
