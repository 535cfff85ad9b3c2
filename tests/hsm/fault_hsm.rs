//! A ceremony whose HSM fails at any one of its PKCS#11 calls can be finished or aborted, and
//! either way the bundle is consistent. The token is the real one (SoftHSM2, or the module
//! KEYRITE_TEST_MODULE names) behind tokens/faulty, a PKCS#11 module that forwards every call
//! and fails the Nth with CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED or CKR_SESSION_CLOSED.

use crate::common;

use common::faults::*;
use common::flow::*;
use common::*;

const ERRORS: [&str; 3] = [
    "CKR_DEVICE_ERROR",
    "CKR_DEVICE_REMOVED",
    "CKR_SESSION_CLOSED",
];

/// The headless ceremony on `p` through the faulty module, failing call `fail_at` (0: none).
fn faulty_ceremony(
    dir: &std::path::Path,
    p: &Prepared,
    keys: &[&str],
    module: &std::path::Path,
    fail_at: usize,
    count_file: Option<&std::path::Path>,
) -> std::process::Output {
    let mut cmd = ceremony_process(dir, p, keys);
    cmd.env("KEYRITE_PKCS11_MODULE", module)
        .env("FAULTY_TOKEN_MODULE", &hsm().module)
        .env("FAULTY_TOKEN_FAIL_AT", fail_at.to_string())
        .env("FAULTY_TOKEN_ERROR", ERRORS[fail_at % ERRORS.len()]);
    if let Some(f) = count_file {
        cmd.env("FAULTY_TOKEN_COUNT_FILE", f);
    }
    cmd.output().unwrap()
}

/// The sweep runs in this many tests, each on a token of its own, so that they run at once: shard
/// `k` fails the calls of the pairs `(2j+1, 2j+2)` with `j % SHARDS == k`, so each shard meets
/// both a finish (even calls) and an abort (odd calls) at every stage of the ceremony.
const SHARDS: usize = 4;

#[test]
fn a_ceremony_failing_at_any_pkcs11_call_is_finished_or_aborted_consistently_shard_0() {
    sweep(0);
}

#[test]
fn a_ceremony_failing_at_any_pkcs11_call_is_finished_or_aborted_consistently_shard_1() {
    sweep(1);
}

#[test]
fn a_ceremony_failing_at_any_pkcs11_call_is_finished_or_aborted_consistently_shard_2() {
    sweep(2);
}

#[test]
fn a_ceremony_failing_at_any_pkcs11_call_is_finished_or_aborted_consistently_shard_3() {
    sweep(3);
}

/// Fails each PKCS#11 call of shard `shard` of a three-key ceremony (one key multi-Region) once,
/// then finishes or aborts the bundle and checks it.
fn sweep(shard: usize) {
    own_token!();
    let started = std::time::Instant::now();
    let module = faulty_module();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    // The first key is a multi-Region primary with a replica: its material is wrapped twice,
    // once per Region, so a fault can also fall between its Regions.
    let mut aliases: Vec<String> = vec![
        rt.block_on(create_multi_region_key(&c, "fault0", "eu-west-1"))
            .0,
    ];
    aliases.extend((1..3).map(|i| rt.block_on(create_key(&c, true, &format!("fault{i}"))).0));
    let keys: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let prepared = prepare(dir.path(), &keys, default_algorithm());

    // How many PKCS#11 calls a whole three-key ceremony makes: the run with no failure.
    let count_file = dir.path().join("calls");
    let p = copy_bundle(&prepared, dir.path(), "count");
    let out = faulty_ceremony(dir.path(), &p, &keys, &module, 0, Some(&count_file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&p, keys.len(), false, "no failure");
    destroy_ceremony_keys(&p);
    let calls: usize = std::fs::read_to_string(&count_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        calls > 20,
        "a ceremony makes more than {calls} PKCS#11 calls"
    );

    let mut outcomes = std::collections::BTreeMap::new();
    for n in (1..=calls).filter(|n| ((n - 1) / 2) % SHARDS == shard) {
        let p = copy_bundle(&prepared, dir.path(), &format!("fail-at-{n}"));
        let out = faulty_ceremony(dir.path(), &p, &keys, &module, n, None);
        let what = format!("call {n} failing with {}", ERRORS[n % ERRORS.len()]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("CKR_") || err.contains("PKCS#11") || err.contains("HSM"),
                "{what}: the error names the HSM's failure: {err}"
            );
        }
        let prefer = if n % 2 == 0 { "finish" } else { "abort" };
        let outcome = recover_and_check(dir.path(), &p, &keys, out.status.success(), prefer, &what);
        *outcomes.entry(format!("{outcome:?}")).or_insert(0usize) += 1;
        destroy_ceremony_keys(&p);
    }
    eprintln!(
        "PKCS#11 fault injection on {}: {calls} calls, shard {shard} of {SHARDS} failed once each; outcomes {outcomes:?}; {:.0} s",
        hsm().module.display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        outcomes.contains_key("Finished") && outcomes.contains_key("Aborted"),
        "{outcomes:?}"
    );
}
