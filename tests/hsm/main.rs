//! Ceremony tests on a real PKCS#11 token (SoftHSM2, or the module KEYRITE_TEST_MODULE names), each in a process and token store of its own, with the local KMS where they import.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

#[path = "../common/mod.rs"]
mod common;

mod roundtrip;
mod probe;
mod matrix;
mod audit;
mod bad_input;
mod quorum;
mod escrow;
mod wrap_with_trusted;
mod hostile;
mod provenance;
mod rewrap_escrow;
mod ceremony_kill;
mod ceremony_preflight;
mod ceremony_order;
