//! Tests of the air-gap build alone (`--no-default-features --features airgap`): the log key and enrolment, on a real PKCS#11 token.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

#[path = "../common/mod.rs"]
mod common;

mod enrol_tui;
mod log_key;
