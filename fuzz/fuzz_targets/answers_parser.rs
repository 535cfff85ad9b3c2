//! A headless answers file (it may hold custodians' shares) on arbitrary text: never a panic, and
//! a refusal never quotes the file: its message has a bounded length whatever the input (line,
//! column, a key name of at most 32 characters, the kind of mistake).
#![no_main]

use keyrite::core::script::Answers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = Answers::parse("answers.toml", text) {
        let msg = e.to_string();
        assert!(msg.len() < 400, "the error may quote the file: {msg}");
        for line in text.lines().map(str::trim).filter(|l| l.len() > 40) {
            assert!(!msg.contains(line), "the error quotes a line of the file");
        }
    }
});
