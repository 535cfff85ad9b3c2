//! The account a test acts in on LocalStack (the local KMS and S3). Shared with the monitor's
//! tests (`monitor/tests/`), which include this file by its path.

/// This test's AWS account on the local KMS and S3 (LocalStack), 12 digits: the access key id
/// of every client, keyrite process and AWS CLI the test runs against them, and the account its
/// ceremony scripts name. LocalStack takes a 12-digit access key id as the account to act in,
/// so a test's keys, aliases and buckets are in an account of its own and `kms status` and `kms
/// inventory` describe no other test's keys.
///
/// Every test runs in a process of its own (cargo-nextest; `own_token!` too): the process id,
/// 7 digits (Linux's pid_max is at most 2^22), keeps the accounts of the tests running at the
/// same moment apart; the time, in the last 5 digits, keeps an account apart from that of an
/// earlier process with the same id. Never 000000000000, LocalStack's default account, which a
/// rehearsal uses.
pub fn account() -> &'static str {
    static ACCOUNT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ACCOUNT.get_or_init(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let account = format!("{:07}{:05}", std::process::id(), secs % 100_000);
        assert_eq!(account.len(), 12, "an account id is 12 digits: {account}");
        account
    })
}
