//! Shared test support: real parts only. A PKCS#11 token (SoftHSM2 by default; set
//! KEYRITE_TEST_MODULE to run the same tests on another module, e.g. kryoptic) and the local KMS
//! started by `scripts/test` (KEYRITE_TEST_KMS_ENDPOINT). Missing parts fail the test; nothing
//! is skipped.
//!
//! # Tests share no token
//!
//! Every test that touches the HSM starts with [`own_token!`]: the test binary runs that one test
//! again in a new process of its own, with a token store of its own (SoftHSM2: a fresh
//! `SOFTHSM2_CONF` naming a fresh token directory; kryoptic: a fresh `KRYOPTIC_CONF` database),
//! in which [`hsm`] initialises the test token and its log key. The keyrite processes the test
//! starts get the same store through their environment, and no other test's. The harness's
//! process only waits for that run and reports its output.
//!
//! Why a process per test: SoftHSM2 and kryoptic read their configuration from the environment
//! once, at C_Initialize, and keyrite keeps one initialised PKCS#11 context per module for the
//! whole process (`hsm::token`), so every thread of one process sees the same token store. Tests
//! of one binary run in parallel threads of one process; a per-test store therefore needs a
//! per-test process. A shared store is what this avoids: one test's keys showing up in another's
//! counts, and SoftHSM2's file store failing a read in one process while another process rewrites
//! the same token.
//!
//! # Tests share no account
//!
//! The KMS clients, keyrite processes, AWS CLI runs and ceremony scripts of a test all act in
//! an AWS account of its own on LocalStack, [`account`]: one test's keys never show up in
//! another's `kms status` or `kms inventory`, which describe every key of the account.
//!
//! [`hsm`] refuses to run outside such a process, so a test that forgets [`own_token!`] fails
//! instead of sharing a token. A program that is one run on its own (a bench) calls
//! [`whole_process_is_one_run`] instead.
//!
//! The HSM half needs the `airgap` feature, the KMS half `connected`.
#![allow(dead_code)]

mod account;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod faults;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod flow;
#[cfg(all(feature = "airgap", feature = "resources"))]
pub mod nine;
#[cfg(all(feature = "airgap", feature = "connected"))]
pub mod roster;
#[cfg(feature = "resources")]
pub mod services;
pub mod tmux;

pub use account::account;
use std::path::{Path, PathBuf};
#[cfg(feature = "airgap")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(feature = "airgap")]
use cryptoki::types::AuthPin;
#[cfg(feature = "airgap")]
use keyrite::hsm::{Token, softhsm};
#[cfg(feature = "connected")]
use keyrite::kms::{self, Client, KmsTarget};

pub const TOKEN_LABEL: &str = "keyrite-test";
pub const USER_PIN: &str = "test-user-pin-0001";
pub const SO_PIN: &str = "test-so-pin-0001";

/// Names the directory of the token store in the process a test runs in on its own; set only
/// there.
const OWN_STORE: &str = "KEYRITE_TEST_OWN_STORE";

