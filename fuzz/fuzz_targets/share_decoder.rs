//! Typed custodian shares on arbitrary text: never a panic, and an error never repeats the input.
#![no_main]

use keyrite::core::custody::shares::CustodianShare;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match CustodianShare::decode(text, 1) {
        Ok(share) => {
            // What decodes re-encodes to a form that decodes to the same share.
            let again = CustodianShare::decode(&share.encode(), 1).expect("re-decodes");
            assert_eq!(again.index(), share.index());
            assert_eq!(again.commitment("r"), share.commitment("r"));
        }
        Err(e) => {
            let msg = e.to_string();
            let t = text.trim();
            if t.len() >= 12 {
                assert!(!msg.contains(t), "the error repeats the typed share");
            }
        }
    }
});
