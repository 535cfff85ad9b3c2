//! The import progress file (a journal in a bundle that came back from elsewhere) on arbitrary
//! bytes: never a panic, only this bundle's progress is accepted, and what is accepted round-trips.
#![no_main]

use keyrite::core::import_progress::ImportProgress;
use libfuzzer_sys::fuzz_target;

const FINGERPRINT: &str = "4f0c3b0e2b8d6b8e5b9d0a8f1c2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";

fuzz_target!(|data: &[u8]| {
    let Ok(p) = ImportProgress::parse(data, FINGERPRINT) else { return };
    assert_eq!(p.bundle_fingerprint, FINGERPRINT);
    let again = ImportProgress::parse(&p.to_json(), FINGERPRINT).expect("a written progress parses");
    assert_eq!(again, p);
});