/// Runs the rest of the calling test in a process, and on a token store, of its own (see the
/// module documentation). In that process it does nothing; in the harness's process it runs the
/// test there, fails with its output if it failed, and returns from the calling test.
#[allow(unused_macros)]
macro_rules! own_token {
    () => {
        if !$crate::common::in_own_process() {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use own_token;

/// True in the process a test runs in on its own. Otherwise runs the current test (named by its
/// thread, as the test harness names it) in a new process with a new, empty token store
/// directory, removed afterwards; panics with that process's output unless exactly this one
/// test ran and passed there, and returns false.
pub fn in_own_process() -> bool {
    if std::env::var_os(OWN_STORE).is_some() {
        return true;
    }
    let thread = std::thread::current();
    let name = thread
        .name()
        .filter(|n| *n != "main")
        .expect("own_token!() runs in a test, on the thread the test harness names after it");
    let store = tempfile::Builder::new()
        .prefix("keyrite-test-hsm")
        .tempdir()
        .unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--include-ignored", "--test-threads=1"])
        .args(["--nocapture", "--color=never"])
        .env(OWN_STORE, store.path())
        .env_remove("SOFTHSM2_CONF")
        .env_remove("KRYOPTIC_CONF")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "{name} in its own process ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "exactly this test ran: {report}"
    );
    // Captured by the harness: shown with --nocapture.
    eprintln!("{report}");
    false
}

/// For a program that is a single run (a bench, not a test harness): the token store is this
/// process's own, in a new temporary directory that is left in place afterwards.
pub fn whole_process_is_one_run() {
    let dir = tempfile::Builder::new()
        .prefix("keyrite-bench-hsm")
        .tempdir()
        .unwrap()
        .keep();
    assert!(
        PROCESS_STORE.set(dir).is_ok(),
        "whole_process_is_one_run() is called once, first"
    );
}

static PROCESS_STORE: OnceLock<PathBuf> = OnceLock::new();

#[cfg(feature = "airgap")]
pub struct TestHsm {
    pub module: PathBuf,
    /// (variable, value) that points the module at this test's token store.
    pub env: (&'static str, PathBuf),
    pub pin_file: PathBuf,
    pub dir: PathBuf,
}

#[cfg(feature = "airgap")]
impl TestHsm {
    pub fn is_softhsm(&self) -> bool {
        self.module.to_string_lossy().contains("softhsm")
    }

    /// The test token.
    pub fn token(&self) -> Token {
        Token::open(&self.module, TOKEN_LABEL).expect("open the test token")
    }

    pub fn pin(&self) -> AuthPin {
        AuthPin::new(USER_PIN.into())
    }

    /// How many objects the test token holds, as its user sees them: every class and label,
    /// private ones included. A count taken before and after an operation tells whether it left
    /// anything behind, whatever the label.
    pub fn object_count(&self) -> usize {
        self.token()
            .login(&self.pin())
            .expect("log in to the test token")
            .object_count()
            .expect("count the test token's objects")
    }

    /// The token's log public key, PEM (for `keyrite audit verify --trust`).
    pub fn log_public_key(&self) -> PathBuf {
        self.dir.join("log-public-key.pem")
    }

    /// The --token argument for the CLI.
    pub fn token_uri(&self) -> String {
        format!(
            "pkcs11:token={TOKEN_LABEL}?pin-source=file:{}",
            self.pin_file.display()
        )
    }
}

/// Runs `f` with a read-write session of the test token opened through cryptoki directly, not
/// through keyrite: for what a test reads or changes behind keyrite's back. The context is never
/// dropped: that would C_Finalize the module under keyrite's own context in this process.
#[cfg(feature = "airgap")]
pub fn with_raw_session<T>(f: impl FnOnce(&cryptoki::session::Session) -> T) -> T {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    let ctx = Pkcs11::new(&hsm().module).unwrap();
    // keyrite's own context may have initialised the module already in this process.
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN_LABEL)
        .unwrap();
    let out = f(&ctx.open_rw_session(slot).unwrap());
    std::mem::forget(ctx);
    out
}

/// This test's token, initialised on first use in the test's own process (see [`own_token!`]).
/// SoftHSM2 and kryoptic read their configuration from the environment when the module is
/// initialised, so it is set here once, before the module is loaded, and passed explicitly to
/// every child process.
#[cfg(feature = "airgap")]
pub fn hsm() -> &'static TestHsm {
    static HSM: OnceLock<TestHsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let dir = std::env::var_os(OWN_STORE)
            .map(PathBuf::from)
            .or_else(|| PROCESS_STORE.get().cloned())
            .expect(
                "this test touches the token: begin it with own_token!() so that it runs on a token store of its own",
            );
        let module = std::env::var_os("KEYRITE_TEST_MODULE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(softhsm::DEFAULT_MODULE));
        assert!(
            module.is_file(),
            "PKCS#11 module {} is missing: run the tests with ./scripts/test, which installs SoftHSM2",
            module.display()
        );
        let env = if module.to_string_lossy().contains("kryoptic") {
            ("KRYOPTIC_CONF", dir.join("token.sql"))
        } else {
            ("SOFTHSM2_CONF", softhsm::create_token_dir(&dir.join("softhsm")).unwrap())
        };
        // SAFETY: set once, before the PKCS#11 module is loaded in this process (which runs this
        // one test); no thread reads this variable through C before this point.
        unsafe { std::env::set_var(env.0, &env.1) };
        let token = Token::initialise(&module, TOKEN_LABEL, &AuthPin::new(SO_PIN.into()), &AuthPin::new(USER_PIN.into()))
            .expect("initialise the test token");
        let log_key = token.login(&AuthPin::new(USER_PIN.into())).unwrap()
            .generate_log_key(keyrite::hsm::LOG_KEY_LABEL).expect("generate the log-signing key");
        let (pem, _) = keyrite::core::log::public_key_pem(log_key.key()).unwrap();
        std::fs::write(dir.join("log-public-key.pem"), pem).unwrap();
        let pin_file = dir.join("user.pin");
        write_secret(&pin_file, format!("{USER_PIN}\n"));
        TestHsm { module, env, pin_file, dir }
    })
}

