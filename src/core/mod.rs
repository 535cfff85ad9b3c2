//! The pure core: no files, no HSM, no network. Everything here is testable with plain values.

pub mod algorithm;
pub mod digest;
pub mod log;
pub mod manifest;
pub mod names;
pub mod script;
pub mod wrapping_key;
