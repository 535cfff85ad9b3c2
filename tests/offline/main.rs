//! Tests that need no HSM and no KMS: the layout of the source, the CLI documentation, the log tamper corpus.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

mod cli_docs;
mod layout;
mod log_tamper;
