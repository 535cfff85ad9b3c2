//! The ceremony log verifier and reader on arbitrary bytes: never a panic, and anything accepted
//! as a verified log re-reads to the same records.
#![no_main]

use std::sync::OnceLock;

use keyrite::core::log::{TrustedKey, bodies, verify};
use libfuzzer_sys::fuzz_target;

fn trusted() -> &'static TrustedKey {
    static KEY: OnceLock<TrustedKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = include_str!("../../tests/data/log-tamper/log-public-key.pem");
        TrustedKey::from_pem(pem).expect("the corpus key parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let verified = verify(data, trusted());
    let read = bodies(data);
    if let Ok(report) = verified {
        let read = read.expect("a verified log is readable");
        assert_eq!(read.len(), report.records.len());
    }
});
