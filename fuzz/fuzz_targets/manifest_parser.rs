//! The bundle manifest (what comes back across the air gap) on arbitrary bytes: never a panic; a
//! manifest accepted once is accepted again after keyrite writes it, unchanged, and none of its
//! strings holds a character a terminal would obey.
#![no_main]

use keyrite::core::manifest::Manifest;
use keyrite::core::terminal::is_terminal_control;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else { return };
    let again = Manifest::parse(&m.to_json()).expect("a written manifest parses");
    assert_eq!(again, m);
    for k in &m.keys {
        for s in [&k.name, &k.key_arn, &k.key_id, &k.region, &k.account, &k.requested] {
            assert!(!s.chars().any(is_terminal_control), "{s:?}");
        }
    }
});
