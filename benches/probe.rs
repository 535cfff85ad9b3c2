//! How long the capability probe takes on the token in use (SoftHSM2 by default; set
//! KEYRITE_TEST_MODULE to the kryoptic module for the other). Prints figures; asserts nothing
//! about speed. Run: `cargo bench --bench probe` (optimised) or with KEYRITE_TEST_MODULE set.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use keyrite::core::algorithm::WrappingAlgorithm;
use keyrite::hsm::probe::probe;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    common::whole_process_is_one_run();
    let hsm = common::hsm();
    let session = hsm.token().login(&hsm.pin()).unwrap();
    const RUNS: usize = 15;
    println!(
        "capability probe on {} ({RUNS} runs each)",
        hsm.module.display()
    );
    for algorithm in WrappingAlgorithm::ALL {
        let mut times = Vec::with_capacity(RUNS);
        let mut accepted = false;
        for _ in 0..RUNS {
            let start = Instant::now();
            accepted = probe(&session, common::TOKEN_LABEL, algorithm).is_ok();
            times.push(start.elapsed());
        }
        let max = *times.iter().max().unwrap();
        println!(
            "  {:<26} {:<8} median {:>8.1} ms  max {:>8.1} ms",
            algorithm.as_str(),
            if accepted { "accepted" } else { "refused" },
            median(times).as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}