/// The local KMS that `scripts/test` started.
pub fn kms_endpoint() -> String {
    std::env::var("KEYRITE_TEST_KMS_ENDPOINT").expect(
        "KEYRITE_TEST_KMS_ENDPOINT is not set: run the tests with ./scripts/test, which starts the local KMS",
    )
}

#[cfg(feature = "connected")]
pub fn kms_target() -> KmsTarget {
    KmsTarget {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(kms_endpoint()),
        local_credentials: Some(account().into()),
    }
}

#[cfg(feature = "connected")]
pub async fn client() -> Client {
    kms::connect(&kms_target())
        .await
        .expect("connect to the local KMS")
}

#[cfg(feature = "connected")]
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A name no other test (or earlier run against the same KMS) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a key in the local KMS with an alias; returns (alias, arn).
#[cfg(feature = "connected")]
pub async fn create_key(client: &Client, external: bool, name: &str) -> (String, String) {
    let mut req = client.create_key();
    if external {
        req = req.origin(aws_sdk_kms::types::OriginType::External);
    }
    let meta = req.send().await.unwrap().key_metadata.unwrap();
    let alias = format!("alias/{}", unique(name));
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .unwrap();
    (alias, meta.arn().unwrap().to_string())
}

/// An EXTERNAL multi-Region primary in `client`'s Region under a fresh alias, replicated to
/// `replica_region` before any import (LocalStack's ReplicateKey copies the primary as it is: a
/// replica made now waits in PendingImport, as AWS's does). Returns (alias, key id).
#[cfg(feature = "connected")]
pub async fn create_multi_region_key(
    client: &Client,
    name: &str,
    replica_region: &str,
) -> (String, String) {
    let id = create_multi_region_primary(client).await;
    let replica = client
        .replicate_key()
        .key_id(&id)
        .replica_region(replica_region)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replica.replica_key_metadata().and_then(|m| m.key_state()),
        Some(&aws_sdk_kms::types::KeyState::PendingImport),
        "a replica of an EXTERNAL primary made before any import waits for its material"
    );
    let alias = format!("alias/{}", unique(name));
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    (alias, id)
}

/// An EXTERNAL multi-Region primary in `client`'s Region, without replicas or alias: its key id.
#[cfg(feature = "connected")]
pub async fn create_multi_region_primary(client: &Client) -> String {
    client
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id()
        .to_string()
}

/// The keyrite binary, with the environment pointing at the test token and the local KMS.
#[cfg(feature = "airgap")]
pub fn keyrite() -> assert_cmd::Command {
    assert_cmd::Command::from_std(keyrite_process())
}

