//! Ceremony tests on a real PKCS#11 token (SoftHSM2, or the module KEYRITE_TEST_MODULE names), each in a process and token store of its own, with the local KMS where they import.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod audit_report;
mod bad_input;
mod ceremony_kill;
mod ceremony_order;
mod ceremony_preflight;
mod escrow;
mod fault_disk;
mod fault_hsm;
mod hostile;
mod import_trust;
mod ledger;
mod matrix;
mod probe;
mod provenance;
mod quorum;
mod rewrap_escrow;
mod roundtrip;
mod witness_key;
mod wrap_with_trusted;
