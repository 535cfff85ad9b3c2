//! Tests of the connected side against a stubbed KMS (behaviour no local emulator has) and of its failure messages.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

mod failure;
mod kms_stub;