/// [`keyrite`] as a plain process, for a test that spawns it (and may kill it).
pub fn keyrite_process() -> std::process::Command {
    let hsm = hsm();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keyrite"));
    cmd.env(hsm.env.0, &hsm.env.1)
        .env("KEYRITE_PKCS11_MODULE", &hsm.module)
        .env("AWS_ENDPOINT_URL", kms_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", account())
        .env("AWS_SECRET_ACCESS_KEY", "local")
        // `kms import` and `kms rollback` verify the ceremony log with this token's log key.
        .env("KEYRITE_LOG_TRUST", hsm.log_public_key())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_KMS");
    cmd
}

/// A script's `[provenance]` for tests whose bundles are unsigned (signatures are required unless
/// the script waives them with a reason).
pub const UNSIGNED: &str =
    "\n[provenance]\nrequired = 0\nreason = \"a test bundle, prepared unsigned\"\n";

/// A ceremony script for these keys, written into `dir`.
pub fn write_script(dir: &Path, keys: &[&str], algorithm: &str, spec: &str) -> PathBuf {
    let keys: Vec<(&str, Vec<String>)> = keys.iter().map(|k| (*k, Vec::new())).collect();
    write_script_with_replicas(dir, &keys, algorithm, spec)
}

/// [`write_script`] for keys some of which are multi-Region: each with its replicas' Regions.
pub fn write_script_with_replicas(
    dir: &Path,
    keys: &[(&str, Vec<String>)],
    algorithm: &str,
    spec: &str,
) -> PathBuf {
    let mut s = format!(
        "[ceremony]\nname = \"test ceremony\"\n\n[wrapping]\nalgorithm = \"{algorithm}\"\nkey_spec = \"{spec}\"\n"
    );
    for (k, replicas) in keys {
        s.push_str(&format!(
            "\n[[key]]\nkey = \"{k}\"\naccount = \"{}\"\nregion = \"us-east-1\"\n",
            account()
        ));
        if !replicas.is_empty() {
            s.push_str(&format!("replicas = {replicas:?}\n"));
        }
    }
    s.push_str(UNSIGNED);
    let p = dir.join(format!("{}.toml", unique("script")));
    std::fs::write(&p, s).unwrap();
    p
}

/// Writes a file that holds a secret (a PIN, an answers file) readable by its owner only, as
/// keyrite requires.
pub fn write_secret(path: &Path, contents: impl AsRef<[u8]>) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(contents.as_ref()).unwrap();
}

pub fn write_answers(dir: &Path, fingerprint: &str) -> PathBuf {
    let p = dir.join(format!("{}.toml", unique("answers")));
    write_secret(
        &p,
        format!(
            "operator = \"Alice Admin\"\nwitness = \"Walter Witness\"\nbundle_fingerprint = \"{fingerprint}\"\n"
        ),
    );
    p
}

/// The wrapping algorithm this token can do: SoftHSM2 wraps OAEP with SHA-1 only.
#[cfg(feature = "airgap")]
pub fn default_algorithm() -> &'static str {
    if hsm().is_softhsm() {
        "RSAES_OAEP_SHA_1"
    } else {
        "RSAES_OAEP_SHA_256"
    }
}

/// The wrapping algorithms the token in use really does (the capability probe must agree):
/// SoftHSM2 wraps OAEP with SHA-1 only; kryoptic does OAEP with SHA-256 and SHA-1; neither has
/// CKM_RSA_AES_KEY_WRAP (keyrite uses only the token's own).
#[cfg(feature = "airgap")]
pub fn supported_algorithms() -> Vec<keyrite::core::algorithm::WrappingAlgorithm> {
    use keyrite::core::algorithm::WrappingAlgorithm::*;
    if hsm().is_softhsm() {
        vec![RsaesOaepSha1]
    } else {
        vec![RsaesOaepSha256, RsaesOaepSha1]
    }
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `share` with one character of its `group`-th group (1-based) changed so that the group's own
/// check catches it (a change the group check misses, one in 32, falls through to the final
/// check, which does not say where): the typo, and the byte offset of the changed character.
pub fn mistype_group(share: &str, group: usize) -> (String, usize) {
    use keyrite::core::custody::shares::CustodianShare;
    let want = format!("group {group} looks mistyped");
    let start = share.match_indices('-').nth(group).unwrap().0 + 1;
    for sym in "0123456789ABCDEFGHJKMNPQRSTVWXYZ".chars() {
        if share[start..].starts_with(sym) {
            continue;
        }
        let mut typo = share.to_string();
        typo.replace_range(start..start + 1, &sym.to_string());
        match CustodianShare::decode(&typo, 1) {
            Err(e) if e.to_string().contains(&want) => return (typo, start),
            _ => continue,
        }
    }
    panic!("no single change of group {group} is caught by its check");
}
