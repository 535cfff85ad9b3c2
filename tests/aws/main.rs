//! The connected side against the local KMS, S3, RDS and DynamoDB: prepare, import, inventory, status, verify-rotation, the AWS CLI.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

#[path = "../common/mod.rs"]
mod common;

mod import_resume;
mod kms_aws_cli;
mod kms_interop;
mod kms_inventory;
mod kms_multi_region;
mod kms_new_key;
mod kms_plan;
mod kms_prepare_concurrent;
mod kms_status_resources;
mod kms_verify_rotation;
