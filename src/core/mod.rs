//! The pure core: no files, no HSM, no network. Everything here is testable with plain values.

pub mod algorithm;
pub mod aws_cli;
pub mod aws_cli_params;
pub mod ceremony;
pub mod chain;
pub mod config_rule;
pub mod custody;
pub mod digest;
pub mod exit;
pub mod import_progress;
pub mod import_rules;
pub mod inventory;
pub mod key_age;
pub mod log;
pub mod manifest;
pub mod names;
pub mod person;
pub mod pin_counter;
pub mod plan;
pub mod provenance;
pub mod receipt;
pub mod replay;
pub mod resource_recheck;
pub mod script;
pub mod terminal;
pub mod wrapping_key;
