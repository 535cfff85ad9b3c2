//! How long the capability probe takes on the token in use (SoftHSM2 by default; set
//! KEYRITE_TEST_MODULE to the kryoptic module for the other). Prints figures; asserts nothing
//! about speed. Run: `cargo bench --bench probe` (optimised) or with KEYRITE_TEST_MODULE set.
//! criterion reports each algorithm's time with a confidence interval and the change since the
//! last run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyrite::core::algorithm::WrappingAlgorithm;
use keyrite::hsm::probe::probe;

fn bench(c: &mut Criterion) {
    common::whole_process_is_one_run();
    let hsm = common::hsm();
    let session = hsm.token().login(&hsm.pin()).unwrap();
    let mut g = c.benchmark_group(format!("capability probe on {}", hsm.module.display()));
    g.sample_size(15);
    for algorithm in WrappingAlgorithm::ALL {
        let accepted = probe(&session, common::TOKEN_LABEL, algorithm).is_ok();
        let name = format!(
            "{} ({})",
            algorithm.as_str(),
            if accepted { "accepted" } else { "refused" }
        );
        g.bench_function(name, |b| {
            b.iter(|| black_box(probe(&session, common::TOKEN_LABEL, algorithm).is_ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
